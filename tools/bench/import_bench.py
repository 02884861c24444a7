#!/usr/bin/env python3
"""Import benchmarks, in-process and distributed (issue 20).

Run by hand, never as a test (needs Redis on 127.0.0.1:6379 for the
distributed mode, nginx for the web-download source and curl):

    .venv/bin/python tools/bench/import_bench.py \\
        [--only throughput,latency,memory] [--modes in-process,distributed] \\
        [--size-mib 1024] [--big-mib 4096] [--rounds 3] [--database URL]

For each mode it starts one glance-api (identity headers, two file
stores, SQLite under a temporary directory unless ``--database`` names an
empty database) and, distributed, ``--workers`` glance-worker processes on
a fresh Redis board, and measures:

throughput
    a ``--size-mib`` image (random data) through ``PUT /file`` (the
    upload path: md5 and sha512 computed while it is written), through a
    web-download import from nginx on loopback, and through glance-direct
    (``PUT /stage`` then the import); the imports compute the same hashes.
    Timed from the first request to the image seen ``active``; the three
    are taken in turns, ``--rounds`` times, and the medians compared.
latency
    ``--imports`` web-download imports of 1 KiB from a loopback source
    that answers after 300 ms (so the task stays ``processing`` long
    enough to be seen): the time the ``POST /import`` took, and from its
    ``202`` to the moment the task was marked ``processing`` (the task
    row's ``updated_at``, read from the database while it is processing).
memory
    the resident memory of every glance-api and glance-worker process,
    sampled every 0.2 s while a ``--big-mib`` image is imported by
    web-download and by glance-direct (stage and import).

Each figure is printed with its target.  Data lives under ``--dir``
(default: the system temporary directory) and is removed at the end.
"""
from __future__ import annotations

import argparse
import datetime
import http.server
import os
import shutil
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests
import sqlalchemy as sa

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)
from data_path import MIB, Nginx, make_file, put, warm_memory  # noqa
from glance.tests.functional.server import GlanceServer, free_port  # noqa
from glance.tests.functional.server import write_config  # noqa

MODES = ('in-process', 'distributed')
HEADERS = {'X-Identity-Status': 'Confirmed', 'X-Roles': 'admin,member,reader',
           'X-Project-Id': 'bench', 'X-Tenant-Id': 'bench',
           'X-User-Id': 'bench'}
REDIS = 'redis://127.0.0.1:6379?db=0'
#: how long the latency source waits before it answers
DELAY_MS = 300


