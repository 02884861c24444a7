"""The http store against a real web server on loopback."""
from __future__ import annotations

import http.server
import threading

from oslo_config import cfg
import pytest

from glance.store import backend, exceptions
from glance.store import location as loc_mod

DATA = bytes(range(256)) * 40          # 10240 bytes, every offset distinct


class Handler(http.server.BaseHTTPRequestHandler):
    """/data (Range aware), /plain (ignores Range), /hop/N (N redirects to
    /data), /hop-to?to=URL, /gone (404), /broken (500)."""

    def log_message(self, *args) -> None:
        pass

    def _send_data(self, body: bool, ranges: bool = True) -> None:
        start, end = 0, len(DATA) - 1
        asked = self.headers.get('Range') if ranges else None
        if asked:
            first, _, last = asked.split('=')[1].partition('-')
            start, end = int(first), int(last) if last else end
        self.send_response(206 if asked else 200)
        self.send_header('Content-Length', str(end - start + 1))
        self.end_headers()
        if body:
            self.wfile.write(DATA[start:end + 1])

    def _route(self, body: bool) -> None:
        if self.path.startswith('/hop-to?to='):
            self.send_response(302)
            self.send_header('Location', self.path[len('/hop-to?to='):])
            self.send_header('Content-Length', '0')
            self.end_headers()
            return None
        parts = self.path.strip('/').split('/')
        if parts[0] == 'data':
            return self._send_data(body)
        if parts[0] == 'plain':
            return self._send_data(body, ranges=False)
        if parts[0] == 'hop':
            left = int(parts[1])
            self.send_response(302)
            self.send_header('Location',
                             '/hop/%d' % (left - 1) if left > 1 else '/data')
            self.send_header('Content-Length', '0')
            self.end_headers()
            return None
        self.send_response(404 if parts[0] == 'gone' else 500)
        self.send_header('Content-Length', '0')
        self.end_headers()
        return None

    def do_GET(self) -> None:
        self._route(body=True)

    def do_HEAD(self) -> None:
        self._route(body=False)


@pytest.fixture(scope='module')
def web():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % server.server_address[1]
    server.shutdown()


@pytest.fixture
def registry(tmp_path):
    """A multi-store registry with a web (http) and a fast (file) store."""
    path = tmp_path / 'glance-api.conf'
    path.write_text('[DEFAULT]\n'
                    'enabled_backends = fast:file, web:http, inward:http\n'
                    '[glance_store]\ndefault_backend = fast\n'
                    '[fast]\nfilesystem_store_datadir = %s\n'
                    '[web]\nhttp_store_max_redirects = 3\n'
                    'http_store_allowed_hosts = 127.0.0.1\n'
                    '[inward]\n'
                    % (tmp_path / 'fast'))
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], project='glance-store-test',
         default_config_files=[])
    saved = backend._REGISTRY           # create_stores replaces the global
    yield backend.create_stores(conf)
    backend._REGISTRY = saved


def _get(registry, uri: str, **kw) -> bytes:
    store, location = registry.for_uri(uri)
    chunks, size = store.get(location, **kw)
    data = b''.join(chunks)
    assert len(data) == size
    return data


def test_loaded_by_stevedore_as_a_read_only_store(registry):
    store = registry.get('web')
    assert store.TYPE == 'http'
    assert store.properties() == {'max_redirects': 3, 'timeout': 60}
    assert 'web' in registry.user_stores()
    with pytest.raises(exceptions.StoreAddDisabled):
        store.add('id', iter([b'x']), 1)


def test_get_and_size(registry, web):
    assert _get(registry, web + '/data') == DATA
    store, location = registry.for_uri(web + '/data')
    assert store.get_size(location) == len(DATA)


@pytest.mark.parametrize('offset, length', [(0, 10), (100, 1000),
                                            (10000, None)])
def test_range_reads(registry, web, offset, length):
    end = None if length is None else offset + length
    assert _get(registry, web + '/data', offset=offset,
                length=length) == DATA[offset:end]


def test_server_without_ranges_is_refused_for_a_range(registry, web):
    store, location = registry.for_uri(web + '/plain')
    with pytest.raises(exceptions.StoreRandomGetNotSupported):
        store.get(location, offset=5)
    assert _get(registry, web + '/plain') == DATA


def test_redirects_are_followed_up_to_the_bound(registry, web):
    assert _get(registry, web + '/hop/3') == DATA
    store, location = registry.for_uri(web + '/hop/3')
    assert store.get_size(location) == len(DATA)
    with pytest.raises(exceptions.BadStoreUri) as info:
        _get(registry, web + '/hop/4')
    assert 'redirects' in str(info.value)


def test_errors(registry, web):
    for path, error in (('/gone', exceptions.NotFound),
                        ('/broken', exceptions.BackendException)):
        store, location = registry.for_uri(web + path)
        with pytest.raises(error):
            store.get(location)
        with pytest.raises(error):
            store.get_size(location)
    store, location = registry.for_uri('http://127.0.0.1:1/none')
    with pytest.raises(exceptions.BackendException):
        store.get(location)


def test_delete_leaves_the_server_alone(registry, web):
    store, location = registry.for_uri(web + '/data')
    store.delete(location)
    assert _get(registry, web + '/data') == DATA


def test_uri_parsing():
    assert loc_mod.parse('https://example.test/x.img').scheme == 'https'
    with pytest.raises(exceptions.BadStoreUri):
        loc_mod.parse('no-scheme')


def test_inward_locations_refused_unless_allowed(registry, web):
    """The ``inward`` store has no http_store_allowed_hosts: loopback and
    link-local (metadata) addresses are refused, in any spelling, and so
    is a redirect from an allowed server to them."""
    store = registry.get('inward')
    port = web.rsplit(':', 1)[1]
    for uri in ('http://127.0.0.1:%s/data' % port,
                'http://2130706433:%s/data' % port,
                'http://169.254.169.254/latest/meta-data/',
                'http://[::ffff:127.0.0.1]:%s/data' % port):
        with pytest.raises(exceptions.BadStoreUri, match='address'):
            store.get(loc_mod.parse(uri))
    allowed = registry.get('web')
    with pytest.raises(exceptions.BadStoreUri, match='link-local'):
        allowed.get(loc_mod.parse(
            web + '/hop-to?to=http://169.254.169.254/x'))
