"""glance-api's HTTP protocol sends each write at once: with Nagle's
algorithm on, a response body written after its headers waited for the
client's delayed acknowledgement (40 ms on Linux) before it left.  (That
malformed requests are refused properly is test_bad_inputs_wire.py.)"""
from __future__ import annotations

import socket
import subprocess
import sys

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


#: a test process as pytest makes it: test modules import http.server as
#: they are collected, the shared conftest is loaded, and then something
#: brings in eventlet.wsgi (glance's server modules)
KEEPS_HTTP_SERVER = """
import http.server
import threading
import glance.tests.conftest
import glance.common.protocol
assert http.server.socketserver.threading is threading
"""


def test_the_test_process_keeps_the_standard_http_server():
    """eventlet.wsgi's green copy of http.server must not replace the
    standard one that the tests' own web servers use: their shutdown()
    then waited forever on a green lock (glance/tests/conftest.py puts the
    standard module back)."""
    result = subprocess.run([sys.executable, '-W', 'ignore', '-c',
                             KEEPS_HTTP_SERVER],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
