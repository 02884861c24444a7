"""A forwarding HTTP proxy on loopback for virtual-host S3 requests.

boto3 with ``s3_store_bucket_url_format = virtual`` addresses a bucket as
``http://<bucket>.<domain>:<port>/<key>``; no DNS knows such test names.
A client configured with ``HTTP_PROXY`` pointing here sends the absolute
URL to this proxy instead of resolving the name; the proxy forwards each
request, Host header untouched, to one fixed loopback port (the Swift
proxy, whose s3api takes the bucket from the Host) and records the Host
it saw.  It never resolves a name: the upstream is always 127.0.0.1.

One request per connection (it asks the upstream for ``Connection:
close``), which keeps forwarding a plain byte pipe: bodies, chunked
transfers and ``Expect: 100-continue`` pass through unchanged.
"""
from __future__ import annotations

import socket
import threading
import urllib.parse


class VirtualHostProxy:
    """Forwards absolute-URL requests to ``127.0.0.1:target_port``."""

    def __init__(self, target_port: int):
        self.target = target_port
        #: Host header of every request forwarded, in order
        self.hosts: list[str] = []
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,),
                             daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        buf = b''
        try:
            while b'\r\n\r\n' not in buf:
                data = client.recv(65536)
                if not data:
                    client.close()
                    return
                buf += data
        except OSError:
            client.close()
            return
        head, rest = buf.split(b'\r\n\r\n', 1)
        lines = head.split(b'\r\n')
        method, target, version = lines[0].split(b' ', 2)
        parts = urllib.parse.urlsplit(target.decode('latin-1'))
        path = (parts.path or '/') + ('?' + parts.query if parts.query
                                      else '')
        headers = []
        for line in lines[1:]:
            name = line.split(b':', 1)[0].strip().lower()
            if name == b'host':
                self.hosts.append(line.split(b':', 1)[1].strip().decode())
            if name not in (b'connection', b'proxy-connection',
                            b'keep-alive'):
                headers.append(line)
        upstream = socket.create_connection(('127.0.0.1', self.target))
        request_line = b'%s %s %s\r\n' % (method, path.encode('latin-1'),
                                          version)
        upstream.sendall(request_line +
                         b''.join(h + b'\r\n' for h in headers) +
                         b'Connection: close\r\n\r\n' + rest)
        threading.Thread(target=self._pump, args=(client, upstream),
                         daemon=True).start()
        self._pump(upstream, client)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                # wakes the other direction's recv; the client sees the end
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()
