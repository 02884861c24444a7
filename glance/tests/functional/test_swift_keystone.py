"""The swift store with Keystone: v3 authentication and multi-tenant mode.

One glance-api in the keystone flavor behind the session's Keystone, with
two swift backends on the session Swift's Keystone-validating proxy
(``swift_keystone``):

``st``
    single-tenant, Keystone v3 through a ``swift_store_config_file``
    reference (user ``glance-swift`` of project ``glance-store``); the
    catalog's object-store endpoint is the storage URL.
``mt`` (the default)
    multi-tenant: each image in the uploading project's own account, with
    the caller's token, one container ``glance-mt_<image id>`` per image;
    the admin project is in ``swift_store_admin_tenants``.

What was stored is checked with direct Swift requests carrying the
personas' own tokens.
"""
from __future__ import annotations

import os

import pytest
import requests

from glance.tests.functional.conftest import Client, keystone_glance

MiB = 1024 * 1024
DATA = b'keystone swift data ' * 3000          # 60000 bytes


@pytest.fixture(scope='module')
def srv(tmp_path_factory, keystone, swift_keystone):
    work = str(tmp_path_factory.mktemp('swift-ks'))
    refs = os.path.join(work, 'glance-swift.conf')
    with open(refs, 'w') as f:
        f.write('[ref1]\nauth_address = %s/v3\nuser = glance-store:'
                'glance-swift\nkey = %s\nauth_version = 3\nuser_domain_name '
                '= Default\nproject_domain_name = Default\n'
                % (keystone.url, keystone.personas['glance-swift'].password))
    settings = [
        'DEFAULT.enabled_backends=st:swift, mt:swift',
        'DEFAULT.show_image_direct_url=True',
        'glance_store.default_backend=mt',
        'st.swift_store_config_file=%s' % refs,
        'st.default_swift_reference=ref1',
        'st.swift_store_auth_version=3',
        'st.swift_store_region=RegionOne',
        'st.swift_store_container=glance-st',
        'st.swift_store_create_container_on_put=True',
        'mt.swift_store_multi_tenant=True',
        'mt.swift_store_region=RegionOne',
        'mt.swift_store_container=glance-mt',
        'mt.swift_store_admin_tenants=%s' % keystone.projects['admin'],
        'mt.swift_store_large_object_size=1',
        'mt.swift_store_large_object_chunk_size=1',
    ]
    server = keystone_glance(keystone, work, settings)
    yield server
    server.stop()


@pytest.fixture
def as_ks(keystone, srv):
    def make(name: str) -> Client:
        return Client(srv.url, keystone.client_headers(name))
    return make


def _upload(client: Client, data: bytes, store: str | None = None,
            **body) -> dict:
    image = client.create(name='swift-ks', disk_format='raw',
                          container_format='bare', **body)
    headers = {'Content-Type': 'application/octet-stream'}
    if store:
        headers['X-Image-Meta-Store'] = store
    r = client.put('/v2/images/%s/file' % image['id'], data=data,
                   headers=headers)
    assert r.status_code == 204, r.text
    return client.get('/v2/images/%s' % image['id']).json()


def _swift(keystone, swift, persona: str, path: str, project: str | None
           = None, method: str = 'GET') -> requests.Response:
    """A request to the Keystone proxy, in ``project``'s account (the
    persona's own by default), with the persona's token."""
    project = project or keystone.personas[persona].project_id
    return requests.request(
        method, '%s/v1/AUTH_%s%s' % (swift.keystone_url, project, path),
        headers={'X-Auth-Token': keystone.token(persona)}, timeout=30)


def test_single_tenant_keystone_v3_reference(srv, swift_keystone, keystone,
                                             as_ks):
    alpha = as_ks('alpha-member')
    image = _upload(alpha, DATA, store='st')
    assert image['status'] == 'active' and image['stores'] == 'st'
    assert image['direct_url'] == 'swift+config://ref1/glance-st/%s' \
        % image['id']
    # in the account of the configured user's project, not the uploader's
    path = '/glance-st/%s' % image['id']
    r = _swift(keystone, swift_keystone, 'glance-swift', path)
    assert r.status_code == 200 and r.content == DATA
    assert _swift(keystone, swift_keystone, 'alpha-member',
                  path).status_code == 404
    assert alpha.get('/v2/images/%s/file' % image['id']).content == DATA
    assert alpha.delete('/v2/images/%s' % image['id']).status_code == 204
    assert _swift(keystone, swift_keystone, 'glance-swift',
                  path).status_code == 404


