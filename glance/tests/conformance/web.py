"""A loopback HTTP server of small test images.

Tempest's web-download and add-location tests fetch ``[image] http_image``
and ``http_qcow2_image``, which default to images on the internet; here
they are served from 127.0.0.1 instead.  The qcow2 image is a real one
(header, refcount table and block, L1 table) so that glance's format
inspection accepts it as qcow2; the raw image is plain bytes.
"""
from __future__ import annotations

import http.server
import os
import struct
import threading

#: the raw image: 1 MiB, not looking like any other disk format
RAW_SIZE = 1 << 20


def qcow2_image(virtual_size: int = 16 << 20, cluster_bits: int = 16
                ) -> bytes:
    """An empty qcow2 (version 2) image of ``virtual_size`` bytes."""
    cluster = 1 << cluster_bits
    l1_size = max(1, -(-virtual_size // ((cluster // 8) * cluster)))
    # magic, version, backing file offset/size, cluster bits, size,
    # crypt method, L1 size, L1 offset, refcount table offset and
    # clusters, snapshots count and offset
    header = struct.pack('>4sIQIIQIIQQIIQ', b'QFI\xfb', 2, 0, 0,
                         cluster_bits, virtual_size, 0, l1_size,
                         3 * cluster, cluster, 1, 0, 0)
    image = bytearray(4 * cluster)
    image[:len(header)] = header
    # refcount table -> block at cluster 2, which counts the 4 clusters
    struct.pack_into('>Q', image, cluster, 2 * cluster)
    for n in range(4):
        struct.pack_into('>H', image, 2 * cluster + 2 * n, 1)
    return bytes(image)


def raw_image(size: int = RAW_SIZE) -> bytes:
    """Deterministic bytes that no format inspector mistakes for a
    format other than raw."""
    pattern = bytes(range(256)) * 16
    return (pattern * (size // len(pattern) + 1))[:size]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class ImageServer:
    """Serve ``cirros.raw`` and ``cirros.qcow2`` from ``directory`` on a
    free loopback port, in a daemon thread of this process."""

    def __init__(self, directory: str):
        os.makedirs(directory, exist_ok=True)
        for name, data in (('cirros.raw', raw_image()),
                           ('cirros.qcow2', qcow2_image())):
            with open(os.path.join(directory, name), 'wb') as f:
                f.write(data)

        def handler(*args, **kwargs):
            return _Quiet(*args, directory=directory, **kwargs)

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                     handler)
        self.port = self.httpd.server_address[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)

    @property
    def raw_url(self) -> str:
        return self.url + '/cirros.raw'

    @property
    def qcow2_url(self) -> str:
        return self.url + '/cirros.qcow2'

    def start(self) -> 'ImageServer':
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
