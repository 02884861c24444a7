"""Database calls that let eventlet switch while they wait.

``glance-api`` serves each worker's requests on green threads of one
eventlet hub.  A database driver written in C that blocks in its own code
blocks the hub with it: while one request waits for SQLite (a long list,
the busy timeout of a locked file) or for a PostgreSQL server, no other
request of that worker moves.  So, in a process eventlet has monkey-patched
(and only there):

* SQLite: every call that may wait (execute, fetch, commit, rollback) runs
  on eventlet's pool of real threads (``eventlet.tpool``), through a thin
  wrapper around each DB-API connection the pool creates.  The pool of
  threads is as large as the pool of connections may grow
  (``[database] max_pool_size`` + ``max_overflow``): a query needs a
  connection, so more threads would never be used and fewer would queue
  queries that hold a connection already.
* PostgreSQL through psycopg2 needs nothing here: ``eventlet.monkey_patch()``
  (``glance-api`` calls it first thing) installs psycopg2's wait callback,
  which hands every wait for the server to the hub.
* MySQL/MariaDB through PyMySQL needs nothing either: it is written in
  Python on the socket module, which eventlet has made green.
  (mysqlclient, a C driver, would block the hub: use PyMySQL.)

``glance/tests/functional/test_db_off_hub.py`` holds all three to it.

Everything else (the SQLAlchemy pool, sessions, our code) stays on the
green threads, so no green lock is ever taken from a real thread.

One kind of SQLite statement stays on the hub: a *point read* (a show's
one SELECT of an image and its children by primary key, marked with
:func:`point_reads`).  SQLite runs in WAL mode here, where a reader takes
no lock a writer holds and never waits for one; such a read touches a
handful of pages of an open connection and takes tens of microseconds,
less than a trip to the pool costs (the hand-overs of the GIL to and from
the thread that runs it, with the hub busy serving other requests).  A
show is the commonest call (Nova shows an image before every boot); one
worker serves about 40% more of them this way.  Opening a connection,
writes, commits after writes, lists and every unmarked statement still
go to the pool.
"""
from __future__ import annotations

import collections
import contextlib
import os
import sys
from typing import Any, Callable, Iterator


def active() -> bool:
    """Whether this process runs on an eventlet hub (monkey-patched)."""
    if sys.modules.get('eventlet') is None:
        return False
    from eventlet import patcher
    return patcher.is_monkey_patched('thread')


def threads_for(pool_size: int, overflow: int) -> None:
    """Size eventlet's thread pool to the connection pool's bound.

    Must run before the first call goes to the pool (it starts its threads
    then); later calls change nothing.
    """
    from eventlet import tpool
    if not tpool._setup_already:  # noqa: SLF001 - no public test for it
        tpool.set_num_threads(max(1, pool_size + max(overflow, 0)))


def _forget_threads_in_child() -> None:
    """After a fork: eventlet's thread pool did not survive it.

    The threads are gone and the queues and socket pair that fed them are
    the parent's; eventlet would go on handing calls to them, and the first
    database call of a worker forked after the parent used the pool would
    wait forever.  The child starts its own pool on its first call.
    """
    tpool = sys.modules.get('eventlet.tpool')
    if tpool is None or not tpool._setup_already:  # noqa: SLF001
        return
    del tpool._threads[:]  # noqa: SLF001
    tpool._reqq = tpool._rspq = None  # noqa: SLF001
    tpool._rsock = tpool._wsock = tpool._coro = None  # noqa: SLF001
    tpool._setup_already = False  # noqa: SLF001


os.register_at_fork(after_in_child=_forget_threads_in_child)


