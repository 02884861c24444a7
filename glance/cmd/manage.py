"""glance-manage: database and store administration.

    glance-manage [--config-file FILE] db sync|upgrade [--dry-run] [VERSION]
    glance-manage [--config-file FILE] db version|check
    glance-manage [--config-file FILE] store orphans [--dry-run]
        [--store ID] [--grace-period SECONDS]

``db_sync``, ``db_upgrade`` and ``db_version`` are accepted too: deployment
tools (devstack, kolla) call the legacy spellings.
"""
from __future__ import annotations

import sys

from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_log import log
import sqlalchemy.exc

from glance.common import config
from glance.db import adopt
from glance.db import migration
import glance.db.sqlalchemy.engine  # noqa: F401 - registers [database]

CONF = cfg.CONF

#: exit status of ``db check``: the schema is behind the code
EXIT_NOT_CURRENT = 3
#: exit status of ``db check``: the schema is current but differs from
#: the models (edited by hand, or a migration is missing)
EXIT_DRIFT = 4


def _sync(args) -> int:
    """Upgrade (adopting a reference database first); ``--dry-run`` only
    says what would change."""
    if getattr(args, 'dry_run', False):
        lines = migration.pending()
        print('\n'.join(lines) if lines else 'Database is up to date; '
              'nothing to do.')
        return 0
    migration.upgrade(getattr(args, 'version', None) or 'heads')
    print('Database is at revision %s' % ', '.join(migration.current()))
    return 0


def _version(args) -> int:
    revisions = ', '.join(migration.current())
    try:
        if revisions and migration.foreign() is not None:
            revisions += (' (reference Image service schema: glance-manage '
                          'db sync adopts it)')
    except adopt.AdoptionRefused:
        revisions += (' (not a revision of this project, nor one it can '
                      'adopt: see glance-manage db check)')
    print(revisions or 'empty database (no revision)')
    return 0


def _check(args) -> int:
    """Exit 0 when the schema is current and matches the models."""
    finding = migration.foreign()
    if finding is not None:
        print('\n'.join(finding.describe()))
        print('Run glance-manage db sync to adopt it (--dry-run shows the '
              'plan and changes nothing).')
        return EXIT_NOT_CURRENT
    have, want = set(migration.current()), set(migration.heads())
    if have != want:
        print('Database is at %s; the code expects %s. Run glance-manage '
              'db sync.' % (', '.join(sorted(have)) or 'no revision',
                            ', '.join(sorted(want))))
        return EXIT_NOT_CURRENT
    diffs = migration.drift()
    if diffs:
        print('Database schema differs from the models:')
        for diff in diffs:
            print('  %s' % (diff,))
        return EXIT_DRIFT
    print('Database is up to date.')
    return 0


def _expand(args) -> int:
    """With one alembic branch, expand is the whole upgrade: the schema
    reaches head and ``migrate``/``contract`` have nothing left to do."""
    return _sync(args)


def _expanded(nothing_left: str) -> int:
    """With a single-branch history ``migrate`` and ``contract`` have no
    work of their own: they check that ``expand`` reached head."""
    if set(migration.current()) != set(migration.heads()):
        print('Database is not expanded yet: run glance-manage db expand '
              'first.', file=sys.stderr)
        return 1
    print('Database is at revision %s; %s.'
          % (', '.join(migration.current()), nothing_left))
    return 0


def _migrate(args) -> int:
    """Data migrations ride in the alembic revisions."""
    return _expanded('no data migration pending')


def _contract(args) -> int:
    """Nothing to drop with a single-branch history."""
    return _expanded('nothing to contract')


def _purge(args) -> int:
    from glance.db import purge
    counts = purge.purge(args.age_in_days, args.max_rows)
    for table, n in counts.items():
        print('Purged %d rows from %s' % (n, table))
    return 0


def _purge_images(args) -> int:
    from glance.db import purge
    n = purge.purge_images_table(args.age_in_days, args.max_rows)
    print('Purged %d rows from images (kept as id tombstones)' % n)
    return 0


