"""glance-status upgrade check, run as a process, on an unmigrated and a
migrated database (exit codes as oslo.upgradecheck defines them)."""
from __future__ import annotations

import os
import subprocess

import pytest
import sqlalchemy as sa

from glance.tests.functional.server import BIN
from glance.tests.functional.server import write_config


@pytest.fixture
def status(database, tmp_path):
    conf = write_config.build(str(tmp_path / 'etc'), 9292, 'default',
                              database.url)

    def run(*args: str, tool: str = 'glance-status'):
        return subprocess.run(
            [os.path.join(BIN, tool), '--config-file', conf, *args],
            capture_output=True, text=True, timeout=120)
    return run


def test_upgrade_check(status, database):
    r = status('upgrade', 'check')
    assert r.returncode == 2, r.stdout + r.stderr
    assert 'glance-manage db sync' in r.stdout
    assert 'Traceback' not in r.stdout + r.stderr

    r = status('db', 'sync', tool='glance-manage')
    assert r.returncode == 0, r.stderr
    r = status('upgrade', 'check')
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ('Database schema', 'Image statuses', 'Store configuration'):
        assert name in r.stdout

    eng = sa.create_engine(database.url)
    try:
        with eng.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO images (id, status, visibility, min_disk, "
                "min_ram, protected, os_hidden, created_at, deleted) VALUES "
                "('x', 'weird', 'shared', 0, 0, false, false, "
                "CURRENT_TIMESTAMP, false)")
    finally:
        eng.dispose()
    r = status('upgrade', 'check')
    assert r.returncode == 2, r.stdout + r.stderr
    assert 'weird (1)' in r.stdout


@pytest.mark.parametrize('database', ['sqlite'], indirect=True)
def test_bad_store_configuration_fails(database, tmp_path):
    conf = write_config.build(str(tmp_path / 'etc'), 9292, 'default',
                              database.url,
                              ['glance_store.default_store=nosuchstore'])
    subprocess.run([os.path.join(BIN, 'glance-manage'), '--config-file',
                    conf, 'db', 'sync'], check=True, capture_output=True)
    r = subprocess.run([os.path.join(BIN, 'glance-status'), '--config-file',
                        conf, 'upgrade', 'check'], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert 'store configuration invalid' in r.stdout
    assert 'Traceback' not in r.stdout + r.stderr


def _pending_delete_image(conn, image_id: str, deleted_at: str) -> None:
    conn.exec_driver_sql(
        "INSERT INTO images (id, status, visibility, min_disk, min_ram, "
        "protected, os_hidden, created_at, deleted, deleted_at) VALUES "
        "('%s', 'pending_delete', 'shared', 0, 0, false, false, "
        "CURRENT_TIMESTAMP, true, %s)" % (image_id, deleted_at))


def test_pending_delete_images_the_scrubber_missed(status, database):
    """A warning (exit 1) names images whose data outstayed scrub_time +
    2 x wakeup_time; one deleted a moment ago is not overdue."""
    assert status('db', 'sync', tool='glance-manage').returncode == 0
    eng = sa.create_engine(database.url)
    try:
        with eng.begin() as conn:
            _pending_delete_image(conn, 'fresh', 'CURRENT_TIMESTAMP')
        r = status('upgrade', 'check')
        assert r.returncode == 0, r.stdout + r.stderr
        with eng.begin() as conn:
            _pending_delete_image(conn, 'stale', "'2026-01-01 00:00:00'")
    finally:
        eng.dispose()
    r = status('upgrade', 'check')
    assert r.returncode == 1, r.stdout + r.stderr
    assert '1 pending_delete image(s)' in r.stdout
    assert 'stale' in r.stdout and 'fresh' not in r.stdout
    assert 'glance-scrubber' in r.stdout
