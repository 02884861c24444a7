"""image lists: every sort key served by an index, NULLs lowest everywhere

Revision ID: 2026_12_pg_null_order
Revises: 2026_12_leases
Create Date: 2026-12-05 16:30:00

Lists order NULLs lowest (first ascending, last descending).  SQLite and
MariaDB index NULLs that way by themselves; PostgreSQL indexes them
highest, so there the plain list indexes of ``2026_12_list_indexes`` on
nullable sort keys could not deliver a page in order and every list
sorted all visible images.  On PostgreSQL they are replaced by indexes
declared ``NULLS FIRST``.  The sort keys that had no list index
(``disk_format``, ``container_format``, ``id``) get one on every backend,
and so do a member's memberships by status (a member's list looked them up
with a scan of every membership: PostgreSQL's hashed subplan) and tags by
value (a list by a rare tag scanned every tag row on PostgreSQL).

Building an index reads the whole images table and, on PostgreSQL and
MariaDB, holds writes to it meanwhile: run it in a maintenance window on a
large catalogue.  Self-contained: the index definitions are frozen here.
"""
from alembic import op
import sqlalchemy as sa


revision = '2026_12_pg_null_order'
down_revision = '2026_12_leases'
branch_labels = None
depends_on = None

#: sort key -> the index columns after (deleted, os_hidden)
NULLABLE = {
    'updated_at': ('updated_at', 'created_at', 'id'),
    'name': ('name', 'created_at', 'id'),
    'size': ('size', 'created_at', 'id'),
    'disk_format': ('disk_format', 'created_at', 'id'),
    'container_format': ('container_format', 'created_at', 'id'),
}
#: the nullable keys 2026_12_list_indexes already indexed (plainly)
INDEXED_BEFORE = ('updated_at', 'name', 'size')


def _postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade() -> None:
    op.create_index('ix_images_list_id', 'images',
                    ['deleted', 'os_hidden', 'id'])
    op.create_index('ix_image_members_member_status', 'image_members',
                    ['member', 'status', 'deleted', 'image_id'])
    op.create_index('ix_image_tags_value_image_id', 'image_tags',
                    ['value', 'image_id'])
    pg = _postgresql()
    for key, (first, *rest) in NULLABLE.items():
        if not pg:
            if key not in INDEXED_BEFORE:
                op.create_index('ix_images_list_%s' % key, 'images',
                                ['deleted', 'os_hidden', first, *rest])
            continue
        if key in INDEXED_BEFORE:
            op.drop_index('ix_images_list_%s' % key, table_name='images')
        op.create_index('ix_images_list_%s_nulls_first' % key, 'images',
                        ['deleted', 'os_hidden',
                         sa.text('%s ASC NULLS FIRST' % first), *rest])


def downgrade() -> None:
    pg = _postgresql()
    for key, (first, *rest) in NULLABLE.items():
        if not pg:
            if key not in INDEXED_BEFORE:
                op.drop_index('ix_images_list_%s' % key, table_name='images')
            continue
        op.drop_index('ix_images_list_%s_nulls_first' % key,
                      table_name='images')
        if key in INDEXED_BEFORE:
            op.create_index('ix_images_list_%s' % key, 'images',
                            ['deleted', 'os_hidden', first, *rest])
    op.drop_index('ix_images_list_id', table_name='images')
    op.drop_index('ix_image_members_member_status',
                  table_name='image_members')
    op.drop_index('ix_image_tags_value_image_id', table_name='image_tags')
