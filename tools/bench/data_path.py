#!/usr/bin/env python3
"""Data-path benchmark: upload and download of one big image (issue 10).

Run by hand, never as a test:

    .venv/bin/python tools/bench/data_path.py [--size-mib 1024]

It starts its own glance-api (SQLite, file store, one worker, noauth) and
prints, each beside its reference measured in the same run:

- upload throughput (glance computes md5 and sha512 on the way) against
  ``md5sum`` then ``sha512sum`` of the same file;
- download throughput against nginx serving the same file with sendfile
  (Debian package ``nginx``; skipped with a note when it is missing);
- the largest RSS of the glance-api worker during both transfers.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
from glance.tests.functional.server import GlanceServer, free_port  # noqa

MIB = 1024 * 1024
CHUNK = 1024 * 1024


class PeakRSS(threading.Thread):
    """Samples the VmRSS of some processes until stopped; keeps the peak."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids, self.peak, self.running = pids, 0, True

    def run(self) -> None:
        while self.running:
            for pid in self.pids:
                try:
                    with open('/proc/%d/status' % pid) as f:
                        for line in f:
                            if line.startswith('VmRSS:'):
                                self.peak = max(self.peak,
                                                int(line.split()[1]) * 1024)
                except OSError:
                    pass
            time.sleep(0.05)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak


def workers_of(pid: int) -> list[int]:
    out = subprocess.run(['pgrep', '-P', str(pid)], capture_output=True,
                         text=True).stdout.split()
    return [pid] + [int(p) for p in out]


