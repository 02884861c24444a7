"""The database goes away in the middle of an import (PostgreSQL).

glance-api cannot write the import's end while the database is away: not
the failed task, not the image put back, not the released lease.  Once
the database answers again the import must still end, within a lease
timeout or so: the task ``failure``, the image importable again, nothing
it fetched or wrote left in staging or in a store.  Never an image stuck
``importing`` for as long as the process lives.
"""
from __future__ import annotations

import os

import pytest

from glance.tests import databases
from glance.tests.functional.test_crash_recovery import (
    Cluster, _client, _create, _file_growing, _import, _wait_for,
    _wait_import, blob, web)

__all__ = ['web']           # the fixture, for pytest
KIB = 1024


@pytest.fixture
def outage(tmp_path, web):
    """(cluster on a PostgreSQL database, that database)."""
    db = databases.TestDatabase('postgresql', str(tmp_path))
    cluster = Cluster(str(tmp_path), int(web.rsplit(':', 1)[1]),
                      database_url=db.url)
    try:
        yield cluster, db
    finally:
        cluster.stop()
        db.drop()


def test_web_download_while_the_database_is_away(outage, web):
    cluster, db = outage
    client = _client(cluster.start_first())
    image_id = _create(client)
    staged = cluster.path('os_glance_staging_store', image_id)
    # 4 KiB every 100 ms: the download outlives the moment the test
    # takes the database away
    r = _import(client, image_id, {'name': 'web-download',
                                   'uri': web + '/slow/%d' % (160 * KIB)})
    assert r.status_code == 202, r.text
    _wait_for('partial download', lambda: _file_growing(staged))
    db.down()
    try:
        # The download ends; what the import writes next fails, and it
        # removes what it fetched.
        _wait_for('the fetched data removed',
                  lambda: not os.path.exists(staged))
    finally:
        db.up()
    image, task = _wait_import(client, image_id)
    assert task['status'] == 'failure', task
    # (the flow's own words when the database was back in time for it
    # to record the failure, the sweep's otherwise)
    assert 'database' in task['message'] and \
        'unreachable' in task['message'], task
    assert image['status'] == 'queued', image
    assert cluster.files('os_glance_staging_store') == []
    assert cluster.files('fast') == []
    uri = web + '/blob/%d/again' % (64 * KIB)
    r = _import(client, image_id, {'name': 'web-download', 'uri': uri})
    assert r.status_code == 202, r.text
    image, task = _wait_import(client, image_id)
    assert task['status'] == 'success', task
    assert client.get('/v2/images/%s/file' % image_id).content == \
        blob(64 * KIB, 'again')
