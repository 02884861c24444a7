"""Version discovery and negotiation, and the image schemas served."""
from __future__ import annotations

import json
import os

import pytest

from glance.domain import image as domain_image
from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import ROOT, GlanceServer

#: without an image cache (the reference profile) the cache API's versions
#: 2.14, 2.16 and 2.18 are not offered and 2.17 is CURRENT, as in the
#: reference service's recording
EXPECTED_VERSIONS = ['v2.%d' % m for m in range(17, -1, -1)
                     if m not in (14, 16)]
#: with an image cache every version up to 2.18
CACHE_VERSIONS = ['v2.%d' % m for m in range(18, -1, -1)]


@pytest.fixture(scope='module')
def member(ref_server) -> Client:
    return Client(ref_server.url, identity('versions-pa'))


@pytest.fixture(scope='module')
def anon(ref_server) -> Client:
    return Client(ref_server.url)


def check_versions(r, base: str, expected: list[str] = EXPECTED_VERSIONS
                   ) -> None:
    assert r.headers['Content-Type'] == 'application/json'
    versions = r.json()['versions']
    assert [v['id'] for v in versions] == expected
    assert [v['status'] for v in versions] == \
        ['CURRENT'] + ['SUPPORTED'] * (len(expected) - 1)
    for v in versions:
        assert v['links'] == [{'rel': 'self', 'href': base + '/v2/'}]


@pytest.mark.parametrize('method,path,status', [
    ('GET', '/', 300), ('GET', '/versions', 200), ('GET', '/versions/', 200),
    ('POST', '/', 300), ('GET', '/v1/images', 300), ('GET', '/v3/images', 300),
    ('GET', '/v1', 300), ('GET', '/v2.19/images', 300),
    ('GET', '/v2.18/images', 300), ('GET', '/v2.16/images', 300),
    ('DELETE', '/v3/images/x', 300),
])
def test_version_documents(anon, ref_server, method, path, status):
    r = anon.request(method, path)
    assert r.status_code == status
    check_versions(r, ref_server.url)


@pytest.mark.parametrize('path', ['/v2', '/v2/', '/v2/images', '/v2.1/images',
                                  '/v2.17/images'])
def test_versioned_paths_need_identity(anon, path):
    assert anon.get(path).status_code == 401


@pytest.mark.parametrize('path', ['/v2/images', '/v2.0/images',
                                  '/v2.1/images', '/v2.17/images'])
def test_minor_version_in_url_reaches_v2(member, path):
    r = member.get(path)
    assert r.status_code == 200
    assert r.json()['schema'] == '/v2/schemas/images'


@pytest.mark.parametrize('accept,status', [
    ('application/vnd.openstack.images-v2+json', 200),
    ('application/vnd.openstack.images-v2.1+json', 200),
    ('application/vnd.openstack.images-v2.17', 200),
    ('application/vnd.openstack.images-v2.18', 300),      # no cache here
    ('application/vnd.openstack.images-v2.19+json', 300),
    ('application/vnd.openstack.images-v3+json', 300),
    ('application/json', 300),
    (None, 300),
])
def test_media_type_negotiation(member, ref_server, accept, status):
    headers = {'Accept': accept} if accept else {}
    r = member.get('/images', headers=headers)
    assert r.status_code == status
    if status == 200:
        assert r.json()['first'] == '/v2/images'
    else:
        check_versions(r, ref_server.url)


@pytest.fixture(scope='module')
def endpoint_server(tmp_path_factory):
    srv = GlanceServer(str(tmp_path_factory.mktemp('glance-endpoint')),
                       settings=['DEFAULT.public_endpoint='
                                 'https://images.example.com/']).start()
    yield srv
    srv.stop()


def test_public_endpoint_is_used_in_links(endpoint_server):
    r = Client(endpoint_server.url).get('/versions')
    check_versions(r, 'https://images.example.com')


def test_cache_versions_only_with_a_cache(tmp_path_factory):
    # the reference offers the cache API's versions (2.14, 2.16, 2.18)
    # only where image_cache_dir is set; then 2.18 is CURRENT
    work = str(tmp_path_factory.mktemp('glance-cache-versions'))
    srv = GlanceServer(work, settings=[
        'DEFAULT.image_cache_dir=%s' % os.path.join(work, 'cache')]).start()
    try:
        client = Client(srv.url)
        check_versions(client.get('/versions'), srv.url, CACHE_VERSIONS)
        r = client.get('/v2.18/images')
        assert r.status_code == 200, r.text
    finally:
        srv.stop()


