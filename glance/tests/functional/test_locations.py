"""Image locations: the 2.17 locations API (POST/GET
/v2/images/{id}/locations) and PATCH of /locations where the operator shows
them, against two file stores and a web (http) store on loopback."""
from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer

DATA = b'location data ' * 1000


class _Web(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header('Content-Length', str(len(DATA)))
        self.end_headers()

    def do_GET(self) -> None:
        self.do_HEAD()
        self.wfile.write(DATA)


@pytest.fixture(scope='module')
def web():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Web)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield 'http://127.0.0.1:%d/image.raw' % server.server_address[1]
    server.shutdown()


def _server(tmp_path_factory, name: str, web: str,
            *settings: str) -> GlanceServer:
    work = str(tmp_path_factory.mktemp(name))
    return GlanceServer(work, profile='reference', settings=[
        'DEFAULT.enabled_backends=fast:file, cheap:file, web:http',
        'web.http_store_allowed_hosts=127.0.0.1',
        # what end users' http locations must pass, as for web-download
        'import_filtering_opts.allowed_hosts=[127.0.0.1]',
        'import_filtering_opts.allowed_ports=[%s]' % web.split(':')[2]
        .split('/')[0],
        'DEFAULT.image_location_quota=3', *settings]).start()


@pytest.fixture(scope='module')
def srv(tmp_path_factory, web):
    server = _server(tmp_path_factory, 'locations', web,
                     'DEFAULT.show_multiple_locations=True')
    yield server
    server.stop()


@pytest.fixture(scope='module')
def trusting(tmp_path_factory, web):
    """do_secure_hash off: the caller's validation data is taken as is."""
    server = _server(tmp_path_factory, 'trusting', web,
                     'DEFAULT.do_secure_hash=False')
    yield server
    server.stop()


@pytest.fixture
def project() -> str:
    return 'loc-%s' % uuid.uuid4().hex[:8]


@pytest.fixture
def owner(srv, project) -> Client:
    return Client(srv.url, identity(project, 'reader,member', 'alice'))


@pytest.fixture
def service(srv, project) -> Client:
    """A service (Nova, Cinder) acting in the image owner's project."""
    return Client(srv.url, identity(project, 'reader,member,service', 'nova'))


@pytest.fixture
def admin(srv) -> Client:
    return Client(srv.url, identity('loc-admin', 'admin,member,reader'))


def put_file(srv: GlanceServer, store: str, data: bytes = DATA) -> str:
    """Data written into a store's directory by someone else; its URL."""
    directory = os.path.join(srv.workdir, 'stores', store)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, 'external-%s' % uuid.uuid4().hex)
    with open(path, 'wb') as f:
        f.write(data)
    return 'file://' + path


def queued(client: Client) -> str:
    return client.create(name='loc', disk_format='raw',
                         container_format='bare')['id']


def wait_status(client: Client, image_id: str, *wanted: str) -> dict:
    deadline = time.time() + 20
    while time.time() < deadline:
        image = client.get('/v2/images/%s' % image_id).json()
        if image['status'] in wanted:
            return image
        time.sleep(0.1)
    raise AssertionError('image %s stayed %s' % (image_id, image['status']))


def validation(data: bytes = DATA) -> dict:
    return {'checksum': hashlib.md5(data).hexdigest(),
            'os_hash_algo': 'sha512',
            'os_hash_value': hashlib.sha512(data).hexdigest()}


# --- POST /v2/images/{id}/locations ---------------------------------------

def test_add_location_hashes_then_activates(srv, owner, service):
    image_id = queued(owner)
    url = put_file(srv, 'cheap')
    r = service.post('/v2/images/%s/locations' % image_id, json={'url': url})
    assert r.status_code == 202, r.text
    assert r.text == ''
    image = wait_status(owner, image_id, 'active', 'killed')
    assert image['status'] == 'active'
    assert image['size'] == len(DATA)
    assert image['checksum'] == hashlib.md5(DATA).hexdigest()
    assert image['os_hash_value'] == hashlib.sha512(DATA).hexdigest()
    assert image['stores'] == 'cheap'
    r = service.get('/v2/images/%s/locations' % image_id)
    assert r.status_code == 200
    assert r.json() == [{'url': url, 'metadata': {'store': 'cheap'}}]
    r = owner.get('/v2/images/%s/file' % image_id)
    assert r.status_code == 200 and r.content == DATA


def test_add_location_with_matching_validation_data(srv, owner, service):
    image_id = queued(owner)
    r = service.post('/v2/images/%s/locations' % image_id,
                     json={'url': put_file(srv, 'fast'),
                           'validation_data': validation()})
    assert r.status_code == 202, r.text
    assert wait_status(owner, image_id, 'active', 'killed')[
        'status'] == 'active'


