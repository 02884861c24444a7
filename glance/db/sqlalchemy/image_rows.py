"""Read image rows with their children in two plain queries.

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

from glance.db.sqlalchemy import models

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
#: one live image by id
BY_ID = sa.select(_IMAGES).where(_IMAGES.c.id == sa.bindparam('image_id'),
                                 _IMAGES.c.deleted == sa.false())


def load(session: orm.Session, stmt: sa.Select,
         params: dict[str, Any] | None = None) -> list[SimpleNamespace]:
    """Records of the image rows ``stmt`` selects (in its order), each with
    its live children.  ``stmt`` selects whole rows of the images table."""
    result = session.execute(stmt, params or {})
    keys = list(result.keys())
    records = []
    for row in result:
        # (zip over the row as a tuple: building Row._mapping per row cost
        # more than the query)
        record = SimpleNamespace(**dict(zip(keys, row)))
        record.properties, record.tags, record.locations = [], [], []
        records.append(record)
    by_id = {r.id: r for r in records}
    ids = list(by_id)
    for start in range(0, len(ids), _BATCH):
        batch = ids[start:start + _BATCH]
        rows = session.execute(
            _CHILDREN_OF_ONE, {'image_id': batch[0]}
        ).all() if len(batch) == 1 else session.execute(
            _CHILDREN, {'ids': batch}).all()
        # Locations keep the order they were added in.
        rows.sort(key=operator.itemgetter(6))
        # Rows unpacked as tuples, in _children's column order: reading
        # them by attribute name cost a sixth of a long list.
        for image_id, kind, name, value, meta, status, ident in rows:
            record = by_id[image_id]
            if kind == 'p':
                record.properties.append(SimpleNamespace(
                    name=name, value=value))
            elif kind == 't':
                record.tags.append(SimpleNamespace(value=value))
            else:
                record.locations.append(SimpleNamespace(
                    id=ident, value=value, meta_data=meta, status=status))
    return records
