"""Load glance-api's configuration and application, then exit: 0 when
both work, 1 (with the reason on stderr) when they do not.

What ``glance-api`` runs on SIGHUP before it reloads
(:meth:`glance.common.server.Server._reload_works`), with its own
command-line arguments: a fresh process, so a bad file is found without
touching the running ones.
"""
import warnings

warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

import eventlet  # noqa: E402

eventlet.monkey_patch()

import sys  # noqa: E402

from glance.common import startup  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    try:
        startup.prepare(sys.argv[1:] if argv is None else argv, 'glance-api')
        startup.load_app()
    except SystemExit as exc:
        return 1 if exc.code else 0
    except Exception as exc:  # noqa: BLE001 - the reason is the answer
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
