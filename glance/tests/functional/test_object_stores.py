"""glance-api with file, swift and s3 backends side by side, over HTTP.

``enabled_backends = fast:file, cheap:file, obj:swift, s3:s3, s3v:s3``:
the swift backend and the s3 ones (Swift's s3api) talk to the session's
one-node Swift on loopback.  ``s3v`` addresses its bucket as a virtual
host, ``http://<bucket>.s3.glance.test:<port>/<key>``: glance-api runs
with ``HTTP_PROXY`` naming a loopback forwarding proxy
(glance/tests/vhost_proxy.py), so botocore sends those requests there
and nothing resolves the made-up name; the proxy hands them, Host header
and all, to the Swift proxy, whose s3api (``storage_domain =
s3.glance.test``) takes the bucket from the Host.  Every check of what
was stored looks in Swift (or S3) directly, not through glance.
"""
from __future__ import annotations

import os
import time
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer
from glance.tests.functional.test_upload_failures import (RawUpload,
                                                          wait_status)
from glance.tests import swift_fixture
from glance.tests.unit.test_s3_store import keys as s3_keys
from glance.tests.vhost_proxy import VirtualHostProxy

MiB = 1024 * 1024
DATA = b'object store data ' * 5000          # 90000 bytes


@pytest.fixture(scope='module')
def names():
    tag = uuid.uuid4().hex[:8]
    # distinct: an s3api bucket is a container of the same account
    return {'container': 'swift-%s' % tag, 'bucket': 's3-%s' % tag,
            'vbucket': 's3v-%s' % tag}


@pytest.fixture(scope='module')
def vhost(swift):
    proxy = VirtualHostProxy(swift.ports['proxy'])
    yield proxy
    proxy.close()


@pytest.fixture(scope='module')
def srv(tmp_path_factory, swift, names, vhost):
    work = str(tmp_path_factory.mktemp('objstores'))
    settings = [
        'DEFAULT.enabled_backends=fast:file, cheap:file, obj:swift, s3:s3, '
        's3v:s3',
        'obj.store_description=Swift',
        'obj.swift_store_auth_address=%s' % swift.auth_url,
        'obj.swift_store_user=test:tester',
        'obj.swift_store_key=testing',
        'obj.swift_store_auth_version=1',
        'obj.swift_store_container=%s' % names['container'],
        'obj.swift_store_create_container_on_put=True',
        'obj.swift_store_large_object_size=1',
        'obj.swift_store_large_object_chunk_size=1',
        's3.s3_store_host=%s' % swift.url,
        's3.s3_store_access_key=test:tester',
        's3.s3_store_secret_key=testing',
        's3.s3_store_bucket=%s' % names['bucket'],
        's3.s3_store_create_bucket_on_put=True',
        's3.s3_store_bucket_url_format=path',
        's3.s3_store_large_object_size=5',
        's3.s3_store_large_object_chunk_size=5',
        's3v.s3_store_host=http://%s:%d' % (swift_fixture.S3_DOMAIN,
                                            swift.ports['proxy']),
        's3v.s3_store_access_key=test:tester',
        's3v.s3_store_secret_key=testing',
        's3v.s3_store_bucket=%s' % names['vbucket'],
        's3v.s3_store_create_bucket_on_put=True',
        's3v.s3_store_bucket_url_format=virtual',
    ]
    # Only s3v's made-up host goes through the proxy; the other stores
    # talk to 127.0.0.1 directly.
    server = GlanceServer(work, profile='reference', settings=settings,
                          env={'HTTP_PROXY': vhost.url,
                               'http_proxy': vhost.url,
                               'NO_PROXY': '127.0.0.1,localhost',
                               'no_proxy': '127.0.0.1,localhost'})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def alice(srv) -> Client:
    return Client(srv.url, identity('os-%s' % uuid.uuid4().hex[:8],
                                    'reader,member', 'alice'))


@pytest.fixture
def admin(srv) -> Client:
    return Client(srv.url, identity('os-admin', 'admin,member,reader'))


def _upload(client: Client, store: str, data: bytes = DATA) -> str:
    image = client.create(name='to-%s' % store, disk_format='raw',
                          container_format='bare')
    r = client.put('/v2/images/%s/file' % image['id'], data=data,
                   headers={'Content-Type': 'application/octet-stream',
                            'X-Image-Meta-Store': store})
    assert r.status_code == 204, r.text
    return image['id']


def _files(srv: GlanceServer, store: str) -> list[str]:
    path = os.path.join(srv.workdir, 'stores', store)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def test_stores_are_listed(admin):
    r = admin.get('/v2/info/stores/detail')
    assert r.status_code == 200, r.text
    stores = {s['id']: s for s in r.json()['stores']}
    assert list(stores) == ['fast', 'cheap', 'obj', 's3', 's3v']
    assert stores['obj']['type'] == 'swift'
    assert stores['obj']['description'] == 'Swift'
    assert stores['s3']['type'] == 's3'
    for store in stores.values():
        assert 'testing' not in str(store['properties'])


