"""glance-scrubber: remove the data of images deleted under delayed_delete.

    glance-scrubber [--config-file FILE ...]            one run, then exit
    glance-scrubber [--config-file FILE ...] --daemon   a run every wakeup_time
    glance-scrubber [--config-file FILE ...] --restore IMAGE_ID

It needs the same ``[database]`` and store options as glance-api (pass
glance-api.conf, or a glance-scrubber.conf holding them).  Exit status: 0
done, 1 an image could not be scrubbed or restored (message on stderr, the
next run retries), 2 a usage or configuration error.
"""
from __future__ import annotations

import signal
import sys
import threading

from oslo_config import cfg
from oslo_log import log

from glance import store as glance_store
from glance import scrubber
from glance.common import config, exception
import glance.db.sqlalchemy.engine  # noqa: F401 - registers [database]

CONF = cfg.CONF
# At import, like every option: oslo-config-generator and the option
# coverage test see them, and --help lists them.
CONF.register_cli_opts(scrubber.cli_opts)

DESCRIPTION = (
    'Remove the data of images deleted while glance-api ran with '
    'delayed_delete (status pending_delete) once they are scrub_time '
    'seconds old, then mark them deleted.  Runs once by default; --daemon '
    'runs every wakeup_time seconds; --restore IMAGE_ID brings a '
    'pending_delete image back to active instead.  Use the [database] and '
    'store options of glance-api.  Exit status: 0 done, 1 an image could '
    'not be scrubbed or restored, 2 usage or configuration error.')

EXIT_FAILED = 1
EXIT_USAGE = 2


def _fail(message: str, status: int = EXIT_FAILED) -> int:
    print('glance-scrubber: %s' % message, file=sys.stderr)
    return status


def _restore(image_id: str) -> int:
    try:
        count = scrubber.restore(image_id)
    except exception.ImageNotFound:
        return _fail('no image with id %s' % image_id)
    except exception.Conflict as exc:
        return _fail(str(exc))
    print('Image %s restored to active with %d location(s).'
          % (image_id, count))
    return 0


def _daemon() -> int:
    stop = threading.Event()

    def _stop(signum, _frame) -> None:
        # The run in progress finishes its images; none is left half-done
        # in the database (and a kill -9 is safe too: the next run resumes).
        stop.set()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scrubber.run_forever(stop)
    return 0


def _once() -> int:
    report = scrubber.run_once()
    print('Scrubbed %d of %d due image(s): %d location(s) removed, %d '
          'already gone, %d failed, %d skipped.'
          % (report.scrubbed, report.images, report.locations,
             report.already_gone, report.failed, report.skipped))
    if report.failed:
        return _fail('%d image(s) could not be scrubbed and stay '
                     'pending_delete; see the log' % report.failed)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse options, then restore one image, run once, or run forever."""
    log.register_options(CONF)
    glance_store.register_opts(CONF)
    try:
        config.set_config_defaults()
        CONF(args=sys.argv[1:] if argv is None else argv, project='glance',
             prog='glance-scrubber', description=DESCRIPTION)
    except cfg.Error as exc:
        return _fail(str(exc), EXIT_USAGE)
    if CONF.restore is not None and not CONF.restore.strip():
        # An empty id must not fall through to a scrub run.
        return _fail('--restore needs an image id', EXIT_USAGE)
    if CONF.restore and CONF.daemon:
        return _fail('--restore and --daemon cannot be used together: run '
                     'the restore as a command of its own (a running daemon '
                     'may stay up)', EXIT_USAGE)
    try:
        log.setup(CONF, 'glance')
        if not CONF.restore:
            # A restore touches the database only: it works even while a
            # store is misconfigured or unreachable.
            glance_store.create_stores(CONF)
    except Exception as exc:  # noqa: BLE001 - one line for operators
        return _fail('cannot start: %s' % exc, EXIT_USAGE)
    try:
        if CONF.restore:
            return _restore(CONF.restore.strip())
        return _daemon() if CONF.daemon else _once()
    except Exception as exc:  # noqa: BLE001 - e.g. the database is away
        return _fail(str(exc))


if __name__ == '__main__':
    sys.exit(main())