# -- the deployment ----------------------------------------------------------
class Deployment:
    """One glance-api and, distributed, glance-worker processes."""

    def __init__(self, work: str, mode: str, database: str | None,
                 workers: int, ports: list[int]):
        self.work, self.mode = work, mode
        self.database = database or 'sqlite:///%s' % os.path.join(
            work, 'glance.sqlite')
        shared = os.path.join(work, 'stores')
        self.board = 'glance-bench-%s' % uuid.uuid4().hex[:8]
        self.settings = [
            'import_filtering_opts.allowed_ports=[80,443,%s]'
            % ','.join(str(p) for p in ports),
            'import_filtering_opts.allowed_hosts=[127.0.0.1]',
        ]
        for store in ('fast', 'cheap', 'os_glance_staging_store'):
            self.settings += [
                '%s.filesystem_store_datadir=%s'
                % (store, os.path.join(shared, store)),
                # the project's default, not the reference recording's
                '%s.filesystem_store_chunk_size=%d' % (store, MIB)]
        if mode == 'distributed':
            self.settings += [
                'taskflow_executor.mode=distributed',
                'jobboard.backend_url=%s' % REDIS,
                'jobboard.board_name=%s' % self.board]
        self.api = GlanceServer(os.path.join(work, 'api'),
                                database_url=self.database,
                                profile='reference', settings=self.settings)
        self.workers: list[subprocess.Popen] = []
        self.n_workers = workers if mode == 'distributed' else 0
        self.session = requests.Session()
        self.session.headers.update(HEADERS)

    @property
    def url(self) -> str:
        return self.api.url

    def start(self) -> 'Deployment':
        self.api.start()
        for n in range(self.n_workers):
            workdir = os.path.join(self.work, 'worker%d' % n)
            conf = write_config.build(workdir, free_port(), 'reference',
                                      self.database, self.settings)
            log = open(os.path.join(workdir, 'worker.out'), 'ab')
            self.workers.append(subprocess.Popen(
                [sys.executable, '-m', 'glance.cmd.worker', '--config-file',
                 conf], stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
            _wait_for(os.path.join(workdir, 'glance-api.log'),
                      'conductor(s) on jobboard', self.workers[-1])
        return self

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.api.stop()
        if self.mode == 'distributed':
            try:
                import redis
                client = redis.Redis('127.0.0.1', 6379)
                for key in client.scan_iter(match='%s*' % self.board):
                    client.delete(key)
            except Exception as exc:  # noqa: BLE001 - best effort
                print('board %s not cleaned: %s' % (self.board, exc))

    # HTTP helpers
    def create(self) -> str:
        r = self.session.post(self.url + '/v2/images', json={
            'name': 'bench', 'disk_format': 'raw',
            'container_format': 'bare'})
        r.raise_for_status()
        return r.json()['id']

    def delete(self, image_id: str) -> None:
        self.session.delete(self.url + '/v2/images/%s' % image_id)

    def import_(self, image_id: str, method: dict) -> requests.Response:
        r = self.session.post(self.url + '/v2/images/%s/import' % image_id,
                              json={'method': method})
        if r.status_code != 202:
            raise RuntimeError('import refused: %s %s' % (r.status_code,
                                                          r.text))
        return r

    def wait_active(self, image_id: str, poll: float = 0.05) -> dict:
        """The image once it is active; a failed import raises."""
        while True:
            image = self.session.get(
                self.url + '/v2/images/%s' % image_id).json()
            if image['status'] == 'active' and \
                    'os_glance_import_task' not in image:
                return image
            if image['status'] == 'queued' and \
                    image.get('os_glance_failed_import'):
                tasks = self.session.get(
                    self.url + '/v2/images/%s/tasks' % image_id).json()
                raise RuntimeError('import of %s failed: %s' % (
                    image_id, tasks['tasks'][0]['message']))
            time.sleep(poll)

    def pids(self) -> dict[str, list[int]]:
        """Process ids by program: the glance-api parent and its forked
        workers, and the glance-worker processes."""
        children = subprocess.run(
            ['pgrep', '-P', str(self.api.proc.pid)], capture_output=True,
            text=True).stdout.split()
        return {'glance-api': [self.api.proc.pid] + [int(p)
                                                     for p in children],
                'glance-worker': [p.pid for p in self.workers]}


def _wait_for(path: str, text: str, proc: subprocess.Popen) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('glance-worker exited, see %s' % path)
        if os.path.exists(path) and text in open(path).read():
            return
        time.sleep(0.1)
    raise RuntimeError('glance-worker did not start, see %s' % path)


# -- the loopback source of the latency measurement --------------------------
class _Delayed(http.server.BaseHTTPRequestHandler):
    """/delay/MS: 1 KiB after MS milliseconds."""

    protocol_version = 'HTTP/1.0'

    def log_message(self, *args):
        pass

    def do_GET(self):
        time.sleep(int(self.path.rsplit('/', 1)[1]) / 1000.0)
        body = b'x' * 1024
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


# -- measurements -------------------------------------------------------------
def _md5(path: str) -> str:
    return subprocess.run(['md5sum', path], capture_output=True, text=True,
                          check=True).stdout.split()[0]


def _checked(image: dict, md5: str) -> None:
    if image['checksum'] != md5 or image['os_hash_algo'] != 'sha512':
        raise RuntimeError('image %s: checksum %s, expected %s' % (
            image['id'], image['checksum'], md5))


def throughput(dep: Deployment, path: str, source_url: str, rounds: int
               ) -> dict[str, list[float]]:
    """Seconds per round of each way in."""
    md5 = _md5(path)
    times: dict[str, list[float]] = {
        'put': [], 'web-download': [], 'glance-direct': [],
        'glance-direct (stage)': [], 'glance-direct (import)': []}
    for n in range(rounds):
        image_id = dep.create()
        start = time.perf_counter()
        put(dep.url + '/v2/images/%s/file' % image_id, path, HEADERS)
        times['put'].append(time.perf_counter() - start)
        _checked(dep.session.get(dep.url + '/v2/images/%s'
                                 % image_id).json(), md5)
        dep.delete(image_id)

        image_id = dep.create()
        start = time.perf_counter()
        dep.import_(image_id, {'name': 'web-download', 'uri': source_url})
        _checked(dep.wait_active(image_id), md5)
        times['web-download'].append(time.perf_counter() - start)
        dep.delete(image_id)

        image_id = dep.create()
        start = time.perf_counter()
        put(dep.url + '/v2/images/%s/stage' % image_id, path, HEADERS)
        staged = time.perf_counter()
        dep.import_(image_id, {'name': 'glance-direct'})
        _checked(dep.wait_active(image_id), md5)
        end = time.perf_counter()
        times['glance-direct'].append(end - start)
        times['glance-direct (stage)'].append(staged - start)
        times['glance-direct (import)'].append(end - staged)
        dep.delete(image_id)
        print('  round %d: %s' % (n + 1, ', '.join(
            '%s %.1f s' % (k, v[-1]) for k, v in times.items())),
            flush=True)
    return times


def _processing_at(engine: sa.engine.Engine, image_id: str
                   ) -> datetime.datetime | None:
    """When the image's import task was marked processing (None if it was
    not seen processing)."""
    query = sa.text('SELECT status, updated_at FROM tasks WHERE '
                    'image_id = :i')
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query, {'i': image_id}).fetchall()
        if rows and rows[0][0] != 'pending':
            status, at = rows[0]
            if isinstance(at, str):
                at = datetime.datetime.fromisoformat(at)
            return at if status == 'processing' else None
        time.sleep(0.005)


def latency(dep: Deployment, source: str, imports: int
            ) -> tuple[list[float], list[float]]:
    """(POST /import durations, 202 -> processing) in seconds."""
    engine = sa.create_engine(dep.database)
    accept, start = [], []
    try:
        for _ in range(imports):
            image_id = dep.create()
            sent = time.time()
            dep.import_(image_id, {'name': 'web-download',
                                   'uri': source + '/delay/%d' % DELAY_MS})
            answered = time.time()
            at = _processing_at(engine, image_id)
            if at is None:
                print('  task of %s not seen processing' % image_id)
            else:
                accept.append(answered - sent)
                start.append(at.replace(
                    tzinfo=datetime.timezone.utc).timestamp() - answered)
            dep.wait_active(image_id)
            dep.delete(image_id)
    finally:
        engine.dispose()
    return accept, start


class Sampler(threading.Thread):
    """VmRSS of the deployment's processes every 0.2 s."""

    def __init__(self, pids: dict[str, list[int]]):
        super().__init__(daemon=True)
        self.pids = pids
        self.samples: dict[str, list[int]] = {k: [] for k in pids}
        self.running = True

    @staticmethod
    def rss(pid: int) -> int:
        try:
            with open('/proc/%d/status' % pid) as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def run(self) -> None:
        while self.running:
            for name, pids in self.pids.items():
                if pids:
                    # the largest process of each program
                    self.samples[name].append(max(self.rss(p)
                                                  for p in pids))
            time.sleep(0.2)

    def stop(self) -> dict[str, list[int]]:
        self.running = False
        self.join()
        return self.samples


def memory(dep: Deployment, path: str, source_url: str
           ) -> dict[str, tuple[int, int, int]]:
    """{program: (before, median, peak)} RSS in bytes over one
    web-download and one glance-direct import of the file at ``path``."""
    pids = dep.pids()
    before = {k: max((Sampler.rss(p) for p in v), default=0)
              for k, v in pids.items()}
    sampler = Sampler(pids)
    sampler.start()
    image_id = dep.create()
    dep.import_(image_id, {'name': 'web-download', 'uri': source_url})
    dep.wait_active(image_id, poll=0.5)
    dep.delete(image_id)
    image_id = dep.create()
    put(dep.url + '/v2/images/%s/stage' % image_id, path, HEADERS)
    dep.import_(image_id, {'name': 'glance-direct'})
    dep.wait_active(image_id, poll=0.5)
    dep.delete(image_id)
    samples = sampler.stop()
    return {k: (before[k], int(statistics.median(v)), max(v))
            for k, v in samples.items() if v}


# -- report -------------------------------------------------------------------
def _med(values: list[float]) -> float:
    return statistics.median(values)


def _spread(values: list[float], fmt: str) -> str:
    return '%s (%s)' % (fmt % _med(values),
                        ', '.join(fmt % v for v in values))


def row(figure: str, value: str, target: str = '') -> None:
    print('%-46s %-36s %s' % (figure, value, target), flush=True)


def report_throughput(mode: str, times: dict[str, list[float]],
                      mib: int) -> None:
    rates = {k: [mib / t for t in v] for k, v in times.items()}
    put_rate = _med(rates['put'])
    row('%s: PUT /file (upload path)' % mode,
        _spread(rates['put'], '%.0f') + ' MiB/s', 'reference')
    for key in ('web-download', 'glance-direct', 'glance-direct (stage)',
                'glance-direct (import)'):
        target = '>= 0.9x PUT' if key in ('web-download',
                                          'glance-direct') else ''
        row('%s: %s' % (mode, key), _spread(rates[key], '%.0f') +
            ' MiB/s = %.2fx' % (_med(rates[key]) / put_rate), target)


def run(args: argparse.Namespace) -> None:
    only = set(args.only.split(','))
    modes = args.modes.split(',')
    if args.warm_memory_mib:
        print('warmed %d MiB of memory first' % warm_memory(
            args.warm_memory_mib))
    work = tempfile.mkdtemp(prefix='glance-import-bench-', dir=args.dir)
    files = os.path.join(work, 'files')
    os.makedirs(files)
    delayed = _Server(('127.0.0.1', free_port()), _Delayed)
    threading.Thread(target=delayed.serve_forever, daemon=True).start()
    web = Nginx(files, work)
    results: dict[str, dict] = {m: {} for m in modes}
    try:
        if 'throughput' in only:
            make_file(os.path.join(files, 'image.raw'), args.size_mib * MIB)
        if 'memory' in only:
            make_file(os.path.join(files, 'big.raw'), args.big_mib * MIB)
        load = os.getloadavg()
        print('load average before: %.2f %.2f %.2f; %d cores' % (
            load + (os.cpu_count(),)))
        for mode in modes:
            dep = Deployment(os.path.join(work, mode), mode, args.database,
                             args.workers, [web.port,
                                            delayed.server_address[1]])
            if args.database:
                _empty(args.database)
            dep.start()
            try:
                if 'latency' in only:
                    print('%s: latency' % mode, flush=True)
                    src = 'http://127.0.0.1:%d' % delayed.server_address[1]
                    results[mode]['latency'] = [
                        latency(dep, src, args.imports)
                        for _ in range(args.rounds)]
                if 'throughput' in only:
                    print('%s: throughput' % mode, flush=True)
                    results[mode]['throughput'] = throughput(
                        dep, os.path.join(files, 'image.raw'),
                        web.url('image.raw'), args.rounds)
                if 'memory' in only:
                    print('%s: memory' % mode, flush=True)
                    results[mode]['memory'] = [
                        memory(dep, os.path.join(files, 'big.raw'),
                               web.url('big.raw'))
                        for _ in range(args.rounds)]
            finally:
                dep.stop()
                if args.database:
                    _empty(args.database)
        print()
        print('shared %d-core machine; medians of %d rounds (each round '
              'in brackets)' % (os.cpu_count(), args.rounds))
        row('figure', 'measured', 'target')
        _report(results, args)
    finally:
        web.stop()
        delayed.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def _report(results: dict[str, dict], args: argparse.Namespace) -> None:
    for mode, res in results.items():
        if 'throughput' in res:
            report_throughput(mode, res['throughput'], args.size_mib)
    lat = {m: r['latency'] for m, r in results.items() if 'latency' in r}
    for mode, rounds in lat.items():
        accept = [_med(a) * 1000 for a, _s in rounds]
        start = [_med(s) * 1000 for _a, s in rounds]
        p90 = [sorted(s)[int(len(s) * 0.9) - 1] * 1000 for _a, s in rounds]
        row('%s: POST /import answered (median)' % mode,
            _spread(accept, '%.0f') + ' ms')
        row('%s: 202 -> processing (median)' % mode,
            _spread(start, '%.0f') + ' ms')
        row('%s: 202 -> processing (p90)' % mode,
            _spread(p90, '%.0f') + ' ms')
    if set(MODES) <= set(lat):
        added = [_med(d[1]) * 1000 - _med(i[1]) * 1000
                 for d, i in zip(lat['distributed'], lat['in-process'])]
        total = [(_med(d[0]) + _med(d[1]) - _med(i[0]) - _med(i[1])) * 1000
                 for d, i in zip(lat['distributed'], lat['in-process'])]
        row('added by distributed: 202 -> processing',
            _spread(added, '%.0f') + ' ms', '<= 50 ms')
        row('added by distributed: POST sent -> processing',
            _spread(total, '%.0f') + ' ms')
    for mode, res in results.items():
        for program in ('glance-api', 'glance-worker'):
            figures = [r[program] for r in res.get('memory', [])
                       if program in r]
            if not figures:
                continue
            row('%s: %s RSS during %d MiB imports'
                % (mode, program, args.big_mib),
                'before %s, median %s, peak %s MB' % tuple(
                    _spread([f[i] / 1e6 for f in figures], '%.0f')
                    for i in range(3)), 'flat, < 150 MB')


def _empty(url: str) -> None:
    """Drop every table of ``url`` (a database of the benchmark's own)."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text('DROP TABLE IF EXISTS alembic_version'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--only', default='throughput,latency,memory')
    parser.add_argument('--modes', default=','.join(MODES))
    parser.add_argument('--size-mib', type=int, default=1024)
    parser.add_argument('--big-mib', type=int, default=4096)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--imports', type=int, default=20,
                        help='imports per latency round')
    parser.add_argument('--workers', type=int, default=1,
                        help='glance-worker processes (distributed)')
    parser.add_argument('--database', help='SQLAlchemy URL of an empty '
                        'database of the benchmark (emptied again after '
                        'each mode); default: SQLite files')
    parser.add_argument('--warm-memory-mib', type=int, default=8192,
                        help='touch this much free memory first (see '
                        'data_path.warm_memory)')
    parser.add_argument('--dir', help='where files, stores and staging '
                        'live (default: the system temporary directory)')
    run(parser.parse_args())


if __name__ == '__main__':
    main()
