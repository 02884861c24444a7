"""glance-manage: database administration."""
from __future__ import annotations

import sys

from oslo_config import cfg
from oslo_log import log

from glance.common import config
from glance.db import migration
import glance.db.sqlalchemy.engine  # noqa: F401 - registers [database]

CONF = cfg.CONF


def _sync(args) -> int:
    migration.upgrade(getattr(args, 'version', None) or 'heads')
    print('Database is at revision %s' % ', '.join(migration.current()))
    return 0


def _version(args) -> int:
    print(', '.join(migration.current()) or 'empty database (no revision)')
    return 0


def _check(args) -> int:
    """Exit 0 when the schema is current and matches the models."""
    have, want = set(migration.current()), set(migration.heads())
    if have != want:
        print('Database is at %s; the code expects %s. Run glance-manage '
              'db sync.' % (', '.join(sorted(have)) or 'no revision',
                            ', '.join(sorted(want))))
        return 3
    diffs = migration.drift()
    if diffs:
        print('Database schema differs from the models:')
        for diff in diffs:
            print('  %s' % (diff,))
        return 4
    print('Database is up to date.')
    return 0


def _add_db_commands(subparsers) -> None:
    db = subparsers.add_parser('db', help='database commands')
    db_sub = db.add_subparsers(dest='db_action')
    db_sub.required = True
    for name, func, doc in (
            ('sync', _sync, 'create or upgrade the schema to the newest '
                            'revision'),
            ('upgrade', _sync, 'upgrade the schema (optionally to VERSION)'),
            ('version', _version, 'print the current schema revision'),
            ('check', _check, 'exit non-zero when the schema is not '
                              'current')):
        p = db_sub.add_parser(name, help=doc)
        if name in ('sync', 'upgrade'):
            p.add_argument('version', nargs='?',
                           help='target revision (default: newest)')
        p.set_defaults(func=func)


def main(argv=None) -> int:
    log.register_options(CONF)
    CONF.register_cli_opt(cfg.SubCommandOpt('command', title='commands',
                                            handler=_add_db_commands))
    config.parse_args(sys.argv[1:] if argv is None else argv,
                      prog='glance-manage')
    log.setup(CONF, 'glance')
    try:
        return CONF.command.func(CONF.command)
    except Exception as exc:  # noqa: BLE001 - a clear message for operators
        print('glance-manage: %s' % exc, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
