"""Migrations: an empty database upgraded to the newest revision is exactly
the schema the models describe, on SQLite, PostgreSQL and MariaDB.
"""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from alembic import script as alembic_script
from oslo_db import exception as db_exc
from oslo_config import cfg

from glance.db import migration
from glance.db.sqlalchemy import engine, models


@pytest.fixture
def db(database):
    """glance.db pointed at the empty ``database`` (not yet migrated)."""
    cfg.CONF.set_override('connection', database.url, group='database')
    engine.reset()
    try:
        yield database
    finally:
        engine.reset()
        cfg.CONF.clear_override('connection', group='database')


def only(backend: str):
    """Run a test on one backend only (instead of skipping on the others)."""
    return pytest.mark.parametrize('database', [backend], indirect=True)


def _sql(*statements: str) -> None:
    with engine.get_engine().begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_the_history_is_one_line_of_revisions():
    scripts = alembic_script.ScriptDirectory.from_config(migration._config())
    revisions = list(scripts.walk_revisions())
    assert len(migration.heads()) == 1
    assert [r.down_revision for r in revisions][-1] is None
    # Revision files are named after their revision ids.
    for rev in revisions:
        assert os.path.basename(rev.path) == '%s.py' % rev.revision


def test_upgrade_an_empty_database_matches_the_models(db):
    assert migration.current() == []
    migration.upgrade()
    assert migration.current() == migration.heads()
    assert migration.drift() == []
    tables = set(sa.inspect(engine.get_engine()).get_table_names())
    assert set(models.Base.metadata.tables) <= tables
    # A second upgrade has nothing to do and changes nothing.
    migration.upgrade()
    assert migration.current() == migration.heads()
    assert migration.drift() == []


def test_indexes_and_unique_constraints_exist(db):
    migration.upgrade()
    inspector = sa.inspect(engine.get_engine())
    indexes = {i['name'] for i in inspector.get_indexes('images')}
    assert {'checksum_image_idx', 'owner_image_idx', 'created_at_image_idx',
            'os_hidden_image_idx', 'ix_images_deleted'} <= indexes
    uniques = {tuple(u['column_names']) for u in
               inspector.get_unique_constraints('image_properties')}
    # MySQL reports a unique constraint as a unique index.
    uniques |= {tuple(i['column_names']) for i in
                inspector.get_indexes('image_properties') if i['unique']}
    assert ('image_id', 'name') in uniques


def test_drift_notices_a_missing_index(db):
    migration.upgrade()
    if db.backend == 'mysql':
        _sql('DROP INDEX owner_image_idx ON images')
    else:
        _sql('DROP INDEX owner_image_idx')
    diffs = migration.drift()
    assert [d[0] for d in diffs] == ['add_index']
    assert diffs[0][1].name == 'owner_image_idx'


#: how each server drops the unique constraint of image_members (SQLite
#: can only do it by rebuilding the table)
DROP_UNIQUE = {
    'postgresql': 'ALTER TABLE image_members DROP CONSTRAINT %s',
    'mysql': 'ALTER TABLE image_members DROP INDEX %s',
}


@pytest.mark.parametrize('database', sorted(DROP_UNIQUE), indirect=True)
def test_drift_notices_a_missing_unique_constraint(db):
    migration.upgrade()
    name = 'uq_image_members_image_id_member'
    _sql(DROP_UNIQUE[db.backend] % name)
    [(kind, constraint)] = migration.drift()
    assert kind == 'add_constraint'
    assert [c.name for c in constraint.columns] == ['image_id', 'member']


#: per backend, a hand-made change the drift check must report
CHANGES = {
    'sqlite': ('CREATE INDEX stray_idx ON images (name)', 'remove_index'),
    'postgresql': ('ALTER TABLE images ALTER COLUMN name TYPE varchar(100)',
                   'modify_type'),
    'mysql': ('ALTER TABLE images MODIFY created_at DATETIME NOT NULL',
              'modify_type'),
}


def test_drift_notices_a_changed_column_or_index(db):
    migration.upgrade()
    statement, kind = CHANGES[db.backend]
    _sql(statement)
    diffs = migration.drift()
    assert len(diffs) == 1
    # Column changes come as a list of changes; index changes as a tuple.
    first = diffs[0][0] if isinstance(diffs[0], list) else diffs[0]
    assert first[0] == kind


