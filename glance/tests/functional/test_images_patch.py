"""PATCH /v2/images/{id}: both JSON-patch media types and their rules.

Every refused patch is checked to leave the image exactly as it was.
"""
from __future__ import annotations

import json
import uuid

import pytest

from glance.tests.functional.conftest import Client

V21 = 'application/openstack-images-v2.1-json-patch'
V20 = 'application/openstack-images-v2.0-json-patch'


@pytest.fixture
def project():
    return 'patch-%s' % uuid.uuid4().hex[:10]


@pytest.fixture
def alice(as_project, project) -> Client:
    return as_project(project)


@pytest.fixture
def image(alice) -> dict:
    return alice.create(name='p1', disk_format='raw', container_format='bare',
                        tags=['one'], color='red')


def path_of(image: dict) -> str:
    return '/v2/images/%s' % image['id']


def patch21(client: Client, image: dict, *ops):
    return client.patch(path_of(image), list(ops), media=V21)


def unchanged(client: Client, image: dict) -> bool:
    return client.get(path_of(image)).json() == image


# -- the v2.1 media type -----------------------------------------------------

def test_add_replace_remove_extra_property(alice, image):
    r = patch21(alice, image, {'op': 'add', 'path': '/size_hint',
                               'value': 'big'})
    assert r.status_code == 200, r.text
    assert r.json()['size_hint'] == 'big'
    r = patch21(alice, image, {'op': 'replace', 'path': '/size_hint',
                               'value': 'small'})
    assert r.json()['size_hint'] == 'small'
    # add on an existing property replaces it
    r = patch21(alice, image, {'op': 'add', 'path': '/size_hint',
                               'value': 'medium'})
    assert r.json()['size_hint'] == 'medium'
    r = patch21(alice, image, {'op': 'remove', 'path': '/size_hint'})
    assert r.status_code == 200
    assert 'size_hint' not in r.json()
    shown = alice.get(path_of(image)).json()
    assert 'size_hint' not in shown and shown['color'] == 'red'


def test_replace_core_properties(alice, image):
    ops = [('name', 'renamed'), ('min_ram', 1024), ('min_disk', 20),
           ('disk_format', 'qcow2'), ('container_format', 'ovf'),
           ('visibility', 'private'), ('os_hidden', True),
           ('protected', True), ('name', None)]
    r = patch21(alice, image, *[{'op': 'replace', 'path': '/' + k,
                                 'value': v} for k, v in ops])
    assert r.status_code == 200, r.text
    got = r.json()
    assert got['name'] is None and got['min_ram'] == 1024
    assert got['min_disk'] == 20 and got['disk_format'] == 'qcow2'
    assert got['container_format'] == 'ovf'
    assert got['visibility'] == 'private'
    assert got['os_hidden'] is True and got['protected'] is True
    assert alice.get(path_of(image)).json() == got
    # protected flips back, and the image may then be deleted
    r = patch21(alice, image, {'op': 'replace', 'path': '/protected',
                               'value': False})
    assert r.json()['protected'] is False
    assert alice.delete(path_of(image)).status_code == 204


def test_several_operations_apply_in_order(alice, image):
    r = patch21(alice, image,
                {'op': 'add', 'path': '/a', 'value': '1'},
                {'op': 'replace', 'path': '/a', 'value': '2'},
                {'op': 'add', 'path': '/b', 'value': '3'},
                {'op': 'remove', 'path': '/color'},
                {'op': 'add', 'path': '/color', 'value': 'blue'})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got['a'], got['b'], got['color']) == ('2', '3', 'blue')


def test_tags_are_replaced_as_a_whole(alice, image):
    r = patch21(alice, image, {'op': 'replace', 'path': '/tags',
                               'value': ['x', 'y', 'x']})
    assert r.status_code == 200
    assert sorted(r.json()['tags']) == ['x', 'y']
    r = patch21(alice, image, {'op': 'add', 'path': '/tags', 'value': []})
    assert r.json()['tags'] == []
    assert alice.get(path_of(image)).json()['tags'] == []


def test_json_pointer_escapes(alice, image):
    r = patch21(alice, image, {'op': 'add', 'path': '/a~1b~0c',
                               'value': 'v'})
    assert r.status_code == 200, r.text
    assert r.json()['a/b~c'] == 'v'
    r = patch21(alice, image, {'op': 'remove', 'path': '/a~1b~0c'})
    assert 'a/b~c' not in r.json()


