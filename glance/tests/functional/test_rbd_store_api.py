"""glance-api with a file and an rbd backend side by side, over HTTP.

``enabled_backends = fast:file, ceph:rbd``: the rbd backend writes to the
session's one-node Ceph on loopback as ``client.glance`` (caps on the
``images`` pool only).  Every check of what was stored looks in Ceph
directly (librbd), not through glance.
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

MiB = 1024 * 1024
DATA = b'rbd store data ' * 6000          # 90000 bytes


@pytest.fixture(scope='module')
def srv(tmp_path_factory, ceph):
    work = str(tmp_path_factory.mktemp('rbdstore'))
    settings = [
        'DEFAULT.enabled_backends=fast:file, ceph:rbd',
        'DEFAULT.show_image_direct_url=True',
        'ceph.store_description=Ceph RBD',
        'ceph.rbd_store_ceph_conf=%s' % ceph.conf,
        'ceph.rbd_store_user=glance',
        'ceph.rbd_store_pool=images',
        'ceph.rbd_store_chunk_size=1',
        'ceph.rados_connect_timeout=10',
    ]
    server = GlanceServer(work, profile='reference', settings=settings)
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


def _upload(client: Client, data=DATA, store: str = 'ceph') -> str:
    image = client.create(name='to-%s' % store, disk_format='raw',
                          container_format='bare')
    r = client.put('/v2/images/%s/file' % image['id'], data=data,
                   headers={'Content-Type': 'application/octet-stream',
                            'X-Image-Meta-Store': store})
    assert r.status_code == 204, r.text
    return image['id']


def test_stores_detail_shows_the_rbd_backend(admin):
    r = admin.get('/v2/info/stores/detail')
    assert r.status_code == 200, r.text
    stores = {s['id']: s for s in r.json()['stores']}
    assert list(stores) == ['fast', 'ceph']
    assert stores['ceph']['type'] == 'rbd'
    assert stores['ceph']['description'] == 'Ceph RBD'
    assert stores['ceph']['properties'] == {
        'pool': 'images', 'chunk_size': MiB, 'thin_provisioning': False}


def test_upload_download_range_delete(srv, ceph, alice):
    image_id = _upload(alice)
    shown = alice.get('/v2/images/%s' % image_id).json()
    assert shown['status'] == 'active' and shown['stores'] == 'ceph'
    assert shown['size'] == len(DATA)
    assert image_id in ceph.images()
    assert ceph.snapshots(image_id) == [('snap', True)]
    # what Nova reads to clone its disks from the snapshot
    assert shown['direct_url'] == \
        'rbd://%s/images/%s/snap' % (ceph.fsid, image_id)
    r = alice.get('/v2/images/%s/file' % image_id)
    assert r.status_code == 200 and r.content == DATA
    r = alice.get('/v2/images/%s/file' % image_id,
                  headers={'Range': 'bytes=10-29'})
    assert r.status_code == 206 and r.content == DATA[10:30]
    assert r.headers['Content-Range'] == 'bytes 10-29/%d' % len(DATA)
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204
    assert image_id not in ceph.images()


def test_chunked_upload_of_unknown_size_spans_objects(srv, ceph, alice):
    data = os.urandom(2 * MiB + 4321)

    def body():
        for i in range(0, len(data), 100_000):
            yield data[i:i + 100_000]
    image_id = _upload(alice, body())
    shown = alice.get('/v2/images/%s' % image_id).json()
    assert shown['size'] == len(data)
    r = alice.get('/v2/images/%s/file' % image_id,
                  headers={'Range': 'bytes=%d-%d' % (MiB - 3, MiB + 2)})
    assert r.status_code == 206 and r.content == data[MiB - 3:MiB + 3]
    assert alice.get('/v2/images/%s/file' % image_id).content == data
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204
    assert image_id not in ceph.images()


def test_copy_image_into_rbd_then_delete_from_it(srv, ceph, alice, admin):
    image_id = _upload(alice, store='fast')
    r = admin.post('/v2/images/%s/import' % image_id,
                   json={'method': {'name': 'copy-image'},
                         'stores': ['ceph']})
    assert r.status_code == 202, r.text
    deadline = time.time() + 30
    while time.time() < deadline:
        shown = alice.get('/v2/images/%s' % image_id).json()
        if set(shown['stores'].split(',')) == {'fast', 'ceph'} and \
                'os_glance_import_task' not in shown:
            break
        time.sleep(0.2)
    else:
        raise AssertionError('copy-image did not finish: %s' % shown)
    assert image_id in ceph.images()
    r = admin.delete('/v2/stores/ceph/%s' % image_id)
    assert r.status_code == 204, r.text
    assert image_id not in ceph.images()
    assert alice.get('/v2/images/%s/file' % image_id).content == DATA
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204


def test_client_gone_mid_upload_leaves_no_rbd_image(srv, ceph, alice):
    image = alice.create(name='cut', disk_format='raw',
                         container_format='bare')
    upload = RawUpload(srv.url, image['id'], None, dict(
        alice.session.headers, **{'X-Image-Meta-Store': 'ceph'}))
    upload.send(b'x' * (MiB + 300_000))      # one full chunk and more
    wait_status(alice, image['id'], 'saving')
    upload.sock.sendall(b'ffff\r\n' + b'y' * 100)     # a chunk cut short
    upload.close()
    wait_status(alice, image['id'], 'queued')
    deadline = time.time() + 20
    while image['id'] in ceph.images() and time.time() < deadline:
        time.sleep(0.2)
    assert image['id'] not in ceph.images()
    # and the upload can be done again
    r = alice.put('/v2/images/%s/file' % image['id'], data=DATA,
                  headers={'Content-Type': 'application/octet-stream',
                           'X-Image-Meta-Store': 'ceph'})
    assert r.status_code == 204, r.text
    assert image['id'] in ceph.images()


def _clone(ceph, name: str, child: str) -> None:
    """Clone the image's snapshot, as Nova makes an instance disk."""
    import rbd
    cluster = ceph.connect()
    try:
        with cluster.open_ioctx('images') as ioctx:
            rbd.RBD().clone(ioctx, name, 'snap', ioctx, child)
    finally:
        cluster.shutdown()


