"""Unsafe disk images refused by a real glance-api: uploads answer 415 and
leave the image queued with nothing stored; imports (glance-direct,
web-download from a loopback HTTP server) fail their task and leave the
image queued; a copy-image of data refused since is discarded; a location
added with unsafe data kills its image.  Images are made by the real
qemu-img in temporary directories.
"""
from __future__ import annotations

import gzip
import http.server
import os
import shutil
import subprocess
import urllib.parse
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer, \
    serving
from glance.tests.functional.test_import import (_create, _import,
                                                 _stage, _store_files,
                                                 _wait)
from glance.tests.functional.test_locations import put_file, wait_status

pytestmark = pytest.mark.skipif(shutil.which('qemu-img') is None,
                                reason='qemu-img missing: run make '
                                       'test-deps')
MiB = 1024 * 1024
OCTET = {'Content-Type': 'application/octet-stream'}
#: bytes served by the loopback web server, by path
SERVED: dict[str, bytes] = {}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'

    def log_message(self, *args):
        pass

    def do_GET(self):
        data = SERVED.get(urllib.parse.urlparse(self.path).path)
        self.send_response(200 if data is not None else 404)
        self.send_header('Content-Length', str(len(data or b'')))
        self.end_headers()
        self.wfile.write(data or b'')


@pytest.fixture(scope='module')
def web():
    with serving(_Handler) as url:
        yield url


@pytest.fixture(scope='module')
def srv(tmp_path_factory, web):
    port = urllib.parse.urlparse(web).port
    server = GlanceServer(str(tmp_path_factory.mktemp('safety')),
                          profile='reference', settings=[
        'import_filtering_opts.allowed_ports=[80,443,%d]' % port,
        'import_filtering_opts.allowed_hosts=[127.0.0.1]',
    ]).start()
    yield server
    server.stop()


@pytest.fixture
def alice(srv) -> Client:
    return Client(srv.url, identity('safe-%s' % uuid.uuid4().hex[:8]))


@pytest.fixture(scope='module')
def images(tmp_path_factory) -> dict[str, bytes]:
    """Small images made by qemu-img: a good qcow2 and unsafe ones."""
    tmp = tmp_path_factory.mktemp('qemu-img')

    def make(name: str, *options: str) -> bytes:
        path = str(tmp / name)
        subprocess.run(['qemu-img', 'create', '-f', 'qcow2', *options, path,
                        '10M'], check=True, capture_output=True)
        with open(path, 'rb') as f:
            return f.read()

    return {
        'good': make('good.qcow2'),
        'backing': make('backing.qcow2', '-b', '/etc/hostname', '-F', 'raw'),
        'data_file': make('data-file.qcow2', '-o',
                          'data_file=%s' % (tmp / 'ext.raw')),
        'random': os.urandom(100000),
    }


def _qcow2_image(client: Client) -> str:
    return _create(client, disk_format='qcow2')


def _assert_queued_and_empty(srv, client: Client, image_id: str) -> dict:
    image = client.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'queued'
    assert (image['size'], image['checksum'], image['virtual_size']) == \
        (None, None, None)
    for store in ('fast', 'cheap', 'os_glance_staging_store'):
        assert image_id not in _store_files(srv, store)
    return image


def _assert_refused(r, reason: str) -> None:
    """``r`` is the API's 415 for data the inspection refused."""
    assert r.status_code == 415, r.text
    body = r.json()
    assert body['code'] == '415 Unsupported Media Type'
    assert 'Image failed safety checks: ' in body['message']
    assert reason in body['message']


# -- upload ------------------------------------------------------------------

@pytest.mark.parametrize('case, reason', [
    ('backing', 'it has a backing file'),
    ('data_file', 'it has an external data file'),
    ('random', 'its data is raw but the image claims disk_format qcow2'),
])
def test_upload_of_unsafe_data_is_415(srv, alice, images, case, reason):
    image_id = _qcow2_image(alice)
    _assert_refused(alice.put('/v2/images/%s/file' % image_id,
                              data=images[case],
                              headers=dict(OCTET, Accept='application/json')),
                    reason)
    _assert_queued_and_empty(srv, alice, image_id)
    # Back to queued for real: good data is taken now.
    assert alice.upload(image_id, images['good']).status_code == 204
    assert alice.get('/v2/images/%s' % image_id).json()['status'] == \
        'active'


def test_qcow2_declared_raw_is_415(srv, alice, images):
    image_id = _create(alice, disk_format='raw')
    r = alice.upload(image_id, images['good'])
    assert r.status_code == 415
    assert 'its data is qcow2 but the image claims disk_format raw' in r.text
    _assert_queued_and_empty(srv, alice, image_id)


def test_good_qcow2_upload_goes_active_with_virtual_size(srv, alice,
                                                         images):
    image_id = _qcow2_image(alice)
    assert alice.upload(image_id, images['good']).status_code == 204
    image = alice.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'active'
    assert image['size'] == len(images['good'])
    assert image['virtual_size'] == 10 * MiB
    assert image_id in _store_files(srv, 'fast')


# -- import ------------------------------------------------------------------

