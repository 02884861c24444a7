"""POST /v2/images and GET /v2/images/{id}: the image record contract.

Runs against the reference configuration (identity headers, secure RBAC,
two file stores, schema-image.json); every project is unique to its test.
"""
from __future__ import annotations

import uuid

import pytest

from glance.tests.functional.conftest import Client

UUID_A = 'a1b2c3d4-0000-4000-8000-00000000000a'
BASE_KEYS = {'id', 'name', 'status', 'visibility', 'owner', 'protected',
             'os_hidden', 'min_disk', 'min_ram', 'container_format',
             'disk_format', 'size', 'virtual_size', 'checksum',
             'os_hash_algo', 'os_hash_value', 'tags', 'created_at',
             'updated_at', 'self', 'file', 'schema'}


@pytest.fixture
def project():
    return 'create-%s' % uuid.uuid4().hex[:10]


@pytest.fixture
def alice(as_project, project) -> Client:
    return as_project(project)


@pytest.fixture
def admin(as_project) -> Client:
    return as_project('create-admin', 'admin,member,reader')


def _ids(client: Client) -> set[str]:
    r = client.get('/v2/images?limit=1000&visibility=all')
    assert r.status_code == 200, r.text
    return {i['id'] for i in r.json()['images']}


def test_create_with_empty_body_gives_every_default(alice, project,
                                                    ref_server):
    r = alice.post('/v2/images', json={})
    assert r.status_code == 201, r.text
    image = r.json()
    assert set(image) == BASE_KEYS
    assert image['status'] == 'queued'
    assert image['visibility'] == 'shared'
    assert image['owner'] == project
    assert image['protected'] is False and image['os_hidden'] is False
    assert image['min_disk'] == 0 and image['min_ram'] == 0
    for key in ('name', 'container_format', 'disk_format', 'size',
                'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value'):
        assert image[key] is None, key
    assert image['tags'] == []
    assert image['self'] == '/v2/images/%s' % image['id']
    assert image['file'] == '/v2/images/%s/file' % image['id']
    assert image['schema'] == '/v2/schemas/image'
    assert image['created_at'].endswith('Z')
    assert image['created_at'] == image['updated_at']
    assert r.headers['Location'] == '%s/v2/images/%s' % (
        ref_server.url, image['id'])
    assert r.headers['OpenStack-image-import-methods'] == \
        'glance-direct,web-download,copy-image'
    assert r.headers['OpenStack-image-store-ids'] == 'fast,cheap'
    assert alice.get('/v2/images/%s' % image['id']).json() == image


def test_create_with_every_field_and_show_it(alice, project):
    kernel = str(uuid.uuid4())
    body = {
        'id': str(uuid.uuid4()), 'name': 'full \u00e9t\u00e9',
        'visibility': 'private', 'protected': True, 'os_hidden': True,
        'min_disk': 5, 'min_ram': 512, 'container_format': 'bare',
        'disk_format': 'qcow2', 'tags': ['b', 'a', 'b'],
        'kernel_id': kernel, 'ramdisk_id': None, 'os_distro': 'fedora',
        'architecture': 'x86_64', 'description': 'every field',
        'cinder_encryption_key_deletion_policy': 'do_not_delete',
        'hw_disk_bus': 'scsi', 'empty': '',
    }
    r = alice.post('/v2/images', json=body)
    assert r.status_code == 201, r.text
    image = r.json()
    expected = dict(body, tags=['a', 'b'], owner=project, status='queued')
    for key, value in expected.items():
        assert image[key] == value, key
    shown = alice.get('/v2/images/%s' % body['id'])
    assert shown.status_code == 200
    assert shown.json() == image
    # Properties stay out of the record until set, then appear as given.
    assert 'instance_uuid' not in image


def test_client_supplied_id_and_duplicate(alice, admin):
    image_id = str(uuid.uuid4())
    assert alice.post('/v2/images', json={'id': image_id}).status_code == 201
    again = alice.post('/v2/images', json={'id': image_id, 'name': 'dup'})
    assert again.status_code == 409
    assert image_id in again.text
    # Another project (even admin) cannot take the id either.
    assert admin.post('/v2/images', json={'id': image_id}).status_code == 409
    # Ids are never reused, even once the image is deleted.
    assert alice.delete('/v2/images/%s' % image_id).status_code == 204
    assert alice.post('/v2/images', json={'id': image_id}).status_code == 409
    assert alice.get('/v2/images/%s' % image_id).status_code == 404