def _remove(ceph, name: str) -> None:
    import rbd
    cluster = ceph.connect()
    try:
        with cluster.open_ioctx('images') as ioctx:
            rbd.RBD().remove(ioctx, name)
    finally:
        cluster.shutdown()


def test_delete_of_an_image_with_clones_is_a_conflict(srv, ceph, alice,
                                                      admin):
    image_id = _upload(alice)
    child = 'disk-%s' % image_id
    _clone(ceph, image_id, child)
    r = alice.delete('/v2/images/%s' % image_id)
    assert r.status_code == 409, r.text
    assert 'in use' in r.text
    # nothing changed: the record, its data, the protected snapshot
    shown = alice.get('/v2/images/%s' % image_id).json()
    assert shown['status'] == 'active'
    assert alice.get('/v2/images/%s/file' % image_id).content == DATA
    assert ceph.snapshots(image_id) == [('snap', True)]
    # removing one copy of it is refused the same way
    r = admin.post('/v2/images/%s/import' % image_id,
                   json={'method': {'name': 'copy-image'},
                         'stores': ['fast']})
    assert r.status_code == 202, r.text
    deadline = time.time() + 30
    while time.time() < deadline:
        shown = alice.get('/v2/images/%s' % image_id).json()
        if set(shown['stores'].split(',')) == {'fast', 'ceph'} and \
                'os_glance_import_task' not in shown:
            break
        time.sleep(0.2)
    r = admin.delete('/v2/stores/ceph/%s' % image_id)
    assert r.status_code == 409, r.text
    assert set(alice.get('/v2/images/%s' % image_id).json()[
        'stores'].split(',')) == {'fast', 'ceph'}
    # once the clone is gone the image goes with its data
    _remove(ceph, child)
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204
    assert image_id not in ceph.images()
