#!/usr/bin/env python3
"""Scaling benchmark: image lists and shows as the catalogue grows (issue 22).

Run by hand, never as a test:

    .venv/bin/python tools/bench/scale_bench.py --backend sqlite \\
        --sizes 1000,10000,100000,500000

It starts its own glance-api (one worker, identity headers, file store) on
a new database (an SQLite file, or a database it creates on the local
PostgreSQL or MariaDB server named like the test suite's,
``GLANCE_TEST_POSTGRESQL_URL`` / ``GLANCE_TEST_MYSQL_URL``), then for each
size in turn grows the catalogue to that size with
``glance.tests.catalogue`` (bulk INSERTs on the project's own tables: five
properties and two tags per image, a visibility mix, members on shared
images; see that module for the exact shape), brings the database where
a running one would be (``catalogue.analyze``: statistics, and VACUUM on
PostgreSQL) and measures, as an admin and as the member project ``p1``:

* the first page, the 20th page (by marker), a tag on 1% of the images,
  name order, ``visibility=shared``, ``os_hidden=true`` and
  ``member_status=pending`` lists (25 images a page): median (p50)
  latency and requests per second with ``--connections`` clients at once;
* ``GET /v2/images/{id}``: the same with 32 clients.

The clients are ``wrk`` (Debian package) for ``--seconds`` each, when it
is installed, else Python threads.

It prints one line per figure and size, with each list's growth from the
smallest size (and, where that size's page held fewer images, from the
smallest size whose page held as many), and the worker's resident memory
after each size (it should not grow with the catalogue).

``--reference URL --reference-database DB_URL`` measures another Image
service beside glance in the same run (the issue's targets are ratios to
the reference service): a server you started yourself at URL, on its own
empty, migrated database DB_URL, that takes identity from the
``X-Identity-Status``/``X-Roles``/``X-Project-Id`` headers as the
recordings in ../shared/reference were made.  The same images are loaded
into its tables (``glance.tests.catalogue.reflected_tables``) and every
figure is taken on both, one right after the other, with the ratio
(glance's requests per second over the reference's).
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
from glance.tests import catalogue, databases  # noqa: E402
from glance.tests.functional.server import GlanceServer  # noqa: E402
import wrk  # noqa: E402 - tools/bench/wrk.py

#: who asks: an administrator, and a member of the project p1
PERSONAS = {
    'admin': {'X-Roles': 'admin,member,reader', 'X-Project-Id': 'p0'},
    'member': {'X-Roles': 'reader,member', 'X-Project-Id': 'p1'},
}
#: the list queries of the issue (name -> query string)
LISTS = {
    'first page': 'limit=25',
    '20th page (marker)': None,   # built from the first 19 pages
    'tag on 1%': 'limit=25&tag=%s' % catalogue.RARE_TAG,
    'name order': 'limit=25&sort_key=name&sort_dir=asc',
    'visibility=shared': 'limit=25&visibility=shared',
    'os_hidden=true': 'limit=25&os_hidden=true',
    'member_status=pending': 'limit=25&visibility=shared'
                             '&member_status=pending',
}


def _session(persona: str) -> requests.Session:
    s = requests.Session()
    s.headers.update({'X-Identity-Status': 'Confirmed',
                      'X-User-Id': 'bench', **PERSONAS[persona]})
    s.headers['X-Tenant-Id'] = s.headers['X-Project-Id']
    return s


def _marker_query(url: str, persona: str) -> str:
    """The query string of the 20th page of the default list."""
    s = _session(persona)
    marker = None
    for _ in range(19):
        r = s.get(url + '/v2/images?limit=25' +
                  ('&marker=%s' % marker if marker else ''))
        assert r.status_code == 200, r.text
        images = r.json()['images']
        if not images:
            break
        marker = images[-1]['id']
    return 'limit=25&marker=%s' % marker


def _load(url: str, persona: str, path: str, clients: int,
          per_client: int) -> tuple[float, float, int]:
    """(p50 latency in ms, requests per second, images in the answer) of
    ``path`` with ``clients`` at once, ``per_client`` requests each."""
    count = len(_session(persona).get(url + path).json().get('images', ()))

    def client() -> list[float]:
        s = _session(persona)
        s.get(url + path)  # the connection, before timing
        times = []
        for _ in range(per_client):
            start = time.perf_counter()
            r = s.get(url + path)
            times.append(time.perf_counter() - start)
            assert r.status_code == 200, (path, r.status_code, r.text)
        return times

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = [f.result() for f in [pool.submit(client)
                                        for _ in range(clients)]]
    elapsed = time.perf_counter() - start
    times = [t for result in results for t in result]
    return statistics.median(times) * 1000, len(times) / elapsed, count


def _rss_kib(server: GlanceServer) -> int:
    with open('/proc/%d/status' % server.worker_pid()) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def _wrk(url: str, persona: str, path: str, connections: int,
         seconds: int) -> tuple[float, float] | None:
    """(p50 latency in ms, requests per second) of ``path`` with
    ``connections`` at once for ``seconds`` (``wrk``); None without wrk."""
    if not wrk.available():
        return None
    headers = dict(_session(persona).headers)
    return wrk.run(url + path, connections, seconds, headers={
        key: headers[key] for key in ('X-Identity-Status', 'X-User-Id',
                                      'X-Roles', 'X-Project-Id',
                                      'X-Tenant-Id')})


def _measure(url: str, persona: str, path: str, connections: int,
             args: argparse.Namespace, requests_each: int
             ) -> tuple[float, float, int]:
    """(p50 ms, requests per second, images in the answer): with wrk for
    ``--seconds`` when it is installed, else ``requests_each`` requests
    per connection from Python."""
    measured = _wrk(url, persona, path, connections, args.seconds)
    if measured is None:
        return _load(url, persona, path, connections, requests_each)
    count = len(_session(persona).get(url + path).json().get('images', ()))
    return (*measured, count)


def _grow(database_url: str, have: int, want: int,
          foreign: bool = False) -> float:
    """Fill the catalogue from ``have`` to ``want`` images; seconds.
    ``foreign``: the database is another installation's (its own table
    definitions are read)."""
    engine = sa.create_engine(database_url)
    start = time.perf_counter()
    try:
        step = 50000
        with engine.connect() as conn:
            tables = catalogue.reflected_tables(conn) if foreign else None
        for first in range(have, want, step):
            with engine.begin() as conn:
                catalogue.fill(conn, min(step, want - first), first, tables)
        catalogue.analyze(engine)
    finally:
        engine.dispose()
    return time.perf_counter() - start


def _line(persona: str, figure: str, measured: list[tuple], ratio: str,
          growth: str = '', count: str = '') -> None:
    print('  %-7s %-24s %s%s%s%s' % (persona, figure, ' | '.join(
        '%s p50 %7.1f ms %7.1f req/s' % m if len(m) == 3 else
        '%s %7.1f req/s' % m for m in measured), ratio, growth, count))


def run(args: argparse.Namespace) -> None:
    work = tempfile.mkdtemp(prefix='glance-scale-')
    db = None
    if args.backend != 'sqlite':
        db = databases.TestDatabase(args.backend, work)
    srv = GlanceServer(os.path.join(work, 'api'), profile='reference',
                       database_url=db.url if db else None,
                       settings=['DEFAULT.workers=1']).start()
    database_url = db.url if db else 'sqlite:///%s' % os.path.join(
        work, 'api', 'glance.sqlite')
    #: (name, API URL, database URL, another installation's schema)
    targets = [('glance', srv.url, database_url, False)]
    if args.reference:
        targets.append(('reference', args.reference.rstrip('/'),
                        args.reference_database, True))
    figures: dict[tuple[str, str], dict[int, tuple[float, int]]] = {}
    try:
        print('glance-api %s, 1 worker, %s, %d connections%s' % (
            srv.url, args.backend, args.connections,
            ', reference %s' % args.reference if args.reference else ''))
        have = 0
        for size in args.sizes:
            took = sum(_grow(db_url, have, size, foreign)
                       for _, _, db_url, foreign in targets)
            have = size
            print('\n%d images (loaded in %.0f s)' % (size, took))
            for persona in PERSONAS:
                for name, query in LISTS.items():
                    measured = []
                    for label, url, _, _ in targets:
                        p50, rps, count = _measure(
                            url, persona, '/v2/images?' + (
                                query or _marker_query(url, persona)),
                            args.connections, args, args.rounds)
                        measured.append((label, p50, rps))
                    by_size = figures.setdefault((persona, name), {})
                    by_size[size] = (measured[0][1], count)
                    _line(persona, name, measured, _ratio(measured),
                          _growth(by_size, size), '  (%d images)' % count)
            path = '/v2/images/%s' % catalogue.image_id(size // 2 + 5)
            measured = [(label, *_measure(url, 'admin', path, 32, args,
                                          args.rounds * 4)[:2])
                        for label, url, _, _ in targets]
            _line('admin', 'GET /v2/images/{id}', measured,
                  _ratio(measured))
            print('  worker resident memory: %d MiB' % (_rss_kib(srv) // 1024))
    finally:
        srv.stop()
        if db is not None:
            db.drop()
        shutil.rmtree(work, ignore_errors=True)


def _growth(by_size: dict[int, tuple[float, int]], size: int) -> str:
    """glance's p50 at ``size`` over its p50 at the smallest size; and,
    when the smallest size's page held fewer images (a member sees under
    20 pages of a 1,000-image catalogue, 10 images carry the 1% tag),
    also over the smallest size whose page held as many: the same work
    on a smaller catalogue."""
    p50, count = by_size[size]
    smallest = min(by_size)
    text = '  x%.2f' % (p50 / by_size[smallest][0])
    if by_size[smallest][1] < count:
        like = min(s for s, (_, c) in by_size.items() if c == count)
        if like != size:
            text += ' (x%.2f from %d, as many images)' % (
                p50 / by_size[like][0], like)
    return text


def _ratio(measured: list[tuple]) -> str:
    """glance's requests per second over the reference's, when both were
    measured."""
    if len(measured) < 2:
        return ''
    return '  = %.1fx' % (measured[0][-1] / measured[1][-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backend', default='sqlite',
                        choices=('sqlite', 'postgresql', 'mysql'))
    parser.add_argument('--sizes', default='1000,10000,100000',
                        type=lambda s: sorted(int(n) for n in s.split(',')),
                        help='catalogue sizes, comma separated')
    parser.add_argument('--connections', type=int, default=8)
    parser.add_argument('--rounds', type=int, default=10,
                        help='requests per connection for each list, '
                             'without wrk')
    parser.add_argument('--seconds', type=int, default=5,
                        help='duration of each wrk run')
    parser.add_argument('--reference', metavar='URL',
                        help='another Image service to measure beside '
                             'glance (see the module docstring)')
    parser.add_argument('--reference-database', metavar='DB_URL',
                        help="the reference's database (SQLAlchemy URL)")
    args = parser.parse_args()
    if bool(args.reference) != bool(args.reference_database):
        parser.error('--reference and --reference-database go together')
    run(args)


if __name__ == '__main__':
    main()
