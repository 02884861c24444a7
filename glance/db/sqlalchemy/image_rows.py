"""Read image rows with their children in two plain queries (one for a
single image).

Reads are most of the API's traffic (Nova shows an image before every
boot), and the ORM's identity map and per-relationship "selectin" loads
cost more than the queries themselves: a show took four queries and about
two thirds of its time in object loading.  Here an image read is one query
for the image rows and one ``UNION ALL`` for all their properties, tags and
locations, turned into light records shaped like the ORM rows
(``row.properties[i].name``, ``row.tags[i].value``, ...), so the
repository's ``to_domain`` reads both alike.  Writes still use the ORM.
"""
from __future__ import annotations

import operator
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from glance.db.sqlalchemy import green, models

_IMAGES = models.Image.__table__
_PROPERTIES = models.ImageProperty.__table__
_TAGS = models.ImageTag.__table__
_LOCATIONS = models.ImageLocation.__table__

#: at most this many ids go into one IN (...) list
_BATCH = 500


def _children(of_images) -> sa.CompoundSelect:
    """Properties, tags and locations of the images ``of_images(column)``
    selects, told apart by ``kind``."""
    def part(table, kind, name, value, meta, status, ident):
        return sa.select(
            table.c.image_id, sa.literal(kind).label('kind'),
            name.label('name'), value.label('value'), meta.label('meta'),
            status.label('status'), ident.label('ident'),
        ).where(of_images(table.c.image_id), table.c.deleted == sa.false())

    null = sa.null()
    return sa.union_all(
        part(_PROPERTIES, 'p', _PROPERTIES.c.name, _PROPERTIES.c.value,
             null, null, _PROPERTIES.c.id),
        part(_TAGS, 't', null, _TAGS.c.value, null, null, _TAGS.c.id),
        part(_LOCATIONS, 'l', null, _LOCATIONS.c.value,
             _LOCATIONS.c.meta_data, _LOCATIONS.c.status, _LOCATIONS.c.id),
    )


#: built once: a statement object memoises its compiled cache key, and
#: building and keying these per call cost as much as running them
_CHILDREN = _children(
    lambda column: column.in_(sa.bindparam('ids', expanding=True)))
#: the same for one image (a show, the commonest read): an IN list is
#: rendered anew on every execution, a plain comparison is not
_CHILDREN_OF_ONE = _children(
    lambda column: column == sa.bindparam('image_id'))
_CHILD = _CHILDREN_OF_ONE.subquery('child')
#: one live image by id and its children in a single statement: a row per
#: child, the image's columns repeated (one row without a child for an
#: image that has none).  A show is the commonest call, and on SQLite each
#: statement is a trip to the database's thread pool
#: (:mod:`glance.db.sqlalchemy.green`) costing more than the query.
ONE = sa.select(_IMAGES, *[c.label('child_' + c.name) for c in _CHILD.c]
                ).select_from(_IMAGES.outerjoin(
                    _CHILD, _CHILD.c.image_id == _IMAGES.c.id)
                ).where(_IMAGES.c.id == sa.bindparam('image_id'),
                        _IMAGES.c.deleted == sa.false())


def load(conn: sa.Connection, stmt: sa.Select,
         params: dict[str, Any] | None = None) -> list[SimpleNamespace]:
    """Records of the image rows ``stmt`` selects (in its order), each with
    its live children.  ``stmt`` selects whole rows of the images table.

    The children are read by the primary keys just found, through the
    ``image_id`` index of each child table: point reads, run on the hub
    (:func:`green.point_reads`), where the query of the page may be slow
    and goes to the database's thread pool.  They cost about what turning
    the same rows into JSON costs, which the hub does next anyway, and
    less than one more trip to the pool."""
    result = conn.execute(stmt, params or {})
    keys = list(result.keys())
    records = [_record(keys, row) for row in result]
    by_id = {r.id: r for r in records}
    ids = list(by_id)
    with green.point_reads(conn):
        for start in range(0, len(ids), _BATCH):
            batch = ids[start:start + _BATCH]
            _attach(by_id, conn.execute(
                _CHILDREN_OF_ONE, {'image_id': batch[0]}
            ).all() if len(batch) == 1 else conn.execute(
                _CHILDREN, {'ids': batch}).all())
    return records


#: the names of ``ONE``'s columns, in order
ONE_KEYS = tuple(ONE.selected_columns.keys())


def load_one(session: orm.Session | sa.Connection,
             image_id: str) -> SimpleNamespace | None:
    """The record of the live image ``image_id`` with its children (as
    :func:`load` makes them), or None; one statement."""
    return one_record(session.execute(ONE, {'image_id': image_id}).all())


def one_record(rows) -> SimpleNamespace | None:
    """The record of an image from the rows ``ONE`` selected (tuples in
    its column order), or None if there are none."""
    if not rows:
        return None
    width = len(_IMAGES.c)
    record = _record(ONE_KEYS[:width], rows[0][:width])
    _attach({record.id: record},
            [row[width:] for row in rows if row[width] is not None])
    return record


def _record(keys, values) -> SimpleNamespace:
    # (zip over the row as a tuple: building Row._mapping per row cost
    # more than the query)
    record = SimpleNamespace(**dict(zip(keys, values)))
    record.properties, record.tags, record.locations = [], [], []
    return record


def _attach(by_id: dict[str, SimpleNamespace], rows: list) -> None:
    """Add the child ``rows`` (in :func:`_children`'s columns) to the
    records of their images."""
    # Locations keep the order they were added in.
    rows.sort(key=operator.itemgetter(6))
    # Rows unpacked as tuples: reading them by attribute name cost a
    # sixth of a long list.
    for image_id, kind, name, value, meta, status, ident in rows:
        record = by_id[image_id]
        if kind == 'p':
            record.properties.append(SimpleNamespace(name=name, value=value))
        elif kind == 't':
            record.tags.append(SimpleNamespace(value=value))
        else:
            record.locations.append(SimpleNamespace(
                id=ident, value=value, meta_data=meta, status=status))
