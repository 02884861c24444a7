"""Start a real glance-api process on a free loopback port for a test."""
from __future__ import annotations

import atexit
import contextlib
import http.server
import os
import shutil
import signal
import subprocess
import sys
import socketserver
import tempfile
import threading
import time
from typing import Iterator

import requests

from glance.tests.daemons import free_port  # noqa: F401 - for the tests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, 'tools'))
import write_config  # noqa: E402

BIN = os.path.dirname(sys.executable)


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


@contextlib.contextmanager
def serving(handler: type) -> Iterator[str]:
    """Serve ``handler`` (a ``BaseHTTPRequestHandler``) on a free loopback
    port, one thread per request, for the import sources of the tests;
    the base URL (``http://127.0.0.1:PORT``)."""
    httpd = _ThreadingServer(('127.0.0.1', free_port()), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield 'http://127.0.0.1:%d' % httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


_TEMPLATE: list[str] = []


def _migrated_sqlite() -> str:
    """Path of an SQLite database `glance-manage db sync` built, made once
    per test process (xdist workers each have their own)."""
    if not _TEMPLATE:
        directory = tempfile.mkdtemp(prefix='glance-db-template-')
        atexit.register(shutil.rmtree, directory, True)
        conf = write_config.build(directory, free_port())
        result = subprocess.run(
            [os.path.join(BIN, 'glance-manage'), '--config-file', conf,
             'db', 'sync'], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr + result.stdout
        _TEMPLATE.append(os.path.join(directory, 'glance.sqlite'))
    return _TEMPLATE[0]


class GlanceServer:
    """A glance-api process with its own configuration directory.

    ``profile`` is ``default`` (noauth, single file store) or ``reference``
    (identity headers, two file stores: the replay configuration).
    ``settings`` are extra ``SECTION.OPTION=VALUE`` overrides; ``env``
    extra environment variables of the process; ``bin_dir`` where its
    glance-api and glance-manage are (another installation's, say).
    """

    def __init__(self, workdir: str, database_url: str | None = None,
                 profile: str = 'default', settings: list[str] = (),
                 env: dict[str, str] | None = None, bin_dir: str = BIN):
        self.env = dict(os.environ, **(env or {}))
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.config = write_config.build(workdir, self.port, profile,
                                         database_url, list(settings))
        self.database_url = database_url
        #: glance-api's arguments, when not ``--config-file CONFIG``
        self.cli: list[str] | None = None
        self.proc: subprocess.Popen | None = None

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [os.path.join(self.bin_dir, 'glance-manage'), '--config-file',
             self.config, *args], capture_output=True, text=True,
            timeout=120, env=self.env)

    def start(self, sync_db: bool = True) -> 'GlanceServer':
        sqlite = os.path.join(self.workdir, 'glance.sqlite')
        if sync_db and self.database_url is None and \
                not os.path.exists(sqlite):
            # A copy of a database glance-manage migrated once in this
            # process: the same schema, without a migration run per server.
            shutil.copyfile(_migrated_sqlite(), sqlite)
        elif sync_db:
            result = self.manage('db', 'sync')
            assert result.returncode == 0, result.stderr + result.stdout
        self.stdout = open(os.path.join(self.workdir, 'stdout.log'), 'wb')
        self.proc = subprocess.Popen(
            [os.path.join(self.bin_dir, 'glance-api')] +
            (self.cli or ['--config-file', self.config]),
            stdout=self.stdout, stderr=subprocess.STDOUT,
            start_new_session=True, env=self.env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('glance-api exited: %s' % self.log())
            try:
                if requests.get(self.url + '/healthcheck',
                                timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError('glance-api did not start: %s' % self.log())

    def worker_pid(self) -> int:
        """The pid of the (first) worker process serving requests."""
        path = '/proc/%d/task/%d/children' % (self.proc.pid, self.proc.pid)
        with open(path) as f:
            return int(f.read().split()[0])

    def bytes_written(self) -> int:
        """Bytes the worker wrote through the kernel's file paths (Linux
        wchar): data it sent with sendfile counts, send() on a socket does
        not, so a zero-copy download shows here."""
        with open('/proc/%d/io' % self.worker_pid()) as f:
            return int(dict(line.split(': ') for line in f)['wchar'])

    def log(self) -> str:
        out = []
        for name in ('stdout.log', 'glance-api.log'):
            path = os.path.join(self.workdir, name)
            if os.path.exists(path):
                with open(path, errors='replace') as f:
                    out.append(f.read()[-5000:])
        return '\n'.join(out)

    def signal(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum) if signum == signal.SIGKILL \
            else self.proc.send_signal(signum)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None:
            self.stdout.close()
