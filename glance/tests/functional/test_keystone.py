"""glance-api behind a real Keystone: the keystone paste flavor.

keystonemiddleware's auth_token validates each token against the Keystone
of the ``keystone`` fixture; the context middleware builds the request
context from the headers it leaves; the policy layer then applies the
secure-RBAC defaults with ``enforce_new_defaults`` and ``enforce_scope``.
"""
from __future__ import annotations

import uuid

import pytest
import requests

from glance.tests.functional.conftest import Client, keystone_glance


def _image(client: Client, **extra) -> dict:
    body = {'name': 'ks-%s' % uuid.uuid4().hex[:8], 'disk_format': 'raw',
            'container_format': 'bare'}
    body.update(extra)
    return client.create(**body)


# --- authentication ---------------------------------------------------------

def test_no_token_is_401_with_www_authenticate(ks_server, keystone):
    r = requests.get(ks_server.url + '/v2/images', timeout=30)
    assert r.status_code == 401
    assert r.headers['WWW-Authenticate'] == \
        'Keystone uri="%s"' % keystone.url


@pytest.mark.parametrize('token', ['not-a-token', 'gAAAAABbad' + 'x' * 180])
def test_bad_token_is_401_with_www_authenticate(ks_server, keystone, token):
    for method, path in (('GET', '/v2/images'), ('POST', '/v2/images'),
                         ('GET', '/v2/images/%s' % uuid.uuid4())):
        r = requests.request(method, ks_server.url + path, timeout=30,
                             headers={'X-Auth-Token': token}, json={})
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers['WWW-Authenticate'] == \
            'Keystone uri="%s"' % keystone.url


def test_revoked_token_is_401(ks_server, keystone):
    """A token revoked in Keystone before glance ever saw it.  (A token
    glance already validated stays accepted for auth_token's cache time.)"""
    token, _ = keystone.login(keystone.personas['alpha-reader'])
    keystone.api('DELETE', '/v3/auth/tokens',
                 headers={'X-Subject-Token': token})
    r = requests.get(ks_server.url + '/v2/images',
                     headers={'X-Auth-Token': token}, timeout=30)
    assert r.status_code == 401
    assert 'WWW-Authenticate' in r.headers


def test_identity_headers_from_the_caller_are_ignored(ks_server, keystone):
    """auth_token removes X-Roles and friends a caller sends itself."""
    forged = {'X-Identity-Status': 'Confirmed', 'X-Roles': 'admin',
              'X-Project-Id': 'forged', 'X-User-Id': 'forged'}
    assert requests.get(ks_server.url + '/v2/images', headers=forged,
                        timeout=30).status_code == 401
    reader = dict(forged, **keystone.client_headers('alpha-reader'))
    r = requests.post(ks_server.url + '/v2/images', headers=reader,
                      json={'name': 'forged'}, timeout=30)
    assert r.status_code == 403, r.text


def test_unauthenticated_paths(ks_server):
    assert requests.get(ks_server.url + '/healthcheck',
                        timeout=30).status_code == 200
    r = requests.get(ks_server.url + '/versions', timeout=30)
    assert r.status_code == 200
    assert any(v['id'].startswith('v2.') for v in r.json()['versions'])


# --- the context from a real token ------------------------------------------

def test_owner_is_the_token_project(as_persona, keystone):
    member = as_persona('alpha-member')
    image = _image(member)
    assert image['owner'] == keystone.projects['alpha']
    assert image['visibility'] == 'shared'
    assert member.get('/v2/images/%s' % image['id']).json()['owner'] == \
        keystone.projects['alpha']


def test_service_token_alongside_the_user_token(as_persona, keystone,
                                                ks_server):
    """A service (nova, cinder) passing a user's token with its own."""
    headers = dict(keystone.client_headers('alpha-member'),
                   **{'X-Service-Token': keystone.token('glance')})
    client = Client(ks_server.url, headers)
    image = _image(client)
    assert image['owner'] == keystone.projects['alpha']
    # a bad service token fails the whole request
    bad = dict(headers, **{'X-Service-Token': 'bogus'})
    r = requests.get(ks_server.url + '/v2/images', headers=bad, timeout=30)
    assert r.status_code == 401


# --- personas with real tokens ---------------------------------------------

