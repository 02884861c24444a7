"""The standalone eventlet WSGI server behind ``glance-api``.

The parent process binds the socket, forks ``workers`` processes that share
it, and from then on only supervises them; it never serves a request.  It
takes signals synchronously (``sigwaitinfo``) rather than in handlers, so a
signal never interrupts it half-way through forking or reaping:

* SIGCHLD: a worker ended; one that died unexpectedly is replaced.
* SIGTERM / SIGINT: stop.  Workers stop accepting, finish the requests in
  flight and exit; then the parent exits 0.  A second signal kills them.
* SIGHUP: re-read the configuration, start a new generation of workers with
  it and stop the old generation gracefully.

A worker asked to stop closes its listening socket, lets requests in flight
complete, closes idle keep-alive connections and exits 0.  ``workers = 0``
serves from the parent process itself (handy under a debugger).
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import time
from typing import Callable

import eventlet
import eventlet.wsgi
import greenlet
from oslo_config import cfg

from glance.common import balance, protocol, sendfile
from glance.common import server_opts  # noqa: F401 - the options read here

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


#: the signals the parent waits for
_SUPERVISED = (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: a worker dying sooner than this (seconds) after it started is replaced
#: only after this long, so a crash at start-up cannot become a fork loop
RESPAWN_DELAY = 1.0
#: greenthreads (concurrent requests) per worker
POOL_SIZE = 1024
#: exit status of a worker that could not build the application
EXIT_LOAD_FAILED = 3


class BindError(Exception):
    """The API could not listen on its address."""


def default_workers() -> int:
    """One worker per CPU, at most 8."""
    return min(os.cpu_count() or 1, 8)


def configured_workers() -> int:
    """``workers``, or the default when unset."""
    return CONF.workers if CONF.workers is not None else default_workers()


def listen(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket on ``host:port``, or a :class:`BindError`.

    SO_REUSEPORT stays off: a second glance-api on the same port must fail
    here, not silently share the port with the first.
    """
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    try:
        sock = eventlet.listen((host, port), family=family, backlog=backlog,
                               reuse_port=False)
    except OSError as exc:
        raise BindError('cannot listen on %s:%s: %s' % (
            host, port, exc.strerror or exc)) from exc
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, 'TCP_KEEPIDLE'):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE,
                        CONF.tcp_keepidle)
    return sock


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return 'killed by %s' % signal.Signals(os.WTERMSIG(status)).name
    return 'exit status %d' % os.waitstatus_to_exitcode(status)


#: exceptions that only mean the client went away (or stalled) while its
#: response was being written: nothing for an operator to fix
_CLIENT_GONE = ('BrokenPipeError', 'ConnectionResetError',
                'ConnectionAbortedError', 'TimeoutError', 'socket.timeout')


class _LogAdapter:
    """eventlet.wsgi writes access lines, and the traceback of anything
    that escaped the application, to a file-like object."""

    def __init__(self, logger):
        self.logger = logger

    def write(self, msg: str) -> None:
        msg = msg.rstrip()
        if not msg.startswith('Traceback (most recent call last)'):
            self.logger.info(sendfile.account(msg))
            return
        last = msg.splitlines()[-1]
        if last.split(':', 1)[0] in _CLIENT_GONE:
            # eventlet logs these at INFO with a whole traceback; one line
            # says all there is to say.
            self.logger.info('Client went away before its response was '
                             'written (%s)', last)
        else:
            # The application let an exception out and eventlet answered
            # 500 with no body: a bug, worth an ERROR.
            self.logger.error('Request failed outside the API: %s', msg)


