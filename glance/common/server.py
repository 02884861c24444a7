"""The standalone eventlet WSGI server behind ``glance-api``.

One listening socket, shared by N forked workers (``workers = 0`` serves in
the parent process).  SIGTERM stops accepting and lets requests in flight
finish; SIGHUP re-reads the configuration and replaces the workers.
"""
from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import sys
import time
from typing import Callable

import eventlet
import eventlet.wsgi
from oslo_config import cfg

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

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


def default_workers() -> int:
    return min(os.cpu_count() or 1, 8)


def _listen() -> socket.socket:
    family = socket.AF_INET6 if ':' in CONF.bind_host else socket.AF_INET
    deadline = time.time() + 30
    while True:
        try:
            sock = eventlet.listen((CONF.bind_host, CONF.bind_port),
                                   family=family, backlog=CONF.backlog)
            break
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or time.time() > deadline:
                raise
            time.sleep(0.5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, 'TCP_KEEPIDLE'):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE,
                        CONF.tcp_keepidle)
    return sock


class _LogAdapter:
    """eventlet.wsgi writes access lines to a file-like object."""

    def __init__(self, logger):
        self.logger = logger

    def write(self, msg: str) -> None:
        self.logger.info(msg.rstrip())


class Server:
    """Runs ``load_app()`` on the listening socket in one or more processes."""

    def __init__(self, load_app: Callable[[], object],
                 reload_config: Callable[[], None] | None = None):
        self.load_app = load_app
        self.reload_config = reload_config
        self.children: set[int] = set()
        self.running = True
        self.sock: socket.socket | None = None
        self.pool = None

    # -- parent --------------------------------------------------------
    def start(self) -> None:
        self.sock = _listen()
        host, port = self.sock.getsockname()[:2]
        LOG.info('glance-api listening on http://%s:%s', host, port)
        workers = CONF.workers if CONF.workers is not None \
            else default_workers()
        if workers == 0:
            self._serve_in_process()
            return
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGHUP, self._on_hup)
        for _ in range(workers):
            self._spawn()
        self._watch(workers)

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, self._on_term_child)
            signal.signal(signal.SIGINT, self._on_term_child)
            self._run_child()
            os._exit(0)
        self.children.add(pid)

    def _watch(self, workers: int) -> None:
        while self.running or self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid in self.children:
                self.children.discard(pid)
                if self.running and len(self.children) < self._wanted():
                    LOG.error('Worker %d exited (status %d); starting a new '
                              'one', pid, status)
                    self._spawn()
        LOG.info('glance-api stopped')

    def _wanted(self) -> int:
        return CONF.workers if CONF.workers is not None else default_workers()

    def _on_term(self, signum, frame) -> None:
        self.running = False
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                self.children.discard(pid)

    def _on_hup(self, signum, frame) -> None:
        LOG.info('SIGHUP: reloading configuration and restarting workers')
        if self.reload_config:
            self.reload_config()
        old = list(self.children)
        for _ in range(self._wanted()):
            self._spawn()
        for pid in old:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.children.discard(pid)

    # -- worker --------------------------------------------------------
    def _on_term_child(self, signum, frame) -> None:
        # Stop accepting; eventlet.wsgi.server returns and in-flight
        # requests finish in the pool before the process exits.
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        raise SystemExit(0)

    def _serve_in_process(self) -> None:
        signal.signal(signal.SIGTERM, self._on_term_child)
        if self.reload_config:
            signal.signal(signal.SIGHUP, lambda *a: self.reload_config())
        try:
            self._run_child()
        except SystemExit:
            pass

    def _run_child(self) -> None:
        eventlet.hubs.use_hub()
        app = self.load_app()
        self.pool = eventlet.GreenPool(size=1024)
        eventlet.wsgi.MAX_HEADER_LINE = CONF.max_header_line
        try:
            eventlet.wsgi.server(
                self.sock, app, custom_pool=self.pool,
                log=_LogAdapter(logging.getLogger('eventlet.wsgi.server')),
                debug=False, keepalive=CONF.http_keepalive,
                socket_timeout=CONF.client_socket_timeout or None,
                max_size=10000)
        except SystemExit:
            pass
        finally:
            # Let requests already being served finish (graceful stop).
            self.pool.waitall()
        sys.stdout.flush()