# -- schemas -----------------------------------------------------------------

def _custom() -> dict:
    with open(os.path.join(ROOT, 'etc', 'schema-image.json')) as f:
        return json.load(f)


def test_image_schema(member):
    r = member.get('/v2/schemas/image')
    assert r.status_code == 200
    assert r.headers['Content-Type'] == 'application/json'
    schema = r.json()
    assert schema['name'] == 'image'
    assert schema['additionalProperties'] == {'type': 'string'}
    assert schema['links'] == [
        {'rel': 'self', 'href': '{self}'},
        {'rel': 'enclosure', 'href': '{file}'},
        {'rel': 'describedby', 'href': '{schema}'}]
    props = schema['properties']
    base = {'id', 'name', 'status', 'visibility', 'protected', 'os_hidden',
            'checksum', 'os_hash_algo', 'os_hash_value', 'owner', 'size',
            'virtual_size', 'container_format', 'disk_format', 'created_at',
            'updated_at', 'tags', 'direct_url', 'min_ram', 'min_disk', 'self',
            'file', 'stores', 'schema', 'locations'}
    custom = _custom()
    assert set(props) == base | set(custom)
    for name in base:
        assert 'is_base' not in props[name], name
        assert props[name]['description'], name
    for name, declared in custom.items():
        assert props[name] == dict(declared, is_base=False), name
    read_only = {n for n, p in props.items() if p.get('readOnly')}
    assert read_only == {'status', 'checksum', 'os_hash_algo',
                         'os_hash_value', 'size', 'virtual_size',
                         'created_at', 'updated_at', 'direct_url', 'self',
                         'file', 'stores', 'schema'}
    assert props['visibility']['enum'] == ['community', 'public', 'private',
                                           'shared']
    assert props['disk_format']['enum'] == [
        None, 'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2',
        'vdi', 'iso', 'ploop']
    assert props['container_format']['enum'] == [
        None, 'ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker',
        'compressed']
    assert props['status']['enum'] == [
        'queued', 'saving', 'active', 'killed', 'deleted', 'uploading',
        'importing', 'pending_delete', 'deactivated']
    assert set(props['status']['enum']) == set(domain_image.STATUSES)
    assert props['name'] == dict(props['name'], type=['null', 'string'],
                                 maxLength=255)
    assert props['tags']['items'] == {'type': 'string', 'maxLength': 255}
    assert props['min_ram']['type'] == 'integer'
    assert props['locations']['items']['required'] == ['url', 'metadata']


def test_images_schema(member):
    image = member.get('/v2/schemas/image').json()
    r = member.get('/v2/schemas/images')
    assert r.status_code == 200
    schema = r.json()
    assert schema['name'] == 'images'
    assert schema['properties']['images'] == {'type': 'array',
                                              'items': image}
    for key in ('schema', 'first', 'next'):
        assert schema['properties'][key] == {'type': 'string'}
    assert schema['links'] == [
        {'rel': 'first', 'href': '{first}'},
        {'rel': 'next', 'href': '{next}'},
        {'rel': 'describedby', 'href': '{schema}'}]


def test_schema_errors(member, anon):
    assert member.get('/v2/schemas/nonexistent').status_code == 404
    assert anon.get('/v2/schemas/image').status_code == 401
    r = member.post('/v2/schemas/image', json={})
    assert r.status_code == 405
    assert r.headers['Allow'] == 'GET'
    # Readers and callers without a role may read schemas too.
    ref = member.get('/v2/schemas/image').json()
    reader = Client(member.base, identity('versions-pa', ''))
    assert reader.get('/v2/schemas/image').json() == ref


def test_records_match_the_schema(member):
    """Every image the API returns validates against the schema it serves."""
    import jsonschema

    schema = member.get('/v2/schemas/image').json()
    image = member.create(name='s', kernel_id=None, os_distro='x',
                          free='form', disk_format='raw')
    jsonschema.Draft4Validator(schema).validate(image)
    listing = member.get('/v2/images').json()
    jsonschema.Draft4Validator(member.get('/v2/schemas/images').json()
                               ).validate(listing)
