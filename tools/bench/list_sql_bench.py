#!/usr/bin/env python3
"""SQL-level list benchmark: the list queries alone as the catalogue grows.

Run by hand, never as a test:

    .venv/bin/python tools/bench/list_sql_bench.py --backend sqlite \\
        --sizes 10000,100000,500000

Creates a new database (an SQLite file, or one on the local PostgreSQL or
MariaDB server as the test suite does, see ``glance.tests.databases``),
migrates it to the newest schema and grows it through the sizes with
``glance.tests.catalogue``, refreshing the statistics after each size on
the servers (glance never runs ANALYZE on SQLite, so neither does this).
At each size it builds the statements ``glance.db.sqlalchemy.image_list``
builds for an administrator and for the member project ``p1`` and times
their execution (rows fetched) on one connection: the median of
``--runs`` runs after one warm-up run, in milliseconds.  No HTTP, no
serialisation: what the database costs.  ``--explain`` prints the plans
at the largest size.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

from oslo_config import cfg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
from glance.db import migration  # noqa: E402
from glance.db.sqlalchemy import engine, image_list  # noqa: E402
from glance.tests import catalogue, databases  # noqa: E402

#: who asks: (is_admin, project)
PERSONAS = {'admin': (True, 'p0'), 'member': (False, 'p1')}
#: the lists measured: ListQuery arguments (25 a page)
LISTS = {
    'first page': {},
    '20th page': {'page': 20},
    'tag on 1%': {'tags': [catalogue.RARE_TAG]},
    'visibility=shared': {'visibility': 'shared'},
    'member_status=pending': {'visibility': 'shared',
                              'member_status': 'pending'},
    'name order': {'sort': [('name', 'asc')]},
}


def _statement(conn, persona: str, args: dict):
    admin, project = PERSONAS[persona]
    args = dict(args)
    page = args.pop('page', 1)
    marker = None
    for _ in range(page - 1):
        rows = conn.execute(image_list.statement(
            conn, admin, project,
            image_list.ListQuery(limit=25, marker=marker, **args))).all()
        if not rows:
            break
        marker = rows[-1].id
    return image_list.statement(conn, admin, project, image_list.ListQuery(
        limit=25, marker=marker, **args))


def _time(conn, stmt, runs: int) -> tuple[float, int]:
    count = len(conn.execute(stmt).all())  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        conn.execute(stmt).all()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, count


def explain(conn, stmt) -> str:
    sql = str(stmt.compile(dialect=conn.dialect,
                           compile_kwargs={'literal_binds': True}))
    if conn.dialect.name == 'sqlite':
        return '\n'.join(r[-1] for r in conn.exec_driver_sql(
            'EXPLAIN QUERY PLAN ' + sql))
    if conn.dialect.name == 'postgresql':
        return '\n'.join(r[0] for r in conn.exec_driver_sql(
            'EXPLAIN (ANALYZE, BUFFERS) ' + sql))
    return '\n'.join(str(tuple(r)) for r in conn.exec_driver_sql(
        'EXPLAIN ' + sql))


def run(args: argparse.Namespace) -> None:
    work = tempfile.mkdtemp(prefix='glance-listsql-')
    db = databases.TestDatabase(args.backend, work)
    cfg.CONF([], project='glance')
    cfg.CONF.set_override('connection', db.url, group='database')
    engine.reset()
    figures: dict[tuple[str, str], dict[int, float]] = {}
    try:
        migration.upgrade()
        eng = engine.get_engine()
        have = 0
        for size in args.sizes:
            start = time.perf_counter()
            for first in range(have, size, 50000):
                with eng.begin() as conn:
                    catalogue.fill(conn, min(50000, size - first), first)
            catalogue.analyze(eng)
            have = size
            print('%d images (loaded in %.0f s)' % (
                size, time.perf_counter() - start), flush=True)
            with eng.connect() as conn:
                for persona in PERSONAS:
                    for name, shape in LISTS.items():
                        stmt = _statement(conn, persona, shape)
                        ms, count = _time(conn, stmt, args.runs)
                        figures.setdefault((persona, name), {})[size] = ms
                        print('  %-7s %-22s %8.2f ms (%d rows)' % (
                            persona, name, ms, count), flush=True)
                        if args.explain and size == args.sizes[-1]:
                            print(explain(conn, stmt), flush=True)
        print('\n%s, median of %d runs, ms' % (args.backend, args.runs))
        heads = ''.join('%10s' % ('%dk' % (s // 1000)) for s in args.sizes)
        print('%-30s' % 'list' + heads + '   last/first')
        for (persona, name), by_size in figures.items():
            cells = [by_size[s] for s in args.sizes]
            print('%-30s' % ('%s %s' % (persona, name)) +
                  ''.join('%10.2f' % c for c in cells) +
                  '   x%.2f' % (cells[-1] / cells[0]))
    finally:
        engine.reset()
        db.drop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backend', default='sqlite',
                        choices=databases.BACKENDS)
    parser.add_argument('--sizes', default='10000,100000,500000',
                        type=lambda s: sorted(int(n) for n in s.split(',')))
    parser.add_argument('--runs', type=int, default=9)
    parser.add_argument('--explain', action='store_true')
    run(parser.parse_args())


if __name__ == '__main__':
    main()
