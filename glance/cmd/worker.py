"""glance-worker: runs the imports glance-api posts to the jobboard.

Same conventions as glance-api: ``--config-file`` (the glance-api.conf of
the deployment: database, stores, staging, [jobboard]), logging through
oslo.log, SIGTERM to stop (running imports are suspended and handed to
another worker), SIGHUP to re-read the configuration files.  Refuses to
start, with a message on stderr, unless ``[taskflow_executor] mode`` is
``distributed`` and the board can be reached.
"""
from __future__ import annotations

import logging
import os
import signal
import sys

LOG = logging.getLogger(__name__)


def without_eventlet() -> None:
    """Keep eventlet out of this process.

    glance-worker runs its conductors, hashing and database calls on
    operating-system threads and never monkey-patches.  Yet futurist
    imports eventlet whenever it is installed, and oslo.service (which
    oslo.messaging imports) loads its eventlet backend unless told
    otherwise: 14 MB of resident memory per worker for nothing it uses.
    So eventlet is made unimportable and oslo.service takes its threading
    backend, before anything else is imported.  A process that already
    imported eventlet (a test calling ``main``) is left as it is.
    """
    if 'eventlet' in sys.modules:
        return
    sys.modules['eventlet'] = None      # "import eventlet" raises ImportError
    from oslo_service import backend
    backend.init_backend(backend.BackendType.THREADING)


def main(argv: list[str] | None = None) -> int:
    """Start the conductors and run until SIGTERM; the exit status."""
    without_eventlet()
    from glance.async_ import conductor, jobs, recovery
    from glance.common import startup
    try:
        startup.prepare(sys.argv[1:] if argv is None else argv,
                        'glance-worker', serves_http=False)
        if not jobs.distributed():
            raise ValueError('[taskflow_executor] mode is not distributed: '
                             'glance-api runs imports itself')
        worker = conductor.Worker()
        worker.start()
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - report and refuse to start
        print('glance-worker: cannot start: %s' % exc, file=sys.stderr)
        return 1
    # Heartbeat of this process's leases, and the sweep undoing the work
    # of dead processes whose jobs left the board.
    recovery.start()

    def _hup(_signum, _frame):
        try:
            startup.reload()
        except Exception as exc:  # noqa: BLE001 - keep the running config
            LOG.error('Configuration not reloaded: %s', exc)

    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    signal.signal(signal.SIGHUP, _hup)
    worker.wait()
    LOG.info('glance-worker %s stopped', worker.name)
    logging.shutdown()
    # At once: a flow thread still inside an atom must not go on writing
    # once its job was handed to another worker.
    os._exit(0)


if __name__ == '__main__':
    sys.exit(main())
