#!/usr/bin/env python3
"""API benchmarks of glance-api: creates, lists and shows (issue 10).

Run by hand, never as a test:

    .venv/bin/python tools/bench/api_bench.py [--database URL] [--workers N]
    .venv/bin/python tools/bench/api_bench.py --compare-workers 1,2

It starts its own glance-api (SQLite and a file store under a temporary
directory unless ``--database`` names another database, noauth pipeline)
and prints each figure beside its target.  ``wrk`` (Debian package) is
needed for the requests-per-second figure; without it that figure is
skipped with a note.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import statistics
import sys
import tempfile
import time

import requests
import sqlalchemy as sa

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
from glance.tests.functional.server import GlanceServer  # noqa: E402
import wrk  # noqa: E402 - tools/bench/wrk.py

BODY = {'disk_format': 'raw', 'container_format': 'bare',
        'tags': ['bench', 'fast'],
        **{'prop_%d' % i: 'value %d' % i for i in range(5)}}


def create(session: requests.Session, url: str, n: int) -> int:
    """Create images one after the other; the number of failures."""
    failures = 0
    for i in range(n):
        r = session.post(url + '/v2/images',
                         json={**BODY, 'name': 'bench-%d' % i})
        failures += r.status_code != 201
    return failures


def bench_create_serial(url: str, n: int) -> float:
    session = requests.Session()
    create(session, url, 20)  # warm up: connections, caches, JIT-free paths
    start = time.perf_counter()
    failures = create(session, url, n)
    rate = n / (time.perf_counter() - start)
    assert failures == 0, '%d creates failed' % failures
    return rate


def bench_create_concurrent(url: str, clients: int, per_client: int
                            ) -> tuple[float, int]:
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(create, requests.Session(), url, per_client)
                   for _ in range(clients)]
        failures = sum(f.result() for f in futures)
    rate = clients * per_client / (time.perf_counter() - start)
    return rate, failures


def fill(url: str, total: int) -> None:
    """Create images until the catalogue holds ``total``."""
    session = requests.Session()
    have = len(session.get(url + '/v2/images?limit=%d' % total).json()[
        'images'])
    create(session, url, max(0, total - have))


def bench_list(url: str, rounds: int) -> list[float]:
    session = requests.Session()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        r = session.get(url + '/v2/images?limit=1000')
        times.append(time.perf_counter() - start)
        assert r.status_code == 200 and len(r.json()['images']) == 1000
    return times


def bench_raw_query(database_url: str, rounds: int) -> list[float]:
    """The same 1000 images, their properties and tags, in one query."""
    engine = sa.create_engine(database_url)
    query = sa.text(
        'SELECT i.*, p.name AS pname, p.value AS pvalue, t.value AS tag '
        'FROM (SELECT * FROM images WHERE deleted = false '
        '      ORDER BY created_at DESC, id DESC LIMIT 1000) i '
        'LEFT JOIN image_properties p ON p.image_id = i.id AND NOT p.deleted '
        'LEFT JOIN image_tags t ON t.image_id = i.id AND NOT t.deleted')
    times = []
    with engine.connect() as conn:
        for _ in range(rounds):
            start = time.perf_counter()
            rows = conn.execute(query).fetchall()
            times.append(time.perf_counter() - start)
            assert rows
    engine.dispose()
    return times


def bench_wrk(url: str, image_id: str, seconds: int) -> float | None:
    if not wrk.available():
        return None
    return wrk.run('%s/v2/images/%s' % (url, image_id), 32, seconds,
                   threads=2)[1]


def row(figure: str, value: str, target: str) -> None:
    print('%-52s %-22s %s' % (figure, value, target))


def run(args: argparse.Namespace) -> None:
    work = tempfile.mkdtemp(prefix='glance-bench-')
    settings = ['DEFAULT.workers=%d' % args.workers]
    srv = GlanceServer(work, database_url=args.database,
                       settings=settings).start()
    database_url = args.database or 'sqlite:///%s' % os.path.join(
        work, 'glance.sqlite')
    try:
        print('glance-api %s, %d worker(s), %s' % (
            srv.url, args.workers, database_url.split(':')[0]))
        row('figure', 'measured', 'target')
        rate = bench_create_serial(srv.url, args.creates)
        row('create, 1 client (5 properties, 2 tags)', '%.0f images/s' % rate,
            '>= 150 images/s')
        rate, failures = bench_create_concurrent(srv.url, 8,
                                                 args.creates // 8)
        row('create, 8 concurrent clients', '%.0f images/s, %d errors' % (
            rate, failures), '>= 150 images/s, 0 errors')
        fill(srv.url, 2400)
        api = bench_list(srv.url, args.rounds)
        raw = bench_raw_query(database_url, args.rounds)
        row('GET /v2/images?limit=1000 over 2400 images (median)',
            '%.0f ms' % (statistics.median(api) * 1000), '<= 150 ms')
        row('  raw SQL of the same rows (median)',
            '%.0f ms (ratio %.1fx)' % (statistics.median(raw) * 1000,
                                       statistics.median(api) /
                                       statistics.median(raw)),
            '<= 3x')
        image_id = requests.get(srv.url + '/v2/images?limit=1').json()[
            'images'][0]['id']
        rps = bench_wrk(srv.url, image_id, args.seconds)
        row('GET /v2/images/{id}, 32 connections (wrk)',
            'wrk not installed' if rps is None else '%.0f req/s' % rps,
            '>= 750 req/s (1 worker)')
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)


def show_scaling(args: argparse.Namespace) -> None:
    """``GET /v2/images/{id}`` with 32 connections against one and then
    two API workers, in turns, ``--rounds-scaling`` times each; a fresh
    glance-api (and database) per run."""
    if not shutil.which('wrk'):
        print('wrk not installed (Debian package wrk)')
        return
    counts = [int(n) for n in args.compare_workers.split(',')]
    rates: dict[int, list[float]] = {n: [] for n in counts}
    for round_ in range(args.rounds_scaling):
        for n in counts:
            work = tempfile.mkdtemp(prefix='glance-bench-')
            srv = GlanceServer(work, database_url=args.database, settings=[
                'DEFAULT.workers=%d' % n]).start()
            try:
                image_id = requests.post(srv.url + '/v2/images', json={
                    **BODY, 'name': 'show'}).json()['id']
                bench_wrk(srv.url, image_id, 2)         # warm every worker
                rates[n].append(bench_wrk(srv.url, image_id, args.seconds))
            finally:
                srv.stop()
                shutil.rmtree(work, ignore_errors=True)
            print('  round %d, %d worker(s): %.0f req/s, load %.1f' % (
                round_ + 1, n, rates[n][-1], os.getloadavg()[0]),
                flush=True)
    base = statistics.median(rates[counts[0]])
    for n in counts:
        med = statistics.median(rates[n])
        row('GET /v2/images/{id}, 32 connections, %d worker(s)' % n,
            '%.0f req/s (%s) = %.2fx' % (med, ', '.join(
                '%.0f' % r for r in rates[n]), med / base),
            '2 workers >= 1.8x one' if n == 2 else '')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--database', help='SQLAlchemy URL (default: a '
                        'new SQLite file); the database must be empty')
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--creates', type=int, default=400)
    parser.add_argument('--rounds', type=int, default=21)
    parser.add_argument('--seconds', type=int, default=10,
                        help='duration of the wrk run')
    parser.add_argument('--compare-workers', metavar='N,M',
                        help='only measure GET /v2/images/{id} (wrk, 32 '
                        'connections) against each of these worker counts '
                        'in turns, e.g. 1,2')
    parser.add_argument('--rounds-scaling', type=int, default=3,
                        help='runs of each worker count with '
                        '--compare-workers (the median is shown)')
    args = parser.parse_args()
    if args.compare_workers:
        show_scaling(args)
    else:
        run(args)


if __name__ == '__main__':
    main()
