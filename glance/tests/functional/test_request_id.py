"""Request ids through a real glance-api: on every response, in the log
lines of the request, in notifications and passed on to another node."""
from __future__ import annotations

import os
import re
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer
from glance.tests.functional.test_import import _create, _import, _stage, \
    _wait, blob
from glance.tests.functional.test_import_distributed import \
    nodes, regions  # noqa: F401 - fixtures
from glance.tests.functional.test_import_distributed import _catalog
from glance.tests.functional.test_notifications import \
    rabbit  # noqa: F401 - a fixture
from glance.tests.functional.test_notifications import wait_for

ID = re.compile(r'^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                r'[0-9a-f]{12}$')
HEADER = 'x-openstack-request-id'

#: an image id no test creates (fixed: xdist workers must collect the same
#: parametrized ids)
UNKNOWN_IMAGE = '5b0d7c2e-9a41-4f6e-8d3b-2c1e0f9a7b64'


def _global() -> str:
    return 'req-%s' % uuid.uuid4()


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    server = GlanceServer(str(tmp_path_factory.mktemp('rid')),
                          profile='reference').start()
    yield server
    server.stop()


@pytest.mark.parametrize('method,path,status', [
    ('GET', '/v2/images', 200), ('GET', '/', 300), ('GET', '/versions', 200),
    ('GET', '/healthcheck', 200), ('GET', '/v2/nowhere', 404),
    ('GET', '/v2/images/%s' % UNKNOWN_IMAGE, 404),
    ('POST', '/v2/images', 400), ('DELETE', '/v2/schemas/image', 405)])
def test_every_response_carries_a_request_id(srv, method, path, status):
    client = Client(srv.url, identity('rid'))
    r = client.request(method, path, data=b'not json',
                       headers={'Content-Type': 'application/json'})
    assert r.status_code == status, r.text
    assert ID.match(r.headers[HEADER]), r.headers


def test_each_request_gets_its_own_id(srv):
    client = Client(srv.url, identity('rid'))
    given = _global()
    ids = {client.get('/v2/images', headers={
        'X-OpenStack-Request-ID': given}).headers[HEADER] for _ in range(3)}
    assert len(ids) == 3
    assert given not in ids      # the global id is the caller's, not ours


def _logged(server: GlanceServer, text: str) -> list[str]:
    """The server's log lines holding ``text``, once there are some (the
    access line is written just after the response is sent)."""
    def lines():
        with open(os.path.join(server.workdir, 'glance-api.log'),
                  errors='replace') as f:
            return [line for line in f if text in line]
    return wait_for(lines, bool, 'log lines with %s' % text)


@pytest.mark.parametrize('path', ['/v2/images/%s' % UNKNOWN_IMAGE,
                                  '/healthcheck', '/versions'])
def test_global_id_and_request_id_are_logged(srv, path):
    client = Client(srv.url, identity('rid'))
    client.get('/v2/images')    # the same connection served another before
    given = _global()
    r = client.get(path, headers={'X-OpenStack-Request-ID': given})
    own = r.headers[HEADER]
    lines = _logged(srv, own)
    assert all(given in line for line in lines), lines
    assert _logged(srv, given) == lines
    # an id that is not req-<uuid> is not taken up as the global id
    r = client.get(path, headers={'X-OpenStack-Request-ID': 'bogus'})
    lines = _logged(srv, r.headers[HEADER])
    assert not any('bogus' in line for line in lines)


def test_overlong_incoming_id_refused(srv):
    client = Client(srv.url, identity('rid'))
    r = client.get('/v2/images',
                   headers={'X-OpenStack-Request-ID': 'req-' + 'a' * 100})
    assert r.status_code == 400
    assert 'max_request_id_length' not in r.text
    assert 'longer than 64' in r.text
    assert ID.match(r.headers[HEADER])


def test_notifications_carry_the_ids(rabbit):  # noqa: F811
    srv, collector = rabbit
    client = Client(srv.url, identity('rid-notify'))
    given = _global()
    r = client.post('/v2/images', json={'name': 'rid'},
                    headers={'X-OpenStack-Request-ID': given})
    assert r.status_code == 201
    image_id = r.json()['id']
    got = wait_for(lambda: collector.of(image_id), lambda got: got,
                   'image.create over RabbitMQ')
    assert got[0]['event_type'] == 'image.create'
    assert got[0]['context']['global_request_id'] == given
    assert got[0]['context']['request_id'] == r.headers[HEADER]


def test_import_forwarded_with_the_global_id(nodes):  # noqa: F811
    """Staged on one, imported through two: one logs two's id as global."""
    one, two = nodes
    project = 'rid-%s' % uuid.uuid4().hex[:8]
    on_one = Client(one.url, identity(project))
    on_two = Client(two.url, identity(project))
    image_id = _create(on_one)
    assert _stage(on_one, image_id, blob(1000, 'rid')).status_code == 204
    r = _import(on_two, image_id, method={'name': 'glance-direct'})
    assert r.status_code == 202, r.text
    on_two_id = r.headers[HEADER]
    image, task = _wait(on_two, image_id)
    assert task['status'] == 'success'
    # no global id given: two's own id becomes the global one on one
    assert _logged(one, on_two_id)
    # a given global id travels on unchanged
    given = _global()
    image_id = _create(on_one)
    assert _stage(on_one, image_id, blob(1000, 'rid')).status_code == 204
    r = _import(on_two, image_id, method={'name': 'glance-direct'},
                headers={'X-OpenStack-Request-ID': given})
    assert r.status_code == 202, r.text
    _wait(on_two, image_id)
    assert _logged(one, given)


def test_glance_download_passes_the_global_id_on(regions):  # noqa: F811
    """Both reads from the other region are logged there under the id
    the import was made with."""
    local, remote = regions
    project = 'rid-gd-%s' % uuid.uuid4().hex[:8]
    there = Client(remote.url, identity(project))
    source = _create(there)
    assert there.upload(source, blob(100, 'gd')).status_code == 204
    here = Client(local.url, dict(identity(project), **{
        'X-Service-Catalog': _catalog(remote)}))
    target = here.create(name='copy')['id']
    given = _global()
    r = _import(here, target, method={
        'name': 'glance-download', 'glance_image_id': source,
        'glance_region': 'RegionTwo'},
        headers={'X-OpenStack-Request-ID': given})
    assert r.status_code == 202, r.text
    image, task = _wait(here, target)
    assert task['status'] == 'success', task
    wanted = ['GET /v2/images/%s HTTP' % source,
              'GET /v2/images/%s/file' % source]
    wait_for(lambda: _logged(remote, given),
             lambda lines: all(any(w in line for line in lines)
                               for w in wanted),
             'both reads logged with %s' % given)
