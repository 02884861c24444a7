"""The API server's options ([DEFAULT] bind_host, workers...).

Declared apart from :mod:`glance.common.server`, which imports eventlet,
so that processes serving no HTTP (glance-worker runs without eventlet)
and the option tools can register and check them.
"""
from __future__ import annotations

from oslo_config import cfg

CONF = cfg.CONF

bind_opts = [
    cfg.HostAddressOpt('bind_host', default='0.0.0.0',
                       help='Address the API listens on.'),
    cfg.PortOpt('bind_port', default=9292, help='Port the API listens on.'),
]
socket_opts = [
    cfg.IntOpt('backlog', default=4096, min=1,
               help='Connections queued before the kernel refuses more.'),
    cfg.IntOpt('tcp_keepidle', default=600,
               help='Idle seconds before TCP keepalive probes start.'),
    cfg.IntOpt('workers', min=0,
               help='Worker processes; default: the number of CPUs (at '
                    'most 8). 0 serves from the parent process.'),
    cfg.IntOpt('max_header_line', default=16384,
               help='Longest request header line accepted, in bytes.'),
    cfg.IntOpt('client_socket_timeout', default=900, min=0,
               help='Seconds a client connection may stay idle; 0 waits '
                    'forever.'),
    cfg.BoolOpt('http_keepalive', default=True,
                help='Keep client connections open between requests.'),
    cfg.IntOpt('max_request_id_length', default=64, min=0,
               help='Longest request id accepted from clients.'),
]
CONF.register_opts(bind_opts)
CONF.register_opts(socket_opts)
