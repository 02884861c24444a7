"""Distributed imports: two glance-api nodes post import jobs to a Redis
jobboard, two glance-worker processes claim and run them, all on one
database (PostgreSQL when reachable, else SQLite) and shared file stores
and staging directory.  Workers and API nodes are killed mid-import; the
import still ends, once, with the right data."""
from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid

import pytest

from glance.tests import databases
from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer, free_port, \
    write_config
from glance.tests.functional import test_import
from glance.tests.functional.test_import import (_create, _import, _stage,
                                                 _wait, blob)

REDIS = ('127.0.0.1', 6379)
CLAIM_TIMEOUT = 4
LEASE_TIMEOUT = 8


#: the loopback HTTP server of the import tests (/blob, /slow, /status)
web = test_import.web


def _redis():
    redis = pytest.importorskip('redis') if os.environ.get(
        'CI', '').lower() != 'true' else __import__('redis')
    client = redis.Redis(*REDIS)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail('Redis must be reachable under CI=true: %s' % exc)
        pytest.skip('Redis not reachable: %s' % exc)
    return client


class Worker:
    """A glance-worker process (``python -m glance.cmd.worker``)."""

    def __init__(self, workdir: str, config: str,
                 env: dict[str, str] | None = None):
        self.workdir, self.config = workdir, config
        self.env = dict(os.environ, **(env or {}))
        self.proc: subprocess.Popen | None = None

    def start(self) -> 'Worker':
        os.makedirs(self.workdir, exist_ok=True)
        self.out = open(os.path.join(self.workdir, 'worker.log'), 'ab')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'glance.cmd.worker', '--config-file',
             self.config], stdout=self.out, stderr=subprocess.STDOUT,
            start_new_session=True, env=self.env)
        return self

    def log(self) -> str:
        text = []
        for name in ('worker.log', 'glance-api.log'):
            path = os.path.join(self.workdir, name)
            if os.path.exists(path):
                with open(path, errors='replace') as f:
                    text.append(f.read())
        return '\n'.join(text)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.out.close()


def settings_for(board: str, shared: str, port: int) -> list[str]:
    """A distributed deployment's settings: the board, short claims and
    leases, the shared file stores and staging, web sources on ``port``."""
    return [
        'taskflow_executor.mode=distributed',
        'jobboard.backend_url=redis://%s:%d?db=0' % REDIS,
        'jobboard.board_name=%s' % board,
        'jobboard.claim_timeout=%d' % CLAIM_TIMEOUT,
        'worker.conductors=1', 'worker.jobs_per_conductor=2',
        'worker.shutdown_timeout=5',
        'DEFAULT.lease_timeout=%d' % LEASE_TIMEOUT,
        'DEFAULT.lease_heartbeat_interval=1',
        'import_filtering_opts.allowed_ports=[80,443,%d]' % port,
        'import_filtering_opts.allowed_hosts=[127.0.0.1]',
    ] + ['%s.filesystem_store_datadir=%s' % (s, os.path.join(shared, s))
         for s in ('fast', 'cheap', 'os_glance_staging_store')]


@contextlib.contextmanager
def distributed(base, db: databases.TestDatabase, port: int,
                extra: list[str], nodes: int = 2,
                env: dict[str, str] | None = None):
    """(api nodes, workers, settings): ``nodes`` glance-api and two
    glance-worker processes sharing a fresh board, ``db`` and the file
    stores under ``base``; all stopped, the board and ``db`` dropped at
    the end."""
    redis = _redis()
    board = 'glance-test-%s' % uuid.uuid4().hex[:12]
    settings = settings_for(board, str(base / 'stores'), port) + extra
    apis = [GlanceServer(str(base / ('api%d' % n)), database_url=db.url,
                         profile='reference', settings=settings)
            for n in range(nodes)]
    workers: list[Worker] = []
    try:
        for n, api in enumerate(apis):
            api.start(sync_db=n == 0)
        workers = [Worker(str(base / ('worker%d' % n)), write_config.build(
            str(base / ('worker%d' % n)), free_port(), 'reference', db.url,
            settings), env=env).start() for n in range(2)]
        yield apis, workers, settings
    finally:
        for proc in workers + apis:
            proc.stop()
        for key in redis.scan_iter(match='%s*' % board):
            redis.delete(key)
        db.drop()


