"""web-download through a real glance-api cannot be turned inward.

A web server on loopback counts the connections it accepts: a refused
URL (in any spelling of 127.0.0.1) is refused with 400 and never
contacted; a redirect to a refused place fails the import task with a
message saying why, after exactly the one allowed hop.
"""
from __future__ import annotations

import os
import threading
import urllib.parse
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer
from glance.tests.functional.test_import import _create, _import, _wait, \
    blob
from glance.tests.unit.test_fetcher import _Counting, _Handler


class _BlobHandler(_Handler):
    """/redirect?to=URL as the unit tests' handler, else 7 bytes."""

    def do_GET(self):
        self.server.request_ids.append(
            self.headers.get('X-OpenStack-Request-ID'))
        if self.path.startswith('/redirect'):
            return super().do_GET()
        data = blob(7, 'out')
        self.send_response(200)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope='module')
def web():
    srv = _Counting(('127.0.0.1', 0), _BlobHandler)
    srv.request_ids = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _logged(server: GlanceServer, text: str) -> list[str]:
    with open(os.path.join(server.workdir, 'glance-api.log')) as f:
        return [line for line in f if text in line]


def _server(workdir, web, allowed_hosts: str) -> GlanceServer:
    return GlanceServer(str(workdir), profile='reference', settings=[
        'import_filtering_opts.allowed_ports=[80,%d]'
        % web.server_address[1],
        'import_filtering_opts.allowed_hosts=%s' % allowed_hosts]).start()


@pytest.fixture(scope='module')
def closed(tmp_path_factory, web):
    """127.0.0.1 not allowed: the default for inward addresses."""
    server = _server(tmp_path_factory.mktemp('closed'), web, '[]')
    yield Client(server.url, identity('out-closed'))
    server.stop()


@pytest.fixture(scope='module')
def open_(tmp_path_factory, web):
    """127.0.0.1 allowed explicitly, as an operator would list a mirror."""
    server = _server(tmp_path_factory.mktemp('open'), web, '[127.0.0.1]')
    client = Client(server.url, identity('out-open'))
    client.server = server
    yield client
    server.stop()


@pytest.mark.parametrize('host', [
    '127.0.0.1', '2130706433', '0177.0.0.1', '0x7f.1', '127.1',
    '[::ffff:127.0.0.1]', 'localhost'])
def test_loopback_in_any_spelling_refused_unseen(closed, web, host):
    before = web.accepted
    image_id = _create(closed)
    r = _import(closed, image_id, method={
        'name': 'web-download',
        'uri': 'http://%s:%d/blob' % (host, web.server_address[1])})
    assert r.status_code == 400, r.text
    assert 'loopback' in r.text
    image = closed.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'queued'
    assert web.accepted == before


def test_allowed_fetch_works(open_, web):
    before = web.accepted
    image_id = _create(open_)
    given = 'req-%s' % uuid.uuid4()
    r = _import(open_, image_id, method={
        'name': 'web-download',
        'uri': 'http://127.0.0.1:%d/blob' % web.server_address[1]},
        headers={'X-OpenStack-Request-ID': given})
    assert r.status_code == 202
    image, task = _wait(open_, image_id)
    assert task['status'] == 'success', task
    # the source is told the global request id
    assert web.request_ids[-1] == given
    assert open_.get('/v2/images/%s/file' % image_id).content == \
        blob(7, 'out')
    assert web.accepted == before + 1


@pytest.mark.parametrize('to,why', [
    ('http://169.254.169.254/latest/meta-data/', 'link-local'),
    ('http://0x7f.2:%(port)d/blob', '(127.0.0.2) is a loopback'),
    ('http://localhost:%(port)d/blob', 'not allowed'),
    ('http://127.0.0.1:1/blob', 'port 1'),
    ('file:///etc/passwd', 'scheme')])
def test_redirect_to_a_refused_place_fails_the_task(open_, web, to, why):
    port = web.server_address[1]
    to = to % {'port': port}
    before = web.accepted
    image_id = _create(open_)
    r = _import(open_, image_id, method={
        'name': 'web-download',
        'uri': 'http://127.0.0.1:%d/redirect?to=%s' % (
            port, urllib.parse.quote(to))})
    assert r.status_code == 202
    image, task = _wait(open_, image_id)
    assert task['status'] == 'failure'
    assert why in task['message'], task['message']
    assert image['status'] == 'queued'
    assert web.accepted == before + 1       # the redirect, nothing after
    # the operator's log line of the refusal carries the import's id
    refused = _logged(open_.server, 'Refused outbound web-download')
    assert any(r.headers['x-openstack-request-id'] in line
               for line in refused), refused
