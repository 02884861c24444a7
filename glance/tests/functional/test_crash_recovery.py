"""glance-api killed (SIGKILL) mid-operation: what the next process finds.

A real glance-api (reference profile: two file stores, a staging store)
with a lease timeout of a few seconds is killed while it receives an
upload or a stage, or runs a glance-direct, web-download or copy-image
import.  Then either the same configuration is started again, or a second
glance-api with its own configuration directory, sharing the database and
the store directories, takes over.  Whichever: the image must end in a
state a client can carry on from (upload, stage or import again, or
delete), no partial data may remain in any store or in staging, no
truncated data may ever become active, and the dead import's task must
end in ``failure``.
"""
from __future__ import annotations

import hashlib
import http.server
import os
import signal
import socket
import sqlite3
import time

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer, \
    serving

OCTET = {'Content-Type': 'application/octet-stream'}
MIB = 1024 * 1024
#: seconds; short so the tests see recovery within seconds
LEASE_TIMEOUT = 3
#: copy-image is for administrators
ADMIN = 'admin,member,reader'
STORES = ('fast', 'cheap', 'os_glance_staging_store',
          'os_glance_tasks_store')


def blob(size: int, seed: str = 'x') -> bytes:
    """``size`` deterministic bytes (a repeated sha256 block)."""
    block = hashlib.sha256(seed.encode()).digest() * 2048     # 64 KiB
    return (block * (size // len(block) + 1))[:size]


class _Handler(http.server.BaseHTTPRequestHandler):
    """/blob/SIZE/SEED: the bytes at once; /slow/SIZE: announces SIZE
    bytes and sends 4 KiB every 100 ms (a source a kill can interrupt).
    HEAD answers the size (what the http store asks of a location)."""

    protocol_version = 'HTTP/1.0'

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.send_response(200)
        self.send_header('Content-Length',
                         [p for p in self.path.split('/') if p][1])
        self.end_headers()

    def do_GET(self):
        parts = [p for p in self.path.split('/') if p]
        size = int(parts[1])
        self.send_response(200)
        self.send_header('Content-Length', str(size))
        self.end_headers()
        data = blob(size, parts[2] if len(parts) > 2 else 'web')
        try:
            if parts[0] == 'blob':
                self.wfile.write(data)
                return
            for start in range(0, size, 4096):
                self.wfile.write(data[start:start + 4096])
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass                # the glance-api reading it was killed


@pytest.fixture(scope='module')
def web():
    with serving(_Handler) as url:
        yield url


class Cluster:
    """The first glance-api, and whoever comes after it."""

    def __init__(self, workdir: str, web_port: int,
                 database_url: str | None = None):
        self.workdir = workdir
        self.database_url = database_url
        self.settings = [
            'DEFAULT.lease_timeout=%d' % LEASE_TIMEOUT,
            'DEFAULT.lease_heartbeat_interval=1',
            'import_filtering_opts.allowed_ports=[80,443,%d]' % web_port,
            'import_filtering_opts.allowed_hosts=[127.0.0.1]',
        ]
        self.servers: list[GlanceServer] = []

    def start_first(self, env: dict[str, str] | None = None
                    ) -> GlanceServer:
        srv = GlanceServer(os.path.join(self.workdir, 'first'),
                           profile='reference', settings=self.settings,
                           database_url=self.database_url, env=env).start()
        self.servers.append(srv)
        return srv

    def start_next(self, how: str) -> GlanceServer:
        """``restart``: the first one's configuration again; ``second``:
        another directory sharing its database and stores."""
        first = os.path.join(self.workdir, 'first')
        if how == 'restart':
            srv = GlanceServer(first, profile='reference',
                               settings=self.settings,
                               database_url=self.database_url)
        else:
            shared = ['%s.filesystem_store_datadir=%s' % (
                store, os.path.join(first, 'stores', store))
                for store in STORES]
            srv = GlanceServer(
                os.path.join(self.workdir, 'second'), profile='reference',
                database_url=self.database_url or 'sqlite:///%s' %
                os.path.join(first, 'glance.sqlite'),
                settings=self.settings + shared)
        self.servers.append(srv.start())
        return srv

    def files(self, store: str) -> list[str]:
        path = os.path.join(self.workdir, 'first', 'stores', store)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def path(self, store: str, image_id: str) -> str:
        return os.path.join(self.workdir, 'first', 'stores', store, image_id)

    def stop(self) -> None:
        for srv in self.servers:
            srv.stop()


@pytest.fixture
def cluster(tmp_path, web):
    c = Cluster(str(tmp_path), int(web.rsplit(':', 1)[1]))
    yield c
    c.stop()


def _client(srv: GlanceServer, roles: str = 'reader,member') -> Client:
    return Client(srv.url, identity('crash-project', roles, 'alice'))


def _create(client: Client) -> str:
    return client.create(name='crash', disk_format='raw',
                         container_format='bare')['id']


def _kill(srv: GlanceServer) -> None:
    srv.signal(signal.SIGKILL)
    srv.proc.wait()


def _wait_for(what: str, check, timeout: float = 60):
    """Poll ``check`` until it answers something true (a deadline, not a
    speed assertion: recovery takes about a lease timeout)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError('timed out waiting for %s' % what)


def _file_growing(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def _send_partial(srv: GlanceServer, path: str, total: int,
                  data: bytes) -> socket.socket:
    """Start a PUT announcing ``total`` bytes and send only ``data``."""
    sock = socket.create_connection(('127.0.0.1', srv.port))
    head = ['PUT %s HTTP/1.1' % path, 'Host: 127.0.0.1',
            'Content-Type: application/octet-stream',
            'Content-Length: %d' % total]
    head += ['%s: %s' % kv for kv in identity(
        'crash-project', 'reader,member', 'alice').items()]
    sock.sendall(('\r\n'.join(head) + '\r\n\r\n').encode())
    sock.sendall(data)
    return sock


def _image(client: Client, image_id: str) -> dict:
    r = client.get('/v2/images/%s' % image_id)
    assert r.status_code == 200, r.text
    return r.json()


def _settled(client: Client, image_id: str, *statuses: str):
    """The image once it is in one of ``statuses`` with no import lock."""
    def check():
        image = _image(client, image_id)
        if image['status'] in statuses and \
                not image.get('os_glance_import_task'):
            return image
        return None
    return _wait_for('image %s to become %s' % (image_id, statuses), check)


def _last_task(client: Client, image_id: str) -> dict:
    tasks = client.get('/v2/images/%s/tasks' % image_id).json()['tasks']
    return tasks[0]


def _wait_import(client: Client, image_id: str) -> tuple[dict, dict]:
    def check():
        image = _image(client, image_id)
        task = _last_task(client, image_id)
        if not image.get('os_glance_import_task') and \
                task['status'] in ('success', 'failure'):
            return image, task
        return None
    return _wait_for('import of %s to end' % image_id, check)


def _check_active(client: Client, image_id: str, data: bytes) -> dict:
    image = _image(client, image_id)
    assert image['status'] == 'active'
    assert image['size'] == len(data)
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    r = client.get('/v2/images/%s/file' % image_id)
    assert r.status_code == 200
    assert hashlib.md5(r.content).hexdigest() == image['checksum']
    return image


def _import(client: Client, image_id: str, method: dict, **body):
    return client.post('/v2/images/%s/import' % image_id,
                       json=dict(body, method=method))


# ------------------------------------------------------------------ upload
@pytest.mark.parametrize('how', ['restart', 'second'])
def test_killed_upload_is_queued_again_without_its_data(cluster, how):
    first = cluster.start_first()
    client = _client(first)
    image_id = _create(client)
    data = blob(32 * MIB, 'upload')
    sock = _send_partial(first, '/v2/images/%s/file' % image_id, len(data),
                         data[:8 * MIB])
    _wait_for('partial upload', lambda: _file_growing(
        cluster.path('fast', image_id)))
    assert _image(client, image_id)['status'] == 'saving'
    _kill(first)
    sock.close()

    client = _client(cluster.start_next(how))
    image = _settled(client, image_id, 'queued')
    assert image['size'] is None and image['checksum'] is None
    assert cluster.files('fast') == []
    # The client simply uploads again.
    r = client.put('/v2/images/%s/file' % image_id, data=data,
                   headers=OCTET)
    assert r.status_code == 204, r.text
    _check_active(client, image_id, data)
    assert cluster.files('fast') == [image_id]
    assert client.delete('/v2/images/%s' % image_id).status_code == 204
    assert cluster.files('fast') == []


@pytest.mark.parametrize('database', ['postgresql', 'mysql'],
                         indirect=True)
def test_killed_upload_on_server_databases(database, tmp_path, web):
    """The same on PostgreSQL and MariaDB, by a second process."""
    cluster = Cluster(str(tmp_path), int(web.rsplit(':', 1)[1]),
                      database.url)
    try:
        first = cluster.start_first()
        client = _client(first)
        image_id = _create(client)
        data = blob(16 * MIB, 'server-db')
        sock = _send_partial(first, '/v2/images/%s/file' % image_id,
                             len(data), data[:4 * MIB])
        _wait_for('partial upload', lambda: _file_growing(
            cluster.path('fast', image_id)))
        _kill(first)
        sock.close()
        client = _client(cluster.start_next('second'))
        _settled(client, image_id, 'queued')
        assert cluster.files('fast') == []
        r = client.put('/v2/images/%s/file' % image_id, data=data,
                       headers=OCTET)
        assert r.status_code == 204, r.text
        _check_active(client, image_id, data)
    finally:
        cluster.stop()


def test_delete_after_a_killed_upload_leaves_no_data(cluster):
    first = cluster.start_first()
    client = _client(first)
    image_id = _create(client)
    sock = _send_partial(first, '/v2/images/%s/file' % image_id, 32 * MIB,
                         blob(8 * MIB))
    _wait_for('partial upload', lambda: _file_growing(
        cluster.path('fast', image_id)))
    _kill(first)
    sock.close()

    client = _client(cluster.start_next('second'))
    # Once the lease has run out the delete cleans up, sweep or not.
    time.sleep(LEASE_TIMEOUT + 1)
    assert client.delete('/v2/images/%s' % image_id).status_code == 204
    assert client.get('/v2/images/%s' % image_id).status_code == 404
    assert cluster.files('fast') == []


def test_image_stuck_saving_without_a_lease_is_recovered(cluster):
    """What a process older than leases left: saving, partial data in the
    store, no lease.  Once unchanged for a lease timeout it is undone."""
    srv = cluster.start_first()
    client = _client(srv)
    image_id = _create(client)
    db = sqlite3.connect(os.path.join(srv.workdir, 'glance.sqlite'))
    with db:
        db.execute("UPDATE images SET status='saving', "
                   "updated_at='2026-01-01 00:00:00' WHERE id=?",
                   (image_id,))
    db.close()
    with open(cluster.path('fast', image_id), 'wb') as f:
        f.write(b'partial')
    data = blob(MIB, 'legacy')
    r = client.put('/v2/images/%s/file' % image_id, data=data,
                   headers=OCTET)
    assert r.status_code == 204, r.text
    _check_active(client, image_id, data)
    assert cluster.files('fast') == [image_id]


# ------------------------------------------------------------------- stage
@pytest.mark.parametrize('how', ['restart', 'second'])
def test_killed_stage_is_never_imported(cluster, how):
    first = cluster.start_first()
    client = _client(first)
    image_id = _create(client)
    data = blob(32 * MIB, 'stage')
    sock = _send_partial(first, '/v2/images/%s/stage' % image_id, len(data),
                         data[:8 * MIB])
    _wait_for('partial stage', lambda: _file_growing(
        cluster.path('os_glance_staging_store', image_id)))
    _kill(first)
    sock.close()

    client = _client(cluster.start_next(how))
    # Before or after the lease ran out: the truncated stage is refused.
    r = _import(client, image_id, {'name': 'glance-direct'})
    assert r.status_code == 409, r.text
    image = _settled(client, image_id, 'queued')
    assert image['size'] is None
    assert cluster.files('os_glance_staging_store') == []
    r = _import(client, image_id, {'name': 'glance-direct'})
    assert r.status_code == 409, r.text
    # Stage again, whole this time, and import.
    r = client.put('/v2/images/%s/stage' % image_id, data=data,
                   headers=OCTET)
    assert r.status_code == 204, r.text
    r = _import(client, image_id, {'name': 'glance-direct'})
    assert r.status_code == 202, r.text
    image, task = _wait_import(client, image_id)
    assert task['status'] == 'success', task
    _check_active(client, image_id, data)
    assert cluster.files('os_glance_staging_store') == []
    assert cluster.files('fast') == [image_id]


def test_a_changed_stage_is_not_imported(cluster):
    srv = cluster.start_first()
    client = _client(srv)
    image_id = _create(client)
    data = blob(MIB, 'changed')
    r = client.put('/v2/images/%s/stage' % image_id, data=data,
                   headers=OCTET)
    assert r.status_code == 204, r.text
    staged = cluster.path('os_glance_staging_store', image_id)
    with open(staged, 'r+b') as f:
        f.truncate(MIB // 2)
    r = _import(client, image_id, {'name': 'glance-direct'})
    assert r.status_code == 409
    assert 'changed since it was staged' in r.text
    # Same size, other bytes: refused by the import's own check.
    with open(staged, 'wb') as f:
        f.write(blob(MIB, 'other'))
    r = _import(client, image_id, {'name': 'glance-direct'})
    assert r.status_code == 202, r.text
    image, task = _wait_import(client, image_id)
    assert task['status'] == 'failure'
    assert 'changed since it was staged' in task['message']
    assert image['status'] == 'queued'
    assert cluster.files('fast') == []


# ------------------------------------------------------------------ import
@pytest.mark.parametrize('how', ['restart', 'second'])
@pytest.mark.parametrize('write', ['copy', 'link'])
def test_killed_glance_direct_import_can_be_repeated(cluster, how, write):
    """Killed while the store write reads the stage: ``copy`` (thin
    provisioning: the store writes the bytes, partial data in the store)
    or ``link`` (the staged file is read through, then kept: stopped at a
    fault point half way)."""
    env = None
    if write == 'copy':
        cluster.settings.append('fast.filesystem_thin_provisioning=True')
    else:
        fault = os.path.join(cluster.workdir, 'fault')
        with open(fault, 'w') as f:
            f.write('copy:write:fast:16MiB')
        env = {'GLANCE_FAULT_FILE': fault}
    first = cluster.start_first(env=env)
    client = _client(first)
    image_id = _create(client)
    data = blob(96 * MIB, 'direct')
    r = client.put('/v2/images/%s/stage' % image_id, data=data,
                   headers=OCTET)
    assert r.status_code == 204, r.text
    r = _import(client, image_id, {'name': 'glance-direct'})
    assert r.status_code == 202, r.text
    if write == 'copy':
        _wait_for('partial import', lambda: os.path.exists(
            cluster.path('fast', image_id)), timeout=120)
    else:
        _wait_for('import paused half way',
                  lambda: 'FAULT POINT' in first.log(), timeout=120)
    _kill(first)

    client = _client(cluster.start_next(how))
    image, task = _wait_import(client, image_id)
    assert task['status'] == 'failure', \
        'the import finished before it could be killed'
    assert 'stopped' in task['message']
    # The whole stage is kept: the image can be imported again at once.
    assert image['status'] == 'uploading'
    assert cluster.files('fast') == []
    assert cluster.files('os_glance_staging_store') == [image_id]
    r = _import(client, image_id, {'name': 'glance-direct'})
    assert r.status_code == 202, r.text
    image, task = _wait_import(client, image_id)
    assert task['status'] == 'success', task
    _check_active(client, image_id, data)
    assert cluster.files('fast') == [image_id]
    assert cluster.files('os_glance_staging_store') == []


@pytest.mark.parametrize('how', ['restart', 'second'])
def test_killed_web_download_can_be_repeated(cluster, web, how):
    first = cluster.start_first()
    client = _client(first)
    image_id = _create(client)
    r = _import(client, image_id, {'name': 'web-download',
                                   'uri': web + '/slow/%d' % (4 * MIB)})
    assert r.status_code == 202, r.text
    _wait_for('partial download', lambda: _file_growing(
        cluster.path('os_glance_staging_store', image_id)))
    _kill(first)

    client = _client(cluster.start_next(how))
    image, task = _wait_import(client, image_id)
    assert task['status'] == 'failure'
    assert 'stopped' in task['message']
    assert image['status'] == 'queued'
    assert cluster.files('os_glance_staging_store') == []
    assert cluster.files('fast') == []
    uri = web + '/blob/%d/again' % MIB
    r = _import(client, image_id, {'name': 'web-download', 'uri': uri})
    assert r.status_code == 202, r.text
    image, task = _wait_import(client, image_id)
    assert task['status'] == 'success', task
    _check_active(client, image_id, blob(MIB, 'again'))
    assert cluster.files('os_glance_staging_store') == []


@pytest.mark.parametrize('how', ['restart', 'second'])
def test_killed_copy_image_can_be_repeated(cluster, how):
    first = cluster.start_first()
    client = _client(first, ADMIN)
    image_id = _create(client)
    data = blob(96 * MIB, 'copy')
    r = client.put('/v2/images/%s/file' % image_id, data=data,
                   headers=OCTET)
    assert r.status_code == 204, r.text
    r = _import(client, image_id, {'name': 'copy-image'}, stores=['cheap'])
    assert r.status_code == 202, r.text
    _wait_for('partial copy', lambda: os.path.exists(
        cluster.path('os_glance_staging_store', image_id)) or
        os.path.exists(cluster.path('cheap', image_id)), timeout=120)
    _kill(first)

    client = _client(cluster.start_next(how), ADMIN)
    image, task = _wait_import(client, image_id)
    assert task['status'] == 'failure', \
        'the copy finished before it could be killed'
    assert image['status'] == 'active'
    assert image['stores'] == 'fast'
    assert cluster.files('cheap') == []
    assert cluster.files('os_glance_staging_store') == []
    r = _import(client, image_id, {'name': 'copy-image'}, stores=['cheap'])
    assert r.status_code == 202, r.text
    image, task = _wait_import(client, image_id)
    assert task['status'] == 'success', task
    assert sorted(image['stores'].split(',')) == ['cheap', 'fast']
    assert cluster.files('cheap') == [image_id]
    _check_active(client, image_id, data)


# ------------------------------------------------------ legacy import task
@pytest.mark.parametrize('how', ['restart', 'second'])
def test_killed_legacy_import_task_fails(cluster, web, how):
    """POST /v2/tasks (type import) killed while it downloads its source:
    its image does not exist yet, only the task and the download.  The
    task's lease makes the next node fail it; the download is removed; no
    image is left behind."""
    work = os.path.join(cluster.workdir, 'work')
    cluster.settings.append('task.work_dir=%s' % work)
    first = cluster.start_first()
    client = _client(first, ADMIN)
    r = client.post('/v2/tasks', json={'type': 'import', 'input': {
        'import_from': web + '/slow/%d' % (200 * 1024),
        'import_from_format': 'raw',
        'image_properties': {'name': 'legacy-crash',
                             'container_format': 'bare'}}})
    assert r.status_code == 201, r.text
    task_id = r.json()['id']
    download = os.path.join(work, task_id)
    _wait_for('the download', lambda: _file_growing(download))
    _kill(first)

    client = _client(cluster.start_next(how), ADMIN)

    def failed():
        task = client.get('/v2/tasks/%s' % task_id).json()
        return task if task['status'] == 'failure' else None
    task = _wait_for('the task failed', failed)
    assert 'stopped before it finished' in task['message']
    _wait_for('the download removed', lambda: not os.path.exists(download))
    images = client.get('/v2/images').json()['images']
    assert [i for i in images if i['name'] == 'legacy-crash'] == []