def any_database(base) -> databases.TestDatabase:
    """PostgreSQL, or SQLite where there is none."""
    try:
        return databases.TestDatabase('postgresql', str(base))
    except pytest.skip.Exception:
        return databases.TestDatabase('sqlite', str(base))


#: what this module's cluster adds to :func:`settings_for`
CLUSTER_SETTINGS = [
    'task.progress_interval=0.2',
    # a plugin changing the image between atoms: its change must reach the
    # last atom through the persisted flow state
    'image_import_opts.image_import_plugins=[inject_image_metadata]',
    'inject_metadata_properties.inject=hw_injected:yes',
    'inject_metadata_properties.ignore_user_roles=admin',
]


@pytest.fixture(scope='module')
def cluster(tmp_path_factory, web):
    """(api nodes, workers, settings) sharing a board, database, stores."""
    base = tmp_path_factory.mktemp('workers')
    db = any_database(base)
    with distributed(base, db, urllib.parse.urlparse(web).port,
                     CLUSTER_SETTINGS) as (apis, workers, settings):
        yield apis, workers, (base, db, settings)


def _clients(cluster, project=None):
    project = project or 'wk-%s' % uuid.uuid4().hex[:8]
    apis = cluster[0]
    return [Client(a.url, identity(project)) for a in apis]


def _admin(api: GlanceServer) -> Client:
    return Client(api.url, identity('wk-admin', 'admin,member,reader',
                                    'root'))


def _check(client: Client, image: dict, data: bytes) -> None:
    assert image['status'] == 'active', image
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    assert image['size'] == len(data)
    assert client.get('/v2/images/%s/file' % image['id']).content == data


def _slow(size: int) -> bytes:
    """What the test server's /slow/SIZE sends (one 1 KiB block over)."""
    return b''.join(blob(min(1024, size - start), 'slow')
                    for start in range(0, size, 1024))


def _ran_on(workers, task_id: str) -> list[int]:
    return [n for n, w in enumerate(workers)
            if 'import task %s of image' % task_id in w.log()
            and 'claimed' in w.log()]


def test_web_download_runs_on_a_worker(cluster, web):
    apis, workers, _ = cluster
    one, two = _clients(cluster)
    image_id = _create(one)
    r = _import(one, image_id, method={'name': 'web-download',
                                       'uri': web + '/blob/300000/wd'})
    assert r.status_code == 202, r.text
    image, task = _wait(two, image_id)
    assert task['status'] == 'success', task
    _check(two, image, blob(300000, 'wd'))
    assert image['hw_injected'] == 'yes'
    # run by a worker, not by the API node that accepted it
    assert _ran_on(workers, task['id'])
    assert task['result'] == {'image_id': image_id}


def test_glance_direct_through_the_other_node(cluster):
    one, two = _clients(cluster)
    data = blob(123456, 'gd')
    image_id = _create(one)
    assert _stage(one, image_id, data).status_code == 204
    r = _import(two, image_id, method={'name': 'glance-direct'},
                stores=['fast', 'cheap'])
    assert r.status_code == 202, r.text
    image, task = _wait(one, image_id)
    assert task['status'] == 'success', task
    assert image['stores'] == 'fast,cheap'
    _check(one, image, data)