@pytest.mark.parametrize('key,value', [
    ('status', 'active'), ('size', 10), ('virtual_size', 10),
    ('checksum', 'a' * 32), ('created_at', '2020-01-01T00:00:00Z'),
    ('updated_at', '2020-01-01T00:00:00Z'), ('self', '/x'), ('file', '/x'),
    ('schema', '/x'), ('direct_url', 'file:///x'), ('stores', 'fast'),
])
def test_read_only_fields_are_refused(alice, key, value):
    before = _ids(alice)
    r = alice.post('/v2/images', json={'name': 'ro', key: value})
    assert r.status_code == 403, r.text
    assert 'read-only' in r.text and key in r.text
    assert _ids(alice) == before


def test_hash_fields_on_create_are_ignored(alice):
    r = alice.post('/v2/images', json={'os_hash_algo': 'md5',
                                       'os_hash_value': 'aa'})
    assert r.status_code == 201, r.text
    assert r.json()['os_hash_algo'] is None
    assert r.json()['os_hash_value'] is None


@pytest.mark.parametrize('key', ['os_glance_import_task', 'os_glance_x',
                                 'location', 'deleted', 'deleted_at'])
def test_reserved_names_are_refused(alice, key):
    before = _ids(alice)
    r = alice.post('/v2/images', json={key: 'x'})
    assert r.status_code == 403, r.text
    assert 'reserved' in r.text and key in r.text
    assert _ids(alice) == before


def test_locations_cannot_be_given_on_create(alice):
    r = alice.post('/v2/images', json={'locations': [
        {'url': 'file:///etc/passwd', 'metadata': {}}]})
    assert r.status_code == 403


@pytest.mark.parametrize('body,needle', [
    ({'visibility': 'everyone'}, 'visibility'),
    ({'disk_format': 'floppy'}, 'disk_format'),
    ({'container_format': 'crate'}, 'container_format'),
    ({'name': 'n' * 256}, 'name'),
    ({'name': 42}, 'name'),
    ({'min_ram': -1}, 'min_ram'),
    ({'min_disk': 'big'}, 'min_disk'),
    ({'min_disk': None}, 'min_disk'),
    ({'protected': 'yes'}, 'protected'),
    ({'os_hidden': 1}, 'os_hidden'),
    ({'id': 'not-a-uuid'}, 'id'),
    ({'tags': 'red'}, 'tags'),
    ({'tags': ['t' * 256]}, 'tags'),
    ({'tags': [1]}, 'tags'),
    ({'extra': 1}, 'extra'),
    ({'extra': None}, 'extra'),
    ({'extra': ['a']}, 'extra'),
    ({'kernel_id': 'nope'}, 'kernel_id'),
    ({'ramdisk_id': '1234'}, 'ramdisk_id'),
    ({'cinder_encryption_key_deletion_policy': 'sometimes'},
     'cinder_encryption_key_deletion_policy'),
    ({'os_distro': 7}, 'os_distro'),
    ({'k' * 256: 'v'}, '255'),
])
def test_schema_violations_are_400(alice, body, needle):
    before = _ids(alice)
    r = alice.post('/v2/images', json=body)
    assert r.status_code == 400, r.text
    assert needle in r.text
    assert _ids(alice) == before


def test_name_of_255_characters_is_fine(alice):
    image = alice.create(name='n' * 255)
    assert image['name'] == 'n' * 255


def test_null_is_a_value_where_the_schema_allows_it(alice, admin):
    image = alice.create(name=None, kernel_id=None, disk_format=None,
                         container_format=None)
    assert image['name'] is None and image['kernel_id'] is None
    assert image['disk_format'] is None
    # A null owner is an image of no project: only an admin may make one.
    r = alice.post('/v2/images', json={'owner': None})
    assert r.status_code == 403, r.text
    assert admin.create(owner=None)['owner'] is None


@pytest.mark.parametrize('disk_format', ['ami', 'ari', 'aki', 'vhd', 'vhdx',
                                         'vmdk', 'raw', 'qcow2', 'vdi',
                                         'iso', 'ploop'])
def test_every_configured_disk_format_is_accepted(alice, disk_format):
    image = alice.create(disk_format=disk_format)
    assert image['disk_format'] == disk_format


@pytest.mark.parametrize('container_format', ['ami', 'ari', 'aki', 'bare',
                                              'ovf', 'ova', 'docker',
                                              'compressed'])
def test_every_configured_container_format_is_accepted(alice,
                                                       container_format):
    image = alice.create(container_format=container_format)
    assert image['container_format'] == container_format


