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
