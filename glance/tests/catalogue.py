"""A large, realistic image catalogue written straight into the database.

For the list plan tests (the optimizers of MariaDB and PostgreSQL choose an
index only when the table is big enough for it to matter) and for the
scaling benchmark (``tools/bench/scale_bench.py``), which loads up to half
a million images.  Creating them through the API would take hours, so the
rows go in with Core ``INSERT`` executemany batches on the project's own
tables (``glance.db.sqlalchemy.models``): whatever the models declare
(columns, defaults the database fills, indexes) is what is filled.

The catalogue is deterministic for a given size, so two runs measure the
same rows.  Its shape (each attribute drawn independently of the others):

* owners ``p0`` .. ``p49``; the caller of the member figures is ``p1``;
* visibility: 50% private, 20% public, 20% shared, 10% community;
* 2% hidden (``os_hidden``);
* status ``active`` with a size, except 5% ``queued`` with no size nor
  formats; 5% have no name;
* five properties, two tags (``t<i % 10>``, and ``rare`` on 1% of the
  images, else ``bulk``);
* every shared image has two members, the owner's next project accepted
  and the seventh next pending (so ``p1`` is an accepted member of
  ``p0``'s shared images and a pending one of ``p44``'s).
"""
from __future__ import annotations

import datetime
import random
import uuid
from typing import Iterator

import sqlalchemy as sa

from glance.db.sqlalchemy import models

#: projects owning images
PROJECTS = 50
#: the tag on 1% of the images
RARE_TAG = 'rare'
#: rows per INSERT batch
_BATCH = 5000
_EPOCH = datetime.datetime(2025, 1, 1)
_VISIBILITY = ['private'] * 5 + ['public'] * 2 + ['shared'] * 2 + [
    'community']


def _pick(i: int, salt: int, n: int) -> int:
    """A well-mixed choice in ``range(n)`` for image ``i``: each attribute
    has its own ``salt``, so attributes do not follow one another (with
    plain ``i % n`` the member p1 would see no shared image at all)."""
    x = ((i + 1) * 0x9E3779B1 + salt * 0x85EBCA77) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    x ^= x >> 12
    return x % n


def image_id(i: int) -> str:
    """The id of image number ``i`` (stable across runs)."""
    return str(uuid.UUID(int=random.Random(i).getrandbits(128), version=4))


def _image(i: int) -> dict:
    queued = _pick(i, 1, 20) == 0
    created = _EPOCH + datetime.timedelta(seconds=i)
    return {
        'id': image_id(i),
        # names in another order than creation, so sorting by name works
        'name': None if _pick(i, 2, 20) == 0
        else 'image-%08d' % _pick(i, 3, 10**8),
        'disk_format': None if queued else ('raw', 'qcow2', 'iso')[i % 3],
        'container_format': None if queued else 'bare',
        'size': None if queued else 1024 * (1 + _pick(i, 4, 100000)),
        'virtual_size': None,
        'status': 'queued' if queued else 'active',
        'visibility': _VISIBILITY[_pick(i, 5, 10)],
        'owner': 'p%d' % _pick(i, 6, PROJECTS),
        'min_disk': 0, 'min_ram': 0, 'protected': False,
        'os_hidden': _pick(i, 7, 50) == 0,
        'created_at': created,
        'updated_at': created + datetime.timedelta(minutes=i % 7),
        'deleted': False,
    }


def _children(i: int, ident: str, created) -> Iterator[tuple[str, dict]]:
    common = {'image_id': ident, 'created_at': created,
              'updated_at': created, 'deleted': False}
    for p in range(5):
        yield 'properties', {**common, 'name': 'prop_%d' % p,
                             'value': 'value %d of %d' % (p, i)}
    # tags and memberships carry their image's age (list order)
    listed = {**common, 'image_created_at': created}
    yield 'tags', {**listed, 'value': 't%d' % (i % 10)}
    yield 'tags', {**listed,
                   'value': RARE_TAG if _pick(i, 8, 100) == 0 else 'bulk'}
    if _VISIBILITY[_pick(i, 5, 10)] == 'shared':
        owner = _pick(i, 6, PROJECTS)
        for step, status in ((1, 'accepted'), (7, 'pending')):
            yield 'members', {**listed, 'can_share': False,
                              'member': 'p%d' % ((owner + step) % PROJECTS),
                              'status': status}


_TABLES = {'images': models.Image.__table__,
           'properties': models.ImageProperty.__table__,
           'tags': models.ImageTag.__table__,
           'members': models.ImageMember.__table__}


def reflected_tables(conn: sa.engine.Connection) -> dict[str, sa.Table]:
    """The catalogue's tables as the database behind ``conn`` declares
    them, for :func:`fill` to load the same images into another
    installation's schema (the reference service's, measured beside
    glance by ``tools/bench/scale_bench.py --reference``).  Its tables have
    the same names; columns it lacks (``image_created_at``) are left out
    of the rows."""
    meta = sa.MetaData()
    return {name: sa.Table(table.name, meta, autoload_with=conn)
            for name, table in _TABLES.items()}


def fill(conn: sa.engine.Connection, count: int, start: int = 0,
         tables: dict[str, sa.Table] | None = None) -> None:
    """Insert images ``start`` .. ``start + count - 1`` with their
    properties, tags and members, in batches, on ``conn`` (the caller
    commits), into ``tables`` (default: the project's own)."""
    tables = tables or _TABLES
    columns = {name: set(table.c.keys()) for name, table in tables.items()}
    pending: dict[str, list[dict]] = {name: [] for name in _TABLES}

    def flush() -> None:
        for name in _TABLES:  # images first: the others refer to them
            if pending[name]:
                rows = pending[name]
                if not columns[name].issuperset(rows[0]):
                    rows = [{k: v for k, v in row.items()
                             if k in columns[name]} for row in rows]
                conn.execute(tables[name].insert(), rows)
                pending[name].clear()

    for i in range(start, start + count):
        row = _image(i)
        pending['images'].append(row)
        for table, child in _children(i, row['id'], row['created_at']):
            pending[table].append(child)
        if len(pending['images']) >= _BATCH:
            flush()
    flush()


def analyze(engine: sa.engine.Engine) -> None:
    """Bring the database to where a running one would be after the bulk
    load: current optimizer statistics (autovacuum, InnoDB's persistent
    statistics) and, on PostgreSQL, a vacuumed visibility map.  Nothing on
    SQLite: glance never runs ANALYZE there, so its plans are made without
    statistics (and so are the reference service's).

    Without VACUUM PostgreSQL cannot answer from an index alone: right
    after loading 500k images the "shared with me" part of a member's list
    read p1's 1,945 accepted memberships from 1,440 heap pages (6.5 ms a
    list) instead of 40 index pages (0.8 ms), a cost no running database
    pays for long, since autovacuum also runs after inserts.
    """
    with engine.connect().execution_options(
            isolation_level='AUTOCOMMIT') as conn:
        if conn.dialect.name == 'mysql':
            for table in _TABLES.values():
                conn.exec_driver_sql('ANALYZE TABLE %s' % table.name)
        elif conn.dialect.name == 'postgresql':
            conn.exec_driver_sql('VACUUM ANALYZE')