def _load_metadefs(args) -> int:
    from glance.db import metadef_files
    path = args.path or metadef_files.default_path()
    # on stderr: stdout lists the namespaces, one per line, for scripts
    print('Loading metadata definitions from %s' % path, file=sys.stderr)
    result = metadef_files.load(path, merge=args.merge,
                                prefer_new=args.prefer_new,
                                overwrite=args.overwrite)
    for verb, names in result.items():
        for name in names:
            print('%s namespace %s' % (verb.capitalize(), name))
    return 0


def _export_metadefs(args) -> int:
    from glance.db import metadef_files
    for path in metadef_files.export(args.path):
        print('Exported %s' % path)
    return 0


def _unload_metadefs(args) -> int:
    from glance.db import metadefs
    print('Unloaded %d namespaces' % metadefs.delete_all())
    return 0


def _orphans(args) -> int:
    """List (--dry-run) or remove data no image references; exit 1 when a
    store could not be listed or an orphan not removed."""
    from glance import store as glance_store
    from glance import orphans
    glance_store.create_stores(CONF)
    report = orphans.sweep(stores=args.store or None, dry_run=args.dry_run,
                           grace=args.grace_period)
    for o in report.orphans:
        print('%s\t%s\t%s\t%s\t%s\t%s\t%s%s' % (
            o.outcome, o.store, o.image_id, o.kind,
            '-' if o.size is None else o.size, o.uri, o.reason,
            ' (%s)' % o.detail if o.detail else ''))
    for store_id, why in report.errors.items():
        print('store %s not swept: %s' % (store_id, why), file=sys.stderr)
    verb = 'found' if args.dry_run else 'handled'
    print('%d orphan(s) %s%s.' % (len(report.orphans), verb,
                                  '; nothing removed (--dry-run)'
                                  if args.dry_run else ''))
    return 1 if report.failed else 0


def _workers(args) -> int:
    """The import jobs on the jobboard and the workers running them."""
    from glance.async_ import jobs
    workers = list(jobs.iter_workers())
    print('%d worker conductor(s) on jobboard %s (%s)' % (
        len(workers), CONF.jobboard.board_name, CONF.jobboard.backend_url))
    for w in workers:
        meta = w.get('metadata') or {}
        print('worker\t%s\t%s\t%s' % (w.get('name'), meta.get('hostname'),
                                      meta.get('pid')))
    listed = list(jobs.iter_jobs())
    print('%d job(s)' % len(listed))
    for j in listed:
        print('job\t%s\t%s\ttask %s\timage %s\t%s' % (
            j.uuid, j.state, j.task_id, j.image_id or '-', j.owner or '-'))
    return 0


def _seconds(text: str) -> int:
    """A non-negative number of seconds (argparse type)."""
    import argparse
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError('%r is not a number of seconds '
                                         '(0 or more)' % text)
    return value


def _add_store_commands(subparsers) -> None:
    store = subparsers.add_parser('store', help='image store commands')
    store_sub = store.add_subparsers(dest='store_action')
    store_sub.required = True
    p = store_sub.add_parser(
        'orphans', help='list and remove store data and staged files no '
        'live image references')
    p.add_argument('--dry-run', action='store_true',
                   help='only list what would be removed')
    p.add_argument('--store', action='append', metavar='ID',
                   help='sweep this store only (repeatable); "staging" is '
                   'this node\'s staging area (default: every store and '
                   'the staging area)')
    p.add_argument('--grace-period', type=_seconds, metavar='SECONDS',
                   help='leave data younger than this alone (default: '
                   'orphan_grace_period)')
    p.set_defaults(func=_orphans)


