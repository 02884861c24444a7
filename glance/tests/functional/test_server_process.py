"""The glance-api process as an operator runs it: workers, signals, limits,
start-up errors, and the WSGI entry point under another server.
"""
from __future__ import annotations

import configparser
import contextlib
import hashlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests

from glance.tests.functional.conftest import Client
from glance.tests.functional.server import (BIN, GlanceServer, free_port,
                                            write_config)

#: bound on every wait for the server to reach a state (never asserted on)
DEADLINE = 30


def wait_for(what: str, predicate, deadline: float = DEADLINE):
    """Poll ``predicate`` until it returns something truthy."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError('timed out waiting for %s' % what)


def workers(srv: GlanceServer) -> set[int]:
    """Pids of the worker processes of ``srv``."""
    pid = srv.proc.pid
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
            return {int(p) for p in f.read().split()}
    except FileNotFoundError:
        return set()


def refused(srv: GlanceServer) -> bool:
    """True once nothing accepts connections on the server's port."""
    try:
        with socket.create_connection(('127.0.0.1', srv.port), timeout=1):
            return False
    except OSError:
        return True


def set_options(srv: GlanceServer, **options: str) -> None:
    """Change [DEFAULT] options in the server's configuration file."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str
    conf.read(srv.config)
    for name, value in options.items():
        conf['DEFAULT'][name] = value
    with open(srv.config, 'w') as f:
        conf.write(f)


@pytest.fixture
def start(tmp_path):
    """Factory: a started glance-api with extra settings; always stopped."""
    started = []

    def make(*settings: str, name: str = 'glance') -> GlanceServer:
        srv = GlanceServer(str(tmp_path / name), settings=list(settings))
        started.append(srv)
        return srv.start()
    yield make
    for srv in started:
        if srv.proc is not None and srv.proc.poll() is None:
            os.killpg(srv.proc.pid, signal.SIGKILL)
            srv.proc.wait()
        if srv.proc is not None:
            srv.stdout.close()


def test_sigterm_lets_an_upload_and_a_download_in_flight_finish(start):
    srv = start('workers=2')
    client = Client(srv.url)
    big = os.urandom(1024 * 1024) * 32          # more than socket buffers
    stored = client.create(name='big', disk_format='raw',
                           container_format='bare')
    assert client.upload(stored['id'], big).status_code == 204
    slow = client.create(name='slow', disk_format='raw',
                         container_format='bare')

    release = threading.Event()

    def body():
        yield b'a' * 65536
        release.wait(DEADLINE)
        for _ in range(15):
            yield b'b' * 65536

    uploaded = {}
    uploader = threading.Thread(target=lambda: uploaded.update(
        r=Client(srv.url).upload(slow['id'], body())))
    uploader.start()
    wait_for('the upload to begin', lambda: client.get(
        '/v2/images/%s' % slow['id']).json()['status'] == 'saving')
    download = Client(srv.url).get('/v2/images/%s/file' % stored['id'],
                                   stream=True)
    assert download.status_code == 200
    chunks = download.iter_content(65536)
    received = [next(chunks)]

    srv.proc.send_signal(signal.SIGTERM)
    # Stop accepting first (every process closes the listening socket) ...
    wait_for('the port to close', lambda: refused(srv))
    assert srv.proc.poll() is None
    # ... then the requests in flight complete.
    release.set()
    received.extend(chunks)
    uploader.join(DEADLINE)
    assert b''.join(received) == big
    assert uploaded['r'].status_code == 204, uploaded['r'].text
    assert srv.proc.wait(DEADLINE) == 0
    assert 'SIGTERM: stopping' in srv.log()

    # Nothing was lost: the upload is there after a restart.
    srv.stdout.close()
    srv.start(sync_db=False)
    shown = client.get('/v2/images/%s' % slow['id']).json()
    assert (shown['status'], shown['size']) == ('active', 16 * 65536)
    assert shown['checksum'] == hashlib.md5(
        b'a' * 65536 + b'b' * 65536 * 15).hexdigest()


def test_sighup_rereads_the_configuration_and_replaces_the_workers(start):
    srv = start('workers=2')
    old = wait_for('two workers', lambda: len(workers(srv)) == 2 and
                   workers(srv))
    client = Client(srv.url)
    first = client.create(disk_format='raw', container_format='bare')
    assert client.upload(first['id'], b'x' * 2000).status_code == 204

    set_options(srv, image_size_cap='1000')
    srv.proc.send_signal(signal.SIGHUP)
    new = wait_for('a new generation of workers', lambda: (
        (w := workers(srv)) and not (w & old) and len(w) == 2 and w))
    assert srv.proc.poll() is None
    assert len(new) == 2

    second = client.create(disk_format='raw', container_format='bare')
    r = client.upload(second['id'], b'x' * 2000)
    assert r.status_code == 413, r.text
    assert client.upload(second['id'], b'x' * 500).status_code == 204
    assert 'SIGHUP: reloading the configuration' in srv.log()


def test_sighup_with_a_broken_file_keeps_the_running_workers(start):
    srv = start('workers=1')
    before = wait_for('a worker', lambda: workers(srv))
    set_options(srv, image_size_cap='not-a-number')
    srv.proc.send_signal(signal.SIGHUP)
    wait_for('the reload to fail', lambda: 'Could not reload the '
             'configuration' in srv.log())
    # The trial reload runs in a throwaway child that logs, then exits.
    wait_for('the trial child to go', lambda: workers(srv) == before)
    assert 'image_size_cap' in srv.log()
    # The parent kept the old configuration too: a replacement worker,
    # forked after the failed reload, reads image_size_cap fine.
    os.kill(min(before), signal.SIGKILL)
    wait_for('a replacement', lambda: (w := workers(srv)) and w != before)
    client = Client(srv.url)
    image = client.create(disk_format='raw', container_format='bare')
    assert client.upload(image['id'], b'x' * 100).status_code == 204


def _served_by(srv: GlanceServer, marker: str) -> set[int]:
    """Pids that logged an access line for a request to ``marker``."""
    pids = set()
    for line in srv.log().splitlines():
        if marker in line and 'eventlet.wsgi.server' in line:
            pids.add(int(line.split()[2]))
    return pids


def test_both_workers_serve_requests(start):
    srv = start('workers=2')
    a, b = sorted(wait_for('two workers',
                           lambda: len(workers(srv)) == 2 and workers(srv)))
    # With one worker stopped, the other takes every connection; then the
    # other way round.  Each request on a new connection.
    for paused, marker in ((a, 'only-b'), (b, 'only-a')):
        os.kill(paused, signal.SIGSTOP)
        try:
            for _ in range(3):
                r = requests.get(srv.url + '/v2/images?name=' + marker,
                                 timeout=10)
                assert r.status_code == 200
        finally:
            os.kill(paused, signal.SIGCONT)
    # eventlet writes a request's access line after sending its answer,
    # so the last ones may still be on their way to the log
    wait_for('the six access lines', lambda: all(
        sum(marker in line and 'eventlet.wsgi.server' in line
            for line in srv.log().splitlines()) == 3
        for marker in ('only-b', 'only-a')))
    assert _served_by(srv, 'only-b') == {b}
    assert _served_by(srv, 'only-a') == {a}


def test_connections_opened_at_once_are_spread_over_the_workers(start):
    """Keep-alive connections opened in one burst (as a benchmark's, or a
    load balancer's pool, are) end up on both workers, not all on the one
    that was first to accept (glance.common.balance)."""
    srv = start('workers=2')
    pids = wait_for('two workers',
                    lambda: len(workers(srv)) == 2 and workers(srv))
    n = 16
    ready, done = threading.Barrier(n), threading.Barrier(n)
    errors = []

    def connection(i: int) -> None:
        conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=30)
        try:
            ready.wait()
            conn.connect()
            conn.request('GET', '/v2/images?name=burst-%d-' % i)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            done.wait()         # every connection stays open till the end
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            done.abort()
        finally:
            conn.close()
    threads = [threading.Thread(target=connection, args=(i,))
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # (each access line is written just after its response was sent)
    served = wait_for('every access line', lambda: all(
        served := [_served_by(srv, 'burst-%d-' % i) for i in range(n)]
    ) and served)
    per_worker = {pid: sum(s == {pid} for s in served) for pid in pids}
    assert sum(per_worker.values()) == n, served
    # even would be 8 and 8; a busy machine may delay a worker's accept
    assert min(per_worker.values()) >= n // 4, per_worker


def test_a_killed_worker_is_replaced(start):
    srv = start('workers=2')
    before = wait_for('two workers',
                      lambda: len(workers(srv)) == 2 and workers(srv))
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    after = wait_for('a replacement', lambda: (
        (w := workers(srv)) and victim not in w and len(w) == 2 and w))
    assert after & before == before - {victim}
    assert 'Worker %d died (killed by SIGKILL)' % victim in srv.log()
    for _ in range(4):
        assert requests.get(srv.url + '/v2/images',
                            timeout=10).status_code == 200


def test_a_header_line_over_max_header_line_is_rejected(start):
    srv = start('workers=1', 'max_header_line=1024')
    ok = requests.get(srv.url + '/v2/images', timeout=10,
                      headers={'X-Long': 'a' * 900})
    assert ok.status_code == 200
    r = requests.get(srv.url + '/v2/images', timeout=10,
                     headers={'X-Long': 'a' * 2000})
    assert r.status_code == 400
    assert 'Header Line Too Long' in r.reason


def test_workers_zero_serves_in_process_reloads_and_stops(start):
    srv = start('workers=0')
    assert workers(srv) == set()
    client = Client(srv.url)
    for name in ('one', 'two'):
        client.create(name=name)
    assert len(client.get('/v2/images').json()['images']) == 2

    set_options(srv, limit_param_default='1')
    srv.proc.send_signal(signal.SIGHUP)
    wait_for('the new page size', lambda: len(
        client.get('/v2/images').json()['images']) == 1)
    # The reload was tried in a throwaway process; this one still serves.
    assert workers(srv) == set()

    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(DEADLINE) == 0


def test_workers_zero_with_a_broken_file_keeps_serving(start):
    """The trial reload of ``workers = 0`` runs in a fresh process (never a
    fork of the serving one, which would take connections and hang on its
    database thread pool); a bad value is reported and the process carries
    on with its configuration, answering throughout."""
    srv = start('workers=0')
    client = Client(srv.url)
    for name in ('one', 'two'):
        client.create(name=name)
    set_options(srv, limit_param_default='not-a-number')
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + DEADLINE
    while 'Could not reload the configuration' not in srv.log():
        assert time.time() < deadline, 'the reload was never judged'
        # every request meanwhile is answered, by the serving process
        r = client.get('/v2/images', timeout=DEADLINE)
        assert r.status_code == 200
        assert len(r.json()['images']) == 2
    assert 'limit_param_default' in srv.log()
    assert len(client.get('/v2/images').json()['images']) == 2
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(DEADLINE) == 0


# -- refusing to start -------------------------------------------------------

def _run_api(tmp_path, *settings: str, profile: str = 'default',
             port: int | None = None) -> subprocess.CompletedProcess:
    conf = write_config.build(str(tmp_path / 'etc'), port or free_port(),
                              profile, None, list(settings))
    return subprocess.run([os.path.join(BIN, 'glance-api'), '--config-file',
                           conf], capture_output=True, text=True,
                          timeout=DEADLINE)


def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = _run_api(tmp_path, port=port)
    assert r.returncode == 1
    assert r.stderr.strip() == ('glance-api: cannot start: cannot listen on '
                                '127.0.0.1:%d: Address already in use'
                                % port)


@pytest.mark.parametrize('settings,profile,message', [
    (['glance_store.default_backend=nowhere'], 'reference',
     'default_backend must name one of enabled_backends'),
    (['paste_deploy.flavor=nosuch'], 'default',
     'Unable to load glance-api-nosuch'),
    (['workers=-1'], 'default', 'workers'),
])
def test_a_broken_configuration_is_a_clear_error(tmp_path, settings,
                                                 profile, message):
    r = _run_api(tmp_path, *settings, profile=profile)
    assert r.returncode == 1
    assert r.stderr.startswith('glance-api: cannot start: ')
    assert message in r.stderr
    assert 'Traceback' not in r.stderr
    # eventlet's deprecation notice is not the operator's business.
    assert 'Eventlet is deprecated' not in r.stderr


# -- glance.wsgi.api:application under another WSGI server -------------------

WSGIREF = textwrap.dedent('''
    import sys
    from wsgiref import simple_server
    from glance.wsgi.api import application
    simple_server.make_server('127.0.0.1', int(sys.argv[1]),
                              application).serve_forever()
''')


def test_the_wsgi_application_under_wsgiref(tmp_path):
    port = free_port()
    conf_dir = tmp_path / 'etc'
    srv = GlanceServer(str(conf_dir), settings=['bind_port=1'])
    assert srv.manage('db', 'sync').returncode == 0
    env = dict(os.environ, OS_GLANCE_CONFIG_DIR=str(conf_dir))
    with open(tmp_path / 'wsgiref.log', 'wb') as out:
        proc = subprocess.Popen([sys.executable, '-c', WSGIREF, str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=str(tmp_path))
        try:
            url = 'http://127.0.0.1:%d' % port
            r = wait_for('wsgiref to answer', lambda: _get(url + '/'))
            assert r.status_code == 300
            assert r.json()['versions'][0]['status'] == 'CURRENT'
            client = Client(url)
            image = client.create(name='via-wsgi', disk_format='raw',
                                  container_format='bare')
            shown = client.get('/v2/images/%s' % image['id'])
            assert shown.status_code == 200
            assert shown.json()['name'] == 'via-wsgi'
        finally:
            proc.terminate()
            proc.wait(DEADLINE)


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5)
    except requests.RequestException:
        return None


def test_config_dir_alone_configures_the_service(tmp_path):
    """``glance-api --config-dir DIR`` reads DIR/*.conf, as oslo.config
    documents it, and finds its companion files (paste, schema) in DIR."""
    srv = GlanceServer(str(tmp_path / 'glance'))
    srv.cli = ['--config-dir', srv.workdir]
    srv.start()
    try:
        client = Client(srv.url)
        image = client.create(name='from-config-dir')
        assert client.get('/v2/images/%s' % image['id']).status_code == 200
        assert 'Traceback' not in srv.log()
    finally:
        srv.stop()


# -- fail fast under gunicorn and uWSGI -------------------------------------

def _wsgi_server(kind: str, port: int) -> list[str]:
    if kind == 'gunicorn':
        return [os.path.join(BIN, 'gunicorn'), '--workers', '2',
                '--bind', '127.0.0.1:%d' % port,
                'glance.wsgi.api:application']
    if kind == 'uwsgi':
        return [os.path.join(BIN, 'uwsgi'), '--http-socket',
                '127.0.0.1:%d' % port, '--master', '--processes', '2',
                '--module', 'glance.wsgi.api:application', '--need-app',
                '--lazy-apps', '--die-on-term']
    return [os.path.join(BIN, 'glance-wsgi-api'), '--port', str(port)]


@contextlib.contextmanager
def wsgi_server(tmp_path, kind: str, *settings: str, sync: bool = True):
    """``kind`` serving glance.wsgi.api with a configuration directory of
    ``settings``: yields (process, port); killed on the way out."""
    conf_dir = tmp_path / 'etc'
    srv = GlanceServer(str(conf_dir), settings=['bind_port=1', *settings])
    if sync:
        assert srv.manage('db', 'sync').returncode == 0
    port = free_port()
    env = dict(os.environ, OS_GLANCE_CONFIG_DIR=str(conf_dir))
    with open(tmp_path / 'server.log', 'wb') as out:
        proc = subprocess.Popen(_wsgi_server(kind, port), env=env,
                                stdout=out, stderr=subprocess.STDOUT,
                                cwd=str(tmp_path), start_new_session=True)
        try:
            yield proc, port
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(DEADLINE)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@pytest.mark.parametrize('kind', ['gunicorn', 'uwsgi'])
def test_under_a_wsgi_server_a_good_configuration_serves(tmp_path, kind):
    with wsgi_server(tmp_path, kind) as (_proc, port):
        url = 'http://127.0.0.1:%d' % port
        wait_for(kind + ' to answer', lambda: _get(url + '/healthcheck'))
        image = Client(url).create(name='via-' + kind)
        assert Client(url).get('/v2/images/%s' % image['id']).json()[
            'name'] == 'via-' + kind


@pytest.mark.parametrize('kind', ['gunicorn', 'uwsgi'])
def test_under_a_wsgi_server_a_broken_configuration_stops_it(tmp_path,
                                                             kind):
    """The reference refuses to start; so do we: the server exits with
    the reason in its log, rather than answering 500 to every request."""
    with wsgi_server(tmp_path, kind, 'paste_deploy.flavor=nonexistent',
                     sync=False) as (proc, port):
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            raise AssertionError('%s kept running: %s' % (
                kind, (tmp_path / 'server.log').read_text()[-2000:]))
    assert code != 0
    assert 'nonexistent' in (tmp_path / 'server.log').read_text()
    assert _get('http://127.0.0.1:%d/healthcheck' % port) is None


def test_glance_wsgi_api_serves_a_configuration(tmp_path):
    with wsgi_server(tmp_path, 'glance-wsgi-api') as (_proc, port):
        r = wait_for('glance-wsgi-api', lambda: _get(
            'http://127.0.0.1:%d/versions' % port))
        assert r.status_code == 200


def test_under_a_wsgi_server_the_staging_area_is_swept(tmp_path):
    """A worker sweeps the staging area as it builds the application, as
    glance-api does at start-up: a file of an unknown image goes."""
    staging = tmp_path / 'staging'
    staging.mkdir()
    stray = staging / '0b8f8a53-7c0e-4d6f-9e55-1d2a3b4c5d6e'
    stray.write_bytes(b'left by a crash')
    with wsgi_server(tmp_path, 'gunicorn',
                     'node_staging_uri=file://%s' % staging) as (_p, port):
        wait_for('gunicorn to answer', lambda: _get(
            'http://127.0.0.1:%d/healthcheck' % port))
        assert not stray.exists()