@only('mysql')
def test_mysql_tables_are_innodb_utf8mb4_binary(db):
    migration.upgrade()
    with engine.get_engine().connect() as conn:
        found = conn.execute(sa.text(
            'SELECT table_name, engine, table_collation '
            'FROM information_schema.tables '
            'WHERE table_schema = DATABASE()')).all()
    ours = {t: (e, c) for t, e, c in found
            if t in models.Base.metadata.tables}
    assert set(ours) == set(models.Base.metadata.tables)
    assert set(ours.values()) == {('InnoDB', 'utf8mb4_bin')}
    # A column with a case-insensitive collation is drift.
    _sql('ALTER TABLE image_tags MODIFY value VARCHAR(255) '
         'COLLATE utf8mb4_general_ci NOT NULL')
    assert migration.drift() == [('column_collation', 'image_tags', 'value',
                                  'utf8mb4_general_ci', 'utf8mb4_bin')]


@only('sqlite')
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(db):
    migration.upgrade()
    with engine.get_engine().connect() as conn:
        mode = conn.exec_driver_sql('PRAGMA journal_mode').scalar()
        timeout = conn.exec_driver_sql('PRAGMA busy_timeout').scalar()
    assert (mode, timeout) == ('wal', engine.SQLITE_BUSY_TIMEOUT_MS)


@only('sqlite')
def test_sqlite_write_transactions_take_the_lock_at_begin(db):
    """A writer holds the lock from BEGIN; a reader still reads meanwhile."""
    migration.upgrade()
    import sqlite3
    path = sa.engine.make_url(db.url).database
    with engine.session_scope() as session:
        session.execute(sa.text('SELECT 1'))
        # Another connection cannot start writing while we hold the lock,
        # even though we have not written anything yet ...
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match='locked'):
                other.execute('BEGIN IMMEDIATE')
            # ... while reading goes on (WAL).
            assert other.execute('SELECT count(*) FROM images').fetchone() \
                == (0,)
        finally:
            other.close()
    with engine.session_scope(readonly=True) as session:
        session.execute(sa.text('SELECT 1'))
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute('BEGIN IMMEDIATE')
            other.execute('ROLLBACK')
        finally:
            other.close()


@only('mysql')
def test_mysql_connections_default_to_utf8mb4(db):
    plain = sa.engine.make_url(db.url).difference_update_query(['charset'])
    cfg.CONF.set_override('connection',
                          plain.render_as_string(hide_password=False),
                          group='database')
    engine.reset()
    with engine.get_engine().connect() as conn:
        charset = conn.exec_driver_sql(
            'SELECT @@character_set_client').scalar()
    assert charset == 'utf8mb4'


def test_members_migration_folds_duplicates_then_the_pair_is_unique(db):
    """Rows the old (image_id, member, deleted_at) key let in are folded:
    per pair the oldest live row stays, or else the newest removed one."""
    migration.upgrade('2026_11_cache')
    now = "'2026-01-01 00:00:00'"
    _sql("INSERT INTO images (id, status, visibility, min_disk, min_ram, "
         "protected, os_hidden, created_at, deleted) VALUES "
         "('i1', 'active', 'shared', 0, 0, %s, %s, %s, %s)"
         % (('false', 'false', now, 'false') if db.backend == 'postgresql'
            else ('0', '0', now, '0')))
    false, true = ('false', 'true') if db.backend == 'postgresql' \
        else ('0', '1')
    rows = [  # (id, member, status, deleted)
        (1, 'p1', 'pending', true), (2, 'p1', 'accepted', false),
        (3, 'p1', 'pending', false), (4, 'p2', 'pending', true),
        (5, 'p2', 'rejected', true), (6, 'p3', 'accepted', false)]
    _sql(*["INSERT INTO image_members (id, image_id, member, can_share, "
           "status, created_at, deleted) VALUES (%d, 'i1', '%s', %s, '%s', "
           "%s, %s)" % (i, m, false, s, now, d) for i, m, s, d in rows])
    migration.upgrade()
    with engine.get_engine().connect() as conn:
        left = conn.exec_driver_sql(
            'SELECT id, member, status FROM image_members ORDER BY id').all()
    assert [tuple(r) for r in left] == [(2, 'p1', 'accepted'),
                                        (5, 'p2', 'rejected'),
                                        (6, 'p3', 'accepted')]
    assert migration.drift() == []
    with pytest.raises(db_exc.DBDuplicateEntry):
        _sql("INSERT INTO image_members (image_id, member, can_share, "
             "status, created_at, image_created_at, deleted) VALUES "
             "('i1', 'p3', %s, 'pending', %s, %s, %s)"
             % (false, now, now, true))


@only('postgresql')
def test_drift_notices_a_missing_nulls_first_list_index(db):
    """PostgreSQL's list indexes on nullable sort keys are compared too
    (they are expressions, and declared for PostgreSQL only)."""
    migration.upgrade()
    _sql('DROP INDEX ix_images_list_name_nulls_first')
    diffs = migration.drift()
    assert [(d[0], d[1].name) for d in diffs] == [
        ('add_index', 'ix_images_list_name_nulls_first')]
