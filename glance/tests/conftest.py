"""Fixtures shared by unit and functional tests."""
from __future__ import annotations

import pytest

from glance.tests import databases


@pytest.fixture(params=databases.BACKENDS)
def database(request, tmp_path):
    """A fresh database on each backend in turn (SQLite, PostgreSQL, MariaDB)."""
    db = databases.TestDatabase(request.param, str(tmp_path))
    yield db
    db.drop()
