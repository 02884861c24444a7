"""The image list query: who may see what, filters, sorting and paging."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from glance.common import exception
from glance.db.sqlalchemy import image_rows, models
from glance.db.sqlalchemy.engine import read_scope
from glance.domain.listing import FILTER_COLUMNS, ListQuery

Image = models.Image
Member = models.ImageMember

_OPS = {
    'eq': lambda col, v: col == v,
    'neq': lambda col, v: col != v,
    'gt': lambda col, v: col > v,
    'gte': lambda col, v: col >= v,
    'lt': lambda col, v: col < v,
    'lte': lambda col, v: col <= v,
    'in': lambda col, v: col.in_(v),
}


def _visibility_clause(is_admin: bool, project: str | None, q: ListQuery):
    shared_member = sa.exists().where(
        Member.image_id == Image.id, Member.member == project,
        Member.deleted == sa.false(),
        *(() if q.member_status == 'all'
          else (Member.status == q.member_status,)))
    owned = Image.owner == project
    vis = q.visibility
    if is_admin:
        if vis is None:
            return sa.or_(Image.visibility != 'community', owned)
        if vis == 'all':
            return sa.true()
        return Image.visibility == vis
    if vis is None:
        return sa.or_(owned, Image.visibility == 'public',
                      sa.and_(Image.visibility == 'shared', shared_member))
    if vis == 'all':
        return sa.or_(owned, Image.visibility.in_(('public', 'community')),
                      sa.and_(Image.visibility == 'shared', shared_member))
    if vis == 'public':
        return Image.visibility == 'public'
    if vis == 'community':
        return Image.visibility == 'community'
    if vis == 'private':
        return sa.and_(Image.visibility == 'private', owned)
    # shared: our own shared images, or ones shared with us
    return sa.and_(Image.visibility == 'shared',
                   sa.or_(owned, shared_member))


def _filter_clause(key: str, op: str, value: Any):
    if key in FILTER_COLUMNS:
        return _OPS[op](getattr(Image, key), value)
    prop = models.ImageProperty
    return sa.exists().where(prop.image_id == Image.id, prop.name == key,
                             prop.deleted == sa.false(),
                             _OPS[op](prop.value, value))


def list_images(is_admin: bool, project: str | None,
                q: ListQuery) -> list[image_rows.SimpleNamespace]:
    """The page of images visible to the caller that match ``q``."""
    with read_scope() as conn:
        return image_rows.load(conn, statement(conn, is_admin, project, q))


def statement(conn: sa.engine.Connection, is_admin: bool,
              project: str | None, q: ListQuery) -> sa.Select:
    """The SELECT of the page (reading the marker row on ``conn``)."""
    conds = [Image.deleted == sa.false(),
             _visibility_clause(is_admin, project, q)]
    # Hidden images stay out of lists unless the caller asks about them.
    conds.append(Image.os_hidden == bool(q.os_hidden))
    for key, op, value in q.filters:
        conds.append(_filter_clause(key, op, value))
    for tag in q.tags:
        conds.append(sa.exists().where(models.ImageTag.image_id == Image.id,
                                       models.ImageTag.value == tag,
                                       models.ImageTag.deleted == sa.false()))
    # Ties are broken by age, then id, so pages never overlap; they follow
    # the one direction given, else the default (newest first).
    sort = _total_order(q.sort)
    if q.marker:
        # The marker need only be visible, not match the filters.
        marker = conn.execute(sa.select(Image.__table__).where(
            Image.id == q.marker, *conds[:2])).first()
        if marker is None:
            raise exception.BadRequest('marker %s could not be found.'
                                       % q.marker)
        conds.append(_after_marker(marker, sort))
    nulls_sort_high = conn.dialect.name == 'postgresql'
    order = [_order(getattr(Image, key), direction, nulls_sort_high)
             for key, direction in sort]
    stmt = sa.select(Image.__table__).where(*conds).order_by(*order)
    if q.limit is not None:
        stmt = stmt.limit(q.limit)
    return stmt


def _total_order(sort: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``sort`` made total: ties broken by age, then id, so pages never
    overlap, in the one direction given (else newest first).  Nothing
    follows ``id``: it is unique, and a key after it would only keep an
    index on the keys up to ``id`` from delivering the order."""
    keys = [key for key, _ in sort]
    if 'id' in keys:
        return list(sort[:keys.index('id') + 1])
    dirs = {d for _, d in sort}
    tie_dir = dirs.pop() if len(dirs) == 1 else 'desc'
    return [*sort, *((key, tie_dir) for key in ('created_at', 'id')
                     if key not in keys)]


def _order(col, direction: str, nulls_sort_high: bool):
    """``col`` in ``direction``, NULLs first ascending and last descending.

    That is where SQLite and MySQL put NULLs by themselves, so there (and
    for NOT NULL columns everywhere) the column is ordered plainly and an
    index on it can deliver the rows in order, stopping after a page.
    PostgreSQL sorts NULLs high, so it is told where they go.
    """
    ordered = col.desc() if direction == 'desc' else col.asc()
    if col.nullable and nulls_sort_high:
        ordered = ordered.nulls_last() if direction == 'desc' \
            else ordered.nulls_first()
    return ordered


def _after_marker(marker: sa.Row, sort: list[tuple[str, str]]):
    """Rows strictly after ``marker`` in the (key, dir) ordering.

    NULLs sort first ascending on every backend we order with.  Where the
    direction is one and the marker's values are not NULL, it is one
    row-value comparison (plus "or NULL" for a nullable key descending),
    which lets an index seek to the marker; otherwise each key is compared
    in turn, a NULL marker value explicitly.
    """
    columns = [getattr(Image, key) for key, _ in sort]
    directions = {direction for _, direction in sort}
    values = tuple(getattr(marker, key) for key, _ in sort)
    if len(directions) == 1 and None not in values and \
            not any(c.nullable for c in columns[1:]):
        # A row comparison: NULLs in the first key compare as unknown, so
        # they are left out, which is right ascending (they came before the
        # marker) and descending they all come after it.
        keyset = sa.tuple_(*columns)
        if directions == {'asc'}:
            return keyset > values
        after = keyset < values
        return sa.or_(after, columns[0].is_(None)) \
            if columns[0].nullable else after
    clauses = []
    for i, (key, direction) in enumerate(sort):
        col = getattr(Image, key)
        mval = getattr(marker, key)
        equal_before = [_eq(getattr(Image, k), getattr(marker, k))
                        for k, _ in sort[:i]]
        if mval is None:
            # NULL is the smallest: rows after it asc are non-null; desc none.
            after = col.is_not(None) if direction == 'asc' else sa.false()
        elif direction == 'asc':
            after = col > mval
        else:
            after = sa.or_(col < mval, col.is_(None))
        clauses.append(sa.and_(*equal_before, after))
    return sa.or_(*clauses)


def _eq(col, value):
    return col.is_(None) if value is None else col == value
