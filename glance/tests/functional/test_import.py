"""Interoperable image import over HTTP: stage, glance-direct, web-download,
copy-image, their refusals and their reverts.

A real glance-api (reference profile: two file stores, identity headers)
imports from a loopback HTTP server started here; the import filter is
configured to allow that server's port.
"""
from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import sqlite3
import threading
import time
import urllib.parse
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer, \
    serving

OCTET = {'Content-Type': 'application/octet-stream'}


def blob(size: int, seed: str = 'x') -> bytes:
    out = bytearray()
    n = 0
    while len(out) < size:
        out += hashlib.sha256(('%s:%d' % (seed, n)).encode()).digest()
        n += 1
    return bytes(out[:size])


class _Handler(http.server.BaseHTTPRequestHandler):
    """/blob/SIZE, /truncated/SIZE (dies half way), /status/CODE,
    /redirect?to=URL."""

    protocol_version = 'HTTP/1.0'

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        parts = [p for p in url.path.split('/') if p]
        if parts[0] in ('blob', 'truncated'):
            data = blob(int(parts[1]), parts[-1])
            self.send_response(200)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            if parts[0] == 'truncated':
                data = data[:len(data) // 2]
            self.wfile.write(data)
            return
        if parts[0] == 'slow':
            # SIZE bytes, 1 KiB every 50 ms: time to act mid-transfer
            size = int(parts[1])
            self.send_response(200)
            self.send_header('Content-Length', str(size))
            self.end_headers()
            for start in range(0, size, 1024):
                self.wfile.write(blob(min(1024, size - start), 'slow'))
                self.wfile.flush()
                time.sleep(0.05)
            return
        if parts[0] == 'redirect':
            self.send_response(302)
            self.send_header('Location',
                             urllib.parse.parse_qs(url.query)['to'][0])
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        self.send_response(int(parts[1]) if parts[0] == 'status' else 404)
        self.send_header('Content-Length', '0')
        self.end_headers()


@pytest.fixture(scope='module')
def web():
    with serving(_Handler) as url:
        yield url


@pytest.fixture(scope='module')
def srv(tmp_path_factory, web):
    port = urllib.parse.urlparse(web).port
    work = str(tmp_path_factory.mktemp('import'))
    server = GlanceServer(work, profile='reference', settings=[
        'import_filtering_opts.allowed_ports=[80,443,%d]' % port,
        'import_filtering_opts.allowed_hosts=[127.0.0.1]',
        'task.work_dir=%s' % os.path.join(work, 'work'),
        'DEFAULT.image_size_cap=100000',
    ]).start()
    yield server
    server.stop()


@pytest.fixture
def project():
    return 'imp-%s' % uuid.uuid4().hex[:10]


@pytest.fixture
def alice(srv, project) -> Client:
    return Client(srv.url, identity(project, 'reader,member', 'alice'))


@pytest.fixture
def admin(srv) -> Client:
    return Client(srv.url, identity('imp-admin', 'admin,member,reader',
                                    'root'))


def _create(client: Client, **extra) -> str:
    body = {'name': 'imp', 'disk_format': 'raw', 'container_format': 'bare'}
    body.update(extra)
    return client.create(**body)['id']


def _stage(client: Client, image_id: str, data: bytes):
    return client.put('/v2/images/%s/stage' % image_id, data=data,
                      headers=OCTET)


def _import(client: Client, image_id: str, **body):
    headers = body.pop('headers', {})
    return client.post('/v2/images/%s/import' % image_id, json=body,
                       headers=headers)


def _wait(client: Client, image_id: str) -> tuple[dict, dict]:
    """The image once its import lock is gone, and its newest task."""
    deadline = time.time() + 60
    while time.time() < deadline:
        image = client.get('/v2/images/%s' % image_id).json()
        tasks = client.get('/v2/images/%s/tasks' % image_id).json()['tasks']
        if 'os_glance_import_task' not in image and tasks and \
                tasks[0]['status'] in ('success', 'failure'):
            return image, tasks[0]
        time.sleep(0.2)
    raise AssertionError('import of %s did not finish' % image_id)


def _store_files(srv: GlanceServer, store: str) -> list[str]:
    path = os.path.join(srv.workdir, 'stores', store)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def _check_data(client: Client, image: dict, data: bytes) -> None:
    r = client.get('/v2/images/%s/file' % image['id'])
    assert r.status_code == 200
    assert r.content == data
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_algo'] == 'sha512'
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    assert image['size'] == len(data)


# ------------------------------------------------------------ glance-direct
def test_stage_then_glance_direct(srv, alice):
    data = blob(5000, 'gd')
    image_id = _create(alice)
    r = _stage(alice, image_id, data)
    assert r.status_code == 204, r.text
    image = alice.get('/v2/images/%s' % image_id).json()
    assert (image['status'], image['size']) == ('uploading', 5000)
    assert os.path.exists(os.path.join(
        srv.workdir, 'stores', 'os_glance_staging_store', image_id))
    r = _import(alice, image_id, method={'name': 'glance-direct'})
    assert r.status_code == 202, r.text
    assert r.content == b''
    image, task = _wait(alice, image_id)
    assert image['status'] == 'active'
    assert image['stores'] == 'fast'
    assert image['os_glance_failed_import'] == ''
    assert image['os_glance_importing_to_stores'] == ''
    _check_data(alice, image, data)
    assert task['type'] == 'api_image_import'
    assert task['status'] == 'success'
    assert task['result'] == {'image_id': image_id}
    assert task['input'] == {'image_id': image_id, 'backend': ['fast'],
                             'import_req': {'method':
                                            {'name': 'glance-direct'}}}
    assert task['user_id'] == 'alice'
    assert task['request_id'].startswith('req-')
    # staged data is gone once imported
    assert not os.path.exists(os.path.join(
        srv.workdir, 'stores', 'os_glance_staging_store', image_id))


def test_all_stores_and_header_store(srv, alice):
    data = blob(3000, 'all')
    image_id = _create(alice)
    assert _stage(alice, image_id, data).status_code == 204
    assert _import(alice, image_id, method={'name': 'glance-direct'},
                   all_stores=True).status_code == 202
    image, task = _wait(alice, image_id)
    assert sorted(image['stores'].split(',')) == ['cheap', 'fast']
    assert image_id in _store_files(srv, 'cheap')
    assert image_id in _store_files(srv, 'fast')
    _check_data(alice, image, data)

    other = _create(alice)
    assert _stage(alice, other, data).status_code == 204
    assert _import(alice, other, method={'name': 'glance-direct'},
                   headers={'X-Image-Meta-Store': 'cheap'}
                   ).status_code == 202
    image, task = _wait(alice, other)
    assert image['stores'] == 'cheap'
    assert task['input']['backend'] == ['cheap']


def test_stage_refusals(srv, alice, project):
    image_id = _create(alice)
    r = alice.put('/v2/images/%s/stage' % image_id, data=b'x',
                  headers={'Content-Type': 'text/plain'})
    assert r.status_code == 415
    bob = Client(srv.url, identity(project + '-b'))
    assert _stage(bob, image_id, b'x').status_code == 404
    assert _stage(alice, str(uuid.uuid4()), b'x').status_code == 404
    # over image_size_cap: 413, image queued again, nothing staged
    r = _stage(alice, image_id, blob(100001))
    assert r.status_code == 413, r.text
    image = alice.get('/v2/images/%s' % image_id).json()
    assert (image['status'], image['size']) == ('queued', None)
    assert not os.path.exists(os.path.join(
        srv.workdir, 'stores', 'os_glance_staging_store', image_id))
    assert _stage(alice, image_id, b'abc').status_code == 204
    r = _stage(alice, image_id, b'abc')
    assert r.status_code == 409


def test_import_refusals(srv, alice):
    image_id = _create(alice)
    path = '/v2/images/%s/import' % image_id
    cases = [
        ({'method': {'name': 'glance-direct'}}, 409),     # nothing staged
        ({'method': {'name': 'bogus'}}, 400),
        ({}, 400),
        ({'method': 'glance-direct'}, 400),
        ({'method': {'name': 'web-download'}}, 400),      # no uri
        ({'method': {'name': 'glance-direct'}, 'stores': 'fast'}, 400),
        ({'method': {'name': 'glance-direct'}, 'all_stores': 'yes'}, 400),
        ({'method': {'name': 'copy-image'}, 'stores': ['cheap']}, 403),
    ]
    for body, status in cases:
        r = alice.post(path, json=body)
        assert r.status_code == status, (body, r.status_code, r.text)
    r = alice.post(path, data='nope',
                   headers={'Content-Type': 'application/json'})
    assert r.status_code == 400
    assert _stage(alice, image_id, b'abc').status_code == 204
    r = alice.post(path, json={'method': {'name': 'glance-direct'},
                               'stores': ['nope']})
    assert r.status_code == 409
    assert alice.post(str(path).replace(image_id, str(uuid.uuid4())),
                      json={'method': {'name': 'glance-direct'}}
                      ).status_code == 404
    # nothing was recorded by any refusal
    assert alice.get('/v2/images/%s/tasks' % image_id).json() == \
        {'tasks': []}
    image = alice.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'uploading'
    assert 'os_glance_import_task' not in image
    # an active image takes no import but copy-image
    assert _import(alice, image_id,
                   method={'name': 'glance-direct'}).status_code == 202
    _wait(alice, image_id)
    assert alice.post(path, json={'method': {'name': 'glance-direct'}}
                      ).status_code == 409
    assert _stage(alice, image_id, b'abc').status_code == 409


def test_stale_lock_is_broken(srv, alice):
    """A lock naming a task that no longer runs does not block imports."""
    image_id = _create(alice)
    assert _stage(alice, image_id, b'stale').status_code == 204
    db = sqlite3.connect(os.path.join(srv.workdir, 'glance.sqlite'))
    with db:
        db.execute("INSERT INTO image_properties (image_id, name, value, "
                   "created_at, deleted) VALUES (?, 'os_glance_import_task',"
                   " ?, '2026-01-01 00:00:00', 0)",
                   (image_id, str(uuid.uuid4())))
    db.close()
    assert 'os_glance_import_task' in alice.get(
        '/v2/images/%s' % image_id).json()
    assert _import(alice, image_id,
                   method={'name': 'glance-direct'}).status_code == 202
    image, task = _wait(alice, image_id)
    assert image['status'] == 'active'


def test_image_left_importing_by_a_dead_import(srv, alice):
    """An import whose process died leaves the image importing with a
    lock nobody will release; the next import takes over."""
    image_id = _create(alice)
    assert _stage(alice, image_id, b'dead').status_code == 204
    db = sqlite3.connect(os.path.join(srv.workdir, 'glance.sqlite'))
    with db:
        db.execute("UPDATE images SET status='importing' WHERE id=?",
                   (image_id,))
        db.execute("INSERT INTO image_properties (image_id, name, value, "
                   "created_at, deleted) VALUES (?, 'os_glance_import_task',"
                   " ?, '2026-01-01 00:00:00', 0)",
                   (image_id, str(uuid.uuid4())))
    db.close()
    assert _import(alice, image_id,
                   method={'name': 'glance-direct'}).status_code == 202
    image, task = _wait(alice, image_id)
    assert (image['status'], task['status']) == ('active', 'success')
    assert alice.get('/v2/images/%s/file' % image_id).content == b'dead'


def test_racing_imports_one_wins(srv, alice):
    image_id = _create(alice)
    assert _stage(alice, image_id, blob(20000, 'race')).status_code == 204
    results = []

    def go():
        results.append(_import(alice.__class__(alice.base, dict(
            alice.session.headers)), image_id,
            method={'name': 'glance-direct'}).status_code)
    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [202, 409, 409, 409]
    image, task = _wait(alice, image_id)
    assert image['status'] == 'active'
    tasks = alice.get('/v2/images/%s/tasks' % image_id).json()['tasks']
    assert len(tasks) == 1


def test_disabled_method(tmp_path):
    server = GlanceServer(str(tmp_path), profile='reference', settings=[
        'DEFAULT.enabled_import_methods=[glance-direct]']).start()
    try:
        client = Client(server.url, identity('imp-dis'))
        assert client.get('/v2/info/import').json()[
            'import-methods']['value'] == ['glance-direct']
        r = client.post('/v2/images', json={'name': 'x'})
        assert r.headers['OpenStack-image-import-methods'] == \
            'glance-direct'
        image_id = r.json()['id']
        r = _import(client, image_id, method={
            'name': 'web-download', 'uri': 'http://127.0.0.1/x'})
        assert r.status_code == 400
    finally:
        server.stop()


# ------------------------------------------------------------ web-download
def test_web_download_and_redirect(srv, alice, web):
    image_id = _create(alice)
    uri = '%s/redirect?to=/blob/7000/wd' % web
    assert _import(alice, image_id, method={
        'name': 'web-download', 'uri': uri}).status_code == 202
    image, task = _wait(alice, image_id)
    assert task['status'] == 'success', task
    _check_data(alice, image, blob(7000, 'wd'))


@pytest.mark.parametrize('uri', [
    'http://127.0.0.1:1/blob/10/x', 'http://localhost:%(port)s/blob/10/x',
    'ftp://127.0.0.1/blob', 'http://2130706433:1/x', 'http://0x7f.1:1/x',
    'not a uri', 'http://[::1]:%(port)s/blob/10/x', 'file:///etc/passwd'])
def test_web_download_filtered(srv, alice, web, uri):
    uri = uri % {'port': urllib.parse.urlparse(web).port}
    image_id = _create(alice)
    r = _import(alice, image_id, method={'name': 'web-download', 'uri': uri})
    assert r.status_code == 400, r.text
    image = alice.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'queued'
    assert 'os_glance_import_task' not in image


@pytest.mark.parametrize('path', [
    '/status/404', '/truncated/4000/t', '/blob/100001/big',
    '/redirect?to=http://localhost:1/blob/10/x'])
def test_web_download_failure_reverts(srv, alice, web, path):
    """A source that fails, dies mid-transfer, is too big or redirects
    to a refused place fails the task; the image is queued and clean."""
    image_id = _create(alice)
    before = _store_files(srv, 'fast')
    assert _import(alice, image_id, method={
        'name': 'web-download', 'uri': web + path}).status_code == 202
    image, task = _wait(alice, image_id)
    assert task['status'] == 'failure'
    assert task['message']
    assert task['result'] is None
    assert image['status'] == 'queued'
    assert image['os_glance_failed_import'] == 'fast'
    assert image['os_glance_importing_to_stores'] == ''
    assert image['size'] is None and image['checksum'] is None
    assert 'stores' not in image
    assert _store_files(srv, 'fast') == before
    assert image_id not in _store_files(srv, 'os_glance_staging_store')
    # and it can be imported again
    assert _import(alice, image_id, method={
        'name': 'web-download', 'uri': web + '/blob/10/again'}
    ).status_code == 202
    image, task = _wait(alice, image_id)
    assert image['status'] == 'active'


def test_image_deleted_during_import(srv, alice, web):
    image_id = _create(alice)
    before = _store_files(srv, 'fast')
    assert _import(alice, image_id, method={
        'name': 'web-download', 'uri': web + '/slow/60000'}).status_code == 202
    time.sleep(0.5)
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204
    admin = Client(srv.url, identity('imp-admin', 'admin,member,reader'))
    deadline = time.time() + 60
    while True:
        tasks = [t for t in admin.get('/v2/tasks?limit=1000').json()['tasks']
                 if t['status'] == 'failure']
        done = [t for t in tasks if admin.get('/v2/tasks/%s' % t['id']).json(
        ).get('image_id') == image_id]
        if done or time.time() > deadline:
            break
        time.sleep(0.3)
    assert done, 'the import of a deleted image did not fail'
    time.sleep(0.3)
    assert _store_files(srv, 'fast') == before
    assert image_id not in _store_files(srv, 'os_glance_staging_store')


def test_deleting_a_staged_image_removes_the_staged_data(srv, alice):
    image_id = _create(alice)
    assert _stage(alice, image_id, b'staged').status_code == 204
    assert image_id in _store_files(srv, 'os_glance_staging_store')
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204
    assert image_id not in _store_files(srv, 'os_glance_staging_store')


def test_name_resolving_to_disallowed_address(tmp_path, web):
    port = urllib.parse.urlparse(web).port
    server = GlanceServer(str(tmp_path), profile='reference', settings=[
        'import_filtering_opts.allowed_ports=[%d]' % port,
        'import_filtering_opts.allowed_hosts=[]',
        'import_filtering_opts.disallowed_hosts=[127.0.0.1,::1]']).start()
    try:
        client = Client(server.url, identity('imp-res'))
        image_id = _create(client)
        r = _import(client, image_id, method={
            'name': 'web-download',
            'uri': 'http://localhost:%d/blob/10/x' % port})
        assert r.status_code == 400
        assert 'resolves to' in r.text
    finally:
        server.stop()


# ------------------------------------------------------------ copy-image
def test_copy_image(srv, alice, admin):
    data = blob(2000, 'copy')
    image_id = _create(alice)
    assert alice.upload(image_id, data).status_code == 204
    assert _import(admin, image_id, method={'name': 'copy-image'},
                   stores=['cheap']).status_code == 202
    deadline = time.time() + 60
    while time.time() < deadline:
        image = alice.get('/v2/images/%s' % image_id).json()
        if 'os_glance_import_task' not in image and \
                image.get('stores') == 'fast,cheap':
            break
        time.sleep(0.2)
    assert image['stores'] == 'fast,cheap'
    assert image['status'] == 'active'
    assert image_id in _store_files(srv, 'cheap')
    _check_data(alice, image, data)
    # the owner does not see the admin's task; the admin does
    assert alice.get('/v2/images/%s/tasks' % image_id).json()['tasks'] == []
    tasks = admin.get('/v2/images/%s/tasks' % image_id).json()['tasks']
    assert [t['status'] for t in tasks] == ['success']
    for body in ({'stores': ['cheap']}, {}, {'all_stores': True}):
        r = _import(admin, image_id, method={'name': 'copy-image'}, **body)
        assert r.status_code == 400, (body, r.text)


def test_racing_copy_images_one_wins(srv, alice, admin):
    """copy-image leaves the status alone: the lock alone decides.  A
    loser arriving while the winner copies is refused with 409 (locked);
    one arriving after the copy finished (a file store copies in a
    moment) with 400, the image being in that store already."""
    for attempt in range(3):
        image_id = _create(alice)
        assert alice.upload(image_id, blob(5000, 'cp%d' % attempt)
                            ).status_code == 204
        results = []
        barrier = threading.Barrier(4)

        def go():
            client = admin.__class__(admin.base, dict(admin.session.headers))
            barrier.wait()
            r = _import(client, image_id, method={'name': 'copy-image'},
                        stores=['cheap'])
            results.append(r.status_code if r.status_code != 400 or
                           'already in store cheap' not in r.text else 409)
        threads = [threading.Thread(target=go) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [202, 409, 409, 409], results
        tasks = admin.get('/v2/images/%s/tasks' % image_id).json()['tasks']
        assert len(tasks) == 1


def test_failing_store(srv, alice):
    """A store that cannot be written: with all_stores_must_succeed the
    import reverts everywhere, without it the image lives in the others."""
    cheap = os.path.join(srv.workdir, 'stores', 'cheap')
    shutil.rmtree(cheap, ignore_errors=True)
    with open(cheap, 'w') as f:
        f.write('not a directory')
    try:
        data = blob(1500, 'fail')
        strict = _create(alice)
        assert _stage(alice, strict, data).status_code == 204
        assert _import(alice, strict, method={'name': 'glance-direct'},
                       stores=['fast', 'cheap']).status_code == 202
        image, task = _wait(alice, strict)
        assert task['status'] == 'failure'
        assert image['status'] == 'queued'
        assert image['os_glance_failed_import'] == 'cheap'
        assert strict not in _store_files(srv, 'fast')
        assert strict not in _store_files(srv, 'os_glance_staging_store')

        lenient = _create(alice)
        assert _stage(alice, lenient, data).status_code == 204
        assert _import(alice, lenient, method={'name': 'glance-direct'},
                       stores=['fast', 'cheap'],
                       all_stores_must_succeed=False).status_code == 202
        image, task = _wait(alice, lenient)
        assert task['status'] == 'success'
        assert image['status'] == 'active'
        assert image['stores'] == 'fast'
        assert image['os_glance_failed_import'] == 'cheap'
        _check_data(alice, image, data)
    finally:
        os.unlink(cheap)
        os.makedirs(cheap)


def test_info_import(srv, alice):
    r = alice.get('/v2/info/import')
    assert r.status_code == 200
    assert r.json()['import-methods']['value'] == [
        'glance-direct', 'web-download', 'copy-image']
    assert r.json()['import-methods']['type'] == 'array'


def test_import_notifications(tmp_path):
    """task.create/run/processing/success and the image's upload events."""
    from glance.tests.functional.test_notifications import LogEvents, \
        wait_for
    server = GlanceServer(str(tmp_path), profile='reference', settings=[
        'oslo_messaging_notifications.driver=log']).start()
    try:
        client = Client(server.url, identity('imp-notify'))
        events = LogEvents(server)
        data = blob(1000, 'notify')
        image_id = _create(client)
        assert _stage(client, image_id, data).status_code == 204
        assert _import(client, image_id,
                       method={'name': 'glance-direct'}).status_code == 202
        _, task = _wait(client, image_id)

        def task_events():
            return [e for e in events.all()
                    if e['event_type'].startswith('task.')
                    and e['payload']['id'] == task['id']]
        got = wait_for(task_events, lambda got: got and
                       got[-1]['event_type'] == 'task.success', 'task events')
        # task.progress (ours, beyond the reference) between processing
        # and success: the copy into the store, from 0 to all its bytes
        progress = [e['payload'] for e in got
                    if e['event_type'] == 'task.progress']
        got = [e for e in got if e['event_type'] != 'task.progress']
        assert [e['event_type'] for e in got] == [
            'task.create', 'task.run', 'task.processing', 'task.success']
        assert [p['result']['progress'] for p in progress] == [
            {'stage': 'write:fast', 'bytes_done': done, 'bytes_total': 1000}
            for done in (0, 1000)]
        assert {p['status'] for p in progress} == {'processing'}
        assert got[-1]['payload']['result'] == {'image_id': image_id}
        assert got[-1]['payload']['type'] == 'api_image_import'
        names = [e['event_type'] for e in events.of(image_id)
                 if e['event_type'].startswith('image.')]
        assert names[0] == 'image.create'
        assert 'image.upload' in names and 'image.activate' in names
        activate = [e for e in events.of(image_id)
                    if e['event_type'] == 'image.activate'][0]
        assert activate['payload']['checksum'] == \
            hashlib.md5(data).hexdigest()
    finally:
        server.stop()


def test_import_refusals_as_the_reference(srv, alice, web):
    """``stores`` with ``all_stores`` is a bad request (400); an image
    without its formats takes no import (409); neither leaves a trace."""
    image_id = _create(alice)
    assert _stage(alice, image_id, b'abc').status_code == 204
    r = _import(alice, image_id, method={'name': 'glance-direct'},
                stores=['fast'], all_stores=True)
    assert r.status_code == 400, r.text
    bare = alice.create(name='no-formats')['id']
    r = _import(alice, bare, method={'name': 'web-download',
                                     'uri': web + '/blob/10/x'})
    assert r.status_code == 409, r.text
    assert 'disk_format' in r.text
    for some in (image_id, bare):
        assert alice.get('/v2/images/%s/tasks' % some).json() == \
            {'tasks': []}
    assert alice.get('/v2/images/%s' % bare).json()['status'] == 'queued'


def test_import_with_the_parallel_engine(tmp_path):
    """[taskflow_executor] engine_mode chooses taskflow's engine; the
    flows run under either."""
    work = str(tmp_path)
    server = GlanceServer(work, profile='reference', settings=[
        'taskflow_executor.engine_mode=parallel',
        'task.work_dir=%s' % os.path.join(work, 'work')]).start()
    try:
        client = Client(server.url, identity('imp-parallel'))
        image_id = _create(client)
        data = blob(40000, 'parallel')
        assert _stage(client, image_id, data).status_code == 204
        r = _import(client, image_id, method={'name': 'glance-direct'},
                    all_stores=True)
        assert r.status_code == 202, r.text
        image, task = _wait(client, image_id)
        assert (image['status'], task['status']) == ('active', 'success')
        assert sorted(image['stores'].split(',')) == ['cheap', 'fast']
        assert client.get('/v2/images/%s/file' % image_id).content == data
    finally:
        server.stop()