def image_tasks(client: Client, image_id: str) -> list[dict]:
    """The image's tasks once none is pending or processing."""
    deadline = time.time() + 20
    while time.time() < deadline:
        tasks = client.get('/v2/images/%s/tasks' % image_id).json()['tasks']
        if all(t['status'] in ('success', 'failure') for t in tasks):
            return tasks
        time.sleep(0.1)
    raise AssertionError('tasks of image %s still running' % image_id)


def test_data_that_lies_about_its_hash_stays_queued(srv, owner, service):
    # the reference: the location_import task fails and the image is
    # queued again, without hashes; the location stays (Tempest
    # LocationImportTest asserts the store of a queued image)
    image_id = queued(owner)
    r = service.post('/v2/images/%s/locations' % image_id,
                     json={'url': put_file(srv, 'fast'),
                           'validation_data': validation(b'other data')})
    assert r.status_code == 202, r.text
    [task] = image_tasks(owner, image_id)
    assert task['type'] == 'location_import'
    assert task['status'] == 'failure'
    assert 'does not match the validation data' in task['message']
    image = owner.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'queued'
    assert (image['checksum'], image['os_hash_algo'],
            image['os_hash_value']) == (None, None, None)
    assert image['stores'] == 'fast'
    assert owner.get('/v2/images/%s/file' % image_id).status_code == 204


def test_each_add_is_a_location_import_task(srv, owner, service):
    image_id = queued(owner)
    url = put_file(srv, 'cheap')
    # empty validation data is none (clients send it so)
    assert service.post('/v2/images/%s/locations' % image_id,
                        json={'url': url, 'validation_data': {}}
                        ).status_code == 202
    [task] = image_tasks(owner, image_id)
    assert (task['type'], task['status']) == ('location_import', 'success')
    assert task['input'] == {'image_id': image_id, 'loc_url': url,
                             'validation_data': {}}
    assert owner.get('/v2/images/%s' % image_id).json()[
        'status'] == 'active'


def test_validation_data_of_another_algorithm(srv, owner, service):
    # sha256 validation data in a sha512 cloud: the data is hashed with
    # sha256 (Tempest LocationImportTest's positive case)
    image_id = queued(owner)
    r = service.post('/v2/images/%s/locations' % image_id, json={
        'url': put_file(srv, 'fast'),
        'validation_data': {'os_hash_algo': 'sha256',
                            'os_hash_value': hashlib.sha256(
                                DATA).hexdigest()}})
    assert r.status_code == 202, r.text
    assert image_tasks(owner, image_id)[0]['status'] == 'success'
    image = owner.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'active'
    assert image['os_hash_algo'] == 'sha256'
    assert image['os_hash_value'] == hashlib.sha256(DATA).hexdigest()
    assert image['checksum'] == hashlib.md5(DATA).hexdigest()


def test_web_location_through_the_http_store(srv, owner, service, web):
    image_id = queued(owner)
    r = service.post('/v2/images/%s/locations' % image_id,
                     json={'url': web})
    assert r.status_code == 202, r.text
    image = wait_status(owner, image_id, 'active', 'killed')
    assert image['status'] == 'active' and image['stores'] == 'web'
    assert owner.get('/v2/images/%s/file' % image_id).content == DATA


def test_owner_may_add_only_http_store_locations(srv, project, owner, web):
    # reference default of add_image_location: service or project member;
    # a member (no service role) may add what an http store serves
    image_id = queued(owner)
    assert owner.get('/v2/images/%s/locations' % image_id).status_code == 403
    r = owner.post('/v2/images/%s/locations' % image_id,
                   json={'url': put_file(srv, 'fast')})
    assert r.status_code == 400, r.text       # another image's data maybe
    assert owner.get('/v2/images/%s' % image_id).json()['status'] == 'queued'
    reader = Client(srv.url, identity(project, 'reader'))
    r = reader.post('/v2/images/%s/locations' % image_id, json={'url': web})
    assert r.status_code == 403
    # a port [import_filtering_opts] does not allow: refused unfetched
    r = owner.post('/v2/images/%s/locations' % image_id,
                   json={'url': 'http://127.0.0.1:1/x'})
    assert r.status_code == 400
    assert 'does not pass filtering' in r.text, r.text
    other = Client(srv.url, identity('loc-other', 'reader,member,service'))
    r = other.post('/v2/images/%s/locations' % image_id, json={'url': web})
    assert r.status_code == 404             # the image does not leak
    r = owner.post('/v2/images/%s/locations' % image_id, json={'url': web})
    assert r.status_code == 202, r.text
    assert image_tasks(owner, image_id)[0]['status'] == 'success'
    assert owner.get('/v2/images/%s' % image_id).json()[
        'status'] == 'active'


