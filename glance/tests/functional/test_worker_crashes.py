"""A worker killed at any step of any import: the import still ends once,
right, and clean.

Two ``glance-worker`` processes share a Redis board and a PostgreSQL
database (SQLite when PostgreSQL is not there) with one glance-api.  Each
test names a fault point (:mod:`glance.async_.faults`): an atom of the
import flow about to run, or a copy (fetch, write to a store) with part
of its data moved.  The first worker to get there stops; the test
SIGKILLs it; the other worker takes the job over once the claim expires
and resumes the flow from its persisted atom states.  Then: the image is
active with exactly the expected data in exactly the expected stores (or,
for an import that must fail, queued with nothing anywhere), one task,
ended once, nothing left in staging and the job gone from the board.
"""
from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import http.server
import os
import re
import subprocess
import time
import urllib.parse
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer, \
    serving
from glance.tests.functional.test_import import _create, _import, _stage
from glance.tests.functional.test_workers import (Worker, any_database,
                                                  distributed)

#: the data every import brings (a raw disk, 256 KiB of noise)
RAW = b''.join(hashlib.sha512(b'%d' % n).digest() for n in range(4096))


class _Files(http.server.BaseHTTPRequestHandler):
    """Serves the module's files by name (/raw, /qcow2, /unsafe)."""

    protocol_version = 'HTTP/1.0'
    files: dict[str, bytes] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = self.files.get(self.path.strip('/'))
        self.send_response(200 if body is not None else 404)
        self.send_header('Content-Length', str(len(body or b'')))
        self.end_headers()
        self.wfile.write(body or b'')


def _qemu(tmp: str, *args: str) -> None:
    subprocess.run(['qemu-img', *args], check=True, capture_output=True,
                   cwd=tmp)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """The web-download sources: RAW as raw and as qcow2, and a qcow2
    with a backing file (which the inspection refuses)."""
    tmp = str(tmp_path_factory.mktemp('sources'))
    with open(os.path.join(tmp, 'disk.raw'), 'wb') as f:
        f.write(RAW)
    _qemu(tmp, 'convert', '-f', 'raw', '-O', 'qcow2', 'disk.raw',
          'disk.qcow2')
    _qemu(tmp, 'create', '-f', 'qcow2', '-b', 'disk.raw', '-F', 'raw',
          'unsafe.qcow2')
    served = {}
    for name, path in (('raw', 'disk.raw'), ('qcow2', 'disk.qcow2'),
                       ('unsafe', 'unsafe.qcow2')):
        with open(os.path.join(tmp, path), 'rb') as f:
            served[name] = f.read()
    handler = type('Files', (_Files,), {'files': served})
    with serving(handler) as url:
        yield url


@contextlib.contextmanager
def _cluster(base, files: str, extra: list[str]):
    """(api, workers, fault file, shared stores dir) on ``base``."""
    fault = str(base / 'fault')
    with distributed(base, any_database(base), urllib.parse.urlparse(
            files).port, [
            'task.progress_interval=0',
            'DEFAULT.enabled_import_methods=[glance-direct,web-download,'
            'copy-image,glance-download]',
            'image_import_opts.image_import_plugins='
            '[inject_image_metadata,image_conversion]',
            'inject_metadata_properties.inject=hw_injected:yes',
            'inject_metadata_properties.ignore_user_roles=admin',
            'image_conversion.output_format=raw'] + extra, nodes=1,
            env={'GLANCE_FAULT_FILE': fault}) as (apis, workers, _):
        yield apis[0], workers, fault, str(base / 'stores')


@pytest.fixture(scope='module')
def cluster(tmp_path_factory, files):
    with _cluster(tmp_path_factory.mktemp('crashes'), files, []) as c:
        yield c


def _admin(api: GlanceServer) -> Client:
    return Client(api.url, identity('crash-admin', 'admin,member,reader',
                                    'root'))


def _faults_seen(worker: Worker) -> set[str]:
    """The fault lines in the worker's logs (each has its time and pid)."""
    return set(re.findall(r'.*FAULT POINT \S+ reached.*', worker.log()))