def test_copy_image(cluster):
    apis = cluster[0]
    one, _ = _clients(cluster)
    data = blob(70000, 'cp')
    image_id = _create(one)
    assert one.upload(image_id, data).status_code == 204
    admin = _admin(apis[1])
    r = _import(admin, image_id, method={'name': 'copy-image'},
                stores=['cheap'])
    assert r.status_code == 202, r.text
    # the flow drops the image's lock in its last atom; the task is marked
    # done once the engine returns, so wait for both
    image, task = _wait(admin, image_id)
    assert image['stores'] == 'fast,cheap'
    _check(one, image, data)
    assert task['status'] == 'success'


def test_failed_import_reverts(cluster, web):
    one, _ = _clients(cluster)
    image_id = _create(one)
    r = _import(one, image_id, method={'name': 'web-download',
                                       'uri': web + '/status/404'})
    assert r.status_code == 202, r.text
    image, task = _wait(one, image_id)
    assert task['status'] == 'failure'
    assert '404' in task['message']
    assert image['status'] == 'queued'


def _progress(client: Client, image_id: str, least: int) -> dict:
    """The running task once its progress passed ``least`` bytes."""
    deadline = time.time() + 60
    while time.time() < deadline:
        tasks = client.get('/v2/images/%s/tasks' % image_id).json()['tasks']
        if tasks and (tasks[0]['result'] or {}).get('progress', {}).get(
                'bytes_done', 0) >= least:
            return tasks[0]
        time.sleep(0.1)
    raise AssertionError('no progress on image %s' % image_id)


def test_worker_killed_mid_fetch(cluster, web):
    apis, workers, _ = cluster
    one, _ = _clients(cluster)
    size = 100 * 1024      # 5 s at the slow server's 20 KiB/s
    image_id = _create(one)
    r = _import(one, image_id, method={'name': 'web-download',
                                       'uri': web + '/slow/%d' % size})
    assert r.status_code == 202, r.text
    running = _progress(one, image_id, 10 * 1024)
    assert running['status'] == 'processing'
    progress = running['result']['progress']
    assert (progress['stage'], progress['bytes_total']) == ('fetch', size)
    [victim] = _ran_on(workers, running['id'])
    workers[victim].kill()
    try:
        image, task = _wait(one, image_id)
        assert task['status'] == 'success', task
        _check(one, image, _slow(size))
        survivor = workers[1 - victim]
        assert 'import task %s' % running['id'] in survivor.log()
        # once only: one location, no leftover in the other store
        assert image['stores'] == 'fast'
        shared = os.path.join(str(cluster[2][0]), 'stores')
        cheap = os.path.join(shared, 'cheap')
        assert image_id not in (os.listdir(cheap)
                                if os.path.isdir(cheap) else [])
        assert image_id in os.listdir(os.path.join(shared, 'fast'))
        assert image_id not in os.listdir(os.path.join(
            shared, 'os_glance_staging_store'))
    finally:
        workers[victim].start()


def test_worker_stopped_mid_fetch_gives_its_job_back(cluster, web):
    apis, workers, _ = cluster
    one, _ = _clients(cluster)
    size = 100 * 1024
    image_id = _create(one)
    r = _import(one, image_id, method={'name': 'web-download',
                                       'uri': web + '/slow/%d' % size})
    assert r.status_code == 202, r.text
    running = _progress(one, image_id, 10 * 1024)
    [victim] = _ran_on(workers, running['id'])
    workers[victim].proc.send_signal(signal.SIGTERM)
    try:
        assert workers[victim].proc.wait(timeout=30) == 0
        image, task = _wait(one, image_id)
        assert task['status'] == 'success', task
        _check(one, image, _slow(size))
        assert 'import task %s' % running['id'] in \
            workers[1 - victim].log()
        assert 'stopping' in workers[victim].log()
    finally:
        workers[victim].start()


