"""glance-manage db sync / upgrade / version / check, as operators run it,
against an empty database on SQLite, PostgreSQL and MariaDB.
"""
from __future__ import annotations

import os
import subprocess

import pytest
import sqlalchemy as sa

from glance.db import migration
from glance.tests.functional.server import BIN
from glance.tests.functional.server import write_config

HEAD = migration.heads()[0]


@pytest.fixture
def manage(database, tmp_path):
    """Run glance-manage with a configuration pointing at ``database``."""
    conf = write_config.build(str(tmp_path / 'etc'), 9292, 'default',
                              database.url)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [os.path.join(BIN, 'glance-manage'), '--config-file', conf,
             *args], capture_output=True, text=True, timeout=120)
    return run


def _sql(url: str, statement: str) -> None:
    eng = sa.create_engine(url)
    try:
        with eng.begin() as conn:
            conn.exec_driver_sql(statement)
    finally:
        eng.dispose()


def test_sync_an_empty_database(manage, database):
    """The whole life of a schema, as an operator sees it."""
    r = manage('db', 'version')
    assert (r.returncode, r.stdout.strip()) == \
        (0, 'empty database (no revision)'), r.stderr
    r = manage('db', 'check')
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stdout.strip() == (
        'Database is at no revision; the code expects %s. Run '
        'glance-manage db sync.' % HEAD)

    r = manage('db', 'sync')
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == 'Database is at revision %s' % HEAD
    r = manage('db', 'version')
    assert (r.returncode, r.stdout.strip()) == (0, HEAD)
    r = manage('db', 'check')
    assert (r.returncode, r.stdout.strip()) == (0, 'Database is up to date.')

    # A schema changed by hand is reported, and check fails.
    _sql(database.url, 'CREATE INDEX stray_idx ON images (name)')
    r = manage('db', 'check')
    assert r.returncode == 4, r.stdout + r.stderr
    assert 'differs from the models' in r.stdout
    assert 'stray_idx' in r.stdout


@pytest.mark.parametrize('database', ['sqlite'], indirect=True)
def test_upgrade_to_a_named_revision_and_legacy_names(manage):
    r = manage('db', 'upgrade', HEAD)
    assert (r.returncode, r.stdout.strip()) == \
        (0, 'Database is at revision %s' % HEAD), r.stderr
    # devstack and kolla call the old spellings.
    r = manage('db_sync')
    assert r.returncode == 0, r.stderr
    r = manage('db_version')
    assert (r.returncode, r.stdout.strip()) == (0, HEAD)


@pytest.mark.parametrize('database', ['sqlite'], indirect=True)
def test_unknown_revision_is_a_clear_error(manage):
    r = manage('db', 'upgrade', 'no_such_revision')
    assert r.returncode == 1
    assert "no_such_revision" in r.stderr
    assert 'Traceback' not in r.stderr


@pytest.mark.parametrize('database', ['postgresql'], indirect=True)
def test_unreachable_database_is_a_clear_error(database, tmp_path):
    url = sa.engine.make_url(database.url).set(
        password='secret', database=database.name + '_missing')
    conf = write_config.build(str(tmp_path / 'etc'), 9292, 'default',
                              url.render_as_string(hide_password=False))
    r = subprocess.run([os.path.join(BIN, 'glance-manage'), '--config-file',
                        conf, 'db', 'sync'], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1
    assert r.stderr.startswith('glance-manage: database error on ')
    assert database.name + '_missing' in r.stderr
    # The password is not printed.
    assert 'secret' not in r.stderr
    assert 'Traceback' not in r.stderr


@pytest.mark.parametrize('database', ['sqlite'], indirect=True)
def test_missing_command_is_a_usage_error(manage):
    r = manage()
    assert r.returncode == 2
    assert 'usage: glance-manage' in r.stderr