def test_custom_schema_properties(alice, image):
    kernel = str(uuid.uuid4())
    r = patch21(alice, image, {'op': 'add', 'path': '/kernel_id',
                               'value': kernel},
                {'op': 'add', 'path': '/os_distro', 'value': 'debian'})
    assert r.status_code == 200
    assert r.json()['kernel_id'] == kernel
    r = patch21(alice, image, {'op': 'replace', 'path': '/kernel_id',
                               'value': None})
    assert r.json()['kernel_id'] is None
    # Unlike the base properties, schema-image.json ones can be removed.
    r = patch21(alice, image, {'op': 'remove', 'path': '/kernel_id'})
    assert r.status_code == 200 and 'kernel_id' not in r.json()


@pytest.mark.parametrize('op', [
    {'op': 'remove', 'path': '/missing'},
    {'op': 'replace', 'path': '/missing', 'value': 'x'},
    {'op': 'remove', 'path': '/kernel_id'},
])
def test_missing_property_is_409(alice, image, op):
    r = patch21(alice, image, {'op': 'add', 'path': '/a', 'value': 'b'}, op)
    assert r.status_code == 409, r.text
    assert op['path'][1:] in r.text
    assert unchanged(alice, image)


@pytest.mark.parametrize('op,needle', [
    ({'op': 'replace', 'path': '/status', 'value': 'active'}, 'read-only'),
    ({'op': 'replace', 'path': '/id', 'value': str(uuid.uuid4())},
     'read-only'),
    ({'op': 'replace', 'path': '/size', 'value': 1}, 'read-only'),
    ({'op': 'add', 'path': '/checksum', 'value': 'a' * 32}, 'read-only'),
    ({'op': 'replace', 'path': '/created_at',
      'value': '2020-01-01T00:00:00Z'}, 'read-only'),
    ({'op': 'remove', 'path': '/updated_at'}, 'read-only'),
    ({'op': 'replace', 'path': '/os_hash_value', 'value': 'x'}, 'read-only'),
    ({'op': 'add', 'path': '/direct_url', 'value': 'x'}, 'read-only'),
    ({'op': 'add', 'path': '/self', 'value': 'x'}, 'read-only'),
    ({'op': 'add', 'path': '/os_glance_import_task', 'value': 'x'},
     'reserved'),
    ({'op': 'remove', 'path': '/os_glance_x'}, 'reserved'),
    ({'op': 'add', 'path': '/deleted', 'value': 'x'}, 'reserved'),
    ({'op': 'remove', 'path': '/location'}, 'reserved'),
    ({'op': 'remove', 'path': '/name'}, 'name'),
    ({'op': 'remove', 'path': '/visibility'}, 'visibility'),
    ({'op': 'remove', 'path': '/protected'}, 'protected'),
    ({'op': 'remove', 'path': '/tags'}, 'tags'),
    ({'op': 'remove', 'path': '/disk_format'}, 'disk_format'),
    ({'op': 'remove', 'path': '/min_ram'}, 'min_ram'),
    ({'op': 'add', 'path': '/locations/-',
      'value': {'url': 'file:///etc/passwd', 'metadata': {}}}, ''),
    ({'op': 'replace', 'path': '/locations', 'value': []}, ''),
])
def test_forbidden_targets_are_403(alice, image, op, needle):
    r = patch21(alice, image, {'op': 'add', 'path': '/a', 'value': 'b'}, op)
    assert r.status_code == 403, r.text
    assert needle in r.text
    assert unchanged(alice, image)


