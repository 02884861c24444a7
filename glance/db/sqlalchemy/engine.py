"""The database engine and sessions, through oslo.db's enginefacade.

One transaction context for the process.  SQLite is made safe for several
worker processes writing at once:

* WAL lets readers carry on while one connection writes, and the busy
  timeout makes a second writer wait for the lock instead of failing.
* Under eventlet (glance-api) its calls wait on real threads, so one slow
  query never stalls the other requests of the worker
  (:mod:`glance.db.sqlalchemy.green`).
* A transaction that writes starts with ``BEGIN IMMEDIATE``: it takes the
  write lock before its first read.  With a plain (deferred) ``BEGIN`` a
  transaction that read first and then writes cannot wait for the lock
  once another process has committed in between (SQLite answers "database
  is locked" at once, whatever the busy timeout), which is exactly the
  read-check-write shape of our updates.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Iterator

from oslo_config import cfg
from oslo_db import api as db_api
from oslo_db import exception as db_exception
from oslo_db import options as db_options
from oslo_db.sqlalchemy import enginefacade
import sqlalchemy
from sqlalchemy import orm

from glance.common import exception
from glance.db.sqlalchemy import green

CONF = cfg.CONF
LOG = logging.getLogger(__name__)
db_options.set_defaults(CONF,
                        connection='sqlite:////var/lib/glance/glance.sqlite')

#: milliseconds a SQLite writer waits for another's lock before failing
SQLITE_BUSY_TIMEOUT_MS = 30000
#: execution option marking the engine that write transactions run on
_WRITE = 'glance_write_transaction'

_LOCK = threading.Lock()
#: (enginefacade transaction context, engine that write transactions use,
#: the pool of point reads on a database server: :func:`point_read`)
_STATE = None


def _connection_url() -> str:
    """``[database] connection``, with utf8mb4 made the MySQL default.

    oslo.db asks MySQL for the 3-byte ``utf8`` unless the URL names a
    charset, and that cannot carry characters outside the BMP that image
    names and properties may hold.
    """
    url = sqlalchemy.engine.make_url(CONF.database.connection)
    if url.get_backend_name() in ('mysql', 'mariadb') and \
            'charset' not in url.query:
        url = url.update_query_dict({'charset': 'utf8mb4'})
    if _pooled_sqlite(url):
        # Pooled connections may be handed to another thread (the import
        # executor's), one user at a time; sqlite3 must allow that.
        url = url.update_query_dict({'check_same_thread': 'false'})
    return url.render_as_string(hide_password=False)


def _pooled_sqlite(url: sqlalchemy.engine.URL) -> bool:
    return url.get_backend_name() == 'sqlite' and \
        url.database not in (None, '', ':memory:')


def _queue_pool(old: sqlalchemy.pool.Pool, off_hub: bool = False,
                point_reads: bool = False) -> sqlalchemy.pool.QueuePool:
    """A QueuePool on ``old``'s connections (its creator, limits and
    connection listeners, ``_dispatch``, as ``Pool.recreate`` keeps them),
    which pings none of them at checkout.

    On a SQLite file it stands in for oslo.db's NullPool: oslo.db opens and
    closes a SQLite connection for every transaction, and with the pragmas
    each new connection needs that was a sixth of the time of a small GET.
    ``off_hub``: its connections wait on real threads, not on the eventlet
    hub (:mod:`glance.db.sqlalchemy.green`).  ``point_reads``: the pool of
    :func:`point_read` on a database server (no rollback at checkin, no
    overflow).  Either is sized by [database] max_pool_size (and
    max_overflow) like oslo.db's pools.
    """
    size = CONF.database.max_pool_size or 5
    # Point reads hold a connection for one round trip: the pool's
    # connections serve any number of them, while an overflow connection
    # would be opened for one read and closed after it (a new backend
    # process of a PostgreSQL server each time).
    overflow = 0 if point_reads else CONF.database.max_overflow or 0
    creator = old._creator
    if off_hub:
        green.threads_for(size, overflow)
        creator = green.off_hub_creator(creator)
    return sqlalchemy.pool.QueuePool(
        creator, pool_size=size, max_overflow=overflow,
        timeout=CONF.database.pool_timeout or 30,
        recycle=old._recycle, echo=old.echo,
        logging_name=old._orig_logging_name,
        reset_on_return=None if point_reads else old._reset_on_return,
        _dispatch=old.dispatch, dialect=old._dialect)


def _state():
    global _STATE
    with _LOCK:
        if _STATE is None:
            ctx = enginefacade.transaction_context()
            # No eventlet.sleep(0) at each connection's checkin (oslo.db's
            # "thread_checkin", for C drivers that never yield): ours yield
            # wherever they wait, and the sleep handed the hub to other
            # requests while the connection was still out of the pool, so
            # a burst of shows held one connection each and the pool kept
            # opening and closing overflow connections (a tenth of shows).
            ctx.configure(sqlite_fk=False, connection=_connection_url(),
                          thread_checkin=False)
            engine = ctx.writer.get_engine()
            if _pooled_sqlite(engine.url):
                engine.pool = _queue_pool(engine.pool, green.active())
            if engine.dialect.name == 'mysql':
                sqlalchemy.event.listen(engine, 'connect', _mysql_session)
                engine.dispose()
            if engine.dialect.name == 'sqlite':
                sqlalchemy.event.listen(engine, 'connect', _sqlite_pragmas)
                _listen_first(engine, 'begin', _sqlite_begin)
                # Connections already in the pool predate the listeners.
                engine.dispose()
            _STATE = (ctx, engine.execution_options(**{_WRITE: True}),
                      None if engine.dialect.name == 'sqlite'
                      else _point_read_pool(engine))
        return _STATE


def _point_read_pool(engine: sqlalchemy.engine.Engine
                     ) -> sqlalchemy.pool.QueuePool:
    """The connections :func:`point_read` uses on a database server: in
    autocommit mode, so a read is one round trip where a transaction of
    the main pool costs four (the ping at checkout, BEGIN, the SELECT,
    COMMIT: ~800 against ~200 microseconds on PostgreSQL over loopback).
    A connection the server dropped is found by the read itself and
    replaced (:func:`_server_rows`) instead of by a ping before each."""
    pool = _queue_pool(engine.pool, point_reads=True)
    dialect = engine.dialect

    def autocommit(dbapi_conn, _record) -> None:
        dialect.set_isolation_level(dbapi_conn, 'AUTOCOMMIT')
    sqlalchemy.event.listen(pool, 'connect', autocommit)
    return pool


def _listen_first(engine, name: str, fn) -> None:
    """Register ``fn`` ahead of the listeners already on ``engine``.

    Ours must run before oslo.db's "begin" listener, which emits a plain
    BEGIN unless the connection is marked as begun.  SQLAlchemy does not
    honour ``insert=True`` for connection events, so the others are taken
    off and put back after ours.
    """
    others = list(getattr(getattr(engine.dispatch, name), 'listeners', ()))
    for other in others:
        sqlalchemy.event.remove(engine, name, other)
    sqlalchemy.event.listen(engine, name, fn)
    for other in others:
        sqlalchemy.event.listen(engine, name, other)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # The timeout first, so that switching to WAL waits for a lock too.
    cur.execute('PRAGMA busy_timeout=%d' % SQLITE_BUSY_TIMEOUT_MS)
    cur.execute('PRAGMA journal_mode=WAL')
    cur.execute('PRAGMA synchronous=NORMAL')
    cur.close()


def _mysql_session(dbapi_conn, _record) -> None:
    """No index merges on MySQL/MariaDB connections.

    With them the optimizer intersects or unions the single-column indexes
    on ``deleted``, ``os_hidden``, ``visibility`` and ``owner`` and then
    sorts every matching image for a 25-row page, instead of reading the
    list index in order and stopping after the page (the plans are checked
    by ``glance/tests/unit/test_list_plans.py``).  No other query of ours
    gains from a merge: each is served by one composite index.
    """
    cur = dbapi_conn.cursor()
    cur.execute("SET SESSION optimizer_switch='index_merge=off'")
    cur.close()


def _sqlite_begin(conn) -> None:
    """Begin SQLite transactions ourselves, ahead of oslo.db's listener.

    oslo.db marks the connection with "in_transaction" when it has emitted
    BEGIN; we use the same marker so exactly one BEGIN is sent.  A write
    transaction's ``BEGIN IMMEDIATE`` may wait for the lock and fail, so it
    goes through SQLAlchemy, which turns that failure into its (and
    oslo.db's) exceptions.  A read's plain ``BEGIN`` takes no lock and
    cannot fail that way: it goes straight to the driver (or to
    :mod:`green`'s wrapper, which sends it with the first statement),
    where through SQLAlchemy's execute it cost a tenth of a show.
    """
    if 'in_transaction' in conn.info:
        return
    if conn.get_execution_options().get(_WRITE):
        conn.exec_driver_sql('BEGIN IMMEDIATE')
    else:
        cursor = conn.connection.cursor()
        cursor.execute('BEGIN')
        cursor.close()
    conn.info['in_transaction'] = True


def get_engine() -> sqlalchemy.engine.Engine:
    """The process-wide engine for ``[database] connection``."""
    return _state()[0].writer.get_engine()


def write_engine() -> sqlalchemy.engine.Engine:
    """The process-wide engine, with write transactions' manners.

    For a library that runs its own Core transactions on the service's
    database and reads before it writes in them (taskflow's persistence:
    ``SELECT`` the row, then ``UPDATE`` it).  On SQLite each transaction
    begins ``BEGIN IMMEDIATE``, so it waits the busy timeout for another
    process's write lock instead of failing at once with "database is
    locked"; elsewhere it is :func:`get_engine` (same pool either way).
    """
    return _state()[1]


def sqlite_engine(url: str) -> sqlalchemy.engine.Engine:
    """An engine on a SQLite file of its own (not the service database),
    with the service database's manners: WAL, the busy timeout, foreign
    keys enforced (ON DELETE CASCADE works) and every transaction begun
    ``BEGIN IMMEDIATE``.  One connection per transaction (NullPool), as
    such a file is written by several processes."""
    eng = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)

    @sqlalchemy.event.listens_for(eng, 'connect')
    def _connect(dbapi_conn, record):
        # transactions are ours to begin (below), not the driver's
        dbapi_conn.isolation_level = None
        _sqlite_pragmas(dbapi_conn, record)
        cur = dbapi_conn.cursor()
        cur.execute('PRAGMA foreign_keys=ON')
        cur.close()

    @sqlalchemy.event.listens_for(eng, 'begin')
    def _begin(conn):
        conn.exec_driver_sql('BEGIN IMMEDIATE')
    return eng


def reset() -> None:
    """Forget the engine (after a fork, or when tests change the URL)."""
    global _STATE
    with _LOCK:
        if _STATE is not None:
            try:
                _STATE[0].writer.get_engine().dispose()
                if _STATE[2] is not None:
                    _STATE[2].dispose()
            except Exception:  # noqa: BLE001 - best effort on teardown
                pass
        _STATE = None


#: Run a write transaction again when the database chose it as the victim
#: of a deadlock (InnoDB and PostgreSQL roll one of two transactions that
#: wait for each other back): nothing of it was stored, so running it
#: again is safe, and the client gets its answer instead of a 500.  For
#: functions that open their own :func:`session_scope`.
retry_on_deadlock = db_api.wrap_db_retry(
    max_retries=5, retry_interval=0.05, inc_retry_interval=True,
    max_retry_interval=1, retry_on_deadlock=True, jitter=True)


def _unreachable() -> exception.ServiceUnavailable:
    """The database being away (refused, cut, locked past the timeout) is
    the service being unavailable, not a fault of the request: 503, so
    clients and balancers retry."""
    return exception.ServiceUnavailable(
        'The image database is unreachable; try again later.')


@contextlib.contextmanager
def session_scope(readonly: bool = False) -> Iterator[orm.Session]:
    """A session in one transaction: committed on success, rolled back on
    error.

    ``readonly=True`` is for transactions that only read: on SQLite they do
    not take the write lock, so reads never queue behind writes.  Anything
    that may write must leave it False.
    """
    ctx, write_engine, _points = _state()
    maker = ctx.writer.get_sessionmaker()
    kwargs = {} if readonly else {'bind': write_engine}
    session = maker(expire_on_commit=False, **kwargs)
    try:
        with session.begin():
            yield session
    except (db_exception.DBConnectionError,
            sqlalchemy.exc.OperationalError) as exc:
        # oslo.db has already turned the errors it recognises (deadlocks,
        # duplicates) into their own types.
        raise _unreachable() from exc
    except (db_exception.DBError,
            db_exception.DBInvalidUnicodeParameter) as exc:
        refused = _refused_value(exc)
        if refused is None:
            raise
        raise refused from exc
    finally:
        session.close()


def _refused_value(exc: Exception) -> exception.BadRequest | None:
    """The 400 for a value the database refused to store, or None.

    The API checks what it is sent against the columns (lengths, 64-bit
    numbers, text without NUL or lone surrogates); this is the net under
    those checks for what only one backend refuses (MariaDB's TEXT holds
    64 KiB, PostgreSQL's varchar counts characters, MySQL bytes), so the
    client hears that its value was refused rather than a 500.  The
    transaction was rolled back: nothing of the request was stored.
    """
    inner = getattr(exc, 'inner_exception', None)
    if isinstance(exc, db_exception.DBInvalidUnicodeParameter):
        why = 'text that cannot be encoded'
    elif isinstance(exc, db_exception.DBDataError) or \
            isinstance(inner, (sqlalchemy.exc.DataError, OverflowError)):
        why = str(getattr(inner, 'orig', None) or inner or exc)
        why = why.strip().splitlines()[0][:200] if why.strip() else 'data'
    else:
        return None
    # The driver's words name tables and databases: for the log only.
    LOG.info('The database refused a value of the request: %s', why)
    return exception.BadRequest('A value of the request is too long or '
                                'otherwise does not fit the image '
                                'database.')


#: (statement, database, driver) -> (its compilation, a bind processor or
#: None per parameter, (index, result processor) of each column that has
#: one): kept for :func:`point_read`
_POINT_READS: dict = {}


def _compiled(statement: sqlalchemy.Select,
              dialect: sqlalchemy.engine.Dialect) -> tuple:
    key = (statement, dialect.name, dialect.driver)
    compiled = _POINT_READS.get(key)
    if compiled is None:
        built = statement.compile(dialect=dialect)
        binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                 for name, bind in built.binds.items()}
        results = [column.type.dialect_impl(dialect).result_processor(
            dialect, None) for column in statement.selected_columns]
        compiled = _POINT_READS[key] = (built, binds, [
            (i, convert) for i, convert in enumerate(results)
            if convert is not None])
    return compiled


def point_read(statement: sqlalchemy.Select,
               params: dict[str, Any]) -> list[tuple]:
    """The rows of one SELECT of a few rows by key (a show's).

    The statement, compiled once, runs on a pooled DB-API connection, its
    values converted by the column types' own bind and result processors:
    SQLAlchemy's Connection, transaction, execution context and result
    cost more than the database spends on such a read (on SQLite ~130 of
    the ~220 microseconds of reading an image).  One statement alone reads
    one consistent snapshot, so no transaction is needed: on SQLite it runs
    in autocommit mode on the main pool, on the hub
    (:func:`green.point_reads`); on a database server on connections of
    its own in autocommit mode (:func:`_point_read_pool`).  A database
    that cannot answer is a 503.
    """
    engine = get_engine()
    dialect = engine.dialect
    built, binds, processors = _compiled(statement, dialect)
    values = built.construct_params(params)
    for name, convert in binds.items():
        if convert is not None and name in values:
            values[name] = convert(values[name])
    args = [values[name] for name in built.positiontup] \
        if built.positiontup else values
    try:
        if dialect.name == 'sqlite':
            rows = _sqlite_rows(engine, built.string, args)
        else:
            rows = _server_rows(_state()[2], dialect, built.string, args)
    except (dialect.dbapi.OperationalError,
            sqlalchemy.exc.TimeoutError) as exc:
        raise _unreachable() from exc
    return _converted(rows, processors) if processors else rows


def _converted(rows: list[tuple], processors: list) -> list[tuple]:
    """``rows`` with the values of the columns that have a result
    processor converted (on SQLite times and booleans; a show's rows
    repeat the image's columns once per child, converted once)."""
    out: list[tuple] = []
    done: dict[tuple, Any] = {}
    for row in rows:
        row = list(row)
        for i, convert in processors:
            if (i, row[i]) not in done:
                done[(i, row[i])] = convert(row[i])
            row[i] = done[(i, row[i])]
        out.append(tuple(row))
    return out


def _sqlite_rows(engine: sqlalchemy.engine.Engine, sql: str,
                 args: Any) -> list[tuple]:
    raw = engine.raw_connection()
    try:
        with green.point_reads(raw):
            cursor = raw.cursor()
            cursor.execute(sql, args)
            rows = cursor.fetchall()
            cursor.close()
    finally:
        raw.close()
    return rows


def _server_rows(pool: sqlalchemy.pool.Pool,
                 dialect: sqlalchemy.engine.Dialect, sql: str, args: Any,
                 again: bool = True) -> list[tuple]:
    """Run ``sql`` on a connection of the point reads' pool.

    A connection the server dropped since it was opened (a restart, a
    failover, an idle timeout) fails the read: it is thrown away with the
    pool's idle connections, which the same event dropped too, and the
    read runs once more (``again``) on a new connection."""
    raw = pool.connect()
    cursor = None
    try:
        cursor = raw.cursor()
        cursor.execute(sql, args)
        rows = cursor.fetchall()
        cursor.close()
        return rows
    except dialect.dbapi.Error as exc:
        if not (again and dialect.is_disconnect(exc, raw.dbapi_connection,
                                                cursor)):
            raise
        LOG.warning('The database dropped a connection (%s); a new one '
                    'is opened for the read.', str(exc).strip()[:200])
        raw.invalidate(exc)
    finally:
        raw.close()
    pool.dispose()
    return _server_rows(pool, dialect, sql, args, again=False)


@contextlib.contextmanager
def read_scope() -> Iterator[sqlalchemy.engine.Connection]:
    """A connection in one read-only transaction, for Core statements.

    What ``session_scope(readonly=True)`` gives, without the ORM session
    around it: a list is a few Core queries, and the session's
    bookkeeping cost as much as running them.  (A read of one statement
    by key is :func:`point_read`.)
    """
    try:
        with get_engine().connect() as conn, conn.begin():
            yield conn
    except (db_exception.DBConnectionError,
            sqlalchemy.exc.OperationalError) as exc:
        raise _unreachable() from exc
