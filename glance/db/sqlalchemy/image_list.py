"""The image list query: who may see what, filters, sorting and paging.

A list's SELECT is built once per *shape* and kept (:func:`_page`): who
asks (an administrator or not, with a project or not) and the query's
visibility, member status, hidden flag, filter keys and operators, number
of tags, sort, marker (and which of its sort values are NULL) and limit.
Every value of the request (the project, filter values, tags, the
marker's values, the limit) is a bound parameter, given at execution
(:func:`statement` returns the statement and its parameters).  Building
the statement, and SQLAlchemy computing its cache key, cost more than
running it: of a member's empty page (2 ms of CPU), 1.7 ms.
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

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


#: shapes whose statements are kept (each a few tens of KiB)
SHAPES_KEPT = 256


class _Shape(NamedTuple):
    """What a list's SQL depends on, apart from the values it binds."""
    dialect: str
    is_admin: bool
    has_project: bool
    visibility: str | None
    member_status: str
    os_hidden: bool
    #: (key, op, whether the value is None) of each filter
    filters: tuple[tuple[str, str, bool], ...]
    tags: int
    sort: tuple[tuple[str, str], ...]
    #: for each sort key, whether the marker's value is NULL; None: no
    #: marker
    marker_nulls: tuple[bool, ...] | None
    limited: bool


def _bind(name: str, column=None, expanding: bool = False):
    """The bound parameter ``name`` (typed as ``column``)."""
    return sa.bindparam(name, type_=None if column is None else column.type,
                        expanding=expanding)


def _visibility_clause(is_admin: bool, has_project: bool,
                       vis: str | None, member_status: str):
    # No project: compared with NULL, as a literal None is (IS NULL).
    project = _bind('project', Image.owner) if has_project else None
    shared_member = sa.exists().where(
        Member.image_id == Image.id, Member.member == project,
        Member.deleted == sa.false(),
        *(() if member_status == 'all'
          else (Member.status == member_status,)))
    owned = Image.owner == project
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


def _filter_clause(index: int, key: str, op: str, is_none: bool):
    prop = models.ImageProperty
    core = key in FILTER_COLUMNS
    col = getattr(Image, key) if core else prop.value
    value = None if is_none else _bind('filter%d' % index, col, op == 'in')
    if core:
        return _OPS[op](col, value)
    return sa.exists().where(prop.image_id == Image.id, prop.name == key,
                             prop.deleted == sa.false(), _OPS[op](col, value))


def list_images(is_admin: bool, project: str | None,
                q: ListQuery) -> list[image_rows.SimpleNamespace]:
    """The page of images visible to the caller that match ``q``."""
    with read_scope() as conn:
        return image_rows.load(conn, *statement(conn, is_admin, project, q))


def statement(conn: sa.engine.Connection, is_admin: bool,
              project: str | None, q: ListQuery
              ) -> tuple[sa.Select, dict[str, Any]]:
    """The SELECT of the page and its parameters (reading the marker row
    on ``conn``)."""
    # Ties are broken by age, then id, so pages never overlap; they follow
    # the one direction given, else the default (newest first).
    sort = tuple(_total_order(q.sort))
    params: dict[str, Any] = {'project': project, 'limit': q.limit}
    for i, (_, _, value) in enumerate(q.filters):
        params['filter%d' % i] = value
    for i, tag in enumerate(q.tags):
        params['tag%d' % i] = tag
    marker = None
    if q.marker:
        # The marker need only be visible, not match the filters.  One
        # row by primary key (and its visibility probes, by index): a
        # point read, on the hub rather than a trip to the thread pool.
        with green.point_reads(conn):
            marker = conn.execute(_marker(
                is_admin, project is not None, q.visibility,
                q.member_status), {'marker': q.marker, 'project': project}
            ).first()
        if marker is None:
            raise exception.BadRequest('marker %s could not be found.'
                                       % q.marker)
        for key, _ in sort:
            params['marker_' + key] = getattr(marker, key)
    shape = _Shape(
        conn.dialect.name, is_admin, project is not None, q.visibility,
        q.member_status, bool(q.os_hidden),
        tuple((key, op, value is None) for key, op, value in q.filters),
        len(q.tags), sort,
        None if marker is None else tuple(
            getattr(marker, key) is None for key, _ in sort),
        q.limit is not None)
    return _page(shape), params


