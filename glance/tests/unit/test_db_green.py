"""The database's thread pool in a process eventlet has monkey-patched
(glance-api's): it survives the fork of a worker, and it is used only
there.  (That it keeps a worker answering while a query waits is
glance/tests/functional/test_db_off_hub.py.)  Its cursors read the first
rows of each result on the pool thread, so a short result costs one trip
to the pool; longer ones are fetched through the pool, and every fetch
answers as the plain DB-API cursor does."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from glance.db.sqlalchemy import green

#: a parent uses the pool (as glance-api's start-up sweep may), then forks
#: a worker that uses it too; without the reset after the fork the
#: worker's call waits forever for threads that only the parent has
FORKED = '''
import eventlet
eventlet.monkey_patch()
import os
import sys
from eventlet import tpool
from glance.db.sqlalchemy import green
assert green.active()
assert tpool.execute(os.getpid) == os.getpid()
pid = os.fork()
if pid == 0:
    os._exit(0 if tpool.execute(os.getpid) == os.getpid() else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
'''


def test_a_forked_worker_gets_its_own_threads():
    result = subprocess.run([sys.executable, '-c', FORKED],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_not_active_without_monkey_patching():
    assert not green.active()


# -- cursors: rows read with the execute ----------------------------------
N = green.PREFETCH


class Trips:
    """A ``run`` that calls inline and counts the trips."""

    def __init__(self):
        self.count = 0

    def __call__(self, fn, *args):
        self.count += 1
        return fn(*args)


@pytest.fixture
def conn():
    c = sqlite3.connect(':memory:')
    c.execute('CREATE TABLE t (n INTEGER)')
    c.executemany('INSERT INTO t VALUES (?)', [(i,) for i in range(3 * N)])
    yield c
    c.close()


def _cursor(conn):
    trips = Trips()
    return green._Cursor(conn.cursor(), trips), trips


@pytest.mark.parametrize('rows', [0, 1, N - 1, N, N + 1, 3 * N])
def test_fetches_answer_as_the_plain_cursor(conn, rows):
    query = 'SELECT n FROM t WHERE n < %d ORDER BY n' % rows
    expected = conn.execute(query).fetchall()
    cur, _ = _cursor(conn)
    assert cur.execute(query).fetchall() == expected
    cur.execute(query)
    got = [cur.fetchone() for _ in range(rows + 1)]
    assert got == expected + [None]
    cur.execute(query)
    got = []
    while chunk := cur.fetchmany(7):
        got += chunk
    assert got == expected
    cur.execute(query)
    assert cur.fetchmany(N + 5) + cur.fetchall() == expected
    assert list(cur.execute(query)) == expected


def test_a_short_result_is_one_trip(conn):
    cur, trips = _cursor(conn)
    cur.execute('SELECT n FROM t WHERE n < 5')
    assert len(cur.fetchall()) == 5 and cur.fetchone() is None
    assert trips.count == 1


def test_a_long_result_is_read_through_the_pool(conn):
    cur, trips = _cursor(conn)
    cur.execute('SELECT n FROM t')
    assert trips.count == 1
    assert len(cur.fetchall()) == 3 * N
    assert trips.count == 2


def test_statements_without_rows(conn):
    cur, trips = _cursor(conn)
    cur.execute('UPDATE t SET n = n + 1 WHERE n < 3')
    assert cur.rowcount == 3
    assert cur.fetchall() == [] and cur.fetchone() is None
    assert trips.count == 1


def _connection(conn):
    trips = Trips()
    return green._Connection(conn, trips), trips


def test_a_read_transaction_sends_its_begin_with_the_first_query(conn):
    conn.isolation_level = None             # as oslo.db sets it
    wrapped, trips = _connection(conn)
    wrapped.cursor().execute('BEGIN')
    assert trips.count == 0 and not conn.in_transaction
    cur = wrapped.cursor().execute('SELECT n FROM t WHERE n < 2')
    assert trips.count == 1 and conn.in_transaction
    assert cur.fetchall() == [(0,), (1,)]
    wrapped.commit()                        # read only: ends here
    assert trips.count == 1 and not conn.in_transaction
    wrapped.rollback()                      # the pool's, on return
    assert trips.count == 1


def test_a_transaction_that_wrote_ends_on_the_pool(conn):
    conn.isolation_level = None
    wrapped, trips = _connection(conn)
    wrapped.cursor().execute('BEGIN')
    wrapped.cursor().execute('SELECT n FROM t WHERE n < 2').fetchall()
    wrapped.cursor().execute('UPDATE t SET n = n + 1 WHERE n = 0')
    wrapped.commit()
    assert trips.count == 3 and not conn.in_transaction
    assert not wrapped.wrote                # the next one starts afresh
    wrapped.cursor().execute('BEGIN')
    wrapped.cursor().execute('SELECT n FROM t WHERE n < 2').fetchall()
    wrapped.rollback()
    assert trips.count == 4 and not conn.in_transaction


def test_a_transaction_without_statements_costs_no_trip(conn):
    conn.isolation_level = None
    wrapped, trips = _connection(conn)
    wrapped.cursor().execute('BEGIN')
    wrapped.rollback()
    assert trips.count == 0 and not conn.in_transaction
    # the next transaction begins afresh
    wrapped.cursor().execute('BEGIN')
    wrapped.cursor().executemany('INSERT INTO t VALUES (?)', [(-1,), (-2,)])
    assert conn.in_transaction
    wrapped.rollback()
    assert trips.count == 2 and not conn.in_transaction
    assert conn.execute('SELECT count(*) FROM t WHERE n < 0').fetchone() \
        == (0,)


def test_begin_immediate_is_not_deferred(conn):
    conn.isolation_level = None
    wrapped, trips = _connection(conn)
    wrapped.cursor().execute('BEGIN IMMEDIATE')
    assert trips.count == 1 and conn.in_transaction
    wrapped.rollback()                      # it holds the write lock
    assert trips.count == 2 and not conn.in_transaction


@pytest.mark.parametrize('database', ['sqlite'], indirect=True)
@pytest.mark.usefixtures('migrated_database')
def test_a_read_transaction_begins_without_a_statement_of_sqlalchemy():
    """The service engine on SQLite: a read transaction's plain BEGIN goes
    straight to the driver (SQLAlchemy executes the query alone, and the
    transaction is open: one snapshot for all its reads), while a write
    transaction still begins BEGIN IMMEDIATE through SQLAlchemy, where a
    lock that cannot be had becomes oslo.db's error."""
    from glance.db.sqlalchemy import engine
    executed = []
    eng = engine.get_engine()
    sa.event.listen(eng, 'before_cursor_execute', _record_into(executed))
    with engine.read_scope() as c:
        assert c.exec_driver_sql('SELECT count(*) FROM images').scalar() == 0
        assert c.connection.dbapi_connection.in_transaction
    assert executed == ['SELECT count(*) FROM images']
    executed.clear()
    with engine.write_engine().begin() as c:
        c.exec_driver_sql('SELECT count(*) FROM images')
    assert executed == ['BEGIN IMMEDIATE', 'SELECT count(*) FROM images']


