"""Bad input on the wire: request lines the server cannot parse, and
clients that go away before their body is complete.

Each case is written on a raw socket, checked for the exact status line
(or no answer at all), the API's JSON error body, one INFO line an operator
can act on, no ERROR in the log, and that nothing was half-written.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import time

import pytest

from glance.tests.functional.conftest import Client, identity

PROJECT = 'bad-wire-pa'


@pytest.fixture(scope='module')
def alice(ref_server) -> Client:
    return Client(ref_server.url, identity(PROJECT))


def _head(client: Client) -> bytes:
    return ''.join('%s: %s\r\n' % kv for kv in
                   client.session.headers.items()
                   if kv[0].startswith('X-')).encode()


def talk(server, data: bytes, close: str = 'half') -> bytes:
    """Send ``data`` and return everything the server answers.

    ``close='half'`` ends our side of the connection (the server reads
    EOF) and reads the answer; ``'reset'`` aborts the connection at once
    (RST), answering nothing.
    """
    sock = socket.create_connection(('127.0.0.1', server.port), timeout=60)
    try:
        sock.sendall(data)
        if close == 'reset':
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack('ii', 1, 0))
            return b''
        sock.shutdown(socket.SHUT_WR)
        received = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk
    finally:
        sock.close()


def split(response: bytes) -> tuple[bytes, dict[str, str], bytes]:
    head, _, body = response.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    headers = dict(line.decode('latin-1').split(': ', 1)
                   for line in lines[1:])
    return lines[0], {k.lower(): v for k, v in headers.items()}, body


class Log:
    """The server's log from the moment a test starts."""

    def __init__(self, server):
        self.path = os.path.join(server.workdir, 'glance-api.log')
        with open(self.path, 'rb') as f:
            self.start = f.seek(0, 2)

    def text(self) -> str:
        with open(self.path, 'rb') as f:
            f.seek(self.start)
            return f.read().decode('utf-8', 'replace')

    def wait_for(self, needle: str) -> str:
        """The new log once it holds ``needle`` (the server logs after it
        answered, or after a client that reset gets no answer)."""
        deadline = time.monotonic() + 30
        while needle not in self.text() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.text()

    def assert_clean(self) -> None:
        text = self.text()
        assert ' ERROR ' not in text and 'Traceback' not in text, text


@pytest.fixture
def log(ref_server) -> Log:
    watch = Log(ref_server)
    yield watch
    watch.assert_clean()


# -- request lines ------------------------------------------------------------

@pytest.mark.parametrize('line,status', [
    (b'GET /v2/images HTTP/9.9', b'505 HTTP Version Not Supported'),
    (b'GET /v2/images HTTP/2.0', b'505 HTTP Version Not Supported'),
    (b'GET /v2/images HTTP/1.1.1', b'400 Bad Request'),
    (b'GET /v2/images HTTPS/1.1', b'400 Bad Request'),
    (b'GET /v2/images FOO HTTP/1.1', b'400 Bad Request'),
    (b'\x00\x01\x02\x03', b'400 Bad Request'),
])
def test_unparseable_request_lines_get_a_status_line(ref_server, log, line,
                                                     status):
    status_line, headers, body = split(talk(ref_server, line + b'\r\n\r\n'))
    assert status_line == b'HTTP/1.1 ' + status
    assert headers['connection'] == 'close'
    assert headers['content-type'] == 'application/json'
    assert int(headers['content-length']) == len(body)
    error = json.loads(body)
    assert error['code'] == status.decode()
    assert error['title'] == status.decode().split(' ', 1)[1]
    assert error['message']
    assert 'Refused a malformed request from 127.0.0.1 with %s' % \
        status[:3].decode() in log.wait_for('Refused')


@pytest.mark.parametrize('head,status,words', [
    (b'Content-Length: -1', b'400 Bad Request', 'Content-Length'),
    (b'Content-Length: abc', b'400 Bad Request', 'Content-Length'),
    (b'Content-Length: 2\r\nTransfer-Encoding: chunked', b'400 Bad Request',
     'not allowed together'),
    (b'X-Long: ' + b'y' * 70000, b'400 Header Line Too Long',
     'max_header_line'),
    (b'X-H: v\r\n' * 200 + b'X-H: v', b'431 Request Header Fields Too Large',
     'headers'),
])
def test_unusable_headers_get_a_status_line(ref_server, log, head, status,
                                            words):
    """What eventlet refused itself with a bare HTTP/1.0 line gets the
    same answer as an unparseable request line."""
    status_line, headers, body = split(talk(
        ref_server, b'POST /v2/images HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n{}'
        % head))
    assert status_line == b'HTTP/1.1 ' + status
    assert headers['connection'] == 'close'
    assert words in json.loads(body)['message']