@pytest.mark.parametrize('store', ['obj', 's3', 's3v'])
def test_upload_download_delete(srv, swift, names, alice, vhost, store):
    seen = len(vhost.hosts)
    image_id = _upload(alice, store)
    shown = alice.get('/v2/images/%s' % image_id).json()
    assert shown['status'] == 'active' and shown['stores'] == store
    assert shown['size'] == len(DATA)
    if store == 'obj':
        assert image_id in swift.listing(names['container'])
    elif store == 's3':
        assert image_id in s3_keys(swift, names['bucket'])
    else:
        assert image_id in s3_keys(swift, names['vbucket'])
    # only the virtual-host store went through the proxy, bucket in Host
    vhosts = set(vhost.hosts[seen:])
    assert vhosts == ({'%s.%s:%d' % (names['vbucket'], swift_fixture.S3_DOMAIN,
                                     swift.ports['proxy'])}
                      if store == 's3v' else set())
    r = alice.get('/v2/images/%s/file' % image_id)
    assert r.status_code == 200 and r.content == DATA
    r = alice.get('/v2/images/%s/file' % image_id,
                  headers={'Range': 'bytes=10-29'})
    assert r.status_code == 206 and r.content == DATA[10:30]
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204
    assert image_id not in swift.listing(names['container'])
    assert image_id not in s3_keys(swift, names['bucket'])
    assert image_id not in s3_keys(swift, names['vbucket'])


def test_large_image_in_swift_segments_and_its_delete(srv, swift, names,
                                                      alice):
    data = os.urandom(2 * MiB + 1234)
    image_id = _upload(alice, 'obj', data)
    segments = [s for s in swift.listing(names['container'] + '_segments')
                if s.startswith(image_id + '/')]
    assert len(segments) == 3
    assert alice.get('/v2/images/%s/file' % image_id).content == data
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204
    assert not [s for s in swift.listing(names['container'] + '_segments')
                if s.startswith(image_id + '/')]
    assert image_id not in swift.listing(names['container'])


def test_large_image_in_s3_multipart(srv, swift, names, alice):
    data = os.urandom(6 * MiB + 99)
    image_id = _upload(alice, 's3', data)
    assert image_id in s3_keys(swift, names['bucket'])
    assert alice.get('/v2/images/%s/file' % image_id).content == data
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204
    assert image_id not in s3_keys(swift, names['bucket'])
    assert not swift.listing(names['bucket'] + '+segments')


def test_copy_image_into_swift_then_delete_from_it(srv, swift, names,
                                                   alice, admin):
    image_id = _upload(alice, 'fast')
    r = admin.post('/v2/images/%s/import' % image_id,
                   json={'method': {'name': 'copy-image'},
                         'stores': ['obj', 's3']})
    assert r.status_code == 202, r.text
    deadline = time.time() + 60
    while time.time() < deadline:
        shown = alice.get('/v2/images/%s' % image_id).json()
        if set(shown['stores'].split(',')) == {'fast', 'obj', 's3'} and \
                'os_glance_import_task' not in shown:
            break
        time.sleep(0.2)
    else:
        raise AssertionError('copy-image did not finish: %s' % shown)
    assert image_id in swift.listing(names['container'])
    assert image_id in s3_keys(swift, names['bucket'])
    r = admin.delete('/v2/stores/obj/%s' % image_id)
    assert r.status_code == 204, r.text
    assert image_id not in swift.listing(names['container'])
    shown = alice.get('/v2/images/%s' % image_id).json()
    assert set(shown['stores'].split(',')) == {'fast', 's3'}
    assert alice.get('/v2/images/%s/file' % image_id).content == DATA
    # deleting the image removes the other copies
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204
    assert image_id not in s3_keys(swift, names['bucket'])
    assert image_id not in _files(srv, 'fast')


def test_client_gone_mid_upload_leaves_no_segments(srv, swift, names,
                                                   alice):
    image = alice.create(name='cut', disk_format='raw',
                         container_format='bare')
    upload = RawUpload(srv.url, image['id'], None, dict(
        alice.session.headers, **{'X-Image-Meta-Store': 'obj'}))
    upload.send(b'x' * (MiB + 300_000))      # one full segment and more
    wait_status(alice, image['id'], 'saving')
    upload.sock.sendall(b'ffff\r\n' + b'y' * 100)     # a chunk cut short
    upload.close()
    wait_status(alice, image['id'], 'queued')

    def leftovers():
        return [s for s in swift.listing(names['container'] + '_segments')
                if s.startswith(image['id'])] + \
            [o for o in swift.listing(names['container'])
             if o == image['id']]
    deadline = time.time() + 20
    while leftovers() and time.time() < deadline:
        time.sleep(0.2)
    assert leftovers() == []
    # and the upload can be done again
    r = alice.put('/v2/images/%s/file' % image['id'], data=DATA,
                  headers={'Content-Type': 'application/octet-stream',
                           'X-Image-Meta-Store': 'obj'})
    assert r.status_code == 204, r.text