@pytest.mark.parametrize('body', [
    [{'op': 'move', 'from': '/name', 'path': '/x'}],
    [{'op': 'test', 'path': '/name', 'value': 'p1'}],
    [{'op': 'copy', 'from': '/name', 'path': '/x'}],
    [{'path': '/name', 'value': 'x'}],
    [{'op': 'replace', 'value': 'x'}],
    [{'op': 'replace', 'path': '/name'}],
    [{'op': 'add', 'path': '/x'}],
    [{'op': 'replace', 'path': '/', 'value': 'x'}],
    [{'op': 'replace', 'path': 'name', 'value': 'x'}],
    [{'op': 'replace', 'path': '/name/first', 'value': 'x'}],
    [{'op': 'replace', 'path': '/tags/-', 'value': 'x'}],
    [{'op': 'add', 'path': '/a//b', 'value': 'x'}],
    [{'op': 'add', 'path': '/x/', 'value': 'x'}],
    [{'op': 'add', 'path': '/a~2', 'value': 'x'}],
    [{'op': 'add', 'path': 7, 'value': 'x'}],
    {'op': 'replace', 'path': '/name', 'value': 'x'},
    ['replace'],
    'replace',
])
def test_malformed_operations_are_400(alice, image, body):
    r = alice.patch(path_of(image), body, media=V21)
    assert r.status_code == 400, r.text
    assert unchanged(alice, image)


@pytest.mark.parametrize('op,needle', [
    ({'op': 'replace', 'path': '/visibility', 'value': 'everyone'},
     'visibility'),
    ({'op': 'replace', 'path': '/disk_format', 'value': 'floppy'},
     'disk_format'),
    ({'op': 'replace', 'path': '/container_format', 'value': 'crate'},
     'container_format'),
    ({'op': 'replace', 'path': '/name', 'value': 'n' * 256}, 'name'),
    ({'op': 'replace', 'path': '/min_ram', 'value': -1}, 'min_ram'),
    ({'op': 'replace', 'path': '/min_disk', 'value': None}, 'min_disk'),
    ({'op': 'replace', 'path': '/protected', 'value': 'true'}, 'protected'),
    ({'op': 'replace', 'path': '/os_hidden', 'value': None}, 'os_hidden'),
    ({'op': 'add', 'path': '/tags', 'value': 'one'}, 'tags'),
    ({'op': 'add', 'path': '/extra', 'value': 1}, 'extra'),
    ({'op': 'add', 'path': '/extra', 'value': None}, 'extra'),
    ({'op': 'add', 'path': '/kernel_id', 'value': 'nope'}, 'kernel_id'),
    ({'op': 'add', 'path': '/cinder_encryption_key_deletion_policy',
      'value': 'sometimes'}, 'cinder_encryption_key_deletion_policy'),
    ({'op': 'add', 'path': '/' + 'k' * 256, 'value': 'v'}, '255'),
])
def test_bad_values_are_400(alice, image, op, needle):
    r = patch21(alice, image, {'op': 'add', 'path': '/a', 'value': 'b'}, op)
    assert r.status_code == 400, r.text
    assert needle in r.text
    assert unchanged(alice, image)


def test_bad_value_is_reported_before_a_missing_property(alice, image):
    r = patch21(alice, image, {'op': 'replace', 'path': '/missing',
                               'value': 'x'},
                {'op': 'add', 'path': '/kernel_id', 'value': 'nope'})
    assert r.status_code == 400, r.text


def test_invalid_json_is_400(alice, image):
    r = alice.request('PATCH', path_of(image), data=b'[{"op": "add"',
                      headers={'Content-Type': V21})
    assert r.status_code == 400
    r = alice.request('PATCH', path_of(image), data=b'',
                      headers={'Content-Type': V21})
    assert r.status_code == 400
    assert unchanged(alice, image)


@pytest.mark.parametrize('media', ['application/json', 'text/plain',
                                   'application/json-patch+json', None])
def test_other_media_types_are_415(alice, image, media):
    headers = {'Content-Type': media} if media else {}
    r = alice.request('PATCH', path_of(image), headers=headers,
                      data=json.dumps([{'op': 'replace', 'path': '/name',
                                        'value': 'x'}]))
    assert r.status_code == 415, r.text
    assert unchanged(alice, image)


def test_empty_patch_changes_nothing(alice, image):
    r = patch21(alice, image)
    assert r.status_code == 200
    assert r.json()['name'] == 'p1' and r.json()['color'] == 'red'


def test_property_quota(alice, image):
    ops = [{'op': 'add', 'path': '/p%d' % i, 'value': 'v'}
           for i in range(128)]
    r = patch21(alice, image, *ops)
    assert r.status_code == 413, r.text   # color + 128 > 128
    assert unchanged(alice, image)
    r = patch21(alice, image, *ops[:127])
    assert r.status_code == 200 and r.json()['p126'] == 'v'


