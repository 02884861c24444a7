"""Protocol-level errors: methods, paths, bodies, identities, error formats.

Each refusal is checked for its status, its headers where the protocol
requires them, and that the catalogue did not change.
"""
from __future__ import annotations

import pytest

from glance.tests.functional.conftest import Client, identity

NIL = '00000000-0000-0000-0000-000000000000'
PROJECT = 'bad-inputs-pa'


@pytest.fixture(scope='module')
def alice(ref_server) -> Client:
    return Client(ref_server.url, identity(PROJECT))


def _ids(client: Client) -> list[str]:
    r = client.get('/v2/images?limit=1000&os_hidden=false')
    assert r.status_code == 200
    return sorted(i['id'] for i in r.json()['images'])


@pytest.mark.parametrize('method,path,allow', [
    ('PUT', '/v2/images', 'GET, POST'),
    ('PATCH', '/v2/images', 'GET, POST'),
    ('DELETE', '/v2/images', 'GET, POST'),
    ('HEAD', '/v2/images', 'GET, POST'),
    ('POST', '/v2/images/' + NIL, 'GET, PATCH, DELETE'),
    ('PUT', '/v2/images/' + NIL, 'GET, PATCH, DELETE'),
    ('POST', '/v2/schemas/image', 'GET'),
    ('DELETE', '/v2/schemas/images', 'GET'),
])
def test_unsupported_methods_are_405_with_allow(alice, method, path, allow):
    r = alice.request(method, path, json={})
    assert r.status_code == 405
    assert r.headers['Allow'] == allow


@pytest.mark.parametrize('path,allow', [
    ('/v2/images', 'GET, POST'),
    ('/v2/images/' + NIL, 'GET, PATCH, DELETE'),
])
def test_options_lists_the_methods(alice, path, allow):
    r = alice.request('OPTIONS', path)
    assert r.status_code == 200
    assert r.headers['Allow'] == allow
    assert r.content == b''


@pytest.mark.parametrize('path', ['/v2/nonexistent', '/v2/images/%s/bogus'
                                  % NIL, '/v2/images/%s/file/x' % NIL,
                                  '/v2/schemas/nonexistent'])
def test_unknown_paths_are_404(alice, path):
    assert alice.get(path).status_code == 404


def test_errors_are_json_when_the_client_asks(alice):
    before = _ids(alice)
    r = alice.post('/v2/images', data=b'{"name": "x"',
                   headers={'Content-Type': 'application/json',
                            'Accept': 'application/json'})
    assert r.status_code == 400
    assert r.headers['Content-Type'] == 'application/json'
    body = r.json()
    assert body['code'] == '400 Bad Request'
    assert body['title'] == 'Bad Request'
    assert 'JSON' in body['message']
    assert _ids(alice) == before


@pytest.mark.parametrize('raw', [b'\xff\xfe', b'{"name": "\xff"}'])
def test_non_utf8_bodies_are_400(alice, raw):
    before = _ids(alice)
    r = alice.post('/v2/images', data=raw,
                   headers={'Content-Type': 'application/json'})
    assert r.status_code == 400
    assert _ids(alice) == before


@pytest.mark.parametrize('path', ['/v2/images/%ff', '/v2/images/%c3%28/file',
                                  '/%ff'])
def test_non_utf8_paths_are_400(alice, path):
    r = alice.get(path)
    assert r.status_code == 400, r.text
    assert 'UTF-8' in r.text


def test_huge_name_is_400(alice):
    before = _ids(alice)
    r = alice.post('/v2/images', json={'name': 'x' * 100000})
    assert r.status_code == 400
    assert _ids(alice) == before


def test_huge_property_value_is_kept_whole(alice):
    value = ''.join(chr(0x41 + i % 26) for i in range(70000))
    r = alice.post('/v2/images', json={'big': value})
    assert r.status_code == 201
    shown = alice.get('/v2/images/%s' % r.json()['id']).json()
    assert shown['big'] == value


def test_property_key_too_long_is_400(alice):
    before = _ids(alice)
    r = alice.post('/v2/images', json={'k' * 300: 'v'})
    assert r.status_code == 400
    assert _ids(alice) == before


def test_accept_text_plain_still_creates(alice):
    r = alice.post('/v2/images', json={'name': 'plain'},
                   headers={'Accept': 'text/plain'})
    assert r.status_code == 201
    assert r.json()['name'] == 'plain'


def test_unicode_round_trips(alice):
    name = '\u65e5\u672c\u8a9e \U0001f600 \u00e9'
    image = alice.create(name=name, **{'cl\u00e9': 'v\u00e4l'})
    shown = alice.get('/v2/images/%s' % image['id']).json()
    assert shown['name'] == name and shown['cl\u00e9'] == 'v\u00e4l'
    r = alice.get('/v2/images', params={'name': name})
    assert [i['id'] for i in r.json()['images']] == [image['id']]


@pytest.mark.parametrize('query', ['marker=', 'sort_key=', 'sort_dir=',
                                   'limit=', 'sort='])
def test_empty_control_parameters_are_400(alice, query):
    assert alice.get('/v2/images?' + query).status_code == 400


@pytest.mark.parametrize('headers', [
    {},
    {'X-Roles': 'admin', 'X-Project-Id': PROJECT},
    {'X-Identity-Status': 'Invalid', 'X-Roles': 'admin',
     'X-Project-Id': PROJECT},
    {'X-Identity-Status': 'confirmed', 'X-Roles': 'admin',
     'X-Project-Id': PROJECT},
])
def test_without_a_confirmed_identity_is_401(ref_server, alice, headers):
    anon = Client(ref_server.url, headers)
    before = _ids(alice)
    assert anon.get('/v2/images').status_code == 401
    assert anon.post('/v2/images', json={'name': 'x'}).status_code == 401
    assert _ids(alice) == before


def test_unauthenticated_paths(ref_server):
    anon = Client(ref_server.url)
    assert anon.get('/healthcheck').status_code == 200
    assert anon.get('/versions').status_code == 200


def test_noauth_pipeline_needs_no_headers(client):
    assert client.get('/v2/images').status_code == 200
    assert client.get('/v2/schemas/image').status_code == 200
