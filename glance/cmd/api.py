"""glance-api: the Images API server (standalone eventlet WSGI).

Everything that can be wrong with the configuration is found before the
first worker starts, and reported on stderr with a non-zero exit status:
options, stores, the paste pipeline, the listening address.
"""
import warnings

# eventlet announces its deprecation on import; operators can do nothing
# about it, so it is not printed on every start.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

import eventlet  # noqa: E402

eventlet.monkey_patch()

import logging  # noqa: E402
import sys  # noqa: E402

from glance.common import server, startup  # noqa: E402

LOG = logging.getLogger(__name__)


def main(argv=None) -> int:
    """Parse, check, bind, then serve until stopped; the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        startup.prepare(argv, 'glance-api')
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - report and refuse to start
        # Logging may not be set up yet: stderr is the one sure channel.
        print('glance-api: cannot start: %s' % exc, file=sys.stderr)
        return 1
    # Before any worker serves: staged files a delete on another node, a
    # crash or a downtime left behind go now (never stops the start).
    from glance.async_ import staging
    staging.sweep_at_startup()
    try:
        # Build the application once here so that a broken pipeline fails
        # now, instead of in every worker over and over; the workers build
        # their own after the fork.
        startup.load_app()
        srv = server.Server(startup.load_app, startup.reload, check_command=[
            sys.executable, '-m', 'glance.cmd.api_check', *argv])
        srv.listen()
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - report and refuse to start
        LOG.error('glance-api cannot start: %s', exc)
        print('glance-api: cannot start: %s' % exc, file=sys.stderr)
        return 1
    return srv.run()


if __name__ == '__main__':
    sys.exit(main())
