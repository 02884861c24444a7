"""Zero-copy downloads for glance-api's eventlet server.

A download from the file store (or the image cache) would otherwise cost
two copies through Python per byte: the file read into a bytes object and
that object written to the socket.  The server offers instead, under
``wsgi.SENDFILE_KEY``, to send glance_store FileRegions itself; the API
then hands back regions, and :func:`response_body` sends each with
``os.sendfile`` straight from the page cache to the client's socket.

eventlet.wsgi writes the status line and headers together with the first
bytes the body yields, so the first bytes of a region go out the ordinary
way; the rest follows by ``sendfile``.  eventlet counts only the bytes it
wrote itself, so :func:`account` adds the rest to the access log line.
"""
from __future__ import annotations

import os
import socket
import ssl
from typing import Iterable, Iterator

import eventlet
import eventlet.corolocal
import eventlet.hubs
import eventlet.wsgi

from glance.common import wsgi
from glance.store.regions import FileRegion

#: bytes of a region sent the ordinary way, with the response headers
HEAD_BYTES = 64 * 1024
#: largest single sendfile call; between calls other requests get a turn
SLICE = 4 * 1024 * 1024

#: per green thread (one connection's requests, one at a time): bytes
#: sent with sendfile for the current request, for its access log line
_SENT = eventlet.corolocal.local()


class Protocol(eventlet.wsgi.HttpProtocol):
    """eventlet's HTTP protocol, offering zero-copy sends to the app."""

    def get_environ(self) -> dict:
        environ = super().get_environ()
        _SENT.bytes = 0
        connection = self.connection
        if isinstance(connection, ssl.SSLSocket):
            # The kernel would send the file unencrypted.
            return environ
        environ[wsgi.SENDFILE_KEY] = lambda region: send_region(connection,
                                                                region)
        # Bytes the body yields must reach the socket before a region that
        # follows them, not wait in eventlet's buffer for more.
        environ['eventlet.minimum_write_chunk_size'] = 0
        return environ


def response_body(result: Iterable, environ: dict) -> Iterable:
    """``result`` with the FileRegions in it sent by this server."""
    send = environ.get(wsgi.SENDFILE_KEY)
    if send is None or isinstance(result, (list, tuple)):
        return result
    return _sending(result, send)


def _sending(result: Iterable, send) -> Iterator[bytes]:
    started = False
    try:
        for chunk in result:
            if isinstance(chunk, FileRegion):
                if not started and len(chunk):
                    # The headers leave with the first bytes written.
                    yield chunk.read(HEAD_BYTES)
                    started = True
                send(chunk)
            elif chunk:
                started = True
                yield chunk
    finally:
        close = getattr(result, 'close', None)
        if close is not None:
            close()


def send_region(sock, region: FileRegion) -> None:
    """Send all of ``region`` on ``sock`` (a green, non-blocking socket).

    Waits for the socket like any green write, up to the socket's timeout;
    a file shorter than the region (truncated under us) is an error, since
    the client was promised that many bytes.
    """
    fd = sock.fileno()
    timeout = sock.gettimeout()
    while len(region):
        try:
            sent = os.sendfile(fd, region.fileno(), region.offset,
                               min(len(region), SLICE))
        except BlockingIOError:
            eventlet.hubs.trampoline(fd, write=True, timeout=timeout,
                                     timeout_exc=socket.timeout('timed out'))
            continue
        if sent == 0:
            raise OSError('image file ended %d bytes early' % len(region))
        region.advance(sent)
        _SENT.bytes = getattr(_SENT, 'bytes', 0) + sent
        eventlet.sleep(0)


def account(line: str) -> str:
    """An access log line of eventlet's default format with the bytes this
    request sent by sendfile added to its body length (the field before
    the duration); any other line unchanged."""
    sent = getattr(_SENT, 'bytes', 0)
    parts = line.rsplit(' ', 2)
    if not sent or len(parts) != 3 or not parts[1].isdigit():
        return line
    _SENT.bytes = 0
    return '%s %d %s' % (parts[0], int(parts[1]) + sent, parts[2])
