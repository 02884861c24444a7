"""Quota edges, answered as the reference service does (or as
doc/source/contributor/differences.rst says we differ): which properties
and tags count, the image_size_cap boundary, zero bytes at a full storage
quota."""
from __future__ import annotations

import time
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer

CAP = 1000


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    server = GlanceServer(str(tmp_path_factory.mktemp('quota-edges')),
                          profile='reference', settings=[
                              'DEFAULT.image_property_quota=3',
                              'DEFAULT.image_tag_quota=2',
                              'DEFAULT.image_size_cap=%d' % CAP,
                              'DEFAULT.user_storage_quota=%d' % (2 * CAP)])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def owner(srv) -> Client:
    return Client(srv.url, identity('quota-%s' % uuid.uuid4().hex[:8]))


def _image(owner: Client, **body) -> str:
    return owner.create(name='q', disk_format='raw', container_format='bare',
                        **body)['id']


def test_property_quota_boundary(owner):
    assert owner.post('/v2/images', json={
        'name': 'q', 'a': '1', 'b': '2', 'c': '3'}).status_code == 201
    r = owner.post('/v2/images', json={'name': 'q', 'a': '1', 'b': '2',
                                       'c': '3', 'd': '4'})
    assert r.status_code == 413, r.text


def test_import_properties_do_not_count(owner):
    # an image at the property quota can still be imported into: the
    # import's own os_glance_* properties (lock, stores) are the service's
    image_id = _image(owner, a='1', b='2', c='3')
    r = owner.put('/v2/images/%s/stage' % image_id, data=b'x' * 10,
                  headers={'Content-Type': 'application/octet-stream'})
    assert r.status_code == 204, r.text
    r = owner.post('/v2/images/%s/import' % image_id,
                   json={'method': {'name': 'glance-direct'}})
    assert r.status_code == 202, r.text
    # a user's fourth property is still refused
    r = owner.patch('/v2/images/%s' % image_id,
                    [{'op': 'add', 'path': '/d', 'value': '4'}])
    assert r.status_code in (409, 413), r.text


def test_duplicated_tags_count_once(owner):
    # stored once, counted once (differences.rst: the reference counts the
    # request's list as given)
    r = owner.post('/v2/images', json={'name': 't',
                                       'tags': ['a', 'b', 'a']})
    assert r.status_code == 201, r.text
    assert sorted(r.json()['tags']) == ['a', 'b']
    r = owner.patch('/v2/images/%s' % r.json()['id'], [
        {'op': 'replace', 'path': '/tags', 'value': ['b', 'b', 'a', 'a']}])
    assert r.status_code == 200, r.text
    r = owner.post('/v2/images', json={'name': 't',
                                       'tags': ['a', 'b', 'c']})
    assert r.status_code == 413, r.text


@pytest.mark.parametrize('size,status', [(CAP, 204), (CAP + 1, 413)])
def test_image_size_cap_boundary(owner, size, status):
    # exactly image_size_cap bytes are taken; one more is 413 (declared)
    image_id = _image(owner)
    assert owner.upload(image_id, b'x' * size).status_code == status
    expected = 'active' if status == 204 else 'queued'
    assert owner.get('/v2/images/%s' % image_id).json()[
        'status'] == expected


def test_image_size_cap_boundary_chunked(owner):
    # the same without a declared length: counted as the bytes come
    def body(n):
        yield b'x' * n
    ok, over = _image(owner), _image(owner)
    r = owner.put('/v2/images/%s/file' % ok, data=body(CAP),
                  headers={'Content-Type': 'application/octet-stream'})
    assert r.status_code == 204, r.text
    r = owner.put('/v2/images/%s/file' % over, data=body(CAP + 1),
                  headers={'Content-Type': 'application/octet-stream'})
    assert r.status_code == 413, r.text


def test_zero_bytes_at_a_full_storage_quota(owner):
    # two images fill the 2 * CAP storage quota exactly
    for _ in range(2):
        assert owner.upload(_image(owner), b'x' * CAP).status_code == 204
    # a declared empty upload still fits (reference: size 0 <= 0 left)
    empty = _image(owner)
    assert owner.upload(empty, b'').status_code == 204
    assert owner.get('/v2/images/%s' % empty).json()['status'] == 'active'
    # data of unknown size is refused when nothing remains (reference)

    def nothing():
        yield b''
    unknown = _image(owner)
    r = owner.put('/v2/images/%s/file' % unknown, data=nothing(),
                  headers={'Content-Type': 'application/octet-stream'})
    assert r.status_code == 413, r.text
    # and one byte more is refused
    assert owner.upload(_image(owner), b'x').status_code == 413


def _wait_import(owner: Client, image_id: str) -> dict:
    deadline = time.time() + 30
    while time.time() < deadline:
        image = owner.get('/v2/images/%s' % image_id).json()
        if 'os_glance_import_task' not in image:
            return image
        time.sleep(0.1)
    raise AssertionError('import of %s did not end' % image_id)


def test_copy_image_counts_against_the_storage_quota(srv, owner):
    # a copy uses the bytes again (the reference counts each location):
    # a copy that would pass user_storage_quota fails, the image keeps
    # its data where it was
    admin = Client(srv.url, identity(owner.session.headers['X-Project-Id'],
                                     'admin,member,reader'))
    first = _image(owner)
    assert owner.upload(first, b'x' * CAP).status_code == 204
    second = _image(owner)
    assert owner.upload(second, b'y' * (CAP // 2)).status_code == 204
    copy = {'method': {'name': 'copy-image'}, 'stores': ['cheap']}
    r = admin.post('/v2/images/%s/import' % first, json=copy)
    assert r.status_code == 202, r.text
    image = _wait_import(owner, first)
    assert image['status'] == 'active' and image['stores'] == 'fast'
    assert image['os_glance_failed_import'] == 'cheap'
    # with room for it the same copy is made, and then the quota is full
    assert owner.delete('/v2/images/%s' % second).status_code == 204
    r = admin.post('/v2/images/%s/import' % first, json=copy)
    assert r.status_code == 202, r.text
    image = _wait_import(owner, first)
    assert sorted(image['stores'].split(',')) == ['cheap', 'fast']
    assert owner.upload(_image(owner), b'z').status_code == 413
