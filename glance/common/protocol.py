"""glance-api's HTTP protocol: how a request the server cannot even parse
is refused.

eventlet.wsgi parses the request line with the standard library's
``BaseHTTPRequestHandler.parse_request``, whose ``send_error`` writes the
status line only once it knows the request's HTTP version.  A request line
it refuses before that (``GET / HTTP/9.9``, TLS handshake bytes sent to the
plain-HTTP port, binary garbage) was therefore answered with a bare HTML
page and no status line at all, which clients report as a broken server.

:class:`Protocol` answers those with a real ``HTTP/1.1`` status line (400
Bad Request, or 505 HTTP Version Not Supported), the API's JSON error body
and ``Connection: close``, and logs one INFO line an operator can act on
(a TLS client pointed at the plain port is a configuration mistake).
"""
from __future__ import annotations

import http
import json
import logging
import socket

import eventlet.wsgi

from glance.common import balance, sendfile

LOG = logging.getLogger(__name__)

#: the first bytes of a TLS handshake record (ContentType 22, version 3.x)
_TLS_HANDSHAKE = b'\x16\x03'
#: longest part of a refused request line repeated in the log and answer
_ECHO = 120


def error_response(code: int, message: str, reason: str | None = None
                   ) -> bytes:
    """A complete HTTP/1.1 error response with the API's error body.

    The body has the keys webob's JSON errors have (``code``, ``title``,
    ``message``), so clients parse protocol refusals like any other
    error; ``reason`` replaces the standard reason phrase.  The
    connection is closed afterwards because the server cannot know where
    the next request would start.
    """
    reason = reason or http.HTTPStatus(code).phrase
    body = json.dumps({'code': '%d %s' % (code, reason), 'title': reason,
                       'message': message}).encode('utf-8')
    head = ('HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n'
            'Content-Length: %d\r\nConnection: close\r\n\r\n'
            % (code, reason, len(body)))
    return head.encode('latin-1') + body


class Protocol(sendfile.Protocol):
    """eventlet's protocol (with zero-copy sends), refusing unparseable
    requests with a proper status line."""

    def __init__(self, conn_state, server):
        # eventlet serves the whole connection in here
        try:
            super().__init__(conn_state, server)
        finally:
            balance.closed()

    def setup(self) -> None:
        """Send each write at once (``TCP_NODELAY``).

        eventlet writes a response's headers and a body larger than its
        16 KiB buffer in two sends.  With Nagle's algorithm on, the body
        then waits for the client to acknowledge the headers, which a
        client delays by up to 40 ms when it has nothing to send: every
        list of more than about 25 images took 40 ms longer than its
        work.  Every write here is a whole response or a large chunk of
        data, so there is nothing for Nagle's algorithm to gather.
        """
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP,
                                       socket.TCP_NODELAY, 1)
        except OSError:
            pass        # not a TCP socket

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None, reason: str | None = None
                   ) -> None:
        """Answer a request the server refused before the application saw
        it (called by ``parse_request``)."""
        raw = getattr(self, 'raw_requestline', b'') or b''
        if raw.startswith(_TLS_HANDSHAKE):
            message = ('This port speaks plain HTTP, not HTTPS: a TLS '
                       'handshake was received.')
        else:
            message = (message or http.HTTPStatus(code).phrase)[:_ECHO * 2]
        LOG.info('Refused a malformed request from %s with %d: %s '
                 '(request line %r)', self.client_address[0], code,
                 message, raw[:_ECHO])
        self.close_connection = True
        self.wfile.write(error_response(code, message, reason))
        self.wfile.flush()

    def parse_request(self) -> bool:
        """The standard parse, plus the checks eventlet.wsgi makes after
        it (header size, Content-Length, Transfer-Encoding), made here so
        that their refusals too get an HTTP/1.1 status line and the JSON
        error body instead of eventlet's bare HTTP/1.0 lines."""
        try:
            if not super().parse_request():
                return False
        except eventlet.wsgi.HeaderLineTooLong:
            # 400 with eventlet's reason phrase, as glance has always
            # answered (clients and tests look for it).
            self.send_error(400, 'A request header line is longer than '
                                 'max_header_line.',
                            reason='Header Line Too Long')
            return False
        except eventlet.wsgi.HeadersTooLarge:
            self.send_error(400, 'The request headers are too large.',
                            reason='Headers Too Large')
            return False
        length = self.headers.get('Content-Length')
        if length is not None:
            if not length.strip().isdigit():
                self.send_error(400, 'Content-Length must be a '
                                     'non-negative integer.')
                return False
            if self.headers.get('Transfer-Encoding') is not None:
                self.send_error(400, 'Content-Length and Transfer-Encoding '
                                     'are not allowed together.')
                return False
        return True

    def log_message(self, format: str, *args) -> None:
        # The standard library writes these to stderr; send_error above
        # logs what an operator needs.
        LOG.debug(format, *args)