def test_multi_tenant_data_in_the_uploaders_account(srv, swift_keystone,
                                                    keystone, as_ks):
    alpha = as_ks('alpha-member')
    data = os.urandom(MiB + 5000)            # a manifest and two segments
    image = _upload(alpha, data)
    image_id = image['id']
    assert image['stores'] == 'mt' and image['size'] == len(data)
    alpha_project = keystone.personas['alpha-member'].project_id
    container = 'glance-mt_%s' % image_id
    assert image['direct_url'] == 'swift+%s/v1/AUTH_%s/%s/%s' % (
        swift_keystone.keystone_url, alpha_project, container, image_id)
    # alpha's own account holds it, segments in the image's container
    r = _swift(keystone, swift_keystone, 'alpha-member', '/%s/%s'
               % (container, image_id))
    assert r.status_code == 200 and r.content == data
    listing = _swift(keystone, swift_keystone, 'alpha-member',
                     '/%s?format=json' % container).json()
    assert [o['name'] for o in listing] == [
        image_id, image_id + '/00001', image_id + '/00002']
    # glance serves it to the project, ranges across segments included
    assert alpha.get('/v2/images/%s/file' % image_id).content == data
    r = alpha.get('/v2/images/%s/file' % image_id,
                  headers={'Range': 'bytes=%d-%d' % (MiB - 5, MiB + 4)})
    assert r.status_code == 206, r.text
    assert r.content == data[MiB - 5:MiB + 5]
    # the admin project reads it through the container ACL
    assert _swift(keystone, swift_keystone, 'admin', '/%s/%s'
                  % (container, image_id), project=alpha_project
                  ).status_code == 200
    # another project reads nothing: not through glance, not in Swift
    assert as_ks('beta-member').get(
        '/v2/images/%s/file' % image_id).status_code == 404
    assert _swift(keystone, swift_keystone, 'beta-member', '/%s/%s'
                  % (container, image_id), project=alpha_project
                  ).status_code == 403
    # deleting the image deletes its container
    assert alpha.delete('/v2/images/%s' % image_id).status_code == 204
    assert _swift(keystone, swift_keystone, 'alpha-member',
                  '/%s' % container).status_code == 404


def test_multi_tenant_community_image_is_readable_by_all(
        srv, swift_keystone, keystone, as_ks):
    alpha, beta = as_ks('alpha-member'), as_ks('beta-member')
    image_id = _upload(alpha, DATA)['id']
    path = '/glance-mt_%s/%s' % (image_id, image_id)
    alpha_project = keystone.personas['alpha-member'].project_id
    assert _swift(keystone, swift_keystone, 'beta-member', path,
                  project=alpha_project).status_code == 403
    r = alpha.patch('/v2/images/%s' % image_id, [
        {'op': 'replace', 'path': '/visibility', 'value': 'community'}])
    assert r.status_code == 200, r.text
    r = beta.get('/v2/images/%s/file' % image_id)
    assert r.status_code == 200 and r.content == DATA
    # and private again: the container's ACL follows
    r = alpha.patch('/v2/images/%s' % image_id, [
        {'op': 'replace', 'path': '/visibility', 'value': 'private'}])
    assert r.status_code == 200, r.text
    assert _swift(keystone, swift_keystone, 'beta-member', path,
                  project=alpha_project).status_code == 403
    assert alpha.delete('/v2/images/%s' % image_id).status_code == 204


def test_multi_tenant_shared_image_members_read(srv, swift_keystone,
                                                keystone, as_ks):
    alpha, beta = as_ks('alpha-member'), as_ks('beta-member')
    beta_project = keystone.personas['beta-member'].project_id
    alpha_project = keystone.personas['alpha-member'].project_id
    image_id = _upload(alpha, DATA)['id']               # shared, no members
    path = '/glance-mt_%s/%s' % (image_id, image_id)

    def beta_in_swift() -> int:
        return _swift(keystone, swift_keystone, 'beta-member', path,
                      project=alpha_project).status_code

    assert beta_in_swift() == 403
    r = alpha.post('/v2/images/%s/members' % image_id,
                   json={'member': beta_project})
    assert r.status_code == 200, r.text
    assert beta_in_swift() == 200
    r = beta.get('/v2/images/%s/file' % image_id)
    assert r.status_code == 200 and r.content == DATA
    # the member goes, and so does its read access in Swift
    r = alpha.delete('/v2/images/%s/members/%s' % (image_id, beta_project))
    assert r.status_code == 204, r.text
    assert beta_in_swift() == 403
    assert alpha.delete('/v2/images/%s' % image_id).status_code == 204
