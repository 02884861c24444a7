"""Functional fixtures: a running glance-api and HTTP helpers."""
from __future__ import annotations

import json
import os
from typing import NoReturn

import pytest
import requests

from glance.tests.functional import keystone as keystone_fixture
from glance.tests.functional.server import GlanceServer, free_port

PATCH_MEDIA = 'application/openstack-images-v2.1-json-patch'


class Client:
    """requests against one server, with identity headers when given."""

    def __init__(self, base: str, headers: dict[str, str] | None = None):
        self.base = base
        self.session = requests.Session()
        self.session.headers.update(headers or {})

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault('timeout', 60)
        return self.session.request(method, self.base + path, **kw)

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, **kw):
        return self.request('POST', path, **kw)

    def put(self, path, **kw):
        return self.request('PUT', path, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)

    def patch(self, path, ops, media=PATCH_MEDIA, **kw):
        return self.request('PATCH', path, data=json.dumps(ops),
                            headers={'Content-Type': media}, **kw)

    def create(self, **body) -> dict:
        r = self.post('/v2/images', json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def upload(self, image_id: str, data: bytes) -> requests.Response:
        return self.put('/v2/images/%s/file' % image_id, data=data,
                        headers={'Content-Type': 'application/octet-stream'})


def identity(project: str, roles: str = 'reader,member',
             user: str = 'user') -> dict[str, str]:
    """Headers keystonemiddleware would leave for this identity."""
    return {'X-Identity-Status': 'Confirmed', 'X-Roles': roles,
            'X-Project-Id': project, 'X-Tenant-Id': project,
            'X-User-Id': user}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    """glance-api on SQLite with the default (noauth) pipeline."""
    srv = GlanceServer(str(tmp_path_factory.mktemp('glance'))).start()
    yield srv
    srv.stop()


@pytest.fixture(scope='module')
def ref_server(tmp_path_factory):
    """glance-api with identity headers and two file stores (replay setup)."""
    srv = GlanceServer(str(tmp_path_factory.mktemp('glance-ref')),
                       profile='reference').start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    return Client(server.url)


@pytest.fixture
def as_project(ref_server):
    """Factory: a Client acting as (project, roles) on the reference server."""
    def make(project: str, roles: str = 'reader,member', user: str = 'user'):
        return Client(ref_server.url, identity(project, roles, user))
    return make


# --- Keystone ---------------------------------------------------------------

def unavailable(what: str, how: str, exc: Exception) -> NoReturn:
    """A real service the tests need cannot be provided: under CI=true the
    tests fail; elsewhere they are skipped with the reason."""
    if os.environ.get('CI', '').lower() == 'true':
        pytest.fail('CI=true and %s cannot be provided: %s' % (what, exc),
                    pytrace=False)
    pytest.skip('%s cannot be provided (%s): %s' % (what, how,
                                                    str(exc)[:500]))


@pytest.fixture(scope='session')
def keystone(tmp_path_factory):
    """A real Keystone (see glance/tests/functional/keystone.py), one per
    test process.  Under CI=true a Keystone that cannot be provided fails
    the tests that need it; elsewhere they are skipped with the reason."""
    try:
        ks = keystone_fixture.provide(str(tmp_path_factory.mktemp(
            'keystone')))
    except keystone_fixture.KeystoneUnavailable as exc:
        unavailable('Keystone', 'tools/keystone_venv.sh', exc)
    yield ks
    ks.stop()


def keystone_glance(keystone, workdir: str, settings: list[str] = ()
                    ) -> GlanceServer:
    """A started glance-api in the keystone flavor, in the catalog."""
    srv = GlanceServer(workdir, settings=keystone.glance_settings() +
                       list(settings))
    keystone.set_image_endpoint(srv.url)
    return srv.start()


@pytest.fixture(scope='module')
def ks_server(keystone, tmp_path_factory):
    """glance-api behind the real Keystone (one per module)."""
    srv = keystone_glance(keystone, str(tmp_path_factory.mktemp(
        'glance-ks')))
    yield srv
    srv.stop()


@pytest.fixture(scope='session')
def swift_keystone(swift, keystone):
    """The session's Swift behind a second proxy that validates the
    session Keystone's tokens (authtoken + keystoneauth; operator roles
    admin and member), registered as the catalog's object-store at
    ``http://127.0.0.1:PORT/v1/AUTH_$(project_id)s``.  Also the persona
    ``glance-swift``, member of project ``glance-store``: the account a
    single-tenant swift store authenticates into with Keystone v3.
    Started only when a test asks for it."""
    from glance.tests import swift_fixture

    port = free_port()
    try:
        # The proxy imports while Keystone learns about it.
        swift.start_keystone_proxy(keystone.url, 'glance',
                                   keystone.personas['glance'].password,
                                   'service', port=port, wait=False)
        keystone.add_object_store('http://127.0.0.1:%d/v1/AUTH_$(project_id)s'
                                  % port)
        keystone.create_project('glance-store')
        keystone.add_persona('glance-swift', 'glance-store', 'member')
        swift.wait_keystone_proxy()
    except swift_fixture.Unavailable as exc:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail('CI=true and the Keystone Swift proxy cannot run: '
                        '%s' % exc, pytrace=False)
        pytest.skip('Swift with Keystone is not available: %s' % exc)
    return swift


@pytest.fixture
def as_persona(keystone, ks_server):
    """Factory: a Client acting as a Keystone persona (real token)."""
    def make(name: str) -> Client:
        return Client(ks_server.url, keystone.client_headers(name))
    return make
