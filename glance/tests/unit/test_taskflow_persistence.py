"""taskflow's persistence in the service database (distributed imports).

A finished job's flow state is deleted whole on every backend (SQLite
ignores the foreign keys' cascades on the service database), on SQLite
taskflow's read-then-write transactions wait for another process's write
lock instead of failing with "database is locked", and the connections
taskflow opens for every atom state share one set of tables (each new set
was kept alive for good: a worker's memory grew with every import).
"""
from __future__ import annotations

import contextlib
import gc
import sqlite3
import threading
import time

from oslo_config import cfg
import pytest
import sqlalchemy as sa
from taskflow.persistence import models as tf_models

from glance.async_ import jobs

TABLES = ('logbooks', 'flowdetails', 'atomdetails')


@pytest.fixture
def backend():
    """jobs.persistence() built afresh for the test's database."""
    jobs._PERSISTENCE = None
    yield jobs.persistence()
    jobs._PERSISTENCE = None


def _book(name: str = 'import-t') -> tf_models.LogBook:
    book = tf_models.LogBook(name)
    flow = tf_models.FlowDetail('api_image_import', 'flow-' + name)
    flow.add(tf_models.TaskDetail('fetch', 'atom-' + name))
    flow.add(tf_models.TaskDetail('write', 'atom2-' + name))
    book.add(flow)
    return book


def _counts(engine: sa.engine.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text('SELECT COUNT(*) FROM %s' % t)
                                ).scalar() for t in TABLES}


@pytest.mark.usefixtures('migrated_database')
def test_forget_book_removes_flow_and_atom_details(backend):
    kept, gone = _book('kept'), _book('gone')
    with contextlib.closing(backend.get_connection()) as conn:
        conn.save_logbook(kept)
        conn.save_logbook(gone)
    assert _counts(backend.engine) == {'logbooks': 2, 'flowdetails': 2,
                                       'atomdetails': 4}
    jobs.forget_book(gone.uuid)
    assert _counts(backend.engine) == {'logbooks': 1, 'flowdetails': 1,
                                       'atomdetails': 2}
    with contextlib.closing(backend.get_connection()) as conn:
        again = conn.get_logbook(kept.uuid)
    assert [a.name for f in again for a in f] == ['fetch', 'write']


@pytest.mark.parametrize('database', ['sqlite'], indirect=True)
@pytest.mark.usefixtures('migrated_database')
def test_sqlite_transaction_waits_for_another_writer(database, backend):
    """Another process holds the write lock and commits while taskflow
    saves a logbook (a SELECT, then INSERTs): taskflow's transaction took
    the lock at BEGIN, so it waits, then sees the commit and succeeds."""
    path = database.url[len('sqlite:///'):]
    other = sqlite3.connect(path, isolation_level=None, timeout=30)
    other.execute('BEGIN IMMEDIATE')
    other.execute("INSERT INTO logbooks (uuid, name) VALUES ('o', 'other')")
    errors: list[BaseException] = []
    book = _book()

    def save():
        try:
            with contextlib.closing(backend.get_connection()) as conn:
                conn.save_logbook(book)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    saver = threading.Thread(target=save)
    saver.start()
    time.sleep(0.5)             # let the saver reach the lock
    other.execute('COMMIT')
    other.close()
    saver.join(60)
    assert not errors, errors
    assert _counts(backend.engine)['logbooks'] == 2


def test_separate_sqlite_persistence_cascades(tmp_path):
    """A persistence database of its own (``persistence_connection``):
    foreign keys are enforced there, so taskflow's own destroy_logbook
    removes the details too."""
    from taskflow.persistence.backends.sqlalchemy import tables
    url = 'sqlite:///%s' % (tmp_path / 'flows.sqlite')
    cfg.CONF.set_override('persistence_connection', url, group='jobboard')
    jobs._PERSISTENCE = None
    try:
        backend = jobs.persistence()
        tables.fetch(sa.MetaData()).logbooks.metadata.create_all(
            backend.engine)
        book = _book()
        with contextlib.closing(backend.get_connection()) as conn:
            conn.save_logbook(book)
            conn.destroy_logbook(book.uuid)
        assert _counts(backend.engine) == dict.fromkeys(TABLES, 0)
        with backend.engine.connect() as conn:
            assert conn.exec_driver_sql('PRAGMA journal_mode').scalar() == \
                'wal'
    finally:
        jobs._PERSISTENCE = None
        cfg.CONF.clear_override('persistence_connection', group='jobboard')


def _taskflow_tables() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects()
               if isinstance(o, sa.Table) and o.name == 'atomdetails')


@pytest.mark.usefixtures('migrated_database')
def test_connections_share_one_set_of_tables(backend):
    """What an engine does for each atom, many times over: open a
    connection, save and read atom details (their Enum columns are what
    SQLAlchemy memoised for good), forget the book.  No table is built
    after the first."""
    def one_import(n: int) -> None:
        book = _book('t%d' % n)
        with contextlib.closing(backend.get_connection()) as conn:
            conn.save_logbook(book)
        for flow in book:
            for atom in flow:
                atom.state = 'SUCCESS'
                with contextlib.closing(backend.get_connection()) as conn:
                    conn.update_atom_details(atom)
        with contextlib.closing(backend.get_connection()) as conn:
            found = conn.get_logbook(book.uuid)
        assert {a.state for f in found for a in f} == {'SUCCESS'}
        jobs.forget_book(book.uuid)

    one_import(0)
    tables = _taskflow_tables()
    for n in range(1, 11):
        one_import(n)
    assert _taskflow_tables() == tables
    assert _counts(backend.engine) == dict.fromkeys(TABLES, 0)