def off_hub_creator(creator: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap a pool's connection creator so the connections it makes run
    their blocking calls on real threads."""
    from eventlet import tpool

    def create(connection_record=None):
        return _Connection(tpool.execute(creator, connection_record),
                           tpool.execute)
    return create


class _Connection:
    """A DB-API connection whose waiting calls go to ``run`` (tpool).

    A plain ``BEGIN`` (oslo.db's, opening every read transaction on
    SQLite) waits for nothing: it is sent with the transaction's first
    statement, in that statement's trip to the pool, and a transaction
    that sent none ends without a trip.  Nor does the end of a transaction
    that only read (a list's queries, then COMMIT, then the pool's
    ROLLBACK on return): it releases a read snapshot, takes no lock and
    writes nothing, so it runs here; after anything else (a write, a
    ``BEGIN IMMEDIATE``, a statement we do not know) it goes to the pool.
    """

    def __init__(self, conn, run):
        object.__setattr__(self, '_conn', conn)
        object.__setattr__(self, '_run', run)
        object.__setattr__(self, 'begin_pending', False)
        object.__setattr__(self, 'wrote', False)
        object.__setattr__(self, 'point_reads', False)

    def cursor(self, *args, **kwargs):
        return _Cursor(self._conn.cursor(*args, **kwargs), self._run, self)

    def defer_begin(self) -> None:
        object.__setattr__(self, 'begin_pending', True)

    def take_begin(self) -> bool:
        """Whether a deferred BEGIN must go before the next statement."""
        pending = self.begin_pending
        object.__setattr__(self, 'begin_pending', False)
        return pending

    def note_statement(self, sql: Any) -> None:
        """Remember a statement that may have written or locked."""
        if not _reads(sql):
            object.__setattr__(self, 'wrote', True)

    def _end(self, end: Callable[[], None]) -> None:
        if self.take_begin():
            return
        wrote = self.wrote
        object.__setattr__(self, 'wrote', False)
        if wrote:
            self._run(end)
        else:
            end()       # reads only, or no transaction: nothing to wait on

    def commit(self) -> None:
        self._end(self._conn.commit)

    def rollback(self) -> None:
        self._end(self._conn.rollback)

    def close(self) -> None:
        self._run(self._conn.close)

    def __getattr__(self, name: str):
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value) -> None:
        # the dialect sets isolation_level on the connection itself
        setattr(self._conn, name, value)


def _reads(sql: Any) -> bool:
    """Whether ``sql`` is a SELECT (which, in WAL mode, waits for no
    lock and writes nothing)."""
    return isinstance(sql, str) and sql.lstrip()[:6].upper() == 'SELECT'


def _inline(fn: Callable, *args):
    return fn(*args)


@contextlib.contextmanager
def point_reads(connection: Any) -> Iterator[None]:
    """Run the SELECTs made on ``connection`` (a SQLAlchemy connection,
    or a pooled DB-API one) meanwhile on the hub: only for reads of a few
    rows by primary key.  Outside a monkey-patched SQLite process it
    changes nothing."""
    raw = getattr(connection, 'dbapi_connection', None) or \
        connection.connection.dbapi_connection
    if not isinstance(raw, _Connection):
        yield
        return
    object.__setattr__(raw, 'point_reads', True)
    try:
        yield
    finally:
        object.__setattr__(raw, 'point_reads', False)


#: rows a query's execute reads on its thread, before coming back: most
#: results are at most this long, so fetching them needs no second trip
#: to the pool (each trip hands a call to a real thread and wakes the hub
#: again); a longer result reads the rest through the pool as it is
#: fetched, so a streamed scan stays bounded in memory
PREFETCH = 100


def _execute(cursor, args: tuple, begin: bool = False
             ) -> tuple[list, bool]:
    """(BEGIN, if deferred, then) execute, then read up to PREFETCH rows:
    (rows, whether that was every row)."""
    if begin:
        cursor.execute('BEGIN')
    cursor.execute(*args)
    if cursor.description is None:
        return [], True
    rows = cursor.fetchmany(PREFETCH)
    return rows, len(rows) < PREFETCH


def _execute_many(cursor, args: tuple, begin: bool) -> None:
    if begin:
        cursor.execute('BEGIN')
    cursor.executemany(*args)


class _Cursor:
    """A DB-API cursor whose executes and fetches go to ``run``."""

    def __init__(self, cursor, run, connection: _Connection | None = None):
        self._cursor = cursor
        self._run = run
        self._connection = connection
        self._rows: collections.deque = collections.deque()
        self._done = True
        #: where the rest of the current result is fetched: where its
        #: execute ran (a point read is read on the hub to its end)
        self._fetch = run

    def _begin(self, sql: Any) -> bool:
        if self._connection is None:
            return False
        self._connection.note_statement(sql)
        return self._connection.take_begin()

    def execute(self, *args):
        self._rows, self._done = collections.deque(), True
        if (self._connection is not None and len(args) <= 2
                and args[0] == 'BEGIN' and not (args[1:] and args[1])):
            self._connection.defer_begin()
            return self
        run = self._run
        if self._connection is not None and \
                self._connection.point_reads and _reads(args[0]):
            run = _inline
        rows, self._done = run(_execute, self._cursor, args,
                               self._begin(args[0]))
        self._rows, self._fetch = collections.deque(rows), run
        return self

    def executemany(self, *args):
        self._rows, self._done = collections.deque(), True
        self._run(_execute_many, self._cursor, args, self._begin(None))
        return self

    def fetchone(self):
        if self._rows:
            return self._rows.popleft()
        return None if self._done else self._fetch(self._cursor.fetchone)

    def fetchmany(self, size: int | None = None):
        size = self._cursor.arraysize if size is None else size
        out = [self._rows.popleft()
               for _ in range(min(size, len(self._rows)))]
        if len(out) < size and not self._done:
            more = self._fetch(self._cursor.fetchmany, size - len(out))
            self._done = len(more) < size - len(out)
            out += more
        return out

    def fetchall(self):
        out = list(self._rows)
        self._rows.clear()
        if not self._done:
            out += self._fetch(self._cursor.fetchall)
            self._done = True
        return out

    def close(self) -> None:
        self._cursor.close()

    def __iter__(self):
        return iter(self.fetchall())

    def __getattr__(self, name: str):
        # description, rowcount, lastrowid, arraysize: no waiting
        return getattr(self._cursor, name)
