"""Distributed imports on each service database: SQLite, PostgreSQL and
MariaDB.

The same cluster as :mod:`test_workers` (two glance-api nodes posting to a
Redis jobboard, two glance-worker processes claiming the jobs, shared file
stores and staging directory), started once per database; taskflow's
flow states are persisted in that database.  SQLite is the embedded case:
one file on one host, written by four processes at once (the API nodes'
requests and leases, the workers' atom states, flow details and leases).

On each database a web-download, a glance-direct and a copy-image import
end ``active`` with the right data, and a worker killed outright while it
fetches hands its import to the other worker, which finishes it once.
"""
from __future__ import annotations

import time
import urllib.parse

import pytest
import sqlalchemy as sa

from glance.tests import databases
from glance.tests.functional import test_import
from glance.tests.functional.test_import import (_create, _import,
                                                 _wait, blob)
from glance.tests.functional import test_workers
from glance.tests.functional.test_workers import (_check, _clients,
                                                  distributed)

#: the loopback HTTP server of the import tests (/blob, /slow, /status)
web = test_import.web


@pytest.fixture(scope='module', params=databases.BACKENDS)
def cluster(request, tmp_path_factory, web):
    """(api nodes, workers, (base dir, database)) on one database."""
    backend = request.param
    base = tmp_path_factory.mktemp('workers-%s' % backend)
    db = databases.TestDatabase(backend, str(base))
    with distributed(base, db, urllib.parse.urlparse(web).port,
                     test_workers.CLUSTER_SETTINGS) as (apis, workers, _):
        yield apis, workers, (base, db)


def _flow_rows(db: databases.TestDatabase) -> dict[str, int]:
    """Rows left in taskflow's tables (a finished job leaves none)."""
    engine = sa.create_engine(db.url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text('SELECT COUNT(*) FROM %s' % t)
                                    ).scalar()
                    for t in ('logbooks', 'flowdetails', 'atomdetails')}
    finally:
        engine.dispose()


def _no_flow_state_left(db: databases.TestDatabase) -> None:
    """Wait for the conductors to forget the finished flows (a job is
    consumed once its flow returned, just after the task was marked)."""
    empty = {'logbooks': 0, 'flowdetails': 0, 'atomdetails': 0}
    deadline = time.time() + 30
    while _flow_rows(db) != empty and time.time() < deadline:
        time.sleep(0.2)
    assert _flow_rows(db) == empty


# web-download, glance-direct through the other node and copy-image: the
# tests of test_workers, run here on this module's cluster (each database)
test_web_download = test_workers.test_web_download_runs_on_a_worker
test_glance_direct = test_workers.test_glance_direct_through_the_other_node
test_copy_image = test_workers.test_copy_image


def test_concurrent_imports_leave_no_flow_state(cluster, web):
    """Four imports at once (two per worker) write atom states into the
    database together; all end, and the finished jobs' flow states are
    removed (on SQLite too, whose foreign keys are off by default)."""
    apis, workers, (_, db) = cluster
    one, two = _clients(cluster)
    images = {}
    for n in range(4):
        image_id = _create(one)
        size = 200000 + n
        r = _import((one, two)[n % 2], image_id, method={
            'name': 'web-download',
            'uri': web + '/blob/%d/cc%d' % (size, n)})
        assert r.status_code == 202, r.text
        images[image_id] = blob(size, 'cc%d' % n)
    for image_id, data in images.items():
        image, task = _wait(one, image_id)
        assert task['status'] == 'success', (
            task['message'], [w.log()[-3000:] for w in workers])
        _check(one, image, data)
    _no_flow_state_left(db)


def test_worker_killed_mid_fetch(cluster, web):
    """test_workers' kill mid-fetch on each database; the resumed job's
    flow state is removed too."""
    test_workers.test_worker_killed_mid_fetch(cluster, web)
    _no_flow_state_left(cluster[2][1])
