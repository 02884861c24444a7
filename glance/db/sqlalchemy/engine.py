"""The database engine and sessions, through oslo.db's enginefacade.

One transaction context for the process; SQLite gets WAL and a busy timeout
so that concurrent requests wait for each other instead of failing.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from oslo_config import cfg
from oslo_db import options as db_options
from oslo_db.sqlalchemy import enginefacade
import sqlalchemy
from sqlalchemy import orm

CONF = cfg.CONF
db_options.set_defaults(CONF, connection='sqlite:////var/lib/glance/glance.sqlite')

_LOCK = threading.Lock()
_FACADE = None


def _facade():
    global _FACADE
    with _LOCK:
        if _FACADE is None:
            ctx = enginefacade.transaction_context()
            ctx.configure(sqlite_fk=False)
            engine = ctx.writer.get_engine()
            if engine.dialect.name == 'sqlite':
                sqlalchemy.event.listen(engine, 'connect', _sqlite_pragmas)
                # Connections already in the pool predate the listener.
                engine.dispose()
            _FACADE = ctx
        return _FACADE


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute('PRAGMA journal_mode=WAL')
    cur.execute('PRAGMA busy_timeout=30000')
    cur.execute('PRAGMA synchronous=NORMAL')
    cur.close()


def get_engine() -> sqlalchemy.engine.Engine:
    """The process-wide engine for ``[database] connection``."""
    return _facade().writer.get_engine()


def reset() -> None:
    """Forget the engine (after a fork, or when tests change the URL)."""
    global _FACADE
    with _LOCK:
        if _FACADE is not None:
            try:
                _FACADE.writer.get_engine().dispose()
            except Exception:  # noqa: BLE001 - best effort on teardown
                pass
        _FACADE = None


@contextlib.contextmanager
def session_scope() -> Iterator[orm.Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    maker = _facade().writer.get_sessionmaker()
    session = maker(expire_on_commit=False)
    try:
        with session.begin():
            yield session
    finally:
        session.close()