def test_without_an_http_store_only_services_add(tmp_path_factory):
    # the reference (replay bad-inputs #21): a member gets 403 where no
    # http store is configured, whatever the URL
    work = str(tmp_path_factory.mktemp('nohttp'))
    server = GlanceServer(work, profile='reference').start()
    try:
        project = 'loc-%s' % uuid.uuid4().hex[:8]
        owner = Client(server.url, identity(project, 'reader,member'))
        image_id = queued(owner)
        for url in ('file:///etc/passwd', 'http://127.0.0.1:1/x'):
            r = owner.post('/v2/images/%s/locations' % image_id,
                           json={'url': url})
            assert r.status_code == 403, r.text
        service = Client(server.url,
                         identity(project, 'reader,member,service'))
        r = service.post('/v2/images/%s/locations' % image_id,
                         json={'url': 'file:///etc/passwd'})
        assert r.status_code == 400, r.text
    finally:
        server.stop()


@pytest.mark.parametrize('body', [
    {},
    {'url': ''},
    {'url': 'file:///etc/passwd'},          # outside every store
    {'url': 'gopher://127.0.0.1/x'},        # no store speaks it
    {'url': 'not a url'},
    {'url': 'file:///x', 'metadata': {}},   # not a field of this call
    {'url': 'http://127.0.0.1:1/x'},        # nothing answers there
])
def test_bad_locations_are_400(srv, owner, service, body):
    image_id = queued(owner)
    r = service.post('/v2/images/%s/locations' % image_id, json=body)
    assert r.status_code == 400, r.text
    assert owner.get('/v2/images/%s' % image_id).json()['status'] == 'queued'


@pytest.mark.parametrize('bad', [
    {'os_hash_algo': 'sha123',
     'os_hash_value': hashlib.sha256(DATA).hexdigest()},
    {'os_hash_algo': 'sha512',
     'os_hash_value': hashlib.sha256(DATA).hexdigest()},
    {'os_hash_algo': 'shake_128', 'os_hash_value': 'f' * 32},
    {'os_hash_algo': 'sha512', 'os_hash_value': 'abc'},
    {'os_hash_algo': 'sha512', 'os_hash_value': 'f' * 128,
     'checksum': 'Z' * 32},
    {'os_hash_value': 'f' * 128},
])
def test_bad_validation_data_is_400(srv, owner, service, bad):
    image_id = queued(owner)
    r = service.post('/v2/images/%s/locations' % image_id,
                     json={'url': put_file(srv, 'fast'),
                           'validation_data': bad})
    assert r.status_code == 400, r.text


def test_only_a_queued_image_takes_a_location(srv, owner, service):
    image_id = queued(owner)
    assert owner.upload(image_id, b'uploaded').status_code == 204
    r = service.post('/v2/images/%s/locations' % image_id,
                     json={'url': put_file(srv, 'fast')})
    assert r.status_code == 409, r.text


def test_without_secure_hash_validation_data_is_trusted(trusting):
    project = 'loc-%s' % uuid.uuid4().hex[:8]
    owner = Client(trusting.url, identity(project, 'reader,member'))
    service = Client(trusting.url,
                     identity(project, 'reader,member,service'))
    image_id = queued(owner)
    r = service.post('/v2/images/%s/locations' % image_id,
                     json={'url': put_file(trusting, 'cheap'),
                           'validation_data': validation()})
    assert r.status_code == 202, r.text
    image = owner.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'active'
    assert image['os_hash_value'] == validation()['os_hash_value']
    # where locations are hidden, PATCH may not touch them
    r = owner.patch('/v2/images/%s' % image_id, [
        {'op': 'add', 'path': '/locations/-',
         'value': {'url': put_file(trusting, 'fast'), 'metadata': {}}}])
    assert r.status_code == 403


# --- PATCH /locations (show_multiple_locations) ---------------------------

def test_patch_add_activates_a_queued_image(srv, owner):
    image_id = queued(owner)
    url = put_file(srv, 'fast')
    r = owner.patch('/v2/images/%s' % image_id, [
        {'op': 'add', 'path': '/locations/-',
         'value': {'url': url, 'metadata': {'note': 'by hand'}}}])
    assert r.status_code == 200, r.text
    image = r.json()
    assert image['status'] == 'active' and image['size'] == len(DATA)
    assert image['locations'] == [
        {'url': url, 'metadata': {'note': 'by hand', 'store': 'fast'}}]
    assert owner.get('/v2/images/%s/file' % image_id).content == DATA