def _stopped_at(workers, point: str, before: list[set[str]]) -> int:
    """The worker that stopped at ``point`` since the logs held
    ``before`` (waits for it)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        for n, worker in enumerate(workers):
            for line in _faults_seen(worker) - before[n]:
                name = re.search(r'FAULT POINT (\S+) reached', line)[1]
                if fnmatch.fnmatchcase(name, point):
                    return n
        time.sleep(0.1)
    raise AssertionError('no worker reached %s' % point)


def _ended(client: Client, image_id: str) -> tuple[dict, list]:
    deadline = time.time() + 90
    while time.time() < deadline:
        image = client.get('/v2/images/%s' % image_id).json()
        tasks = client.get('/v2/images/%s/tasks' % image_id).json()['tasks']
        if 'os_glance_import_task' not in image and tasks and \
                tasks[0]['status'] in ('success', 'failure'):
            return image, tasks
        time.sleep(0.2)
    raise AssertionError('import of %s did not end' % image_id)


def _holding(shared: str, image_id: str) -> list[str]:
    """The stores (staging included) with a file of ``image_id``."""
    return sorted(store for store in os.listdir(shared)
                  if any(name.startswith(image_id) for name in
                         os.listdir(os.path.join(shared, store))))


def _off_the_board(api: GlanceServer, task_id: str) -> None:
    deadline = time.time() + 30
    while True:
        listing = api.manage('workers', 'list')
        assert listing.returncode == 0, listing.stderr
        if task_id not in listing.stdout:
            return
        assert time.time() < deadline, listing.stdout
        time.sleep(0.5)


def _crash(cluster, point: str, start, data: bytes = RAW
           ) -> tuple[dict, dict, Worker]:
    """Arm ``point``, start the import (``start(client) -> image id``),
    kill the worker that stops there; (image, task, survivor) once the
    import ended."""
    api, workers, fault, shared = cluster
    for name in (fault, fault + '.taken'):
        if os.path.exists(name):
            os.unlink(name)
    before = [_faults_seen(w) for w in workers]
    with open(fault, 'w') as f:
        f.write(point)
    client = Client(api.url, identity('crash-%s' % uuid.uuid4().hex[:8]))
    image_id = start(client)
    victim = _stopped_at(workers, point, before)
    workers[victim].kill()
    try:
        # as an admin: sees the task of a copy-image an admin started
        image, tasks = _ended(_admin(api), image_id)
    finally:
        workers[victim].start()
    # one task, ended once, and run to its end by the other worker
    [task] = tasks
    survivor = workers[1 - victim]
    assert 'import task %s of image' % task['id'] in survivor.log()
    _off_the_board(api, task['id'])
    if task['status'] == 'success':
        got = client.get('/v2/images/%s/file' % image_id)
        assert got.content == data
        assert image['checksum'] == hashlib.md5(data).hexdigest()
        assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
        assert image['size'] == len(data)
    image['_holding'] = _holding(shared, image_id)
    return image, task, survivor


WEB_DOWNLOAD = ['atom:begin_task', 'atom:take_image', 'copy:fetch',
                'atom:inspect_staged_*', 'atom:inject_image_metadata_*',
                'atom:image_conversion_*', 'atom:write_to_store_fast',
                'copy:write:fast', 'atom:complete_import',
                'atom:complete_import:saved', 'atom:finish_task']


def _web_download(uri: str):
    """The start of a crash test: a qcow2 image imported from ``uri``."""
    def start(client: Client) -> str:
        image_id = _create(client, disk_format='qcow2')
        r = _import(client, image_id, method={'name': 'web-download',
                                              'uri': uri})
        assert r.status_code == 202, r.text
        return image_id
    return start


@pytest.mark.parametrize('point', WEB_DOWNLOAD)
def test_web_download_with_conversion(cluster, files, point):
    image, task, _ = _crash(cluster, point, _web_download(files + '/qcow2'))
    assert task['status'] == 'success', task['message']
    assert (image['status'], image['disk_format']) == ('active', 'raw')
    assert image['hw_injected'] == 'yes'
    assert image['stores'] == 'fast'
    assert image['_holding'] == ['fast']


@pytest.mark.parametrize('point', ['atom:stage_glance-direct',
                                   'copy:write:cheap',
                                   'atom:write_to_store_cheap'])
def test_glance_direct_to_two_stores(cluster, point):
    def start(client: Client) -> str:
        image_id = _create(client)
        assert _stage(client, image_id, RAW).status_code == 204
        r = _import(client, image_id, method={'name': 'glance-direct'},
                    stores=['fast', 'cheap'])
        assert r.status_code == 202, r.text
        return image_id
    image, task, _ = _crash(cluster, point, start)
    assert task['status'] == 'success', task
    assert image['stores'] == 'fast,cheap'
    assert image['_holding'] == ['cheap', 'fast']


@pytest.mark.parametrize('point', ['copy:fetch', 'copy:write:cheap',
                                   'atom:complete_import:saved'])
def test_copy_image(cluster, point):
    admin = _admin(cluster[0])

    def start(client: Client) -> str:
        image_id = _create(client)
        r = client.put('/v2/images/%s/file' % image_id, data=RAW,
                       headers={'Content-Type': 'application/octet-stream'})
        assert r.status_code == 204, r.text
        r = _import(admin, image_id, method={'name': 'copy-image'},
                    stores=['cheap'])
        assert r.status_code == 202, r.text
        return image_id
    image, task, _ = _crash(cluster, point, start)
    assert task['status'] == 'success', task
    assert image['stores'] == 'fast,cheap'
    assert image['_holding'] == ['cheap', 'fast']


def test_refused_data_still_reverts_after_a_crash(cluster, files):
    """Killed before the data came: the resumed import fetches it, the
    inspection refuses it, and everything is undone."""
    image, task, _ = _crash(cluster, 'atom:take_image',
                            _web_download(files + '/unsafe'))
    assert task['status'] == 'failure', task
    assert image['status'] == 'queued'
    assert image['os_glance_failed_import'] == 'fast'
    assert image['_holding'] == []


@pytest.mark.parametrize('point', ['atom:stage_glance-download',
                                   'copy:fetch', 'copy:write:fast'])
def test_glance_download(cluster, point):
    """From "another region" (the same glance-api, named RegionTwo in the
    caller's catalog)."""
    api = cluster[0]

    def start(client: Client) -> str:
        source = _create(client, os_distro='cirros')
        r = client.put('/v2/images/%s/file' % source, data=RAW,
                       headers={'Content-Type': 'application/octet-stream'})
        assert r.status_code == 204, r.text
        catalog = json.dumps([{'type': 'image', 'endpoints': [{
            'interface': 'public', 'region': 'RegionTwo',
            'url': api.url + '/v2'}]}])
        here = Client(api.url, dict(client.session.headers,
                                    **{'X-Service-Catalog': catalog}))
        target = here.create(name='copy')['id']
        r = _import(here, target, method={
            'name': 'glance-download', 'glance_image_id': source,
            'glance_region': 'RegionTwo'})
        assert r.status_code == 202, r.text
        return target
    image, task, _ = _crash(cluster, point, start)
    assert task['status'] == 'success', task['message']
    assert (image['disk_format'], image['os_distro']) == ('raw', 'cirros')
    assert image['_holding'] == ['fast']


@pytest.fixture(scope='module')
def swift_cluster(tmp_path_factory, files, swift):
    container = 'crash-%s' % uuid.uuid4().hex[:8]
    extra = [
        'DEFAULT.enabled_backends=fast:file, cheap:file, obj:swift',
        'obj.swift_store_auth_address=%s' % swift.auth_url,
        'obj.swift_store_user=test:tester', 'obj.swift_store_key=testing',
        'obj.swift_store_auth_version=1',
        'obj.swift_store_container=%s' % container,
        'obj.swift_store_create_container_on_put=True',
        'obj.swift_store_large_object_size=1',
        'obj.swift_store_large_object_chunk_size=1']
    with _cluster(tmp_path_factory.mktemp('crash-swift'), files,
                  extra) as c:
        yield c + (swift, container)


#: large enough to be written to Swift in 1 MiB segments
SEGMENTED = RAW * 12


@pytest.mark.parametrize('point', ['copy:write:obj:2MiB',
                                   'atom:write_to_store_obj'])
def test_swift_segments_of_a_killed_write_go(swift_cluster, point):
    """Killed mid-write to a Swift store (segments of a large object
    already stored): the resumed write replaces them; no segment of the
    killed write stays behind."""
    swift, container = swift_cluster[4:]

    def start(client: Client) -> str:
        image_id = _create(client)
        assert _stage(client, image_id, SEGMENTED).status_code == 204
        r = _import(client, image_id, method={'name': 'glance-direct'},
                    stores=['obj'])
        assert r.status_code == 202, r.text
        return image_id
    image, task, _ = _crash(swift_cluster[:4], point, start, SEGMENTED)
    assert task['status'] == 'success', task['message']
    assert image['stores'] == 'obj'
    assert image['_holding'] == []          # nothing in file stores
    assert [o for o in swift.listing(container)
            if o.startswith(image['id'])] == [image['id']]
    segments = [s for s in swift.listing(container + '_segments')
                if s.startswith(image['id'])]
    # exactly the segments of the one stored object
    assert len(segments) == -(-len(SEGMENTED) // (1024 * 1024))