@pytest.mark.parametrize('case, reason', [
    ('backing', 'it has a backing file'),
    ('data_file', 'it has an external data file'),
    ('random', 'its data is raw but the image claims disk_format qcow2'),
])
def test_stage_of_unsafe_data_is_415(srv, alice, images, case, reason):
    """Staged data is inspected as it arrives: refused like an upload,
    nothing left staged, the image queued and still importable."""
    image_id = _qcow2_image(alice)
    _assert_refused(alice.put('/v2/images/%s/stage' % image_id,
                              data=images[case],
                              headers=dict(OCTET, Accept='application/json')),
                    reason)
    image = _assert_queued_and_empty(srv, alice, image_id)
    assert 'os_glance_stage_host' not in image
    # Nothing was staged: an import of it is refused.
    assert _import(alice, image_id,
                   method={'name': 'glance-direct'}).status_code == 409
    assert _stage(alice, image_id, images['good']).status_code == 204
    assert _import(alice, image_id,
                   method={'name': 'glance-direct'}).status_code == 202
    image, task = _wait(alice, image_id)
    assert task['status'] == 'success', task
    assert image['status'] == 'active'


def test_glance_direct_of_good_qcow2(srv, alice, images):
    image_id = _qcow2_image(alice)
    assert _stage(alice, image_id, images['good']).status_code == 204
    assert _import(alice, image_id,
                   method={'name': 'glance-direct'}).status_code == 202
    image, task = _wait(alice, image_id)
    assert task['status'] == 'success', task
    assert (image['status'], image['virtual_size']) == ('active', 10 * MiB)


@pytest.mark.parametrize('case', ['backing', 'data_file', 'random'])
def test_web_download_of_unsafe_data_fails(srv, alice, images, web, case):
    SERVED['/%s.qcow2' % case] = images[case]
    image_id = _qcow2_image(alice)
    assert _import(alice, image_id, method={
        'name': 'web-download',
        'uri': '%s/%s.qcow2' % (web, case)}).status_code == 202
    image, task = _wait(alice, image_id)
    assert task['status'] == 'failure'
    assert 'Image failed safety checks' in task['message']
    _assert_queued_and_empty(srv, alice, image_id)


def test_web_download_of_good_qcow2(srv, alice, images, web):
    SERVED['/good.qcow2'] = images['good']
    image_id = _qcow2_image(alice)
    assert _import(alice, image_id, method={
        'name': 'web-download',
        'uri': web + '/good.qcow2'}).status_code == 202
    image, task = _wait(alice, image_id)
    assert task['status'] == 'success', task
    assert (image['status'], image['virtual_size']) == ('active', 10 * MiB)
    assert alice.get('/v2/images/%s/file' % image_id).content == \
        images['good']


def test_copy_image_of_data_refused_since_leaves_the_image(tmp_path, images):
    """Data stored before the checks applied is not copied elsewhere."""
    work = str(tmp_path / 'glance')
    lax = GlanceServer(work, profile='reference', settings=[
        'image_format.require_image_format_match=False']).start()
    try:
        owner = Client(lax.url, identity('safe-copy'))
        image_id = _create(owner, disk_format='raw')
        assert owner.upload(image_id, images['good']).status_code == 204
    finally:
        lax.stop()
    strict = GlanceServer(work, profile='reference').start()
    try:
        owner = Client(strict.url, identity('safe-copy'))
        admin = Client(strict.url, identity('safe-admin',
                                            'admin,member,reader', 'root'))
        assert _import(admin, image_id, method={'name': 'copy-image'},
                       stores=['cheap']).status_code == 202
        image, task = _wait(admin, image_id)
        assert task['status'] == 'failure'
        assert 'its data is qcow2 but the image claims disk_format raw' in \
            task['message']
        image = owner.get('/v2/images/%s' % image_id).json()
        assert (image['status'], image['stores']) == ('active', 'fast')
        assert image_id not in _store_files(strict, 'cheap')
        assert image_id not in _store_files(strict,
                                            'os_glance_staging_store')
        assert owner.get('/v2/images/%s/file' % image_id).content == \
            images['good']
    finally:
        strict.stop()


# -- locations ---------------------------------------------------------------

@pytest.mark.parametrize('case, status', [('backing', 'killed'),
                                          ('good', 'active')])
def test_added_location_is_inspected(srv, images, case, status):
    project = 'safe-loc-%s' % uuid.uuid4().hex[:8]
    owner = Client(srv.url, identity(project))
    service = Client(srv.url, identity(project, 'reader,member,service',
                                       'nova'))
    image_id = _qcow2_image(owner)
    r = service.post('/v2/images/%s/locations' % image_id,
                     json={'url': put_file(srv, 'cheap', images[case])})
    assert r.status_code == 202, r.text
    image = wait_status(owner, image_id, 'active', 'killed')
    assert image['status'] == status
    if status == 'active':
        assert image['virtual_size'] == 10 * MiB


# -- plugins -----------------------------------------------------------------

def test_unsafe_qcow2_inside_an_archive_refused_before_conversion(
        tmp_path, images):
    """An archive hides the disk from the staged-data check; the
    conversion plugin judges what came out of it before qemu-img opens
    it."""
    server = GlanceServer(str(tmp_path / 'glance'), profile='reference',
                          settings=[
        'image_import_opts.image_import_plugins=[image_decompression,'
        'image_conversion]']).start()
    try:
        alice = Client(server.url, identity('safe-plugins'))
        image_id = _create(alice, disk_format='qcow2',
                           container_format='compressed')
        assert _stage(alice, image_id,
                      gzip.compress(images['backing'])).status_code == 204
        assert _import(alice, image_id,
                       method={'name': 'glance-direct'}).status_code == 202
        image, task = _wait(alice, image_id)
        assert task['status'] == 'failure'
        assert 'Image failed safety checks: qcow2: it has a backing file' \
            in task['message']
        _assert_queued_and_empty(server, alice, image_id)
        assert 'Image %s: data refused' % image_id in server.log()
    finally:
        server.stop()
