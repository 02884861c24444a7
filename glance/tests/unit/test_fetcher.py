"""The outbound fetcher against real listeners on loopback.

A refused fetch must never open a connection: each test web server counts
the connections it accepted.  Name resolution is injected (a resolver
function), so "a name that resolves to loopback" needs no /etc/hosts or
DNS, and resolving once is observable.
"""
from __future__ import annotations

import http.server
import threading
import urllib.parse

import pytest

from glance.store import outbound


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == '/redirect':
            self.send_response(302)
            self.send_header('Location',
                             urllib.parse.parse_qs(url.query)['to'][0])
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        body = ('%s|%s|%s' % (self.headers.get('Host'), url.path,
                              self.headers.get('X-Auth-Token'))).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Counting(http.server.ThreadingHTTPServer):
    daemon_threads = True
    accepted = 0

    def get_request(self):
        self.accepted += 1
        return super().get_request()


@pytest.fixture
def web():
    srv = _Counting(('127.0.0.1', 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _port(srv) -> int:
    return srv.server_address[1]


def _resolver(table: dict[str, list[str]], calls: list | None = None):
    def resolve(host, port):
        if calls is not None:
            calls.append(host)
        return table.get(host, [])
    return resolve


OPEN = outbound.Policy(allowed_schemes=('http', 'https'))


def _allow_loopback(**kw) -> outbound.Policy:
    return outbound.Policy(allowed_hosts=('127.0.0.1', 'images.test'), **kw)


# --------------------------------------------------------- address checks
@pytest.mark.parametrize('spelling', [
    '127.0.0.1', '2130706433', '0177.0.0.1', '0x7f.1', '0x7f000001',
    '127.1', '017700000001', '[::1]', '[::ffff:127.0.0.1]',
    '[::ffff:7f00:1]', '127.9.9.9'])
def test_loopback_spellings_refused_without_connecting(web, spelling):
    url = 'http://%s:%d/x' % (spelling, _port(web))
    with pytest.raises(outbound.Refused, match='loopback'):
        outbound.request(url, OPEN, resolver=_resolver({}))
    assert web.accepted == 0


@pytest.mark.parametrize('address,why', [
    ('169.254.169.254', 'link-local'), ('[fe80::1]', 'link-local'),
    ('0.0.0.0', 'unspecified'), ('[::]', 'unspecified'), ('0', 'unspec'),
    ('224.0.0.1', 'multicast'), ('[ff02::1]', 'multicast'),
    ('[::ffff:169.254.169.254]', 'link-local'),
    ('0xa9fea9fe', 'link-local')])
def test_inward_addresses_refused(address, why):
    with pytest.raises(outbound.Refused, match=why):
        outbound.check('http://%s/latest/meta-data' % address, OPEN,
                       _resolver({}))


def test_spellings_are_normalised_against_the_lists():
    policy = outbound.Policy(disallowed_hosts=('10.0.0.0/8', '192.0.2.7'),
                             allowed_ports=())
    for host in ('10.1.2.3', '167838211', '012.1.2.3', '0xa.1.2.3',
                 '10.66051', '[::ffff:10.1.2.3]'):
        with pytest.raises(outbound.Refused, match='10.1.2.3.* disallowed'):
            outbound.check('http://%s/x' % host, policy, _resolver({}))
    with pytest.raises(outbound.Refused, match='disallowed'):
        outbound.check('http://mirror.test/x', policy,
                       _resolver({'mirror.test': ['198.51.100.1',
                                                  '192.0.2.7']}))
    # an address that passes the lists is still refused in such a form,
    # as the reference does; written the usual way it is fetched
    with pytest.raises(outbound.Refused, match='unusual form.* 192.0.2.2'):
        outbound.check('http://3221225986/x', outbound.Policy(),
                       _resolver({}))
    target = outbound.check('http://192.0.2.2/x', outbound.Policy(),
                            _resolver({}))
    assert target.addresses == ('192.0.2.2',)


def test_name_resolving_to_loopback_refused(web):
    """Every resolved address counts: one inward address refuses the
    name, however many public ones come with it."""
    url = 'http://rebind.test:%d/x' % _port(web)
    resolver = _resolver({'rebind.test': ['198.51.100.1', '127.0.0.1']})
    with pytest.raises(outbound.Refused, match='resolves to 127.0.0.1'):
        outbound.request(url, OPEN, resolver=resolver)
    assert web.accepted == 0


def test_allow_lists_hold_names_addresses_and_ports():
    policy = outbound.Policy(allowed_hosts=('mirror.test',),
                             allowed_ports=(80,), disallowed_ports=(8080,))
    resolver = _resolver({'mirror.test': ['198.51.100.1'],
                          'other.test': ['198.51.100.2']})
    assert outbound.check('http://mirror.test/x', policy, resolver
                          ).addresses == ('198.51.100.1',)
    for url, why in [('http://other.test/x', 'host'),
                     ('http://198.51.100.1/x', 'host'),
                     ('http://mirror.test:81/x', 'port 81'),
                     ('ftp://mirror.test/x', 'scheme'),
                     ('http://mirror.test:99999/x', 'not a valid'),
                     ('not a url', 'not a valid')]:
        with pytest.raises(outbound.Refused, match=why):
            outbound.check(url, policy, resolver)


# ----------------------------------------------------------- the fetches
def test_allowed_fetch_is_pinned_to_the_checked_address(web):
    """The name is resolved once, by the injected resolver (the system
    cannot resolve images.test); the server sees the name as Host."""
    calls = []
    url = 'http://images.test:%d/data' % _port(web)
    response = outbound.request(
        url, _allow_loopback(), resolver=_resolver(
            {'images.test': ['127.0.0.1']}, calls))
    assert response.status == 200
    assert response.read() == b'images.test:%d|/data|None' % _port(web)
    assert calls == ['images.test']
    assert web.accepted == 1


def test_redirect_to_a_disallowed_address_refused(web):
    port = _port(web)
    policy = _allow_loopback()
    resolver = _resolver({'images.test': ['127.0.0.1'],
                          'evil.test': ['169.254.169.254']})
    for to in ('http://evil.test/latest', 'http://169.254.169.254/',
               'http://0x7f.2:%d/x' % port, 'ftp://images.test/x'):
        before = web.accepted
        with pytest.raises(outbound.Refused):
            outbound.request('http://images.test:%d/redirect?to=%s'
                             % (port, urllib.parse.quote(to)), policy,
                             resolver=resolver)
        # the first hop was made; the refused one never was
        assert web.accepted == before + 1


def test_redirects_are_followed_checked_and_bounded(web):
    port = _port(web)
    policy = _allow_loopback()
    resolver = _resolver({'images.test': ['127.0.0.1']})
    url = 'http://images.test:%d/redirect?to=/final' % port
    response = outbound.request(url, policy, resolver=resolver,
                                headers={'X-Auth-Token': 'secret'})
    assert response.read().endswith(b'|/final|secret')
    # credentials are not sent to another origin
    url = 'http://images.test:%d/redirect?to=%s' % (port, urllib.parse.quote(
        'http://127.0.0.1:%d/other' % port))
    response = outbound.request(url, policy, resolver=resolver,
                                headers={'X-Auth-Token': 'secret'})
    assert response.read() == b'127.0.0.1:%d|/other|None' % port
    loop = 'http://127.0.0.1:%d/redirect?to=/redirect%%3Fto%%3D/x' % port
    with pytest.raises(outbound.Refused, match='redirects'):
        outbound.request(loop, policy, max_redirects=0, resolver=resolver)


def test_unreachable_is_a_fetch_error():
    with pytest.raises(outbound.FetchError, match='not reachable'):
        outbound.request('http://127.0.0.1:1/x', _allow_loopback(),
                         resolver=_resolver({}))