def warm_memory(limit_mib: int) -> int:
    """Touch free memory once, then give it back; the MiB touched.

    On a virtual machine whose memory the host backs lazily (as here), the
    first write into a never-used page costs far more than any later one,
    so an upload into fresh page cache ran at ~190 MiB/s and the same
    upload after the memory had been used once at ~260.  A server that has
    run a while has used its memory; so does the benchmark, first.
    """
    with open('/proc/meminfo') as f:
        info = {k: int(v.split()[0]) for k, v in
                (line.split(':', 1) for line in f)}
    mib = min(limit_mib, info['MemAvailable'] // 1024 - 2048)
    blocks = [b'\x01' * MIB * 256 for _ in range(max(0, mib // 256))]
    del blocks
    return max(0, mib // 256 * 256)


def make_file(path: str, size: int) -> None:
    with open('/dev/urandom', 'rb') as src, open(path, 'wb') as dst:
        left = size
        while left:
            block = src.read(min(left, 16 * MIB))
            dst.write(block)
            left -= len(block)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def hash_reference(path: str) -> float:
    return sum(timed(lambda c=cmd: subprocess.run(
        [c, path], check=True, capture_output=True))
        for cmd in ('md5sum', 'sha512sum'))


def fetch(url: str) -> None:
    """GET ``url`` to /dev/null with curl (C: the client is not what is
    measured), or with requests when curl is missing."""
    if shutil.which('curl'):
        subprocess.run(['curl', '-sSf', '-o', '/dev/null', url], check=True)
        return
    with requests.get(url, stream=True, timeout=600) as r:
        r.raise_for_status()
        for _chunk in r.iter_content(CHUNK):
            pass


def put(url: str, path: str, extra: dict[str, str] | None = None) -> None:
    """PUT the file at ``path`` to ``url``, streamed; curl when there is
    one (requests sends a file 8 KiB at a time, costing the CPU the
    server is measured on).  ``extra``: more headers (identity)."""
    headers = {'Content-Type': 'application/octet-stream', **(extra or {})}
    if shutil.which('curl'):
        args = []
        for name, value in headers.items():
            args += ['-H', '%s: %s' % (name, value)]
        subprocess.run(['curl', '-sSf', '-o', '/dev/null', '-T', path,
                        *args, url], check=True)
        return
    with open(path, 'rb') as f:
        requests.put(url, data=f, headers=headers).raise_for_status()


class Nginx:
    """nginx serving one directory with sendfile, as a reference."""

    def __init__(self, directory: str, work: str):
        self.port = free_port()
        conf = os.path.join(work, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write('daemon off; worker_processes 1; pid %s/nginx.pid;\n'
                    '%s'
                    'error_log %s/nginx.err;\n'
                    'events {}\nhttp { access_log off; sendfile on;\n'
                    ' server { listen 127.0.0.1:%d; root %s; } }\n'
                    % (work,
                       # workers must read the private temporary directory
                       'user root;\n' if os.geteuid() == 0 else '',
                       work, self.port, directory))
        self.proc = subprocess.Popen(['nginx', '-c', conf])
        for _ in range(50):
            try:
                requests.head(self.url(''), timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)

    def url(self, name: str) -> str:
        return 'http://127.0.0.1:%d/%s' % (self.port, name)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def downloads(glance_url: str, nginx_url: str | None, rounds: int
              ) -> tuple[float, float | None]:
    """Best time of each, fetched in turns so that whatever else the
    machine is doing weighs on both alike."""
    glance, nginx = [], []
    fetch(glance_url)                               # warm the page cache
    for _ in range(rounds):
        glance.append(timed(lambda: fetch(glance_url)))
        if nginx_url:
            nginx.append(timed(lambda: fetch(nginx_url)))
    return min(glance), (min(nginx) if nginx else None)


def run(args: argparse.Namespace) -> None:
    if args.warm_memory_mib:
        print('warmed %d MiB of memory first' % warm_memory(
            args.warm_memory_mib))
    work = tempfile.mkdtemp(prefix='glance-data-bench-', dir=args.dir)
    size = args.size_mib * MIB
    path = os.path.join(work, 'image.raw')
    make_file(path, size)
    srv = GlanceServer(os.path.join(work, 'srv'),
                       settings=args.setting).start()
    try:
        reference = hash_reference(path)
        session = requests.Session()
        image = session.post(srv.url + '/v2/images', json={
            'name': 'bench', 'disk_format': 'raw',
            'container_format': 'bare'}).json()
        rss = PeakRSS(workers_of(srv.proc.pid))
        rss.start()
        up = timed(lambda: put(
            srv.url + '/v2/images/%s/file' % image['id'], path))
        url = srv.url + '/v2/images/%s/file' % image['id']
        web = Nginx(work, work) if shutil.which('nginx') else None
        try:
            down, nginx = downloads(
                url, web and web.url(os.path.basename(path)), args.rounds)
        finally:
            if web:
                web.stop()
        peak = rss.stop()
        mib = size / MIB
        print('%d MiB image, file store on %s' % (args.size_mib, work))
        print('%-44s %-16s %s' % ('figure', 'measured', 'reference'))
        print('%-44s %-16s %s' % (
            'upload (md5 + sha512 computed)', '%.0f MiB/s' % (mib / up),
            'md5sum then sha512sum: %.0f MiB/s (%.2fx)'
            % (mib / reference, reference / up)))
        print('%-44s %-16s %s' % (
            'download', '%.0f MiB/s' % (mib / down),
            'nginx not installed' if nginx is None else
            'nginx sendfile: %.0f MiB/s (%.2fx)'
            % (mib / nginx, nginx / down)))
        print('%-44s %-16s %s' % ('peak RSS of a glance-api process',
                                  '%.0f MB' % (peak / 1e6), 'target < 150 MB'))
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size-mib', type=int, default=1024)
    parser.add_argument('--setting', action='append', default=[],
                        help='SECTION.OPTION=VALUE for glance-api.conf '
                        '(repeatable)')
    parser.add_argument('--warm-memory-mib', type=int, default=16384,
                        help='touch this much free memory before measuring '
                        '(0: do not); see warm_memory()')
    parser.add_argument('--rounds', type=int, default=5,
                        help='downloads from each server, taken in turns')
    parser.add_argument('--dir', help='where the file and the store live '
                        '(default: the system temporary directory)')
    run(parser.parse_args())


if __name__ == '__main__':
    main()
