"""Adopt a database created by the reference Image service (OpenStack Glance).

A cloud moving to this project keeps its database: ``glance-manage db
sync`` recognises the reference service's alembic revision, checks that
the live schema is exactly the one that revision made, rebuilds every
table in this project's schema at :data:`TARGET_REVISION` with every row
kept (soft-deleted rows too), and leaves the database stamped there so our
own later migrations follow as for any of our databases.

How the rebuild goes, and why:

1. **Check** everything first: a revision we do not know, or a schema that
   is not exactly the expected one (a missing or extra table or column),
   is refused with nothing changed.
2. **Move aside** the reference tables: renamed with the prefix
   ``_adopt_`` (SQLite, MySQL/MariaDB) or moved into the schema
   ``glance_adopt`` (PostgreSQL, where index, constraint and sequence names
   are schema-wide).  Their names are then free for ours.
3. **Create** our tables by running our own migrations up to
   :data:`TARGET_REVISION` (so the result is byte for byte what a fresh
   install has, and ``migration.drift()`` finds nothing).
4. **Copy** every row (``INSERT ... SELECT``), filling the few values our
   schema requires and the reference left NULL, check the row counts, and
   mark the copy done by emptying the moved-aside ``alembic_version``.
5. **Drop** what was moved aside.

SQLite and PostgreSQL run the five steps in one transaction: a failure
leaves the database as it was.  MySQL/MariaDB commit every DDL statement at
once, so the steps are ordered so that any interruption leaves a state the
next run recognises and finishes: moved-aside tables with their revision
still recorded mean "copy not done" (our half-made tables are dropped and
made again from the untouched originals); with the record emptied they mean
"copy done" (only the cleanup is left).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from typing import Callable, Iterator

import sqlalchemy as sa

LOG = logging.getLogger(__name__)

#: our revision whose schema the reference tables are rebuilt into; our
#: later migrations run after it as on any database of ours
TARGET_REVISION = '2026_11_cache'
#: PostgreSQL schema the reference tables are moved into while adopting
ASIDE_SCHEMA = 'glance_adopt'
#: table-name prefix of the moved-aside tables on SQLite and MySQL/MariaDB
ASIDE_PREFIX = '_adopt_'

_SOFT = ('created_at', 'updated_at', 'deleted_at', 'deleted')
_STAMPS = ('created_at', 'updated_at')

#: The reference schema at alembic revision ``2024_1_contract01`` (checked
#: against databases OpenStack Glance 33.0.0 made): every table with its
#: columns, in copy order (a table comes after those its foreign keys point
#: at).
REFERENCE_2024_1: dict[str, tuple[str, ...]] = {
    'images': ('id', 'name', 'size', 'status', 'disk_format',
               'container_format', 'checksum', 'owner', 'min_disk',
               'min_ram', 'protected', 'virtual_size', 'visibility',
               'os_hidden', 'os_hash_algo', 'os_hash_value') + _SOFT,
    'image_properties': ('id', 'image_id', 'name', 'value') + _SOFT,
    'image_tags': ('id', 'image_id', 'value') + _SOFT,
    'image_locations': ('id', 'image_id', 'value', 'meta_data',
                        'status') + _SOFT,
    'image_members': ('id', 'image_id', 'member', 'can_share',
                      'status') + _SOFT,
    'tasks': ('id', 'type', 'status', 'owner', 'expires_at', 'image_id',
              'request_id', 'user_id') + _SOFT,
    'task_info': ('task_id', 'input', 'result', 'message'),
    'metadef_namespaces': ('id', 'namespace', 'display_name', 'description',
                           'visibility', 'protected', 'owner') + _STAMPS,
    'metadef_resource_types': ('id', 'name', 'protected') + _STAMPS,
    'metadef_objects': ('id', 'namespace_id', 'name', 'description',
                        'required', 'json_schema') + _STAMPS,
    'metadef_properties': ('id', 'namespace_id', 'name',
                           'json_schema') + _STAMPS,
    'metadef_tags': ('id', 'namespace_id', 'name') + _STAMPS,
    'metadef_namespace_resource_types': ('resource_type_id', 'namespace_id',
                                         'properties_target',
                                         'prefix') + _STAMPS,
    'node_reference': ('node_reference_id', 'node_reference_url'),
    'cached_images': ('id', 'image_id', 'last_accessed', 'last_modified',
                      'size', 'hits', 'checksum', 'node_reference_id'),
}

#: reference revisions this version adopts -> the schema they have
KNOWN_REVISIONS: dict[str, dict[str, tuple[str, ...]]] = {
    '2024_1_contract01': REFERENCE_2024_1,
}

#: Values the reference may leave NULL where our schema has NOT NULL, and
#: what they become.  A namespace without visibility is visible to its
#: owner and admins only there, which is what 'private' means here.
_FILL = {
    ('metadef_namespaces', 'visibility'): lambda c: sa.func.coalesce(
        c, sa.literal('private')),
    ('metadef_namespaces', 'protected'): lambda c: sa.func.coalesce(
        c, sa.false()),
}


def _required_as_json(value: str | None) -> str | None:
    """A metadef object's required property names: the reference keeps
    them comma-separated ("zone,racks"), we keep a JSON list."""
    if not value:
        return None
    return json.dumps([name for name in value.split(',') if name])


#: Values whose encoding differs, converted row by row after the copy:
#: (table, key column, column) -> conversion of one value.
_CONVERT = {
    ('metadef_objects', 'id', 'required'): _required_as_json,
}

_VERSION = 'alembic_version'

#: the states :func:`find` reports
REFERENCE = 'reference'          # untouched reference database
RESUME_COPY = 'resume-copy'      # interrupted before the copy committed
RESUME_CLEANUP = 'resume-cleanup'  # copied; moved-aside tables remain


class AdoptionRefused(RuntimeError):
    """The database is not one this version can adopt; nothing changed."""


@dataclasses.dataclass
class Finding:
    """A reference database found, and what adopting it will do."""

    state: str
    revision: str
    #: rows per table, as they will be copied
    rows: dict[str, int]

    def describe(self) -> list[str]:
        """What adopting will change, in lines an operator reads."""
        if self.state == RESUME_CLEANUP:
            return ['An adoption of a reference (OpenStack Glance) database '
                    'at revision %s was interrupted after its data was '
                    'copied; the moved-aside reference tables will be '
                    'dropped.' % self.revision]
        lines = []
        if self.state == RESUME_COPY:
            lines.append('An adoption of a reference (OpenStack Glance) '
                         'database was interrupted before its data was '
                         'copied; it will be started again from the '
                         'untouched reference tables.')
        lines.append('Database created by the reference Image service '
                     '(OpenStack Glance), alembic revision %s. It will be '
                     'adopted: every table is rebuilt in this project\'s '
                     'schema (revision %s) with all its rows, then this '
                     'project\'s later migrations run.'
                     % (self.revision, TARGET_REVISION))
        for table, count in self.rows.items():
            lines.append('  %-34s %6d rows kept' % (table, count))
        lines.append('  metadata namespaces without visibility become '
                     '"private", without protected become false;')
        lines.append('  metadata object required lists are re-encoded as '
                     'JSON;')
        lines.append('  locations of pending_delete images stay live rows, '
                     'where our scrubber finds them.')
        return lines


# ------------------------------------------------------------------ finding


def _aside_exists(conn) -> bool:
    if conn.dialect.name == 'postgresql':
        return sa.inspect(conn).has_table(_VERSION, schema=ASIDE_SCHEMA)
    return sa.inspect(conn).has_table(ASIDE_PREFIX + _VERSION)


def _aside_table(conn, name: str, columns=()) -> sa.TableClause:
    """The moved-aside reference table ``name`` as a Core table."""
    cols = [sa.column(c) for c in columns]
    if conn.dialect.name == 'postgresql':
        return sa.table(name, *cols, schema=ASIDE_SCHEMA)
    return sa.table(ASIDE_PREFIX + name, *cols)


def _aside_columns(conn) -> dict[str, set[str]]:
    """Tables moved aside (by their reference name) and their columns."""
    inspector = sa.inspect(conn)
    if conn.dialect.name == 'postgresql':
        return {t: {c['name'] for c in inspector.get_columns(
                    t, schema=ASIDE_SCHEMA)}
                for t in inspector.get_table_names(schema=ASIDE_SCHEMA)}
    return {t[len(ASIDE_PREFIX):]: {c['name']
                                    for c in inspector.get_columns(t)}
            for t in inspector.get_table_names()
            if t.startswith(ASIDE_PREFIX)}


def _live_columns(conn) -> dict[str, set[str]]:
    inspector = sa.inspect(conn)
    return {t: {c['name'] for c in inspector.get_columns(t)}
            for t in inspector.get_table_names()
            if not t.startswith(ASIDE_PREFIX)}


def _revision_in(conn, table: sa.TableClause) -> list[str]:
    return [r[0] for r in conn.execute(sa.select(table.c.version_num))]


def _schema_problems(have: dict[str, set[str]],
                     want: dict[str, tuple[str, ...]]) -> list[str]:
    """Differences between live tables/columns and the expected schema."""
    problems = []
    expected = set(want) | {_VERSION}
    for table in sorted(set(have) - expected):
        problems.append('unexpected table %s' % table)
    for table in sorted(expected - set(have)):
        problems.append('missing table %s' % table)
    for table in sorted(set(want) & set(have)):
        extra = have[table] - set(want[table])
        missing = set(want[table]) - have[table]
        if extra:
            problems.append('table %s has unexpected columns %s'
                            % (table, ', '.join(sorted(extra))))
        if missing:
            problems.append('table %s lacks columns %s'
                            % (table, ', '.join(sorted(missing))))
    return problems


def _refuse(revision: str, why: list[str]) -> AdoptionRefused:
    return AdoptionRefused(
        'The database is at revision %s of the reference Image service '
        '(OpenStack Glance) but its schema is not the one that revision '
        'makes: %s. Nothing was changed; restore the reference schema (or '
        'ask for support) before adopting it.' % (revision, '; '.join(why)))


def find(conn, our_revisions: set[str]) -> Finding | None:
    """The reference database behind ``conn``, or None if it is not one.

    None for an empty database and for one at any of ``our_revisions``.
    Raises :class:`AdoptionRefused` for a revision that is neither ours nor
    a known reference one, or a known one whose schema differs from what
    that revision makes: adopting a schema we have not checked could lose
    data, so nothing is done until a person has looked.
    """
    if _aside_exists(conn):
        return _find_interrupted(conn)
    if not sa.inspect(conn).has_table(_VERSION):
        return None
    revisions = _revision_in(conn, sa.table(_VERSION,
                                            sa.column('version_num')))
    if not revisions or set(revisions) <= our_revisions:
        return None
    foreign = sorted(set(revisions) - our_revisions)
    if len(revisions) != 1 or foreign[0] not in KNOWN_REVISIONS:
        raise AdoptionRefused(
            'The database is at revision %s, which is neither one of this '
            'project\'s nor a reference (OpenStack Glance) revision this '
            'version can adopt (%s). Nothing was changed. Upgrade the '
            'reference service to one of those first.'
            % (', '.join(revisions), ', '.join(sorted(KNOWN_REVISIONS))))
    revision = foreign[0]
    want = KNOWN_REVISIONS[revision]
    problems = _schema_problems(_live_columns(conn), want)
    if problems:
        raise _refuse(revision, problems)
    return Finding(REFERENCE, revision, _count(conn, want, aside=False))


def _find_interrupted(conn) -> Finding:
    """An adoption a previous run began: which step it got to."""
    version = _aside_table(conn, _VERSION, ['version_num'])
    revisions = _revision_in(conn, version)
    aside = _aside_columns(conn)
    if not revisions:
        return Finding(RESUME_CLEANUP, 'copied', {})
    revision = revisions[0]
    want = KNOWN_REVISIONS.get(revision)
    if want is None or len(revisions) != 1:
        raise AdoptionRefused(
            'Moved-aside tables of an interrupted adoption record revision '
            '%s, which this version cannot adopt. Nothing was changed.'
            % ', '.join(revisions))
    problems = _schema_problems(aside, want)
    if problems:
        raise _refuse(revision, problems)
    return Finding(RESUME_COPY, revision, _count(conn, want, aside=True))


def _count(conn, want, aside: bool) -> dict[str, int]:
    out = {}
    for table in want:
        t = _aside_table(conn, table) if aside else sa.table(table)
        out[table] = conn.execute(
            sa.select(sa.func.count()).select_from(t)).scalar_one()
    return out


# ------------------------------------------------------------------ steps


def _quote(conn, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _move_aside(conn, tables: list[str]) -> None:
    """Step 2: free the reference tables' names (and index names) for ours.
    """
    q = lambda n: _quote(conn, n)  # noqa: E731
    if conn.dialect.name == 'postgresql':
        conn.exec_driver_sql('CREATE SCHEMA %s' % q(ASIDE_SCHEMA))
        for table in tables:
            conn.exec_driver_sql('ALTER TABLE %s SET SCHEMA %s'
                                 % (q(table), q(ASIDE_SCHEMA)))
        # The visibility enum type is the reference's own; it goes with
        # its table (and is dropped with the schema).
        types = conn.execute(sa.text(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n "
            "ON n.oid = t.typnamespace WHERE n.nspname = current_schema() "
            "AND t.typtype = 'e'")).scalars().all()
        for name in types:
            if name == 'image_visibility':
                conn.exec_driver_sql('ALTER TYPE %s SET SCHEMA %s'
                                     % (q(name), q(ASIDE_SCHEMA)))
        return
    if conn.dialect.name in ('mysql', 'mariadb'):
        # One statement, so MySQL renames all or nothing.
        conn.exec_driver_sql('RENAME TABLE ' + ', '.join(
            '%s TO %s' % (q(t), q(ASIDE_PREFIX + t)) for t in tables))
        return
    for table in tables:
        conn.exec_driver_sql('ALTER TABLE %s RENAME TO %s'
                             % (q(table), q(ASIDE_PREFIX + table)))


def _free_aside_names(conn) -> None:
    """Drop what of the moved-aside tables still holds names ours need.

    SQLite index names are database-wide; MySQL foreign-key names are too
    (and MariaDB keeps a renamed table's ``<table>_ibfk_<n>`` names).  The
    moved-aside tables are only read from now on, so they need neither.
    Idempotent: a resumed run finds less to drop.
    """
    q = lambda n: _quote(conn, n)  # noqa: E731
    if conn.dialect.name == 'sqlite':
        rows = conn.exec_driver_sql(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' "
            "AND sql IS NOT NULL").all()
        for name, table in rows:
            if table.startswith(ASIDE_PREFIX):
                conn.exec_driver_sql('DROP INDEX %s' % q(name))
    elif conn.dialect.name in ('mysql', 'mariadb'):
        rows = conn.exec_driver_sql(
            'SELECT table_name, constraint_name FROM '
            'information_schema.referential_constraints '
            'WHERE constraint_schema = DATABASE()').all()
        for table, name in rows:
            if table.startswith(ASIDE_PREFIX):
                conn.exec_driver_sql('ALTER TABLE %s DROP FOREIGN KEY %s'
                                     % (q(table), q(name)))


def _drop_half_made(conn, tables: list[str]) -> None:
    """Before (re)creating ours: drop our tables a broken run left.

    Only called while the untouched reference tables are moved aside, so
    what is dropped here holds no row that is not also there.
    """
    inspector = sa.inspect(conn)
    present = set(inspector.get_table_names())
    for table in reversed(list(tables) + [_VERSION]):
        if table in present:
            LOG.warning('Dropping table %s left half-made by an '
                        'interrupted adoption; it is made again from the '
                        'reference rows', table)
            conn.exec_driver_sql('DROP TABLE %s' % _quote(conn, table))


def _copy(conn, want: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Step 4: every reference row into our tables; counts checked."""
    copied = {}
    for table, columns in want.items():
        source = _aside_table(conn, table, columns)
        target = sa.table(table, *[sa.column(c) for c in columns])
        exprs = [_FILL.get((table, c), lambda x: x)(source.c[c])
                 for c in columns]
        conn.execute(sa.insert(target).from_select(
            list(columns), sa.select(*exprs)))
        have = conn.execute(sa.select(sa.func.count()).select_from(
            sa.table(table))).scalar_one()
        was = conn.execute(sa.select(sa.func.count()).select_from(
            source)).scalar_one()
        if have != was:
            raise RuntimeError('Adopting table %s copied %d of its %d rows; '
                               'rolled back' % (table, have, was))
        copied[table] = have
        _convert(conn, table)
    _keep_pending_delete_locations(conn)
    if conn.dialect.name == 'postgresql':
        _restart_sequences(conn, want)
    conn.execute(sa.delete(_aside_table(conn, _VERSION)))
    return copied


def _convert(conn, table: str) -> None:
    """Re-encode the values of ``table`` listed in :data:`_CONVERT`."""
    for (name, key, column), convert in _CONVERT.items():
        if name != table:
            continue
        t = sa.table(table, sa.column(key), sa.column(column))
        rows = conn.execute(sa.select(t.c[key], t.c[column]).where(
            t.c[column].is_not(None))).all()
        for row_key, value in rows:
            conn.execute(sa.update(t).where(t.c[key] == row_key).values(
                {column: convert(value)}))


def _keep_pending_delete_locations(conn) -> int:
    """Locations of pending_delete images become live rows again.

    The reference soft-deletes them (keeping status ``pending_delete``) and
    its scrubber reads deleted rows; ours keeps them live until the data is
    gone, and our scrubber reads live rows only.  Left as they were, the
    scrubber would mark the images deleted and leave their data behind.
    """
    loc = sa.table('image_locations', sa.column('image_id'),
                   sa.column('status'), sa.column('deleted'),
                   sa.column('deleted_at'))
    image = sa.table('images', sa.column('id'), sa.column('status'))
    pending = sa.select(image.c.id).where(image.c.status == 'pending_delete')
    return conn.execute(sa.update(loc).where(
        loc.c.status == 'pending_delete', loc.c.deleted == sa.true(),
        loc.c.image_id.in_(pending)).values(
            deleted=False, deleted_at=None)).rowcount


def _restart_sequences(conn, want) -> None:
    """Rows were inserted with their ids: move each serial sequence past
    them, or the next insert would collide."""
    for table in want:
        for column in sa.inspect(conn).get_columns(table):
            seq = conn.execute(sa.text(
                'SELECT pg_get_serial_sequence(:t, :c)'),
                {'t': table, 'c': column['name']}).scalar()
            if seq:
                conn.execute(sa.text(
                    'SELECT setval(:s, COALESCE((SELECT MAX(%s) FROM %s), '
                    '0) + 1, false)' % (_quote(conn, column['name']),
                                        _quote(conn, table))), {'s': seq})


def _drop_aside(conn, tables: list[str]) -> None:
    """Step 5: drop the moved-aside reference tables, the record last."""
    q = lambda n: _quote(conn, n)  # noqa: E731
    if conn.dialect.name == 'postgresql':
        conn.exec_driver_sql('DROP SCHEMA %s CASCADE' % q(ASIDE_SCHEMA))
        return
    present = set(sa.inspect(conn).get_table_names())
    for table in list(reversed(tables)) + [_VERSION]:
        if ASIDE_PREFIX + table in present:
            conn.exec_driver_sql('DROP TABLE %s' % q(ASIDE_PREFIX + table))


# ------------------------------------------------------------------ running


def adopt(conn: sa.engine.Connection, our_revisions: set[str],
          create_schema: Callable[[sa.engine.Connection], None]) -> bool:
    """Adopt the reference database behind ``conn``, if it is one.

    The caller holds :func:`exclusive` on ``conn`` (two runs must not
    interleave), and ``conn`` is not in a transaction.
    ``create_schema(conn)`` runs our migrations up to
    :data:`TARGET_REVISION` on the connection.  Returns True when a
    database was adopted (or an interrupted adoption finished), False when
    there was nothing to do.  Raises :class:`AdoptionRefused`, with nothing
    changed, for a database it does not know.
    """
    # Where DDL is transactional, look in the transaction that changes
    # the database, so what is changed is what was checked.
    if conn.dialect.name in ('mysql', 'mariadb'):
        with conn.begin():
            finding = _announce(find(conn, our_revisions))
        if finding is None:
            return False
        _steps_resumable(conn, finding, create_schema)
    else:
        with conn.begin():
            finding = _announce(find(conn, our_revisions))
            if finding is None:
                return False
            _steps(conn, finding, create_schema)
    LOG.info('Adopted the reference database; it is now at revision %s',
             TARGET_REVISION)
    return True


def _announce(finding: Finding | None) -> Finding | None:
    if finding is not None:
        LOG.info('Adopting a reference (OpenStack Glance) database at '
                 'revision %s (%s)', finding.revision, finding.state)
    return finding


#: advisory lock held while adopting and migrating: two ``db sync`` runs
#: started at once (deployment tools run it on every controller) must not
#: interleave, or one could drop tables the other has just filled
LOCK_NAME = 'glance_adopt'
_PG_LOCK_KEY = 0x676c6164


@contextlib.contextmanager
def exclusive(conn: sa.engine.Connection) -> Iterator[None]:
    """Hold the schema lock on ``conn`` (PostgreSQL and MySQL/MariaDB;
    SQLite's write lock already admits one writer at a time).  ``conn``
    must not be in a transaction; the lock outlives the transactions
    run inside."""
    if conn.dialect.name == 'postgresql':
        take = 'SELECT pg_advisory_lock(%d)' % _PG_LOCK_KEY
        give = 'SELECT pg_advisory_unlock(%d)' % _PG_LOCK_KEY
    elif conn.dialect.name in ('mysql', 'mariadb'):
        take = "SELECT GET_LOCK('%s', 86400)" % LOCK_NAME
        give = "SELECT RELEASE_LOCK('%s')" % LOCK_NAME
    else:
        yield
        return
    with conn.begin():
        got = conn.exec_driver_sql(take).scalar()
    if conn.dialect.name != 'postgresql' and got != 1:
        # GET_LOCK answers 0 on timeout, NULL on error; pg_advisory_lock
        # waits as long as it takes.
        raise RuntimeError('Could not take the adoption lock %s; is another '
                           'glance-manage db sync running?' % LOCK_NAME)
    try:
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()
        with conn.begin():
            conn.exec_driver_sql(give)


def _steps(conn, finding: Finding, create_schema) -> None:
    """All steps on one connection in one transaction (SQLite, PostgreSQL).
    """
    want = KNOWN_REVISIONS.get(finding.revision, REFERENCE_2024_1)
    tables = list(want)
    if finding.state == REFERENCE:
        _move_aside(conn, tables + [_VERSION])
    if finding.state in (REFERENCE, RESUME_COPY):
        _free_aside_names(conn)
        _drop_half_made(conn, tables)
        create_schema(conn)
        _log_copied(_copy(conn, want))
    _drop_aside(conn, tables)


def _steps_resumable(conn, finding: Finding, create_schema) -> None:
    """The steps on MySQL/MariaDB, each committed before the next begins.

    Every DDL statement commits there; ordering the steps this way makes
    each intermediate state one :func:`find` recognises (see the module
    docstring).  The copy itself is plain DML in one transaction.
    """
    want = KNOWN_REVISIONS.get(finding.revision, REFERENCE_2024_1)
    tables = list(want)
    if finding.state in (REFERENCE, RESUME_COPY):
        if finding.state == REFERENCE:
            with conn.begin():
                _move_aside(conn, tables + [_VERSION])
        with conn.begin():
            _free_aside_names(conn)
            _drop_half_made(conn, tables)
        with conn.begin():
            create_schema(conn)
        with conn.begin():
            _log_copied(_copy(conn, want))
    with conn.begin():
        _drop_aside(conn, tables)


def _log_copied(copied: dict[str, int]) -> None:
    LOG.info('Adoption copied %s', ', '.join(
        '%s: %d rows' % item for item in copied.items()))
