"""Legacy import tasks (POST /v2/tasks, type ``import``) in distributed
mode: posted to the Redis jobboard and run by glance-worker processes, so
neither the death of the glance-api node that accepted one nor that of
the worker running it loses the task.  Real processes: two API nodes, two
workers, one database, shared stores and ``[task] work_dir``."""
from __future__ import annotations

import hashlib
import os
import signal
import time
import urllib.parse
import uuid

import pytest

from glance.async_ import faults
from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer
from glance.tests.functional import test_import
from glance.tests.functional.test_import import blob
from glance.tests.functional.test_worker_crashes import (
    _faults_seen, _stopped_at)
from glance.tests.functional.test_workers import (
    LEASE_TIMEOUT, _slow, any_database, distributed, extra_api)

#: the loopback HTTP server of the import tests (/blob, /slow, /status)
web = test_import.web


@pytest.fixture(scope='module')
def cluster(tmp_path_factory, web):
    """(api nodes, workers, (base, db, settings)) sharing a board, a
    database, the stores and the legacy tasks' work dir."""
    base = tmp_path_factory.mktemp('legacyjobs')
    db = any_database(base)
    extra = ['task.work_dir=%s' % (base / 'work'),
             'task.progress_interval=0.2']
    with distributed(base, db, urllib.parse.urlparse(web).port, extra,
                     env={faults.ENV: str(base / 'fault')}
                     ) as (apis, workers, settings):
        yield apis, workers, (base, db, settings)


def _client(api: GlanceServer, project: str) -> Client:
    return Client(api.url, identity(project, 'admin,member,reader'))


def _project() -> str:
    return 'lj-%s' % uuid.uuid4().hex[:8]


def _post(client: Client, uri: str, **props) -> dict:
    r = client.post('/v2/tasks', json={'type': 'import', 'input': {
        'import_from': uri, 'import_from_format': 'raw',
        'image_properties': dict({'disk_format': 'raw',
                                  'container_format': 'bare'}, **props)}})
    assert r.status_code == 201, r.text
    return r.json()


def _finished(client: Client, task_id: str, wait: float = 90) -> dict:
    deadline = time.time() + wait
    while time.time() < deadline:
        task = client.get('/v2/tasks/%s' % task_id).json()
        if task['status'] in ('success', 'failure'):
            return task
        time.sleep(0.2)
    raise AssertionError('task %s did not finish: %s' % (task_id, task))


def _ran_on(workers, task_id: str) -> list[int]:
    """The workers that claimed the job of legacy task ``task_id``."""
    return [n for n, w in enumerate(workers)
            if 'claimed: legacy import task %s' % task_id in w.log()]


def _active(client: Client, task: dict, data: bytes) -> dict:
    assert task['status'] == 'success', (task.get('message'), task)
    image = client.get('/v2/images/%s' % task['result']['image_id']).json()
    assert image['status'] == 'active', image
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['size'] == len(data)
    assert client.get('/v2/images/%s/file' % image['id']).content == data
    return image


def _leftovers(cluster, client: Client, image_id: str) -> None:
    """Nothing but the image's one copy remains: no other image of the
    project, no download in the work dir, no other data in the stores."""
    base = cluster[2][0]
    owner = client.get('/v2/images/%s' % image_id).json()['owner']
    images = client.get('/v2/images?owner=%s' % owner).json()['images']
    assert [i['id'] for i in images] == [image_id]
    work = base / 'work'
    assert not (os.listdir(work) if work.is_dir() else [])
    fast = os.listdir(base / 'stores' / 'fast')
    assert image_id in fast
    cheap = base / 'stores' / 'cheap'
    assert image_id not in (os.listdir(cheap) if cheap.is_dir() else [])


def test_legacy_task_runs_on_a_worker(cluster, web):
    apis, workers, _ = cluster
    client = _client(apis[0], _project())
    task = _post(client, web + '/blob/200000/lt', name='legacy-job')
    task = _finished(client, task['id'])
    image = _active(client, task, blob(200000, 'lt'))
    assert image['name'] == 'legacy-job'
    assert _ran_on(workers, task['id'])


def _posted_by_a_dead_node(cluster, name: str, project: str,
                           uri: str) -> dict:
    """A task accepted by one more API node, SIGKILLed right after its
    201."""
    _apis, _workers, (base, db, settings) = cluster
    extra = extra_api(base, db, settings, name)
    task = _post(_client(extra, project), uri)
    extra.signal(signal.SIGKILL)
    extra.proc.wait()
    return task


