"""Downloads sent with sendfile by glance-api's own server.

File-store (and image-cache) downloads leave the worker as file regions
that the server sends with ``os.sendfile`` (glance.common.sendfile).  These
tests hold that path to the same contract as any download: every byte, in
order, for whole images and ranges; a slow client only waits its own turn;
a client that leaves half-way costs the worker nothing.
"""
from __future__ import annotations

import hashlib
import os
import socket
import time

import pytest
import requests

from glance.tests.functional.conftest import Client

# glance.common.sendfile's sizes (not imported: it would bring eventlet
# into the test process).
HEAD_BYTES = 64 * 1024
SLICE = 4 * 1024 * 1024
#: spans the bytes sent with the headers and several sendfile slices
SIZE = 2 * SLICE + HEAD_BYTES + 4097


def _blob(n: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha512(counter.to_bytes(8, 'big')).digest()
        counter += 1
    return bytes(out[:n])


@pytest.fixture(scope='module')
def image(server):
    client = Client(server.url)
    blob = _blob(SIZE)
    img = client.create(disk_format='raw', container_format='bare')
    assert client.upload(img['id'], blob).status_code == 204
    return img['id'], blob


def _open_fds(pid: int) -> int:
    return len(os.listdir('/proc/%d/fd' % pid))


def _raw_get(server, path: str, rcvbuf: int = 0) -> socket.socket:
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(30)
    sock.connect(('127.0.0.1', server.port))
    sock.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\nX-Roles: admin\r\n'
                 b'Connection: close\r\n\r\n' % path.encode())
    return sock


def _read_response(sock: socket.socket, pause: float = 0.0) -> bytes:
    """The body of the response on ``sock`` (read until it closes)."""
    raw = bytearray()
    while chunk := sock.recv(65536):
        raw += chunk
        if pause:
            time.sleep(pause)
    head, _, body = bytes(raw).partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 200'), head
    assert b'Content-Length: %d' % len(body) in head
    return body


def _access_line(server, request: str) -> str:
    """The last access log line naming ``request``.  The server writes it
    once the response is over, which may be a moment after the client
    has read the last byte: it is waited for."""
    deadline = time.monotonic() + 10
    while True:
        lines = [ln for ln in server.log().splitlines() if request in ln]
        if lines:
            return lines[-1]
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)


def test_whole_image(server, image):
    image_id, blob = image
    before = server.bytes_written()
    resp = requests.get('%s/v2/images/%s/file' % (server.url, image_id))
    assert server.bytes_written() - before >= SIZE - HEAD_BYTES, \
        'not sent by sendfile'
    # The access log line counts every byte sent (headers included, as
    # eventlet counts), not only those eventlet wrote itself.
    line = _access_line(server, '/v2/images/%s/file HTTP/1.1" 200 '
                        % image_id)
    assert SIZE < int(line.rsplit(' ', 2)[1]) < SIZE + 1024, line
    assert resp.status_code == 200
    assert resp.headers['Content-Length'] == str(SIZE)
    assert resp.headers['Content-MD5'] == hashlib.md5(blob).hexdigest()
    assert resp.content == blob


@pytest.mark.parametrize('first,last', [
    (0, 9), (0, HEAD_BYTES), (HEAD_BYTES - 3, None),
    (SLICE - 5, 2 * SLICE + 5), (SIZE - 1, None),
])
def test_ranges(server, image, first, last):
    image_id, blob = image
    spec = 'bytes=%d-%s' % (first, '' if last is None else last)
    resp = requests.get('%s/v2/images/%s/file' % (server.url, image_id),
                        headers={'Range': spec})
    assert resp.status_code == 206
    end = SIZE - 1 if last is None else last
    assert resp.headers['Content-Range'] == 'bytes %d-%d/%d' % (
        first, end, SIZE)
    assert resp.content == blob[first:end + 1]


def test_suffix_range(server, image):
    image_id, blob = image
    resp = requests.get('%s/v2/images/%s/file' % (server.url, image_id),
                        headers={'Range': 'bytes=-70000'})
    assert resp.status_code == 206
    assert resp.content == blob[-70000:]


def test_a_stalled_client_does_not_hold_up_the_worker(server, image):
    """The worker waits for a full socket the green way, so it answers
    others meanwhile, then finishes the stalled download intact."""
    image_id, blob = image
    sock = _raw_get(server, '/v2/images/%s/file' % image_id, rcvbuf=65536)
    try:
        time.sleep(0.3)   # the socket buffers fill; sendfile would block
        resp = requests.get('%s/v2/images/%s' % (server.url, image_id),
                            timeout=10)
        assert resp.status_code == 200
        assert _read_response(sock, pause=0.0005) == blob
    finally:
        sock.close()


def test_a_client_leaving_half_way_costs_nothing(server, image):
    image_id, blob = image
    pid = server.worker_pid()
    requests.get('%s/v2/images/%s/file' % (server.url, image_id))
    before = _open_fds(pid)
    for _ in range(3):
        sock = _raw_get(server, '/v2/images/%s/file' % image_id,
                        rcvbuf=65536)
        assert sock.recv(65536)
        sock.close()
    deadline = time.time() + 10
    while _open_fds(pid) > before and time.time() < deadline:
        time.sleep(0.1)
    assert _open_fds(pid) <= before, 'image files or sockets left open'
    resp = requests.get('%s/v2/images/%s/file' % (server.url, image_id))
    assert resp.content == blob


def test_the_connection_serves_the_next_request(server, image):
    """After a region the connection is where HTTP expects it: a request
    pipelined behind the download is answered on the same connection."""
    image_id, blob = image
    sock = socket.create_connection(('127.0.0.1', server.port), timeout=30)
    try:
        sock.sendall(b'GET /v2/images/%s/file HTTP/1.1\r\nHost: x\r\n\r\n'
                     b'GET /v2/images/%s HTTP/1.1\r\nHost: x\r\n'
                     b'Connection: close\r\n\r\n'
                     % (image_id.encode(), image_id.encode()))
        raw = bytearray()
        while chunk := sock.recv(1 << 20):
            raw += chunk
    finally:
        sock.close()
    start = raw.index(b'\r\n\r\n') + 4
    assert bytes(raw[start:start + SIZE]) == blob
    assert raw[start + SIZE:].startswith(b'HTTP/1.1 200 OK')
    assert image_id.encode() in raw[start + SIZE:]
