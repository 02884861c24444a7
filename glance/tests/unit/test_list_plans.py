"""Image lists are read in index order, never by sorting every visible
image: the query plans of the common list shapes, checked with EXPLAIN on
SQLite and PostgreSQL (MariaDB's optimizer picks a filesort for tables this
small whatever the indexes, so it proves nothing there)."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from glance.db import images as db_images
from glance.db.sqlalchemy import engine, image_list
from glance import context
from glance.domain.image import Image

pytestmark = pytest.mark.usefixtures('migrated_database')

#: (name, ListQuery arguments) of the shapes lists take
SHAPES = [
    ('first page', {}),
    ('by name', {'sort': [('name', 'asc')]}),
    ('by name desc', {'sort': [('name', 'desc')]}),
    ('by status', {'sort': [('status', 'asc')]}),
    ('by size', {'sort': [('size', 'desc')]}),
    ('by updated_at', {'sort': [('updated_at', 'desc')]}),
    ('tagged', {'tags': ['t1']}),
    ('shared', {'visibility': 'shared'}),
    ('hidden', {'os_hidden': True}),
]


def _columns():
    return image_list.Image.__table__.c


def _plan(conn, stmt) -> str:
    sql = str(stmt.compile(dialect=conn.dialect,
                           compile_kwargs={'literal_binds': True}))
    if conn.dialect.name == 'sqlite':
        rows = conn.exec_driver_sql('EXPLAIN QUERY PLAN ' + sql).all()
        return '\n'.join(r[-1] for r in rows)
    conn.exec_driver_sql('SET LOCAL enable_sort = off')
    return '\n'.join(r[0] for r in conn.exec_driver_sql('EXPLAIN ' + sql))


def _sorts(conn, plan: str) -> bool:
    if conn.dialect.name == 'sqlite':
        return 'TEMP B-TREE FOR ORDER BY' in plan or \
            'TEMP B-TREE FOR RIGHT PART OF ORDER BY' in plan
    # with sorting priced out, a Sort node means no index can serve
    return any(line.strip().startswith(('Sort', '->  Sort'))
               for line in plan.splitlines())


@pytest.fixture
def marker_id(migrated_database):
    repo = db_images.ImageRepo(context.RequestContext(project_id='p1'))
    image = repo.add(Image(image_id=str(uuid.uuid4()), owner='p1',
                           name='m'))
    return image.image_id


@pytest.mark.parametrize('admin', [True, False], ids=['admin', 'member'])
@pytest.mark.parametrize('name,args', SHAPES, ids=[s[0] for s in SHAPES])
def test_list_pages_come_in_index_order(migrated_database, admin, name,
                                        args, marker_id):
    if migrated_database.backend == 'mysql':
        pytest.skip('MariaDB plans small tables with a filesort anyway')
    if migrated_database.backend == 'postgresql' and any(
            _columns()[key].nullable for key, _ in args.get('sort', ())):
        # PostgreSQL sorts NULLs high: "NULLs first ascending" needs an
        # index built NULLS FIRST, which the other backends cannot declare
        pytest.skip('a nullable sort key on PostgreSQL')
    for marker in (None, marker_id):
        q = image_list.ListQuery(limit=25, marker=marker, **args)
        with engine.read_scope() as conn:
            stmt = image_list.statement(conn, admin, 'p1', q)
            plan = _plan(conn, stmt)
            assert not _sorts(conn, plan), '%s (marker %s):\n%s' % (
                name, marker, plan)


def test_the_check_sees_a_sort(migrated_database):
    """A query no index orders is reported (the check can fail)."""
    if migrated_database.backend == 'mysql':
        pytest.skip('not checked on MariaDB')
    images = sa.table('images', sa.column('checksum'), sa.column('name'))
    with engine.read_scope() as conn:
        plan = _plan(conn, sa.select(images.c.name).order_by(
            sa.func.lower(images.c.name)).limit(3))
        assert _sorts(conn, plan)
