"""Functional fixtures: a running glance-api and HTTP helpers."""
from __future__ import annotations

import json

import pytest
import requests

from glance.tests.functional.server import GlanceServer

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
