"""Fixtures shared by unit and functional tests."""
from __future__ import annotations

import pytest

from glance.tests import databases


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


@pytest.fixture(scope='session')
def swift():
    """A one-node Swift (Swift API and S3) on loopback for this session.

    Skipped with the reason when Swift cannot be installed here, except
    under CI=true, where that is a failure.
    """
    import os

    from glance.tests import swift_fixture

    try:
        node = swift_fixture.start_swift()
    except swift_fixture.Unavailable as exc:
        if os.environ.get('CI') == 'true':
            raise
        pytest.skip('Swift is not available: %s' % exc)
    yield node
    swift_fixture.stop_swift(node)


@pytest.fixture(scope='session')
def ceph():
    """A one-node Ceph (one monitor, one in-memory OSD) on loopback for
    this session, with the pool ``images`` ready for RBD.

    Skipped with the reason when Ceph cannot be installed here, except
    under CI=true, where that is a failure.
    """
    import os

    from glance.tests import ceph_fixture

    try:
        node = ceph_fixture.start_ceph()
    except ceph_fixture.Unavailable as exc:
        if os.environ.get('CI') == 'true':
            raise
        pytest.skip('Ceph is not available: %s' % exc)
    yield node
    ceph_fixture.stop_ceph(node)
