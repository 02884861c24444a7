"""image lists: indexes that deliver a page in order

Revision ID: 2026_12_list_indexes
Revises: 2026_12_members
Create Date: 2026-12-04 14:00:00

A list filters on deleted and os_hidden and orders by a sort key, then by
created_at and id.  With an index on exactly those columns the database
reads the page in index order and stops after ``limit`` rows, instead of
sorting every visible image.  One per common sort key.
"""
from alembic import op


revision = '2026_12_list_indexes'
down_revision = '2026_12_members'
branch_labels = None
depends_on = None

#: frozen copy of models.LIST_ORDER at this revision
LIST_ORDER = {
    'created_at': ('created_at', 'id'),
    'updated_at': ('updated_at', 'created_at', 'id'),
    'name': ('name', 'created_at', 'id'),
    'status': ('status', 'created_at', 'id'),
    'size': ('size', 'created_at', 'id'),
}


def upgrade() -> None:
    for key, columns in LIST_ORDER.items():
        op.create_index('ix_images_list_%s' % key, 'images',
                        ['deleted', 'os_hidden', *columns])


def downgrade() -> None:
    for key in LIST_ORDER:
        op.drop_index('ix_images_list_%s' % key, table_name='images')
