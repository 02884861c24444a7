"""The context middleware: identity headers in, RequestContext out.

The first half drives the middleware in-process (to see every field of the
context it builds); the second half speaks HTTP to a real glance-api with
the trusted-auth pipeline, including an operator's policy.yaml placed
beside glance-api.conf.
"""
from __future__ import annotations

import json
import os

from oslo_config import cfg
import pytest
import webob
import webob.dec

from glance.api.middleware import context as context_mw
from glance.common import policy
from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer

CONF = cfg.CONF


# --- in-process ------------------------------------------------------------

@pytest.fixture(autouse=True, scope='module')
def _conf():
    """An initialised CONF with no files: the shipped policy defaults."""
    try:
        CONF.find_file('policy.yaml')
    except cfg.NotInitializedError:
        CONF([], project='glance', default_config_files=[])
    policy.reset()
    yield
    policy.reset()


class Capture:
    """The app behind the middleware: keeps the context it was given."""

    def __init__(self):
        self.context = None

    @webob.dec.wsgify
    def __call__(self, request):
        self.context = request.environ['glance.context']
        return webob.Response(status=204)


def call(headers, middleware=context_mw.ContextMiddleware, environ=None):
    app = Capture()
    request = webob.Request.blank('/v2/images', headers=headers,
                                  environ=environ or {})
    response = request.get_response(middleware(app))
    return response, app.context


@pytest.mark.parametrize('status', [None, 'Invalid', 'confirmed', ''])
def test_unconfirmed_identity_is_401(status):
    headers = identity('p1')
    if status is None:
        del headers['X-Identity-Status']
    else:
        headers['X-Identity-Status'] = status
    response, ctx = call(headers)
    assert response.status_int == 401
    assert ctx is None


@pytest.mark.parametrize('status, code', [('Invalid', 401), ('', 401),
                                          ('Confirmed', 204)])
def test_invalid_service_token_is_401(status, code):
    """auth_token (delay_auth_decision) marks a failed X-Service-Token
    Invalid and lets the request through; the middleware refuses it."""
    headers = dict(identity('p1'), **{'X-Service-Identity-Status': status})
    response, ctx = call(headers)
    assert response.status_int == code
    assert (ctx is None) == (code == 401)


def test_identity_headers_become_the_context():
    headers = identity('p1', roles='reader, member', user='u1')
    headers.update({
        'X-User-Domain-Id': 'ud', 'X-Project-Domain-Id': 'pd',
        'X-User-Name': 'alice', 'X-Project-Name': 'proj one',
        'X-Auth-Token': 'tok', 'X-Service-Roles': 'service',
    })
    response, ctx = call(headers,
                         environ={'openstack.request_id': 'req-123'})
    assert response.status_int == 204
    assert ctx.project_id == 'p1' and ctx.owner == 'p1'
    assert ctx.user_id == 'u1'
    assert sorted(ctx.roles) == ['member', 'reader']
    assert ctx.user_domain_id == 'ud' and ctx.project_domain_id == 'pd'
    assert ctx.user_name == 'alice' and ctx.project_name == 'proj one'
    assert ctx.auth_token == 'tok'
    assert ctx.service_roles == ['service']
    assert ctx.request_id == 'req-123'
    assert ctx.is_admin is False
    assert ctx.service_catalog is None


def test_legacy_tenant_header():
    headers = identity('p1')
    del headers['X-Project-Id']
    _, ctx = call(headers)
    assert ctx.project_id == 'p1'


def test_no_project_no_roles():
    _, ctx = call({'X-Identity-Status': 'Confirmed'})
    assert ctx.project_id is None and ctx.roles == []
    assert ctx.is_admin is False


@pytest.mark.parametrize('roles,admin', [
    ('admin', True), ('reader,member,admin', True), ('Admin', True),
    ('member', False), ('reader', False), ('', False),
    ('administrator', False),
])
def test_is_admin_follows_context_is_admin(roles, admin):
    _, ctx = call(identity('p1', roles=roles))
    assert ctx.is_admin is admin


def test_service_catalog_is_parsed():
    catalog = [{'type': 'image', 'name': 'glance', 'endpoints': [
        {'region': 'r1', 'publicURL': 'http://example.test:9292'}]}]
    _, ctx = call(dict(identity('p1'),
                       **{'X-Service-Catalog': json.dumps(catalog)}))
    assert ctx.service_catalog == catalog
    assert ctx.to_dict()['service_catalog'] == catalog


