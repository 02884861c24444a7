"""Fixtures shared by unit and functional tests."""
from __future__ import annotations

import http.server
import sys

import eventlet.wsgi  # noqa: F401 - imported here for what follows
import pytest

from glance.tests import databases

# eventlet.wsgi loads a green copy of http.server (eventlet's patcher) and
# leaves it as the ``http`` package's ``server`` attribute, so that
# ``http.server.ThreadingHTTPServer`` in a test that ran after anything
# imported glance's server modules was the green copy: its shutdown()
# waited on a green lock that the serving thread (a real one) could never
# wake, and the test process hung.  eventlet.wsgi is imported once, here,
# and the standard module put back.
http.server = sys.modules['http.server']


@pytest.fixture(params=databases.BACKENDS)
def database(request, tmp_path):
    """A fresh database on each backend in turn: SQLite, PostgreSQL,
    MariaDB."""
    db = databases.TestDatabase(request.param, str(tmp_path))
    yield db
    db.drop()


@pytest.fixture
def migrated_database(database):
    """``database`` at the newest schema, and glance.db using it.

    For tests that call the repositories in-process; the engine is reset on
    both sides so no connection outlives the database it points at.
    """
    from oslo_config import cfg

    from glance.db import migration
    from glance.db.sqlalchemy import engine

    cfg.CONF.set_override('connection', database.url, group='database')
    engine.reset()
    try:
        migration.upgrade()
        yield database
    finally:
        engine.reset()
        cfg.CONF.clear_override('connection', group='database')


def _service(name: str, fixture_module):
    """Start, yield and stop a real service for the session.

    Skipped with the reason when it cannot be installed here, except under
    CI=true, where that is a failure.
    """
    import os

    start = getattr(fixture_module, 'start_' + name.lower())
    stop = getattr(fixture_module, 'stop_' + name.lower())
    try:
        node = start()
    except fixture_module.Unavailable as exc:
        if os.environ.get('CI') == 'true':
            raise
        pytest.skip('%s is not available: %s' % (name, exc))
    yield node
    stop(node)


@pytest.fixture(scope='session')
def swift():
    """A one-node Swift (Swift API and S3) on loopback for this session."""
    from glance.tests import swift_fixture
    yield from _service('Swift', swift_fixture)


@pytest.fixture(scope='session')
def ceph():
    """A one-node Ceph (one monitor, one in-memory OSD) on loopback for
    this session, with the pool ``images`` ready for RBD."""
    from glance.tests import ceph_fixture
    yield from _service('Ceph', ceph_fixture)


#: tests that take minutes each (the conformance runs): collected first,
#: so that with ``-n 2`` the rest of the suite runs on the other worker
#: beside them, instead of one worker running them alone at the end
#: while the other has nothing left to do
LONG_RUNNING = ('functional/test_tempest.py::',)


def pytest_collection_modifyitems(items: list) -> None:
    items.sort(key=lambda item: not any(
        name in item.nodeid for name in LONG_RUNNING))