def test_accepting_node_killed_right_after_201(cluster, web):
    """The node that accepted the task dies at once (SIGKILL, while the
    slow source still has seconds to go): a worker runs the task all the
    same, and the other node's recovery sweeps, which see the dead node's
    lease, leave it alone."""
    apis, workers, _ = cluster
    project = _project()
    task = _posted_by_a_dead_node(cluster, 'api-extra', project,
                                  web + '/slow/60000')
    here = _client(apis[0], project)
    task = _finished(here, task['id'])
    _active(here, task, _slow(60000))
    assert _ran_on(workers, task['id'])
    _leftovers(cluster, here, task['result']['image_id'])


def _downloading(base, task_id: str, least: int) -> None:
    """Wait until the download of ``task_id`` passed ``least`` bytes."""
    path = base / 'work' / task_id
    deadline = time.time() + 60
    while time.time() < deadline:
        if path.exists() and path.stat().st_size >= least:
            return
        time.sleep(0.1)
    raise AssertionError('task %s is not downloading' % task_id)


def test_worker_killed_mid_download(cluster, web):
    """The worker downloading the source is SIGKILLed: once its claim
    expires the other worker claims the job and starts the interrupted
    download again (the atoms before it are not run twice); the task
    succeeds with the right data, one image, and no file left behind."""
    apis, workers, (base, _, _) = cluster
    client = _client(apis[0], _project())
    size = 100 * 1024      # 5 s at the slow server's 20 KiB/s
    task = _post(client, web + '/slow/%d' % size)
    _downloading(base, task['id'], 10 * 1024)
    [victim] = _ran_on(workers, task['id'])
    workers[victim].kill()
    try:
        task = _finished(client, task['id'])
        _active(client, task, _slow(size))
        survivor = workers[1 - victim]
        assert 'claimed: legacy import task %s' % task['id'] in \
            survivor.log()
        _leftovers(cluster, client, task['result']['image_id'])
    finally:
        workers[victim].start()


@pytest.mark.parametrize('point', [
    'atom:begin_task', 'atom:import_to_fs', 'copy:fetch',
    'atom:create_image', 'legacy:image_created', 'atom:import_data',
    'copy:upload', 'atom:finish_task'])
def test_worker_killed_at_each_step(cluster, web, point):
    """The worker running the task is SIGKILLed at each step (before each
    atom, mid-download, just after the image was created, mid-upload):
    the other worker finishes the task, with the right data in one image
    and nothing left behind.  Mid-upload it first waits for the dead
    worker's upload lease to expire and be undone."""
    apis, workers, (base, _, _) = cluster
    fault = base / 'fault'
    for name in (fault, base / 'fault.taken'):
        if name.exists():
            name.unlink()
    before = [_faults_seen(w) for w in workers]
    fault.write_text(point)
    client = _client(apis[0], _project())
    size = 2 * 1024 * 1024 + 5      # two chunks and a bit to upload
    task = _post(client, web + '/blob/%d/kill' % size)
    victim = _stopped_at(workers, point, before)
    workers[victim].kill()
    try:
        task = _finished(client, task['id'])
        _active(client, task, blob(size, 'kill'))
        assert 'claimed: legacy import task %s' % task['id'] in \
            workers[1 - victim].log()
        _leftovers(cluster, client, task['result']['image_id'])
    finally:
        workers[victim].start()


def test_failed_legacy_task_on_a_worker(cluster, web):
    apis, workers, _ = cluster
    client = _client(apis[1], _project())
    task = _finished(client, _post(client, web + '/status/404')['id'])
    assert task['status'] == 'failure', task
    assert '404' in task['message']
    assert _ran_on(workers, task['id'])
    listing = apis[0].manage('workers', 'list')
    assert task['id'] not in listing.stdout, listing.stdout


def test_queued_task_outlives_its_accepting_node(cluster, web):
    """No worker running and the accepting node dead: the task's lease
    expires, but its job is on the board, so no node's recovery fails
    it; once a worker runs, the task completes."""
    apis, workers, _ = cluster
    for w in workers:
        w.stop()
    project = _project()
    task = _posted_by_a_dead_node(cluster, 'api-extra2', project,
                                  web + '/blob/5000/q')
    here = _client(apis[0], project)
    try:
        # past the lease timeout and several sweeps of the live node
        time.sleep(LEASE_TIMEOUT + 4)
        assert here.get('/v2/tasks/%s' % task['id']).json()['status'] == \
            'pending'
        listing = apis[0].manage('workers', 'list')
        assert listing.returncode == 0, listing.stderr
        assert 'UNCLAIMED\ttask %s\timage -' % task['id'] in \
            listing.stdout, listing.stdout
    finally:
        for w in workers:
            w.start()
    task = _finished(here, task['id'])
    _active(here, task, blob(5000, 'q'))
