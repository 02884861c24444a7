"""DELETE /v2/images/{id}: protection, who may delete, and what remains."""
from __future__ import annotations

import os
import uuid

import pytest

from glance.tests.functional.conftest import Client

V21 = 'application/openstack-images-v2.1-json-patch'


@pytest.fixture
def project():
    return 'delete-%s' % uuid.uuid4().hex[:10]


@pytest.fixture
def alice(as_project, project) -> Client:
    return as_project(project)


@pytest.fixture
def admin(as_project) -> Client:
    return as_project('delete-admin', 'admin,member,reader')


def _listed(client: Client) -> set[str]:
    r = client.get('/v2/images?limit=1000&visibility=all')
    assert r.status_code == 200
    return {i['id'] for i in r.json()['images']}


def test_delete_answers_204_and_the_image_is_gone(alice, admin):
    image = alice.create(name='bye', extra='x', tags=['t'])
    path = '/v2/images/%s' % image['id']
    r = alice.delete(path)
    assert r.status_code == 204
    assert r.content == b''
    assert 'Content-Length' not in r.headers
    assert alice.get(path).status_code == 404
    assert admin.get(path).status_code == 404
    assert alice.delete(path).status_code == 404
    assert image['id'] not in _listed(alice)
    assert image['id'] not in _listed(admin)
    r = alice.patch(path, [{'op': 'replace', 'path': '/name', 'value': 'x'}],
                    media=V21)
    assert r.status_code == 404


def test_delete_removes_the_data_from_the_store(alice, ref_server):
    image = alice.create(name='with-data', disk_format='raw',
                         container_format='bare')
    assert alice.upload(image['id'], b'd' * 4096).status_code == 204
    stored = os.path.join(ref_server.workdir, 'stores', 'fast', image['id'])
    assert os.path.getsize(stored) == 4096
    assert alice.delete('/v2/images/%s' % image['id']).status_code == 204
    assert not os.path.exists(stored)
    assert alice.get('/v2/images/%s/file' % image['id']).status_code == 404


def test_protected_image_cannot_be_deleted_until_unprotected(alice, admin):
    image = alice.create(name='keep', protected=True)
    path = '/v2/images/%s' % image['id']
    r = alice.delete(path)
    assert r.status_code == 403
    assert 'protected' in r.text
    # Not even an admin may delete it while protected.
    assert admin.delete(path).status_code == 403
    assert alice.get(path).json() == image
    r = alice.patch(path, [{'op': 'replace', 'path': '/protected',
                            'value': 'false'}], media=V21)
    assert r.status_code == 400
    r = alice.patch(path, [{'op': 'replace', 'path': '/protected',
                            'value': False}], media=V21)
    assert r.status_code == 200 and r.json()['protected'] is False
    assert alice.delete(path).status_code == 204
    assert alice.get(path).status_code == 404


def test_who_may_delete(alice, admin, as_project, project, ref_server):
    image = alice.create(name='mine')
    path = '/v2/images/%s' % image['id']
    assert as_project(project, 'reader').delete(path).status_code == 403
    assert as_project(project, '').delete(path).status_code == 404
    assert as_project('delete-stranger').delete(path).status_code == 404
    assert Client(ref_server.url).delete(path).status_code == 401
    assert alice.get(path).json() == image
    # A community image is visible to others, but still not theirs to delete.
    alice.patch(path, [{'op': 'replace', 'path': '/visibility',
                        'value': 'community'}], media=V21)
    assert as_project('delete-stranger').delete(path).status_code == 403
    assert admin.delete(path).status_code == 204
    assert alice.get(path).status_code == 404


def test_unknown_and_malformed_ids(alice):
    assert alice.delete('/v2/images/%s' % uuid.uuid4()).status_code == 404
    assert alice.delete('/v2/images/not-a-uuid').status_code == 404


def test_delete_on_the_collection_is_405(alice):
    r = alice.delete('/v2/images')
    assert r.status_code == 405
    assert r.headers['Allow'] == 'GET, POST'


@pytest.mark.parametrize('path', ['/v2/images/%s?_method=DELETE',
                                  '/v2/images?_method=DELETE&id=%s'])
def test_method_override_is_never_honoured(alice, path):
    """A POST stays a POST whatever ``_method`` says: the reference refuses
    it (4xx) and the image is still there."""
    image = alice.create(name='keep')
    r = alice.post(path % image['id'])
    assert 400 <= r.status_code < 500
    r = alice.post(path % image['id'], data={'_method': 'DELETE'})
    assert 400 <= r.status_code < 500
    assert alice.get('/v2/images/%s' % image['id']).status_code == 200
