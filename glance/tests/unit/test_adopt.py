"""Adopting a database the reference service (OpenStack Glance) made.

On each backend the reference dump is loaded into a fresh database and
``migration.upgrade()`` (what ``glance-manage db sync`` runs) must rebuild
it in our schema with every row kept, stamp it at our revision, leave no
drift, and change nothing when run again.  Databases it does not know are
refused with nothing changed; an adoption interrupted between its steps
(MySQL/MariaDB commit every DDL statement) is finished by the next run.
"""
from __future__ import annotations

import datetime
import json

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from glance.db import adopt
from glance.db import migration
from glance.db.sqlalchemy import engine
from glance.tests import reference_db

SCHEMA = adopt.REFERENCE_2024_1


@pytest.fixture
def ref(database):
    """``database`` filled with the reference dump; glance.db uses it."""
    reference_db.load(database)
    cfg.CONF.set_override('connection', database.url, group='database')
    engine.reset()
    try:
        yield database
    finally:
        engine.reset()
        cfg.CONF.clear_override('connection', group='database')


def _rows() -> dict[str, list]:
    return reference_db.snapshot(engine.get_engine(), SCHEMA)


def _filled(rows: dict[str, list]) -> dict[str, list]:
    """The reference rows as adoption must leave them: NULL namespace
    visibility/protected filled (see adopt._FILL), object required lists
    as JSON (adopt._CONVERT), locations of pending_delete images live
    (adopt._keep_pending_delete_locations), nothing else."""
    out = dict(rows)
    fixed = []
    for row in rows['metadef_namespaces']:
        values = dict(row)
        if values['visibility'] is None:
            values['visibility'] = 'private'
        if values['protected'] is None:
            values['protected'] = 0
        fixed.append(tuple(values.items()))
    out['metadef_namespaces'] = sorted(fixed, key=repr)
    objects = []
    for row in rows['metadef_objects']:
        values = dict(row)
        if values['required']:
            values['required'] = json.dumps(values['required'].split(','))
        objects.append(tuple(values.items()))
    out['metadef_objects'] = sorted(objects, key=repr)
    pending = {dict(row)['id'] for row in rows['images']
               if dict(row)['status'] == 'pending_delete'}
    locations = []
    for row in rows['image_locations']:
        values = dict(row)
        if values['image_id'] in pending and \
                values['status'] == 'pending_delete':
            values['deleted'], values['deleted_at'] = 0, None
        locations.append(tuple(values.items()))
    out['image_locations'] = sorted(locations, key=repr)
    return out


def _tables() -> set[str]:
    return set(sa.inspect(engine.get_engine()).get_table_names())


def _sql(*statements: str) -> None:
    with engine.get_engine().begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_sync_adopts_the_reference_database(ref):
    facts = reference_db.expected()['backends'][ref.backend]['db']
    before = _rows()
    assert {t: len(r) for t, r in before.items()} == {
        t: facts['tables'][t]['rows'] for t in SCHEMA}
    assert migration.current() == ['2024_1_contract01']
    migration.upgrade()
    assert migration.current() == migration.heads()
    assert migration.drift() == []
    assert _rows() == _filled(before)
    assert not any(t.startswith(adopt.ASIDE_PREFIX) for t in _tables())
    # A second sync finds nothing to do and changes nothing.
    assert migration.pending() == []
    migration.upgrade()
    assert migration.current() == migration.heads()
    assert _rows() == _filled(before)


def test_the_scrubber_finds_the_data_of_pending_delete_images(ref):
    from glance.db import pending_delete
    image_id = reference_db.expected()['images']['pending-delete']['id']
    migration.upgrade()
    assert image_id in pending_delete.due_images(
        datetime.datetime(2100, 1, 1))
    [location] = pending_delete.pending_locations(image_id)
    assert location.url.endswith('/images/cheap/%s' % image_id)
    assert location.store == 'cheap'


def test_the_cache_records_are_kept(ref):
    """The fixtures' cache tables are empty: fill them as a node running
    the centralized_db cache driver would have."""
    _sql("INSERT INTO node_reference (node_reference_id, "
         "node_reference_url) VALUES (7, 'http://10.0.0.5:9292')",
         "INSERT INTO cached_images (id, image_id, last_accessed, "
         "last_modified, size, hits, checksum, node_reference_id) VALUES "
         "(3, '025592bf-06ce-5d49-8319-836585845730', "
         "'2026-12-04 11:00:00', '2026-12-04 10:30:00', 6656, 4, "
         "'85e929848dc5121af0ad2b255cd1b551', 7)")
    before = _rows()
    assert len(before['cached_images']) == 1
    migration.upgrade()
    assert _rows() == _filled(before)
    with engine.get_engine().connect() as conn:
        assert conn.exec_driver_sql(
            'SELECT stamp FROM cached_images').scalar_one() is None