@pytest.mark.parametrize('raw,content_type', [
    (b'{"name": "x"', 'application/json'),
    (b'\xff\xfe', 'application/json'),
    (b'', 'application/json'),
    (b'[{"name": "x"}]', 'application/json'),
    (b'"just a string"', 'application/json'),
    (b'null', 'application/json'),
])
def test_bodies_that_are_not_an_image_object_are_400(alice, raw,
                                                     content_type):
    before = _ids(alice)
    r = alice.post('/v2/images', data=raw,
                   headers={'Content-Type': content_type})
    assert r.status_code == 400, r.text
    assert _ids(alice) == before


def test_visibility_rules_on_create(alice, admin, project):
    r = alice.post('/v2/images', json={'visibility': 'public'})
    assert r.status_code == 403, r.text
    for visibility in ('private', 'shared', 'community'):
        assert alice.create(visibility=visibility)['visibility'] == \
            visibility
    public = admin.create(name='pub', visibility='public')
    assert public['visibility'] == 'public'
    assert admin.delete('/v2/images/%s' % public['id']).status_code == 204


def test_owner_of_another_project(alice, admin):
    other = 'create-other-%s' % uuid.uuid4().hex[:8]
    r = alice.post('/v2/images', json={'name': 'gift', 'owner': other})
    assert r.status_code == 403, r.text
    image = admin.create(name='for-other', owner=other)
    assert image['owner'] == other
    # The new owner sees it; the admin's own project does not own it.
    assert Client(admin.base, {**admin.session.headers,
                               'X-Project-Id': other,
                               'X-Tenant-Id': other,
                               'X-Roles': 'reader'}).get(
        '/v2/images/%s' % image['id']).status_code == 200


@pytest.mark.parametrize('roles', ['reader', ''])
def test_reader_and_no_role_cannot_create(as_project, project, roles):
    r = as_project(project, roles).post('/v2/images', json={'name': 'x'})
    assert r.status_code == 403, r.text


def test_anonymous_cannot_create(ref_server):
    anon = Client(ref_server.url)
    r = anon.post('/v2/images', json={'name': 'x'})
    assert r.status_code == 401
    r = anon.post('/v2/images', json={'name': 'x'},
                  headers={'X-Roles': 'admin', 'X-Project-Id': 'p'})
    assert r.status_code == 401


def test_property_quota_applies_on_create(alice):
    body = {'p%d' % i: 'v' for i in range(129)}
    before = _ids(alice)
    r = alice.post('/v2/images', json=body)
    assert r.status_code == 413, r.text
    assert _ids(alice) == before
    body.pop('p0')
    assert alice.post('/v2/images', json=body).status_code == 201


def test_large_property_value_round_trips(alice):
    value = 'v' * 70000
    image = alice.create(big=value)
    shown = alice.get('/v2/images/%s' % image['id']).json()
    assert shown['big'] == value


# -- GET /v2/images/{image_id} ------------------------------------------------

def test_show_visibility_rules(as_project, alice, admin, project):
    image = alice.create(name='mine', visibility='private')
    path = '/v2/images/%s' % image['id']
    assert alice.get(path).json()['name'] == 'mine'
    assert as_project(project, 'reader').get(path).status_code == 200
    other = as_project('create-stranger')
    r = other.get(path)
    assert r.status_code == 404
    assert image['id'] in r.text
    assert admin.get(path).status_code == 200
    # Without any role the project's own image is not found either.
    assert as_project(project, '').get(path).status_code == 404
    community = alice.create(name='comm', visibility='community')
    assert other.get('/v2/images/%s' % community['id']).status_code == 200


def test_show_unknown_and_malformed_ids(alice):
    assert alice.get('/v2/images/%s' % uuid.uuid4()).status_code == 404
    assert alice.get('/v2/images/not-a-uuid').status_code == 404
    image = alice.create(name='slash')
    assert alice.get('/v2/images/%s/' % image['id']).status_code == 404


def test_show_errors_as_json_when_asked(alice):
    r = alice.get('/v2/images/%s' % UUID_A,
                  headers={'Accept': 'application/json'})
    assert r.status_code == 404
    body = r.json()
    assert body['code'] == '404 Not Found'
    assert body['title'] == 'Not Found'
    assert UUID_A in body['message']


def test_show_without_identity_is_401(ref_server, alice):
    image = alice.create(name='x')
    assert Client(ref_server.url).get(
        '/v2/images/%s' % image['id']).status_code == 401


def test_noauth_server_creates_ownerless_images(client):
    r = client.post('/v2/images', json={'name': 'noauth',
                                        'visibility': 'public'})
    assert r.status_code == 201, r.text
    image = r.json()
    assert image['owner'] is None and image['visibility'] == 'public'
    assert 'OpenStack-image-store-ids' not in r.headers
    assert client.get('/v2/images/%s' % image['id']).json() == image