# -- the v2.0 media type -----------------------------------------------------

def test_v20_media_type(alice, image):
    r = alice.patch(path_of(image), [
        {'replace': '/name', 'value': 'old-style'},
        {'add': '/size_hint', 'value': 'big'},
        {'remove': '/color'}], media=V20)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got['name'] == 'old-style' and got['size_hint'] == 'big'
    assert 'color' not in got
    assert alice.get(path_of(image)).json() == got


@pytest.mark.parametrize('body,status', [
    ([{'replace': '/name', 'add': '/x', 'value': 'y'}], 400),
    ([{'op': 'replace', 'path': '/name', 'value': 'y'}], 400),
    ([{'move': '/name', 'value': 'y'}], 400),
    ([{'replace': '/name'}], 400),
    ([{'remove': '/missing'}], 409),
    ([{'replace': '/status', 'value': 'active'}], 403),
])
def test_v20_errors(alice, image, body, status):
    r = alice.patch(path_of(image), body, media=V20)
    assert r.status_code == status, r.text
    assert unchanged(alice, image)


# -- who may patch -----------------------------------------------------------

def test_visibility_changes_by_member(alice, image, as_project):
    r = patch21(alice, image, {'op': 'replace', 'path': '/visibility',
                               'value': 'public'})
    assert r.status_code == 403
    assert unchanged(alice, image)
    r = patch21(alice, image, {'op': 'replace', 'path': '/visibility',
                               'value': 'community'})
    assert r.status_code == 200 and r.json()['visibility'] == 'community'
    admin = as_project('patch-admin', 'admin,member,reader')
    r = patch21(admin, image, {'op': 'replace', 'path': '/visibility',
                               'value': 'public'})
    assert r.status_code == 200 and r.json()['visibility'] == 'public'
    # The owner may take it back out of the public catalogue.
    r = patch21(alice, image, {'op': 'replace', 'path': '/visibility',
                               'value': 'private'})
    assert r.status_code == 200 and r.json()['visibility'] == 'private'


def test_owner_change(alice, image, as_project):
    r = patch21(alice, image, {'op': 'replace', 'path': '/owner',
                               'value': 'someone-else'})
    assert r.status_code == 403
    assert unchanged(alice, image)
    admin = as_project('patch-admin', 'admin,member,reader')
    r = patch21(admin, image, {'op': 'replace', 'path': '/owner',
                               'value': 'someone-else'})
    assert r.status_code == 200 and r.json()['owner'] == 'someone-else'
    assert alice.get(path_of(image)).status_code == 404


def test_reader_other_project_and_anonymous(alice, image, project,
                                            as_project, ref_server):
    op = {'op': 'replace', 'path': '/name', 'value': 'x'}
    assert patch21(as_project(project, 'reader'), image, op).status_code \
        == 403
    stranger = as_project('patch-stranger')
    assert patch21(stranger, image, op).status_code == 404
    # A community image is visible to the stranger but not theirs to change.
    patch21(alice, image, {'op': 'replace', 'path': '/visibility',
                           'value': 'community'})
    image = alice.get(path_of(image)).json()
    assert patch21(stranger, image, op).status_code == 403
    assert patch21(Client(ref_server.url), image, op).status_code == 401
    assert unchanged(alice, image)


def test_unknown_image_is_404(alice):
    r = alice.patch('/v2/images/%s' % uuid.uuid4(),
                    [{'op': 'replace', 'path': '/name', 'value': 'x'}],
                    media=V21)
    assert r.status_code == 404


@pytest.mark.parametrize('field,value', [('disk_format', 'qcow2'),
                                         ('container_format', 'ovf')])
def test_formats_can_be_replaced_only_while_queued(alice, image, field,
                                                   value):
    """The reference answers 403 "can be only replaced for a queued image"
    once the image has data: the formats describe those bytes."""
    assert alice.upload(image['id'], b'some data').status_code == 204
    active = alice.get(path_of(image)).json()
    r = patch21(alice, active, {'op': 'replace', 'path': '/' + field,
                                'value': value})
    assert r.status_code == 403
    assert 'only replaced for a queued image' in r.text
    assert unchanged(alice, active)