def test_dry_run_and_check_change_nothing(ref):
    before = _rows()
    lines = migration.pending()
    assert any('2024_1_contract01' in line for line in lines)
    assert any(line.startswith('Migration 2026_12_members') for line in lines)
    assert migration.foreign().revision == '2024_1_contract01'
    assert migration.current() == ['2024_1_contract01']
    assert _rows() == before


def test_an_unknown_revision_is_refused_with_nothing_changed(ref):
    _sql("UPDATE alembic_version SET version_num = '2023_2_expand01'")
    before, tables = _rows(), _tables()
    with pytest.raises(adopt.AdoptionRefused, match='2023_2_expand01.*'
                       'Nothing was changed'):
        migration.upgrade()
    assert _rows() == before and _tables() == tables
    assert migration.current() == ['2023_2_expand01']


def test_an_extra_table_is_refused_with_nothing_changed(ref):
    _sql('CREATE TABLE artifacts (id INTEGER PRIMARY KEY)')
    before = _rows()
    with pytest.raises(adopt.AdoptionRefused, match='unexpected table '
                       'artifacts'):
        migration.upgrade()
    assert _rows() == before
    assert migration.current() == ['2024_1_contract01']


def test_a_missing_column_is_refused_with_nothing_changed(ref):
    _sql('DROP TABLE cached_images')
    with pytest.raises(adopt.AdoptionRefused, match='missing table '
                       'cached_images'):
        migration.upgrade()
    assert 'images' in _tables()
    assert migration.current() == ['2024_1_contract01']


def test_a_failure_while_adopting_leaves_the_database_as_it_was(ref):
    if ref.backend == 'mysql':
        pytest.skip('MySQL/MariaDB cannot roll DDL back: interrupted '
                    'adoptions resume instead (tests below)')
    before, tables = _rows(), _tables()

    def broken(conn):
        migration._create_adopted_schema(conn)
        raise RuntimeError('disk full')

    with pytest.raises(RuntimeError, match='disk full'):
        with engine.get_engine().connect() as conn:
            adopt.adopt(conn, migration.known_revisions(), broken)
    assert _rows() == before and _tables() == tables
    assert migration.current() == ['2024_1_contract01']


def _interrupt(after: str) -> None:
    """Run the adoption's steps up to ``after`` and commit, as a run
    killed there (or a MySQL failure in the next step) leaves it."""
    eng = engine.get_engine()
    tables = list(SCHEMA)
    with eng.connect() as conn:
        with conn.begin():
            adopt._move_aside(conn, tables + ['alembic_version'])
        if after == 'move':
            return
        with conn.begin():
            adopt._free_aside_names(conn)
            migration._create_adopted_schema(conn)
        if after == 'create':
            return
        with conn.begin():
            adopt._copy(conn, SCHEMA)


@pytest.mark.parametrize('after', ['move', 'create', 'copy'])
def test_an_interrupted_adoption_is_finished_by_the_next_sync(ref, after):
    before = _rows()
    _interrupt(after)
    finding = migration.foreign()
    assert finding.state == (adopt.RESUME_CLEANUP if after == 'copy'
                             else adopt.RESUME_COPY)
    assert finding.describe()
    migration.upgrade()
    assert migration.current() == migration.heads()
    assert migration.drift() == []
    assert _rows() == _filled(before)
    assert not any(t.startswith(adopt.ASIDE_PREFIX) for t in _tables())
    if ref.backend == 'postgresql':
        with engine.get_engine().connect() as conn:
            assert not sa.inspect(conn).has_schema(adopt.ASIDE_SCHEMA)


def test_ids_continue_after_the_adopted_rows(ref):
    """PostgreSQL sequences (and MySQL/SQLite auto-increment) carry on
    after the copied ids, so new rows do not collide."""
    migration.upgrade()
    with engine.get_engine().begin() as conn:
        top = conn.exec_driver_sql(
            'SELECT MAX(id) FROM image_properties').scalar_one()
        conn.exec_driver_sql(
            "INSERT INTO image_properties (image_id, name, value, "
            "created_at, deleted) VALUES "
            "('38219075-51bc-5cfc-bd36-4df501a7cf59', 'new', 'v', "
            "'2026-12-04 12:00:00', %s)"
            % ('false' if ref.backend == 'postgresql' else '0'))
        new = conn.exec_driver_sql(
            "SELECT id FROM image_properties WHERE name = 'new'").scalar_one()
    assert new > top


def test_our_own_database_is_not_touched(database):
    cfg.CONF.set_override('connection', database.url, group='database')
    engine.reset()
    try:
        migration.upgrade()
        assert migration.foreign() is None
        assert migration.pending() == []
    finally:
        engine.reset()
        cfg.CONF.clear_override('connection', group='database')