@functools.lru_cache(maxsize=SHAPES_KEPT)
def _marker(is_admin: bool, has_project: bool, vis: str | None,
            member_status: str) -> sa.Select:
    """The marker row, if the caller may see it."""
    return sa.select(Image.__table__).where(
        Image.id == _bind('marker', Image.id), Image.deleted == sa.false(),
        _visibility_clause(is_admin, has_project, vis, member_status))


@functools.lru_cache(maxsize=SHAPES_KEPT)
def _page(shape: _Shape) -> sa.Select:
    """The SELECT of a page of lists of ``shape``.

    Lists in the default order (by age) that a child table selects are
    read from that table's rows, which carry their image's created_at and
    are indexed in that order (``image_created_at``): a list by tag from
    the tag's rows, a member's ``visibility=shared`` list from the
    caller's memberships (and its own shared images from the owner's list
    index, the two merged).  Every other list walks an images list index
    and probes the children with ``EXISTS``.
    """
    visible = _visibility_clause(shape.is_admin, shape.has_project,
                                 shape.visibility, shape.member_status)
    # Hidden images stay out of lists unless the caller asks about them.
    rest = [Image.os_hidden == shape.os_hidden]
    for i, (key, op, is_none) in enumerate(shape.filters):
        rest.append(_filter_clause(i, key, op, is_none))
    sort = shape.sort
    has_marker = shape.marker_nulls is not None
    by_age = [key for key, _ in sort] == ['created_at', 'id'] and \
        len({direction for _, direction in sort}) == 1
    if by_age and not shape.is_admin and shape.has_project and \
            shape.visibility == 'shared':
        return _shared_by_age(shape, rest + _tag_clauses(range(shape.tags)),
                              sort[0][1], has_marker)
    if by_age and shape.tags:
        return _tagged_by_age(shape, visible,
                              rest + _tag_clauses(range(1, shape.tags)),
                              sort[0][1], has_marker)
    conds = [Image.deleted == sa.false(), visible, *rest,
             *_tag_clauses(range(shape.tags))]
    if has_marker:
        conds.append(_after_marker(shape.marker_nulls, sort))
    nulls_sort_high = shape.dialect == 'postgresql'
    order = [_order(getattr(Image, key), direction, nulls_sort_high)
             for key, direction in sort]
    return _limited(sa.select(Image.__table__).where(*conds)
                    .order_by(*order), shape)


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


def _tag_clauses(indices: range) -> list:
    """``EXISTS`` probes of the tags of those ``indices`` (of an alias of
    the tag table, as the query may read the tag table itself)."""
    clauses = []
    for i in indices:
        t = Tag.__table__.alias()
        clauses.append(sa.exists().where(
            t.c.image_id == Image.id,
            t.c.value == _bind('tag%d' % i, t.c.value),
            t.c.deleted == sa.false()))
    return clauses


def _by_age(created_at, image_id, direction: str, has_marker: bool):
    """The ORDER BY of a list by age on (created_at, image_id) columns, and
    the condition of the rows after the marker (if any) in it."""
    if direction == 'desc':
        order = (created_at.desc(), image_id.desc())
    else:
        order = (created_at.asc(), image_id.asc())
    if not has_marker:
        return order, ()
    keyset = sa.tuple_(created_at, image_id)
    mark = sa.tuple_(_bind('marker_created_at', Image.created_at),
                     _bind('marker_id', Image.id))
    return order, ((keyset < mark) if direction == 'desc'
                   else (keyset > mark),)


def _limited(stmt: sa.Select, shape: _Shape) -> sa.Select:
    return stmt.limit(sa.bindparam('limit', type_=sa.Integer())) \
        if shape.limited else stmt