def test_patch_rules(srv, owner, admin):
    image_id = queued(owner)
    first, second = put_file(srv, 'fast'), put_file(srv, 'cheap')
    add = [{'op': 'add', 'path': '/locations/-',
            'value': {'url': first, 'metadata': {}}}]
    assert owner.patch('/v2/images/%s' % image_id, add).status_code == 200
    # the same URL twice
    r = owner.patch('/v2/images/%s' % image_id, add)
    assert r.status_code == 400, r.text
    # data of another size
    r = owner.patch('/v2/images/%s' % image_id, [
        {'op': 'add', 'path': '/locations/0',
         'value': {'url': put_file(srv, 'cheap', b'short'),
                   'metadata': {}}}])
    assert r.status_code == 400, r.text
    # bad indexes
    for path in ('/locations/7', '/locations/x', '/locations/-1'):
        r = owner.patch('/v2/images/%s' % image_id, [
            {'op': 'add', 'path': path,
             'value': {'url': second, 'metadata': {}}}])
        assert r.status_code == 400, (path, r.text)
    # removing takes delete_image_location (admins by default)
    r = owner.patch('/v2/images/%s' % image_id,
                    [{'op': 'remove', 'path': '/locations/0'}])
    assert r.status_code == 403
    r = admin.patch('/v2/images/%s' % image_id,
                    [{'op': 'remove', 'path': '/locations/0'}])
    assert r.status_code == 403 and 'last location' in r.text
    r = admin.patch('/v2/images/%s' % image_id, [
        {'op': 'add', 'path': '/locations/0',
         'value': {'url': second, 'metadata': {}}},
        {'op': 'remove', 'path': '/locations/1'}])
    assert r.status_code == 200, r.text
    assert [loc['url'] for loc in r.json()['locations']] == [second]
    assert r.json()['stores'] == 'cheap'
    # the data of the removed location went with it
    assert not os.path.exists(first[len('file://'):])
    assert owner.get('/v2/images/%s/file' % image_id).content == DATA


def test_patch_replace_and_quota(srv, owner, admin):
    image_id = queued(owner)
    urls = [put_file(srv, 'fast') for _ in range(4)]
    r = admin.patch('/v2/images/%s' % image_id, [
        {'op': 'replace', 'path': '/locations',
         'value': [{'url': u, 'metadata': {}} for u in urls[:2]]}])
    assert r.status_code == 200, r.text
    assert [loc['url'] for loc in r.json()['locations']] == urls[:2]
    r = admin.patch('/v2/images/%s' % image_id, [
        {'op': 'replace', 'path': '/locations',
         'value': [{'url': u, 'metadata': {}} for u in urls]}])
    assert r.status_code == 413, r.text       # image_location_quota = 3
    r = owner.patch('/v2/images/%s' % image_id, [
        {'op': 'add', 'path': '/locations',
         'value': [{'url': urls[2], 'metadata': {}}]}])
    assert r.status_code == 400, r.text


def test_patch_add_refused_for_a_deactivated_image(srv, owner, admin):
    image_id = queued(owner)
    assert owner.upload(image_id, DATA).status_code == 204
    r = admin.post('/v2/images/%s/actions/deactivate' % image_id)
    assert r.status_code == 204
    r = admin.patch('/v2/images/%s' % image_id, [
        {'op': 'add', 'path': '/locations/-',
         'value': {'url': put_file(srv, 'cheap'), 'metadata': {}}}])
    assert r.status_code == 409, r.text


def test_the_http_store_is_read_only(srv, owner, project):
    """/v2/info/stores marks it ``read-only``, and ``all_stores`` imports
    (which cannot write there) leave it out, as the reference does."""
    stores = {s['id']: s for s in owner.get('/v2/info/stores').json()[
        'stores']}
    assert stores['web'].get('read-only') == 'true'
    assert 'read-only' not in stores['fast']
    assert 'read-only' not in stores['cheap']
    image = owner.create(name='all', disk_format='raw',
                         container_format='bare')
    path = '/v2/images/%s' % image['id']
    r = owner.put(path + '/stage', data=b'all stores',
                  headers={'Content-Type': 'application/octet-stream'})
    assert r.status_code == 204
    r = owner.post(path + '/import', json={
        'method': {'name': 'glance-direct'}, 'all_stores': True})
    assert r.status_code == 202, r.text
    deadline = time.time() + 60
    while (shown := owner.get(path).json())['status'] != 'active':
        assert shown['status'] != 'queued', shown
        assert time.time() < deadline
        time.sleep(0.2)
    assert sorted(shown['stores'].split(',')) == ['cheap', 'fast']


def test_store_ids_header_lists_every_enabled_store(srv, owner):
    # As the reference: the enabled_backends in their configured order,
    # the read-only http store included; never the reserved stores (the
    # reference leaks os_glance_staging_store and os_glance_tasks_store
    # into the header once they are used: listed in differences.rst).
    r = owner.post('/v2/images', json={'name': 'h'})
    assert r.status_code == 201
    assert r.headers['OpenStack-image-store-ids'] == 'fast,cheap,web'