def test_member_reader_other_project_admin(as_persona, keystone):
    member = as_persona('alpha-member')
    reader = as_persona('alpha-reader')
    other = as_persona('beta-member')
    admin = as_persona('admin')
    image = _image(member)
    path = '/v2/images/%s' % image['id']

    # the owner's reader sees it, may not change it (403 by policy)
    assert reader.get(path).status_code == 200
    r = reader.patch(path, [{'op': 'replace', 'path': '/name',
                             'value': 'no'}])
    assert r.status_code == 403
    assert reader.delete(path).status_code == 403
    r = reader.post('/v2/images', json={'name': 'reader-create'})
    assert r.status_code == 403
    listed = [i['id'] for i in reader.get('/v2/images').json()['images']]
    assert image['id'] in listed

    # another project does not see it at all
    assert other.get(path).status_code == 404
    listed = [i['id'] for i in other.get('/v2/images').json()['images']]
    assert image['id'] not in listed

    # the owner's member changes it; the administrator sees and changes it
    r = member.patch(path, [{'op': 'replace', 'path': '/name',
                             'value': 'renamed'}])
    assert r.status_code == 200
    assert admin.get(path).json()['name'] == 'renamed'
    r = admin.patch(path, [{'op': 'replace', 'path': '/visibility',
                            'value': 'public'}])
    assert r.status_code == 200
    assert other.get(path).status_code == 200
    # only the administrator may publicize
    r = member.post('/v2/images', json={'name': 'pub', 'visibility':
                                        'public'})
    assert r.status_code == 403
    assert admin.delete(path).status_code == 204
    assert member.get(path).status_code == 404


def test_sharing_between_real_projects(as_persona, keystone):
    owner = as_persona('alpha-member')
    other_member = as_persona('beta-member')
    other_reader = as_persona('beta-reader')
    image = _image(owner)
    assert owner.upload(image['id'], b'shared bytes').status_code == 204
    beta = keystone.projects['beta']
    r = owner.post('/v2/images/%s/members' % image['id'],
                   json={'member': beta})
    assert r.status_code == 200, r.text
    path = '/v2/images/%s' % image['id']
    assert other_reader.get(path).status_code == 200
    r = other_member.put('%s/members/%s' % (path, beta),
                         json={'status': 'accepted'})
    assert r.status_code == 200, r.text
    listed = [i['id'] for i in other_reader.get(
        '/v2/images').json()['images']]
    assert image['id'] in listed
    assert other_member.get(path + '/file').content == b'shared bytes'
    # downloading takes the member role
    assert other_reader.get(path + '/file').status_code == 403
    assert other_member.delete(path).status_code == 403


def test_system_scoped_token_is_refused_by_scope(as_persona, keystone,
                                                 ks_server):
    """enforce_scope: image rules are project scoped, so even the system
    administrator's system-scoped token is refused."""
    system = Client(ks_server.url, keystone.client_headers('system-admin'))
    assert system.get('/v2/images').status_code == 403
    r = system.post('/v2/images', json={'name': 'system'})
    assert r.status_code == 403


def test_domain_scoped_token_is_refused_by_scope(keystone, ks_server):
    """A domain-scoped token (X-Domain-Id, no project) gets 403 too."""
    user_id = keystone.personas['alpha-member'].user_id
    keystone.api('PUT', '/v3/domains/default/users/%s/roles/%s'
                 % (user_id, keystone.role_id('reader')))
    r = requests.post(keystone.url + '/v3/auth/tokens', timeout=60, json={
        'auth': {'identity': {'methods': ['password'], 'password': {
            'user': {'id': user_id,
                     'password': keystone.personas['alpha-member'].password}
        }}, 'scope': {'domain': {'id': 'default'}}}})
    assert r.status_code == 201, r.text
    domain = Client(ks_server.url, {'X-Auth-Token':
                                    r.headers['X-Subject-Token']})
    assert domain.get('/v2/images').status_code == 403
    assert domain.post('/v2/images', json={'name': 'd'}).status_code == 403


def test_service_persona_is_not_an_image_user(keystone, ks_server):
    """The glance service user holds only the service role: no reader."""
    service = Client(ks_server.url, keystone.client_headers('glance'))
    assert service.get('/v2/images').status_code == 403


# --- the operator's policy file ----------------------------------------------

@pytest.fixture(scope='module')
def policy_server(keystone, tmp_path_factory):
    """glance-api behind Keystone with a policy.yaml that keeps creating
    images for administrators and lets only the alpha project list."""
    workdir = tmp_path_factory.mktemp('glance-ks-policy')
    policy = workdir / 'policy.yaml'
    policy.write_text(
        '"add_image": "rule:context_is_admin"\n'
        '"get_images": "role:reader and project_id:%s"\n'
        % keystone.projects['alpha'])
    srv = keystone_glance(keystone, str(workdir), [
        'oslo_policy.policy_file=%s' % policy])
    yield srv
    srv.stop()


def test_policy_file_overrides_defaults(policy_server, keystone):
    def client(name):
        return Client(policy_server.url, keystone.client_headers(name))
    r = client('alpha-member').post('/v2/images', json={'name': 'x'})
    assert r.status_code == 403
    created = client('admin').create(name='by-admin', disk_format='raw',
                                     container_format='bare')
    assert created['owner'] == keystone.projects['admin']
    assert client('alpha-reader').get('/v2/images').status_code == 200
    assert client('beta-reader').get('/v2/images').status_code == 403
    # rules the file does not name keep their defaults
    r = client('beta-member').get('/v2/images/%s' % created['id'])
    assert r.status_code == 404
