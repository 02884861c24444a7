"""Image lists are read in index order, never by sorting every visible
image: the query plan of every sort key and direction, for an admin and a
member, under every visibility rule, first pages and marker pages, checked
with EXPLAIN on SQLite, PostgreSQL and MariaDB.

The table holds a few thousand images (``glance.tests.catalogue``), with
fresh statistics on the servers, so MariaDB's and PostgreSQL's optimizers
plan as they do for a real catalogue (on a near-empty table a sort costs
nothing and they rightly pick it).  On PostgreSQL sorting is also priced out
(``enable_sort``, ``enable_incremental_sort``): a Sort node left in the
plan then means that no index can deliver that order at all.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from glance.db import migration
from glance.db.sqlalchemy import engine, image_list
from glance.domain.listing import SORT_KEYS
from glance.tests import catalogue, databases

#: images in the planned table
IMAGES = 3000
#: the member the non-admin plans are made for (owns, shares, is shared to)
PROJECT = 'p1'

#: visibility shapes: ListQuery arguments besides the sort
VISIBILITY = {
    'default': {},
    'all': {'visibility': 'all'},
    'public': {'visibility': 'public'},
    'private': {'visibility': 'private'},
    'shared': {'visibility': 'shared'},
    'community': {'visibility': 'community'},
    'shared pending': {'visibility': 'shared', 'member_status': 'pending'},
    'shared any status': {'visibility': 'shared', 'member_status': 'all'},
}
#: other filters lists are often called with, planned in the default order
OTHER_SHAPES = {
    'tag': {'tags': [catalogue.RARE_TAG]},
    'two tags': {'tags': [catalogue.RARE_TAG, 't3']},
    'shared tag': {'visibility': 'shared', 'tags': [catalogue.RARE_TAG]},
    'hidden': {'os_hidden': True},
    'status': {'filters': [('status', 'in', ['active'])]},
}


@pytest.fixture(scope='module', params=databases.BACKENDS)
def catalogue_db(request, tmp_path_factory):
    """A migrated database on each backend holding ``IMAGES`` images."""
    db = databases.TestDatabase(request.param,
                                str(tmp_path_factory.mktemp('plans')))
    cfg.CONF.set_override('connection', db.url, group='database')
    engine.reset()
    try:
        migration.upgrade()
        with engine.get_engine().begin() as conn:
            catalogue.fill(conn, IMAGES)
        catalogue.analyze(engine.get_engine())
        yield db
    finally:
        engine.reset()
        cfg.CONF.clear_override('connection', group='database')
        db.drop()


def _plan(conn, stmt) -> str:
    sql = str(stmt.compile(dialect=conn.dialect,
                           compile_kwargs={'literal_binds': True}))
    if conn.dialect.name == 'sqlite':
        rows = conn.exec_driver_sql('EXPLAIN QUERY PLAN ' + sql).all()
        return '\n'.join(r[-1] for r in rows)
    if conn.dialect.name == 'postgresql':
        conn.exec_driver_sql('SET LOCAL enable_sort = off')
        conn.exec_driver_sql('SET LOCAL enable_incremental_sort = off')
        return '\n'.join(r[0] for r in conn.exec_driver_sql('EXPLAIN ' + sql))
    rows = conn.exec_driver_sql('EXPLAIN ' + sql).mappings().all()
    return '\n'.join('%s %s key=%s extra=%s' % (
        r['select_type'], r['table'], r['key'], r['Extra']) for r in rows)


def _sorts(conn, plan: str) -> bool:
    """Whether ``plan`` sorts the rows instead of reading them in order."""
    if conn.dialect.name == 'sqlite':
        return 'TEMP B-TREE FOR ORDER BY' in plan or \
            'TEMP B-TREE FOR RIGHT PART OF ORDER BY' in plan
    if conn.dialect.name == 'postgresql':
        # Sort, Incremental Sort: both sort what the index did not order
        return any(line.strip().lstrip('-> ').startswith(
            ('Sort', 'Incremental Sort')) for line in plan.splitlines())
    return 'filesort' in plan


def _branches(stmt) -> list:
    """The ordered, limited SELECTs ``stmt`` merges (a member's shared
    list by age: its own shared images and those shared with it), else
    ``stmt`` itself.  The merge sorts at most two pages; each branch must
    read its page in index order."""
    froms = stmt.get_final_froms()
    # the merged pages are the left side of their join to the images
    merged = froms[0].left if len(froms) == 1 and \
        isinstance(froms[0], sa.Join) else froms[0]
    if isinstance(merged, sa.Subquery) and \
            isinstance(merged.element, sa.CompoundSelect):
        return [branch.get_final_froms()[0].element
                for branch in merged.element.selects]
    return [stmt]


def _one_owner(conn, plan: str) -> bool:
    """Whether ``plan`` reads only one project's images (by owner).

    A member's ``visibility=private`` list is the caller's own private
    images: the optimizer rightly finds them by owner and sorts them, a
    sort bounded by the size of one project, not of the catalogue.
    """
    if conn.dialect.name == 'sqlite':
        return 'USING INDEX owner_image_idx (owner=?)' in plan
    if conn.dialect.name == 'postgresql':
        return "Index Cond: ((owner)::text = 'p1'" in plan
    return 'key=owner_image_idx' in plan


def _known_gap(conn, args: dict, page: str) -> bool:
    """The shapes still sorted, listed in doc/source/performance.rst.

    MariaDB: the page after a marker of the few images shared with the
    caller and still pending, in descending order of a nullable key.  The
    rows after the marker there are "below the marker or NULL", two index
    ranges, and MariaDB reads both and sorts what matches (only the
    caller's pending shares) rather than walking the index backwards.
    """
    key, direction = args['sort'][0] if args.get('sort') else ('', '')
    if conn.dialect.name == 'mysql' and args.get('tags') and (
            args.get('visibility') == 'shared' or
            key not in ('', 'created_at')):
        # and a member's shared list by a rare tag, and any list by a rare
        # tag in another order than by age: MariaDB materialises the tag's
        # images (a semi-join) and sorts them, a sort bounded by the
        # tag's images (PostgreSQL and SQLite walk the key's index)
        return True
    if key == 'status' and any(f[0] == 'status' for f in
                               args.get('filters', ())):
        # a list filtered by status and sorted by it: MariaDB scans the
        # non-deleted images and sorts the matches; SQLite sorts (created_at,
        # id) within the status after a marker
        return conn.dialect.name == 'mysql' or page == 'marker page'
    return conn.dialect.name == 'mysql' and page == 'marker page' and \
        args.get('member_status') == 'pending' and direction == 'desc' and \
        image_list.Image.__table__.c[key].nullable


def _pages(admin: bool, args: dict) -> list[str]:
    """The plans of a first page and of the page after it that sort."""
    failures = []
    marker = None
    for page in ('first page', 'marker page'):
        q = image_list.ListQuery(limit=25, marker=marker, **args)
        with engine.read_scope() as conn:
            stmt, params = image_list.statement(conn, admin, PROJECT, q)
            for branch in _branches(stmt):
                plan = _plan(conn, branch.params(params))
                if _sorts(conn, plan) and not _one_owner(conn, plan) and \
                        not _known_gap(conn, args, page):
                    failures.append('%s %s, %s:\n%s\n' % (
                        'admin' if admin else 'member', args, page, plan))
            rows = conn.execute(stmt, params).all()
        if not rows:
            break
        marker = rows[-1].id
    return failures


@pytest.mark.parametrize('key', SORT_KEYS)
def test_every_sort_key_is_read_in_index_order(catalogue_db, key):
    failures = []
    for direction in ('asc', 'desc'):
        for admin in (True, False):
            for shape in VISIBILITY.values():
                failures += _pages(admin, {**shape,
                                           'sort': [(key, direction)]})
    assert not failures, ''.join(failures)


@pytest.mark.parametrize('shape', sorted(OTHER_SHAPES))
def test_filtered_lists_are_read_in_index_order(catalogue_db, shape):
    failures = []
    for admin in (True, False):
        failures += _pages(admin, OTHER_SHAPES[shape])
    assert not failures, ''.join(failures)


def test_the_marker_pages_are_planned(catalogue_db):
    """The catalogue is big enough that a marker page exists (so the
    marker plans above were really made)."""
    with engine.read_scope() as conn:
        rows = conn.execute(*image_list.statement(
            conn, False, PROJECT, image_list.ListQuery(limit=25))).all()
    assert len(rows) == 25


def test_the_check_sees_a_sort(catalogue_db):
    """A query no index orders is reported (the check can fail)."""
    images = sa.table('images', sa.column('checksum'), sa.column('name'),
                      sa.column('min_ram'))
    with engine.read_scope() as conn:
        plan = _plan(conn, sa.select(images.c.name).order_by(
            images.c.min_ram, images.c.checksum).limit(3))
        assert _sorts(conn, plan), plan


@pytest.mark.parametrize('direction', ['asc', 'desc'])
@pytest.mark.parametrize('key', SORT_KEYS)
def test_the_order_is_the_same_on_every_backend(catalogue_db, key,
                                                direction):
    """Walking the pages gives every image once, NULLs lowest (first
    ascending, last descending), ties by age then id, whatever the
    backend's own NULL order; markers on NULL values included."""
    table = image_list.Image.__table__
    with engine.read_scope() as conn:
        rows = conn.execute(sa.select(table.c[key], table.c.created_at,
                                      table.c.id).where(
            table.c.deleted == sa.false(),
            table.c.os_hidden == sa.false())).all()

    def lowest_null(row):
        return tuple((value is not None, value) for value in row)

    expected = [r.id for r in sorted(rows, key=lowest_null,
                                     reverse=direction == 'desc')]
    seen, marker = [], None
    while True:
        q = image_list.ListQuery(limit=700, marker=marker, visibility='all',
                                 sort=[(key, direction)])
        page = [r.id for r in image_list.list_images(True, PROJECT, q)]
        if not page:
            break
        seen += page
        marker = page[-1]
    assert seen == expected


@pytest.mark.parametrize('key', SORT_KEYS)
def test_filtered_lists_in_every_order(catalogue_db, key):
    """The filtered shapes (a tag, two tags, a member's shared list by
    tag, hidden images, a status) in every sort key and direction."""
    failures = []
    for direction in ('asc', 'desc'):
        for admin in (True, False):
            for shape in OTHER_SHAPES.values():
                failures += _pages(admin, {**shape,
                                           'sort': [(key, direction)]})
    assert not failures, ''.join(failures)
