"""glance-api's HTTP protocol sends each write at once: with Nagle's
algorithm on, a response body written after its headers waited for the
client's delayed acknowledgement (40 ms on Linux) before it left.  (That
malformed requests are refused properly is test_bad_inputs_wire.py.)"""
from __future__ import annotations

import socket

from glance.common import protocol


def test_connections_are_served_without_nagle():
    listener = socket.create_server(('127.0.0.1', 0))
    client = socket.create_connection(listener.getsockname())
    served, _ = listener.accept()
    try:
        assert not served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        handler = protocol.Protocol.__new__(protocol.Protocol)
        handler.request = served          # what eventlet.wsgi gives it
        handler.rbufsize, handler.wbufsize = -1, 0
        handler.setup()
        assert served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        handler.rfile.close()
        handler.wfile.close()
    finally:
        for s in (client, served, listener):
            s.close()
