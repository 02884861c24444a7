"""Test databases: SQLite always, PostgreSQL and MariaDB when reachable.

Each server database is created fresh (and dropped afterwards) so tests never
see each other's rows.  Under CI=true an unreachable server is an error,
not a skip: the suite must really run on all three.
"""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

SERVERS = {
    'postgresql': os.environ.get(
        'GLANCE_TEST_POSTGRESQL_URL',
        'postgresql+psycopg2://postgres@127.0.0.1:5432/test'),
    'mysql': os.environ.get(
        'GLANCE_TEST_MYSQL_URL',
        'mysql+pymysql://root@127.0.0.1:3306/test'),
}
BACKENDS = ('sqlite', 'postgresql', 'mysql')


def _unavailable(backend: str, why: str):
    if os.environ.get('CI', '').lower() == 'true':
        pytest.fail('%s must be reachable under CI=true: %s' % (backend, why))
    pytest.skip('%s not reachable: %s' % (backend, why))


class TestDatabase:
    """A fresh, empty database on one backend; ``url`` for glance to use."""

    def __init__(self, backend: str, tmpdir: str):
        self.backend = backend
        self.name = 'glance_test_%s' % uuid.uuid4().hex[:12]
        if backend == 'sqlite':
            self.url = 'sqlite:///%s' % os.path.join(tmpdir, 'glance.sqlite')
            self._admin = None
            return
        admin_url = sa.engine.make_url(SERVERS[backend])
        try:
            self._admin = sa.create_engine(admin_url,
                                           isolation_level='AUTOCOMMIT')
            with self._admin.connect() as conn:
                conn.execute(sa.text('CREATE DATABASE %s' % self.name))
        except Exception as exc:  # noqa: BLE001 - any failure to reach it
            _unavailable(backend, exc)
        self.url = admin_url.set(database=self.name).render_as_string(
            hide_password=False)
        if backend == 'mysql':
            self.url += '?charset=utf8mb4'

    def _cut_connections(self, conn: sa.engine.Connection) -> None:
        if self.backend == 'mysql':
            for (ident,) in conn.execute(sa.text(
                    'SELECT id FROM information_schema.processlist '
                    'WHERE db = :n AND id <> CONNECTION_ID()'),
                    {'n': self.name}).all():
                conn.execute(sa.text('KILL %d' % ident))
            return
        conn.execute(sa.text(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
            'WHERE datname = :n AND pid <> pg_backend_pid()'),
            {'n': self.name})

    def cut_connections(self) -> None:
        """The server drops every connection to the database, as when it
        restarts (PostgreSQL, MariaDB)."""
        with self._admin.connect() as conn:
            self._cut_connections(conn)

    def down(self) -> None:
        """PostgreSQL only: the database refuses new connections and the
        ones open are cut (the database gone away, for glance)."""
        assert self.backend == 'postgresql', 'down() is for PostgreSQL'
        with self._admin.connect() as conn:
            conn.execute(sa.text('ALTER DATABASE %s ALLOW_CONNECTIONS false'
                                 % self.name))
            self._cut_connections(conn)

    def up(self) -> None:
        """Undo :meth:`down`."""
        with self._admin.connect() as conn:
            conn.execute(sa.text('ALTER DATABASE %s ALLOW_CONNECTIONS true'
                                 % self.name))

    def drop(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as conn:
            if self.backend == 'postgresql':
                self._cut_connections(conn)
            conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % self.name))
        self._admin.dispose()