def _tagged_by_age(shape: _Shape, visible, rest: list, direction: str,
                   has_marker: bool) -> sa.Select:
    """A list by tag in order of age: the first tag's rows are read in
    that order (``ix_image_tags_list``), each joined to its image, until
    the page is full.  A live image has one live row per tag."""
    order, after = _by_age(Tag.image_created_at, Tag.image_id, direction,
                           has_marker)
    return _limited(
        sa.select(Image.__table__)
        .select_from(_Driving(Tag.__table__, Image.__table__,
                              Image.id == Tag.image_id))
        .where(Tag.value == _bind('tag0', Tag.value),
               Tag.deleted == sa.false(), Image.deleted == sa.false(),
               visible, *rest, *after)
        .order_by(*order), shape)


def _shared_by_age(shape: _Shape, rest: list, direction: str,
                   has_marker: bool) -> sa.Select:
    """A member's ``visibility=shared`` list in order of age: the page of
    its own shared images (from its list index) merged with the page of
    the images shared with it (from its memberships' list index), each
    read in order and stopped after ``limit``; at most two pages are
    ordered at the top, then joined to their images by id.

    The two pages carry only (created_at, id): SQLAlchemy builds a copy of
    each column a subquery or a UNION exposes, and with every column of
    the images twice over that construction cost more than the query
    itself."""
    project = _bind('project', Image.owner)
    own_order, own_after = _by_age(Image.created_at, Image.id, direction,
                                   has_marker)
    own = _limited(sa.select(Image.created_at, Image.id).where(
        Image.owner == project, Image.deleted == sa.false(),
        Image.visibility == 'shared', *rest, *own_after)
        .order_by(*own_order), shape)
    status = () if shape.member_status == 'all' else (
        Member.status == shape.member_status,)
    order, after = _by_age(Member.image_created_at, Member.image_id,
                           direction, has_marker)
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
        .order_by(*order), shape)
    both = sa.union_all(sa.select(own.subquery()),
                        sa.select(shared.subquery())).subquery('shared')
    top, _ = _by_age(both.c.created_at, both.c.id, direction, False)
    return _limited(
        sa.select(Image.__table__)
        .select_from(_Driving(both, Image.__table__,
                              Image.id == both.c.id))
        .order_by(*top), shape)


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


def _after_marker(nulls: tuple[bool, ...],
                  sort: tuple[tuple[str, str], ...]):
    """Rows strictly after the marker in the (key, dir) ordering; ``nulls``
    tells which of the marker's values (bound as ``marker_<key>``) are
    NULL.

    NULLs sort first ascending on every backend we order with.  Where the
    direction is one and the marker's values are not NULL, it is one
    row-value comparison (plus "or NULL" for a nullable key descending),
    which lets an index seek to the marker; otherwise each key is compared
    in turn, a NULL marker value explicitly.
    """
    columns = [getattr(Image, key) for key, _ in sort]
    directions = {direction for _, direction in sort}
    values = [_bind('marker_' + key, col)
              for (key, _), col in zip(sort, columns)]
    if len(directions) == 1 and not any(nulls) and \
            not any(c.nullable for c in columns[1:]):
        # A row comparison: NULLs in the first key compare as unknown, so
        # they are left out, which is right ascending (they came before the
        # marker) and descending they all come after it.
        keyset, mark = sa.tuple_(*columns), sa.tuple_(*values)
        if directions == {'asc'}:
            return keyset > mark
        after = keyset < mark
        return sa.or_(after, columns[0].is_(None)) \
            if columns[0].nullable else after
    clauses = []
    for i, (_, direction) in enumerate(sort):
        col, value = columns[i], values[i]
        equal_before = [columns[j].is_(None) if nulls[j]
                        else columns[j] == values[j] for j in range(i)]
        if nulls[i]:
            # NULL is the smallest: rows after it asc are non-null; desc none.
            after = col.is_not(None) if direction == 'asc' else sa.false()
        elif direction == 'asc':
            after = col > value
        else:
            after = sa.or_(col < value, col.is_(None))
        clauses.append(sa.and_(*equal_before, after))
    return sa.or_(*clauses)