def test_tls_on_the_plain_port_is_400_saying_so(ref_server, alice, log):
    hello = bytes.fromhex('16030100a5010000a10303') + os.urandom(32) + \
        bytes.fromhex('000004130113020100007400000010000e00000b6c6f63616c')
    status_line, _headers, body = split(talk(ref_server, hello))
    assert status_line == b'HTTP/1.1 400 Bad Request'
    assert 'not HTTPS' in json.loads(body)['message']
    assert 'a TLS handshake was received' in log.wait_for('TLS')
    assert alice.get('/v2/images').status_code == 200


# -- bodies cut short --------------------------------------------------------

def _images(client: Client) -> list[str]:
    r = client.get('/v2/images?limit=1000')
    assert r.status_code == 200
    return sorted(i['id'] for i in r.json()['images'])


def _short_request(client: Client, method: str, path: str,
                   content_type: str, declared: int, sent: bytes) -> bytes:
    return (b'%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json'
            b'\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n'
            % (method.encode(), path.encode(), content_type.encode(),
               declared, _head(client))) + sent


@pytest.mark.parametrize('close', ['half', 'reset'])
@pytest.mark.parametrize('path', ['/v2/images',
                                  '/v2/metadefs/namespaces'])
def test_json_body_cut_short_is_logged_at_info(ref_server, alice, log,
                                               close, path):
    before = _images(alice)
    response = talk(ref_server, _short_request(
        alice, 'POST', path, 'application/json', 100, b'{"name": "cut'),
        close)
    if close == 'half':
        status_line, _headers, body = split(response)
        assert status_line == b'HTTP/1.1 400 Bad Request'
        assert 'Content-Length' in json.loads(body)['message']
    else:
        assert response == b''
    text = log.wait_for('client disconnected')
    line = [ln for ln in text.splitlines() if 'client disconnected' in ln]
    assert len(line) == 1 and ' INFO ' in line[0] and 'req-' in line[0]
    assert _images(alice) == before


def _store_files(server, image_id: str) -> list[str]:
    found = []
    for root, _dirs, files in os.walk(os.path.join(server.workdir,
                                                   'stores')):
        found += [os.path.join(root, f) for f in files if image_id in f]
    return found


def _settled(client: Client, image_id: str) -> dict:
    """The image once no upload holds it (the server undoes a reset
    client's upload after the client is gone)."""
    deadline = time.monotonic() + 30
    while True:
        image = client.get('/v2/images/%s' % image_id).json()
        if image['status'] not in ('saving', 'uploading') or \
                time.monotonic() > deadline:
            return image


@pytest.mark.parametrize('close', ['half', 'reset'])
@pytest.mark.parametrize('target', ['file', 'stage'])
def test_image_data_cut_short_leaves_nothing(ref_server, alice, log, close,
                                             target):
    image = alice.create(name='cut', disk_format='raw',
                         container_format='bare')
    path = '/v2/images/%s/%s' % (image['id'], target)
    response = talk(ref_server, _short_request(
        alice, 'PUT', path, 'application/octet-stream', 1 << 20,
        b'x' * 70000), close)
    if close == 'half':
        status_line, _headers, body = split(response)
        assert status_line == b'HTTP/1.1 400 Bad Request'
        assert 'interrupted' in json.loads(body)['message']
    text = log.wait_for(image['id'])
    assert any(image['id'] in ln and ' INFO ' in ln
               for ln in text.splitlines())
    shown = _settled(alice, image['id'])
    assert (shown['status'], shown['size']) == ('queued', None)
    assert _store_files(ref_server, image['id']) == []
    # Nothing stands in the way of a complete upload afterwards.
    r = alice.put(path, data=b'whole',
                  headers={'Content-Type': 'application/octet-stream'})
    assert r.status_code == 204, r.text


def _chunked(client: Client, chunks: bytes) -> bytes:
    return (b'POST /v2/images HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: '
            b'application/json\r\nContent-Type: application/json\r\n'
            b'Transfer-Encoding: chunked\r\n%s\r\n' % _head(client)) + chunks


def test_chunked_json_body_is_read(ref_server, alice, log):
    body = b'{"name": "chunked"}'
    status_line, _headers, answer = split(talk(ref_server, _chunked(
        alice, b'%x\r\n%s\r\n0\r\n\r\n' % (len(body), body))))
    assert status_line == b'HTTP/1.1 201 Created'
    assert json.loads(answer)['name'] == 'chunked'


@pytest.mark.parametrize('chunks', [b'10\r\n{"name": "cu', b'zz\r\n{}\r\n',
                                    b'2\r\n{}\r\n'])
def test_chunked_json_body_cut_short_or_broken_is_400(ref_server, alice,
                                                      log, chunks):
    before = _images(alice)
    status_line, _headers, body = split(talk(ref_server,
                                             _chunked(alice, chunks)))
    assert status_line == b'HTTP/1.1 400 Bad Request'
    assert 'chunked encoding' in json.loads(body)['message']
    assert 'client disconnected' in log.wait_for('client disconnected')
    assert _images(alice) == before