def test_workers_list_and_status(cluster):
    apis, workers, _ = cluster
    deadline = time.time() + 30         # a restarted worker announces
    while time.time() < deadline:       # itself once started
        listing = apis[0].manage('workers', 'list')
        assert listing.returncode == 0, listing.stderr
        if '2 worker conductor(s)' in listing.stdout:
            break
        time.sleep(0.5)
    assert '2 worker conductor(s)' in listing.stdout, listing.stdout
    assert '0 job(s)' in listing.stdout, listing.stdout
    status = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), 'glance-status'),
         '--config-file', apis[0].config, 'upgrade', 'check'],
        capture_output=True, text=True, timeout=120)
    assert 'jobboard reachable' in status.stdout, status.stdout
    assert status.returncode == 0, status.stdout


def extra_api(base, db, settings: list[str], name: str) -> GlanceServer:
    """One more glance-api node of the cluster (its database, stores and
    board), started; the tests kill it."""
    srv = GlanceServer(str(base / name), database_url=db.url,
                       profile='reference', settings=settings)
    return srv.start(sync_db=False)


def test_api_node_killed_after_accepting(cluster, web):
    apis, workers, (base, db, settings) = cluster
    extra = extra_api(base, db, settings, 'api-extra')
    project = 'wk-%s' % uuid.uuid4().hex[:8]
    there = Client(extra.url, identity(project))
    image_id = _create(there)
    r = _import(there, image_id, method={'name': 'web-download',
                                         'uri': web + '/slow/40000'})
    assert r.status_code == 202, r.text
    extra.signal(signal.SIGKILL)
    extra.proc.wait()
    here = Client(apis[0].url, identity(project))
    image, task = _wait(here, image_id)
    assert task['status'] == 'success', task
    _check(here, image, _slow(40000))


def test_queued_job_outlives_its_accepting_node(cluster, web):
    """No worker running and the accepting node dead: the import's lease
    expires, but its job is on the board, so no node undoes it; once a
    worker runs, the import completes."""
    apis, workers, (base, db, settings) = cluster
    for w in workers:
        w.stop()
    extra = extra_api(base, db, settings, 'api-extra2')
    project = 'wk-%s' % uuid.uuid4().hex[:8]
    image_id = _create(Client(extra.url, identity(project)))
    r = _import(Client(extra.url, identity(project)), image_id,
                method={'name': 'web-download', 'uri': web + '/blob/5000/q'})
    assert r.status_code == 202, r.text
    extra.signal(signal.SIGKILL)
    extra.proc.wait()
    here = Client(apis[0].url, identity(project))
    try:
        # past the lease timeout and several sweeps of the live node
        time.sleep(LEASE_TIMEOUT + 4)
        image = here.get('/v2/images/%s' % image_id).json()
        [task] = here.get('/v2/images/%s/tasks' % image_id).json()['tasks']
        assert (image['status'], task['status']) == ('importing', 'pending')
        listing = apis[0].manage('workers', 'list')
        assert listing.returncode == 0, listing.stderr
        assert 'UNCLAIMED\ttask %s' % task['id'] in listing.stdout, \
            listing.stdout
    finally:
        for w in workers:
            w.start()
    image, task = _wait(here, image_id)
    assert task['status'] == 'success', task
    _check(here, image, blob(5000, 'q'))


def test_idle_conductors_are_woken_by_a_posted_import(tmp_path, web):
    """Conductors that look at the board only every ten minutes still take
    an import at once: glance-api announces each posted job on the
    board's Redis channel, which wakes the idle conductors.  (The import
    must end within _wait's minute, far below the poll interval.)"""
    db = databases.TestDatabase('sqlite', str(tmp_path))
    with distributed(tmp_path, db, urllib.parse.urlparse(web).port,
                     ['worker.poll_interval=600'], nodes=1) as (apis, _, _):
        client = Client(apis[0].url, identity('wk-wake'))
        time.sleep(2)       # past the conductors' first look at the board
        image_id = _create(client)
        r = _import(client, image_id, method={
            'name': 'web-download', 'uri': web + '/blob/50000/wake'})
        assert r.status_code == 202, r.text
        image, task = _wait(client, image_id)
        assert task['status'] == 'success', task
        _check(client, image, blob(50000, 'wake'))