_DB_COMMANDS = (
    ('sync', _sync, 'create or upgrade the schema to the newest revision'),
    ('upgrade', _sync, 'upgrade the schema (optionally to VERSION)'),
    ('version', _version, 'print the current schema revision'),
    ('check', _check, 'exit non-zero when the schema is not current'),
    ('expand', _expand, 'upgrade the schema to the newest revision'),
    ('migrate', _migrate, 'run data migrations (none pending: checks '
     'expand ran)'),
    ('contract', _contract, 'finish the upgrade (nothing to drop: checks '
     'expand ran)'),
    ('purge', _purge, 'hard-delete soft-deleted rows older than '
     '--age_in_days (images rows stay)'),
    ('purge_images_table', _purge_images, 'reduce old deleted images to '
     'id tombstones (ids are never reusable)'),
    ('load_metadefs', _load_metadefs, 'load the metadata definitions '
     'catalog from JSON files (--path)'),
    ('export_metadefs', _export_metadefs, 'write the metadata definitions '
     'catalog as JSON files, one per namespace (--path)'),
    ('unload_metadefs', _unload_metadefs, 'delete the whole metadata '
     'definitions catalog'),
)


def _add_action(subparsers, name: str, func, doc: str) -> None:
    p = subparsers.add_parser(name, help=doc)
    if func is _sync:
        p.add_argument('version', nargs='?',
                       help='target revision (default: newest)')
        p.add_argument('--dry-run', action='store_true', dest='dry_run',
                       help='print what would change (migrations, the '
                       'adoption of a reference database) and change '
                       'nothing')
    if func in (_purge, _purge_images):
        p.add_argument('--age_in_days', type=int, default=30,
                       help='purge rows deleted more than this many days '
                       'ago (default: 30)')
        p.add_argument('--max_rows', type=int, default=100,
                       help='at most this many rows per table, -1 for no '
                       'limit (default: 100)')
    if func is _export_metadefs:
        from glance.db.metadef_files import DEFAULT_PATH
        p.add_argument('--path', default=DEFAULT_PATH,
                       help='directory to write the namespace files to; '
                       'default: %(default)s')
    if func is _load_metadefs:
        p.add_argument('--path',
                       help='directory of namespace files, or one file; '
                       'default: metadefs beside the configuration file, '
                       'in /etc/glance, or installed with glance '
                       '(<prefix>/etc/glance/metadefs), the first found')
        p.add_argument('--merge', action='store_true',
                       help='merge into namespaces that already exist '
                       '(otherwise they are left alone)')
        p.add_argument('--prefer_new', action='store_true',
                       help='with --merge: values from the files win over '
                       'those in the database')
        p.add_argument('--overwrite', action='store_true',
                       help='with --merge: replace existing namespaces '
                       'with the files altogether')
    p.set_defaults(func=func)


def _add_commands(subparsers) -> None:
    db = subparsers.add_parser('db', help='database commands')
    db_sub = db.add_subparsers(dest='db_action')
    db_sub.required = True
    for name, func, doc in _DB_COMMANDS:
        _add_action(db_sub, name, func, doc)
    legacy = ('sync', 'upgrade', 'version', 'load_metadefs',
              'export_metadefs', 'unload_metadefs')
    for name, func, doc in _DB_COMMANDS:
        if name in legacy:
            _add_action(subparsers, 'db_' + name, func,
                        doc + ' (legacy name)')
    _add_store_commands(subparsers)
    workers = subparsers.add_parser(
        'workers', help='glance-worker commands (distributed imports)')
    workers_sub = workers.add_subparsers(dest='workers_action')
    workers_sub.required = True
    workers_sub.add_parser(
        'list', help='the jobboard\'s import jobs (state, task, image, '
        'owner) and the live workers').set_defaults(func=_workers)


def main(argv=None) -> int:
    log.register_options(CONF)
    CONF.register_cli_opt(cfg.SubCommandOpt('command', title='commands',
                                            handler=_add_commands))
    config.parse_args(sys.argv[1:] if argv is None else argv,
                      prog='glance-manage')
    log.setup(CONF, 'glance')
    try:
        return CONF.command.func(CONF.command)
    except (db_exc.DBError, sqlalchemy.exc.SQLAlchemyError) as exc:
        print('glance-manage: database error on %s: %s' % (
            _safe_url(), exc), file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a clear message for operators
        print('glance-manage: %s' % exc, file=sys.stderr)
        return 1


def _safe_url() -> str:
    """``[database] connection`` without its password, for messages."""
    try:
        return sqlalchemy.engine.make_url(
            CONF.database.connection).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for a message
        return '[database] connection'


if __name__ == '__main__':
    sys.exit(main())