@pytest.mark.parametrize('raw,words', [
    ('{not json', 'not valid JSON'),
    ('{"type": "image"}', 'JSON list'),
])
def test_bad_service_catalog(raw, words):
    response, ctx = call(dict(identity('p1'), **{'X-Service-Catalog': raw}))
    assert response.status_int == 500
    assert 'Invalid service catalog json' in response.text
    assert words in response.text
    assert ctx is None


def test_unauthenticated_context_is_the_trusted_operator():
    unauthenticated = context_mw.UnauthenticatedContextMiddleware
    response, ctx = call({}, middleware=unauthenticated,
                         environ={'openstack.request_id': 'req-9'})
    assert response.status_int == 204
    assert ctx.is_admin is True
    assert ctx.project_id is None and ctx.owner is None
    assert ctx.request_id == 'req-9'
    # identity headers are ignored: this pipeline trusts nobody's word
    response, ctx = call(identity('p1', roles='reader'),
                         middleware=unauthenticated)
    assert ctx.project_id is None and ctx.is_admin is True


# --- over HTTP -------------------------------------------------------------

def test_http_401_without_confirmed_identity(ref_server):
    anon = Client(ref_server.url)
    assert anon.get('/v2/images').status_code == 401
    invalid = Client(ref_server.url, dict(identity('p1'),
                                          **{'X-Identity-Status': 'Invalid'}))
    assert invalid.get('/v2/images').status_code == 401
    assert invalid.post('/v2/images', json={'name': 'x'}).status_code == 401
    # the version document needs no identity
    assert anon.get('/versions').status_code == 200


def test_http_project_and_roles(ref_server):
    member = Client(ref_server.url, identity('ctx-pa', 'reader,member'))
    reader = Client(ref_server.url, identity('ctx-pa', 'reader'))
    image = member.create(name='mine')
    assert image['owner'] == 'ctx-pa'
    assert reader.get('/v2/images/%s' % image['id']).status_code == 200
    r = reader.post('/v2/images', json={'name': 'not allowed'})
    assert r.status_code == 403
    r = Client(ref_server.url, identity('ctx-pa', '')).get('/v2/images')
    assert r.status_code == 403
    # another project does not see a private image at all
    other = Client(ref_server.url, identity('ctx-pb'))
    assert other.get('/v2/images/%s' % image['id']).status_code == 404


def test_http_admin_sees_every_project(ref_server):
    owner = Client(ref_server.url, identity('ctx-owner'))
    image = owner.create(name='private one', visibility='private')
    admin = Client(ref_server.url,
                   identity('ctx-admin', 'admin,member,reader'))
    assert admin.get('/v2/images/%s' % image['id']).status_code == 200
    ids = [i['id'] for i in admin.get('/v2/images?limit=1000').json()[
        'images']]
    assert image['id'] in ids
    member = Client(ref_server.url, identity('ctx-else'))
    ids = [i['id'] for i in member.get('/v2/images?limit=1000').json()[
        'images']]
    assert image['id'] not in ids


def test_http_bad_service_catalog(ref_server):
    client = Client(ref_server.url, dict(identity('ctx-pa'), **{
        'X-Service-Catalog': '[{"broken"'}))
    r = client.get('/v2/images')
    assert r.status_code == 500
    assert 'Invalid service catalog json' in r.text


@pytest.fixture(scope='module')
def policy_server(tmp_path_factory):
    """trusted-auth glance-api with an operator policy.yaml beside its
    configuration: listing images is for administrators, and the
    administrator is whoever holds the "superuser" role."""
    srv = GlanceServer(str(tmp_path_factory.mktemp('glance-policy')),
                       profile='reference')
    with open(os.path.join(srv.workdir, 'policy.yaml'), 'w') as f:
        f.write('"context_is_admin": "role:superuser"\n'
                '"get_images": "rule:context_is_admin"\n')
    srv.start()
    yield srv
    srv.stop()


def test_policy_file_beside_config_changes_decisions(policy_server):
    member = Client(policy_server.url, identity('pol-pa'))
    superuser = Client(policy_server.url, identity('pol-root', 'superuser'))
    admin = Client(policy_server.url,
                   identity('pol-adm', 'admin,member,reader'))
    # untouched rules keep their defaults
    image = member.create(name='p', visibility='private')
    assert member.get('/v2/images/%s' % image['id']).status_code == 200
    # the overridden rule
    assert member.get('/v2/images').status_code == 403
    assert admin.get('/v2/images').status_code == 403
    r = superuser.get('/v2/images')
    assert r.status_code == 200
    assert image['id'] in [i['id'] for i in r.json()['images']]
    # the redefined administrator reaches another project's private image
    assert superuser.get('/v2/images/%s' % image['id']).status_code == 200
    assert admin.get('/v2/images/%s' % image['id']).status_code == 404
