"""The image list query: who may see what, filters, sorting and paging."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Join

from glance.common import exception
from glance.db.sqlalchemy import green, image_rows, models
from glance.db.sqlalchemy.engine import read_scope
from glance.domain.listing import FILTER_COLUMNS, ListQuery

Image = models.Image
Member = models.ImageMember
Tag = models.ImageTag

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
    """The SELECT of the page (reading the marker row on ``conn``).

    Lists in the default order (by age) that a child table selects are
    read from that table's rows, which carry their image's created_at and
    are indexed in that order (``image_created_at``): a list by tag from
    the tag's rows, a member's ``visibility=shared`` list from the
    caller's memberships (and its own shared images from the owner's list
    index, the two merged).  Every other list walks an images list index
    and probes the children with ``EXISTS``.
    """
    visible = _visibility_clause(is_admin, project, q)
    # Hidden images stay out of lists unless the caller asks about them.
    rest = [Image.os_hidden == bool(q.os_hidden)]
    for key, op, value in q.filters:
        rest.append(_filter_clause(key, op, value))
    # Ties are broken by age, then id, so pages never overlap; they follow
    # the one direction given, else the default (newest first).
    sort = _total_order(q.sort)
    marker = None
    if q.marker:
        # The marker need only be visible, not match the filters.  One
        # row by primary key (and its visibility probes, by index): a
        # point read, on the hub rather than a trip to the thread pool.
        with green.point_reads(conn):
            marker = conn.execute(sa.select(Image.__table__).where(
                Image.id == q.marker, Image.deleted == sa.false(),
                visible)).first()
        if marker is None:
            raise exception.BadRequest('marker %s could not be found.'
                                       % q.marker)
    by_age = [key for key, _ in sort] == ['created_at', 'id'] and \
        len({direction for _, direction in sort}) == 1
    if by_age and not is_admin and project and q.visibility == 'shared':
        return _shared_by_age(project, q, rest + _tag_clauses(q.tags),
                              sort[0][1], marker)
    if by_age and q.tags:
        return _tagged_by_age(visible, q, rest + _tag_clauses(q.tags[1:]),
                              sort[0][1], marker)
    conds = [Image.deleted == sa.false(), visible, *rest,
             *_tag_clauses(q.tags)]
    if marker is not None:
        conds.append(_after_marker(marker, sort))
    nulls_sort_high = conn.dialect.name == 'postgresql'
    order = [_order(getattr(Image, key), direction, nulls_sort_high)
             for key, direction in sort]
    stmt = sa.select(Image.__table__).where(*conds).order_by(*order)
    if q.limit is not None:
        stmt = stmt.limit(q.limit)
    return stmt


class _Driving(Join):
    """An inner join whose left side is read first, in its index order.

    SQLite (planning without statistics) and MariaDB may start from the
    images instead, reading every visible image and sorting the matches;
    there it is written ``CROSS JOIN`` (SQLite) or ``STRAIGHT_JOIN``
    (MariaDB), which keep the written order.  PostgreSQL chooses well
    (a plain JOIN).
    """

    inherit_cache = True


_FORCED = {'sqlite': ' CROSS JOIN ', 'mysql': ' STRAIGHT_JOIN '}


@compiles(_Driving)
def _compile_driving(join, compiler, **kw):
    forced = _FORCED.get(compiler.dialect.name)
    if forced is None:
        return compiler.visit_join(join, **kw)
    kw.pop('asfrom', None)
    return (join.left._compiler_dispatch(compiler, asfrom=True, **kw) +
            forced +
            join.right._compiler_dispatch(compiler, asfrom=True, **kw) +
            ' ON ' + join.onclause._compiler_dispatch(compiler, **kw))


def _tag_clauses(tags: list[str]) -> list:
    """``EXISTS`` probes of the tags (of an alias of the tag table, as the
    query may read the tag table itself)."""
    clauses = []
    for tag in tags:
        t = Tag.__table__.alias()
        clauses.append(sa.exists().where(t.c.image_id == Image.id,
                                         t.c.value == tag,
                                         t.c.deleted == sa.false()))
    return clauses


def _by_age(created_at, image_id, direction: str, marker):
    """The ORDER BY of a list by age on (created_at, image_id) columns, and
    the condition of the rows after ``marker`` (if any) in it."""
    if direction == 'desc':
        order = (created_at.desc(), image_id.desc())
    else:
        order = (created_at.asc(), image_id.asc())
    if marker is None:
        return order, ()
    keyset = sa.tuple_(created_at, image_id)
    mark = (marker.created_at, marker.id)
    return order, ((keyset < mark) if direction == 'desc'
                   else (keyset > mark),)


def _limited(stmt: sa.Select, q: ListQuery) -> sa.Select:
    return stmt if q.limit is None else stmt.limit(q.limit)


def _tagged_by_age(visible, q: ListQuery, rest: list, direction: str,
                   marker) -> sa.Select:
    """A list by tag in order of age: the first tag's rows are read in
    that order (``ix_image_tags_list``), each joined to its image, until
    the page is full.  A live image has one live row per tag."""
    order, after = _by_age(Tag.image_created_at, Tag.image_id, direction,
                           marker)
    return _limited(
        sa.select(Image.__table__)
        .select_from(_Driving(Tag.__table__, Image.__table__,
                              Image.id == Tag.image_id))
        .where(Tag.value == q.tags[0], Tag.deleted == sa.false(),
               Image.deleted == sa.false(), visible, *rest, *after)
        .order_by(*order), q)


def _shared_by_age(project: str, q: ListQuery, rest: list, direction: str,
                   marker) -> sa.Select:
    """A member's ``visibility=shared`` list in order of age: the page of
    its own shared images (from its list index) merged with the page of
    the images shared with it (from its memberships' list index), each
    read in order and stopped after ``limit``; at most two pages are
    ordered at the top, then joined to their images by id.

    The two pages carry only (created_at, id): SQLAlchemy builds a copy of
    each column a subquery or a UNION exposes, and with every column of
    the images twice over that construction cost more than the query
    itself."""
    own_order, own_after = _by_age(Image.created_at, Image.id, direction,
                                   marker)
    own = _limited(sa.select(Image.created_at, Image.id).where(
        Image.owner == project, Image.deleted == sa.false(),
        Image.visibility == 'shared', *rest, *own_after)
        .order_by(*own_order), q)
    status = () if q.member_status == 'all' else (
        Member.status == q.member_status,)
    order, after = _by_age(Member.image_created_at, Member.image_id,
                           direction, marker)
    shared = _limited(
        sa.select(Image.created_at, Image.id)
        .select_from(_Driving(Member.__table__, Image.__table__,
                              Image.id == Member.image_id))
        .where(Member.member == project, *status,
               Member.deleted == sa.false(), Image.deleted == sa.false(),
               Image.visibility == 'shared',
               # the project's own images are the other branch's
               sa.or_(Image.owner != project, Image.owner.is_(None)),
               *rest, *after)
        .order_by(*order), q)
    both = sa.union_all(sa.select(own.subquery()),
                        sa.select(shared.subquery())).subquery('shared')
    top, _ = _by_age(both.c.created_at, both.c.id, direction, None)
    return _limited(
        sa.select(Image.__table__)
        .select_from(_Driving(both, Image.__table__,
                              Image.id == both.c.id))
        .order_by(*top), q)


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