class Server:
    """Serves ``load_app()`` on one socket from one or more processes.

    On SIGHUP, ``reload_config`` and ``load_app`` are first tried in a
    throwaway process; only if both succeed does the server reload and
    replace its workers, otherwise the running ones carry on.
    """

    def __init__(self, load_app: Callable[[], object],
                 reload_config: Callable[[], None] | None = None,
                 check_command: list[str] | None = None):
        self.load_app = load_app
        self.reload_config = reload_config
        #: a command that loads the configuration and the application in a
        #: fresh process and exits 0 when both work (tried on SIGHUP)
        self.check_command = check_command
        self.sock: socket.socket | None = None
        #: pid -> (generation, start time, balance slot) of each live
        #: worker
        self.workers: dict[int, tuple[int, float, int | None]] = {}
        #: the workers' open connections (:mod:`glance.common.balance`)
        self.board: balance.Board | None = None
        self.generation = 0
        self.stopping = False
        self.killed = False
        self.missing = 0
        self.respawn_due = 0.0
        # in a process that serves
        self.app = None
        self._main: greenlet.greenlet | None = None
        self._leaving = False

    def listen(self) -> tuple[str, int]:
        """Bind now (before forking), so an error reaches the operator."""
        self.sock = listen(CONF.bind_host, CONF.bind_port, CONF.backlog)
        self.address = (CONF.bind_host, CONF.bind_port)
        return self.sock.getsockname()[:2]

    def run(self) -> int:
        """Serve until stopped; the process exit status."""
        if self.sock is None:
            self.listen()
        host, port = self.sock.getsockname()[:2]
        workers = configured_workers()
        LOG.info('glance-api listening on http://%s:%s with %d worker(s)',
                 host, port, workers)
        if workers == 0:
            return self._serve_in_process()
        signal.pthread_sigmask(signal.SIG_BLOCK, _SUPERVISED)
        self.board = balance.Board()
        for _ in range(workers):
            self._spawn()
        return self._supervise()

    # -- the parent ----------------------------------------------------
    def _supervise(self) -> int:
        while self.workers or not self.stopping:
            if self.missing and not self.stopping:
                wait = max(0.0, self.respawn_due - time.monotonic())
                info = signal.sigtimedwait(_SUPERVISED, wait)
                if info is None:
                    self._respawn_missing()
                    continue
            else:
                info = signal.sigwaitinfo(_SUPERVISED)
            if info.si_signo == signal.SIGCHLD:
                self._reap()
            elif info.si_signo == signal.SIGHUP:
                self._reload()
            else:
                self._stop(signal.Signals(info.si_signo).name)
        LOG.info('glance-api stopped')
        return 1 if self.killed else 0

    def _spawn(self) -> None:
        slot = self.board.take() if self.board is not None else None
        pid = os.fork()
        if pid == 0:
            status = 1
            balance.serve_as(self.board, slot)
            try:
                status = self._worker()
            except SystemExit:
                status = 0
            except BaseException:  # noqa: BLE001 - a worker must not return
                LOG.exception('Worker %d failed', os.getpid())
            finally:
                logging.shutdown()
                os._exit(status)
        self.workers[pid] = (self.generation, time.monotonic(), slot)
        LOG.info('Started worker %d', pid)

    def _respawn_missing(self) -> None:
        while self.missing:
            self.missing -= 1
            self._spawn()

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            generation, started, slot = self.workers.pop(pid,
                                                         (None, 0.0, None))
            if generation is None:
                continue
            self.board.free(slot)
            if self.stopping or generation != self.generation:
                LOG.info('Worker %d ended (%s)', pid, _describe(status))
                continue
            LOG.error('Worker %d died (%s); starting another', pid,
                      _describe(status))
            now = time.monotonic()
            if now - started < RESPAWN_DELAY:
                self.missing += 1
                self.respawn_due = now + RESPAWN_DELAY
            else:
                self._spawn()

    def _signal_workers(self, signum: int) -> None:
        for pid in list(self.workers):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def _stop(self, name: str) -> None:
        if self.stopping:
            LOG.warning('%s again: killing the workers now', name)
            self.killed = True
            self._signal_workers(signal.SIGKILL)
            return
        LOG.info('%s: stopping; workers finish the requests in flight', name)
        self.stopping = True
        self.missing = 0
        self._signal_workers(signal.SIGTERM)
        self.sock.close()

    def _reload_works(self) -> bool:
        """Try the reload in a fresh process (``check_command``) first.

        oslo.config cannot undo a reload, so a file with a bad value must
        never be loaded here: the parent forks every future worker from
        its own configuration.  A fresh process, never a fork: a copy of a
        serving process (``workers = 0``) would take connections from the
        shared socket on its own hub, and wait for ever on the database
        thread pool whose threads a fork does not copy.
        """
        if not self.check_command:
            return True
        from eventlet.green import subprocess
        done = subprocess.run(self.check_command, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        if done.returncode != 0:
            LOG.error('Could not reload the configuration (%s); carrying on '
                      'with the previous one',
                      done.stderr.decode(errors='replace').strip())
        return done.returncode == 0

    def _reload(self) -> None:
        if self.stopping:
            LOG.info('SIGHUP while stopping: ignored')
            return
        LOG.info('SIGHUP: reloading the configuration')
        if self.reload_config is not None:
            if not self._reload_works():
                return
            try:
                self.reload_config()
            except Exception:  # noqa: BLE001 - the file changed meanwhile
                LOG.exception('Could not reload the configuration; the '
                              'workers keep the one they started with')
                return
        if (CONF.bind_host, CONF.bind_port) != self.address:
            LOG.warning('bind_host/bind_port changed; glance-api keeps '
                        'listening on %s:%s until it is restarted',
                        *self.address)
        old = list(self.workers)
        self.generation += 1
        self.missing = 0
        for _ in range(max(1, configured_workers())):
            self._spawn()
        for pid in old:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # -- a serving process ---------------------------------------------
    def _worker(self) -> int:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self._route_signals((signal.SIGTERM, signal.SIGINT))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SUPERVISED)
        eventlet.hubs.use_hub()
        try:
            self.app = self.load_app()
        except Exception:  # noqa: BLE001 - reported, the parent decides
            LOG.exception('Worker %d could not load the application',
                          os.getpid())
            return EXIT_LOAD_FAILED
        self._serve()
        return 0

    def _serve_in_process(self) -> int:
        self._route_signals((signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
        self.app = self.load_app()
        self._serve()
        LOG.info('glance-api stopped')
        return 0

    def _route_signals(self, signums) -> None:
        """Deliver ``signums`` to a greenthread instead of a handler.

        A Python signal handler runs inside whatever greenlet was current,
        often the hub blocked in epoll, which then goes back to sleep
        without looking at what the handler scheduled.  With a wakeup fd the
        signal makes the hub's fd readable, and :meth:`_watch_signals`
        acts on it like on any other I/O.
        """
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        os.set_blocking(write_end, False)
        signal.set_wakeup_fd(write_end)
        for signum in signums:
            # A handler must be set for the wakeup fd to be written; the
            # work happens in _watch_signals.
            signal.signal(signum, lambda *_: None)
        self._signal_pipe = read_end

    def _watch_signals(self) -> None:
        while True:
            try:
                data = os.read(self._signal_pipe, 64)
            except BlockingIOError:
                eventlet.hubs.trampoline(self._signal_pipe, read=True)
                continue
            for signum in data:
                if signum == signal.SIGHUP:
                    eventlet.spawn_n(self._reload_in_process)
                elif signum in (signal.SIGTERM, signal.SIGINT) and \
                        not self._leaving:
                    self._leaving = True
                    LOG.info('%s: process %d stops accepting and finishes '
                             'the requests in flight',
                             signal.Signals(signum).name, os.getpid())
                    eventlet.hubs.get_hub().schedule_call_global(
                        0, self._leave)

    def _leave(self) -> None:
        """End the accept loop, then close our copy of the listening socket.

        Runs in the hub: the exception makes eventlet.wsgi.server shut idle
        connections and wait for the busy ones; once the main greenlet is
        waiting for those, the listening socket is no longer in use.
        """
        balance.leaving()
        self._main.throw(SystemExit)
        self.sock.close()

    def _reload_in_process(self) -> None:
        LOG.info('SIGHUP: reloading the configuration')
        if self.reload_config is not None and not self._reload_works():
            return
        try:
            if self.reload_config is not None:
                self.reload_config()
            self.app = self.load_app()
        except Exception:  # noqa: BLE001 - keep serving on a bad file
            LOG.exception('Could not reload the configuration; serving '
                          'with the previous one')

    def _dispatch(self, environ, start_response):
        # Indirection so that a reload in process swaps the application.
        return sendfile.response_body(self.app(environ, start_response),
                                      environ)

    def _serve(self) -> None:
        self._main = greenlet.getcurrent()
        eventlet.spawn_n(self._watch_signals)
        eventlet.wsgi.MAX_HEADER_LINE = CONF.max_header_line
        eventlet.wsgi.server(
            balance.Listener(self.sock), self._dispatch,
            protocol=protocol.Protocol,
            custom_pool=eventlet.GreenPool(size=POOL_SIZE),
            log=_LogAdapter(logging.getLogger('eventlet.wsgi.server')),
            debug=False, keepalive=CONF.http_keepalive,
            socket_timeout=CONF.client_socket_timeout or None)
        LOG.info('Process %d finished its requests', os.getpid())
