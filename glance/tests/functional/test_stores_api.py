"""The store discovery calls (/v2/info/stores[/detail], /v2/info/usage) and
DELETE /v2/stores/{store_id}/{image_id}, with three file stores."""
from __future__ import annotations

import os
import time
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer

DATA = b'store data ' * 300


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    work = str(tmp_path_factory.mktemp('stores'))
    settings = ['DEFAULT.enabled_backends=fast:file, cheap:file, spare:file',
                'fast.store_description=Fast disks',
                'cheap.weight=5',
                'spare.filesystem_store_datadir=%s'
                % os.path.join(work, 'stores', 'spare')]
    server = GlanceServer(work, profile='reference', settings=settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope='module')
def single(tmp_path_factory):
    server = GlanceServer(str(tmp_path_factory.mktemp('single'))).start()
    yield server
    server.stop()


@pytest.fixture
def alice(srv) -> Client:
    return Client(srv.url, identity('st-%s' % uuid.uuid4().hex[:8],
                                    'reader,member', 'alice'))


@pytest.fixture
def admin(srv) -> Client:
    return Client(srv.url, identity('st-admin', 'admin,member,reader'))


def _files(srv: GlanceServer, store: str) -> list[str]:
    path = os.path.join(srv.workdir, 'stores', store)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def _in_two_stores(alice: Client, admin: Client) -> str:
    """An image of alice's with its data in fast (upload) and cheap (copy)."""
    image = alice.create(name='twice', disk_format='raw',
                         container_format='bare')
    assert alice.upload(image['id'], DATA).status_code == 204
    r = admin.post('/v2/images/%s/import' % image['id'],
                   json={'method': {'name': 'copy-image'},
                         'stores': ['cheap']})
    assert r.status_code == 202, r.text
    deadline = time.time() + 60
    while time.time() < deadline:
        shown = alice.get('/v2/images/%s' % image['id']).json()
        if shown['stores'] == 'fast,cheap' and \
                'os_glance_import_task' not in shown:
            return image['id']
        time.sleep(0.2)
    raise AssertionError('copy-image did not finish: %s' % shown)


def test_stores_list(srv, alice):
    r = alice.get('/v2/info/stores')
    assert r.status_code == 200
    assert r.json() == {'stores': [
        {'id': 'fast', 'description': 'Fast disks', 'default': 'true'},
        {'id': 'cheap', 'description': ''},
        {'id': 'spare', 'description': ''}]}


def test_stores_detail_is_for_admins(srv, alice, admin):
    assert alice.get('/v2/info/stores/detail').status_code == 403
    r = admin.get('/v2/info/stores/detail')
    assert r.status_code == 200
    stores = {s['id']: s for s in r.json()['stores']}
    assert list(stores) == ['fast', 'cheap', 'spare']
    assert stores['fast']['default'] == 'true'
    assert 'default' not in stores['cheap']
    assert stores['cheap']['weight'] == 5 and stores['fast']['weight'] == 0
    for store_id, store in stores.items():
        assert store['type'] == 'file'
        assert store['properties'] == {
            'data_dir': os.path.join(srv.workdir, 'stores', store_id),
            # the reference profile sets 64 KiB; spare has our default
            'chunk_size': 1048576 if store_id == 'spare' else 65536,
            'thin_provisioning': False}


def test_single_store_has_no_store_list(single):
    client = Client(single.url)
    assert client.get('/v2/info/stores').status_code == 404
    assert client.get('/v2/info/stores/detail').status_code == 404
    assert client.get('/v2/info/usage').json() == {'usage': {}}


def test_usage_without_unified_limits_is_empty(alice):
    r = alice.get('/v2/info/usage')
    assert r.status_code == 200 and r.json() == {'usage': {}}


def test_delete_from_one_store(srv, alice, admin):
    image_id = _in_two_stores(alice, admin)
    assert image_id in _files(srv, 'fast') and image_id in _files(srv, 'cheap')
    # A member of the owning project may not; the image is untouched.
    r = alice.delete('/v2/stores/cheap/%s' % image_id)
    assert r.status_code == 403
    assert image_id in _files(srv, 'cheap')
    r = admin.delete('/v2/stores/cheap/%s' % image_id)
    assert r.status_code == 204 and r.content == b''
    assert image_id not in _files(srv, 'cheap')
    assert image_id in _files(srv, 'fast')
    shown = alice.get('/v2/images/%s' % image_id).json()
    assert shown['stores'] == 'fast' and shown['status'] == 'active'
    assert alice.get('/v2/images/%s/file' % image_id).content == DATA
    # The copy left is the last one: it stays.
    for store in ('cheap', 'fast'):
        assert admin.delete('/v2/stores/%s/%s'
                            % (store, image_id)).status_code == 403
    assert image_id in _files(srv, 'fast')
    assert alice.get('/v2/images/%s/file' % image_id).content == DATA


def test_delete_from_store_refusals(srv, alice, admin):
    image_id = _in_two_stores(alice, admin)
    assert admin.delete('/v2/stores/nope/%s' % image_id).status_code == 409
    assert admin.delete('/v2/stores/os_glance_staging_store/%s'
                        % image_id).status_code == 409
    # Two copies, but none in spare.
    assert admin.delete('/v2/stores/spare/%s' % image_id).status_code == 404
    assert admin.delete('/v2/stores/fast/%s' % uuid.uuid4()).status_code \
        == 404
    shown = alice.get('/v2/images/%s' % image_id).json()
    assert shown['stores'] == 'fast,cheap'
    assert image_id in _files(srv, 'fast') and image_id in _files(srv, 'cheap')
    queued = alice.create(name='q', disk_format='raw',
                          container_format='bare')
    assert admin.delete('/v2/stores/fast/%s'
                        % queued['id']).status_code == 409
    # Deleting the image removes its data from every store.
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204
    assert image_id not in _files(srv, 'fast')
    assert image_id not in _files(srv, 'cheap')


def test_unsupported_methods(alice):
    r = alice.put('/v2/info/stores')
    assert r.status_code == 405 and r.headers['Allow'] == 'GET'
    r = alice.get('/v2/stores/fast/%s' % uuid.uuid4())
    assert r.status_code == 405 and r.headers['Allow'] == 'DELETE'