def _record_into(executed: list):
    def record(conn, cursor, statement, *args):
        executed.append(statement)
    return record


def test_point_reads_run_inline_and_writes_still_go_to_the_pool(conn):
    conn.isolation_level = None
    wrapped, trips = _connection(conn)
    sa_conn = SimpleNamespace(connection=SimpleNamespace(
        dbapi_connection=wrapped))
    with green.point_reads(sa_conn):
        wrapped.cursor().execute('BEGIN')
        cur = wrapped.cursor().execute('SELECT n FROM t WHERE n = ?', (4,))
        assert cur.fetchall() == [(4,)]
        wrapped.commit()
        assert trips.count == 0 and not conn.in_transaction
        wrapped.cursor().execute('BEGIN')
        wrapped.cursor().execute('UPDATE t SET n = n WHERE n = 4')
        wrapped.commit()
        assert trips.count == 2 and not conn.in_transaction
    # the mark ends with the block
    wrapped.cursor().execute('SELECT n FROM t WHERE n = 4').fetchall()
    assert trips.count == 3


def test_point_reads_change_nothing_on_other_connections(conn):
    with green.point_reads(SimpleNamespace(connection=SimpleNamespace(
            dbapi_connection=conn))):
        assert conn.execute('SELECT count(*) FROM t').fetchone() == (3 * N,)


#: a burst of point reads on a pool of one open connection (and overflow
#: to spare): each read checks the connection out and back in without
#: yielding, so the one connection serves them all.  oslo.db's
#: "thread_checkin" sleep(0) at each checkin handed the hub to the next
#: request while the connection was still out, and every one of the
#: burst opened (and then closed) a connection of its own.
BURST = '''
import eventlet
eventlet.monkey_patch()
import sys
import sqlalchemy as sa
from oslo_config import cfg
from glance.db.sqlalchemy import engine
cfg.CONF([], project='glance-test')
cfg.CONF.set_override('connection', 'sqlite:///' + sys.argv[1], 'database')
cfg.CONF.set_override('max_pool_size', 1, 'database')
cfg.CONF.set_override('max_overflow', 20, 'database')
opened = []
sa.event.listen(engine.get_engine().pool, 'connect',
                lambda *args: opened.append(1))

ONE = sa.select(sa.literal_column('1'))

def reads():
    for _ in range(10):
        assert engine.point_read(ONE, {}) == [(1,)]

engine.point_read(ONE, {})  # the pool's one connection, open before
pool = eventlet.GreenPool()
for _ in range(20):
    pool.spawn(reads)
pool.waitall()
print(len(opened))
'''


def test_a_burst_of_point_reads_shares_one_connection(tmp_path):
    result = subprocess.run(
        [sys.executable, '-c', BURST, str(tmp_path / 'burst.sqlite')],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['1'], result.stdout


def test_a_page_is_one_trip_and_its_images_children_are_point_reads(
        tmp_path):
    """A list's query goes to the pool (it may be slow); the children of
    the images it found, read by their ids, are read on the hub, as is
    the marker (one row by id)."""
    from glance.db.sqlalchemy import image_list, image_rows, models
    from glance.domain.listing import ListQuery
    from glance.tests import catalogue
    trips = Trips()
    path = str(tmp_path / 'page.sqlite')
    engine = sa.create_engine('sqlite://', creator=lambda: green._Connection(
        sqlite3.connect(path, check_same_thread=False), trips))
    try:
        models.Base.metadata.create_all(engine)
        with engine.begin() as conn:
            catalogue.fill(conn, 30)
        stmt = sa.select(models.Image.__table__).order_by(
            models.Image.created_at).limit(25)
        with engine.connect() as conn:
            before = trips.count
            records = image_rows.load(conn, stmt)
            assert trips.count - before == 1
            with green.point_reads(conn):
                pass
            # the mark ends with the read of the children
            conn.exec_driver_sql('SELECT 1').all()
            assert trips.count - before == 2
            before = trips.count
            page = image_list.statement(conn, False, records[0].owner,
                                        ListQuery(marker=records[0].id,
                                                  limit=25, sort=[(
                                                      'created_at', 'asc')]))
            assert trips.count == before        # the marker: on the hub
            assert image_rows.load(conn, *page)
            assert trips.count - before == 1
    finally:
        engine.dispose()
    assert len(records) == 25
    assert all(len(r.properties) == 5 and len(r.tags) == 2
               for r in records)
