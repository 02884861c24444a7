"""glance-api: the Images API server (standalone eventlet WSGI)."""
import eventlet

eventlet.monkey_patch()

import sys  # noqa: E402

from glance.common import server, startup  # noqa: E402


def main(argv=None) -> int:
    try:
        startup.prepare(sys.argv[1:] if argv is None else argv, 'glance-api')
    except Exception as exc:  # noqa: BLE001 - report and refuse to start
        print('glance-api: cannot start: %s' % exc, file=sys.stderr)
        return 1
    server.Server(startup.load_app, startup.reload).start()
    return 0


if __name__ == '__main__':
    sys.exit(main())
