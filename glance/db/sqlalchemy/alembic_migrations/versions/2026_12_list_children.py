"""image lists by tag and by membership: read in list order from the child

Revision ID: 2026_12_list_children
Revises: 2026_12_taskflow
Create Date: 2026-12-06 10:00:00

A list by tag, or a member's ``visibility=shared`` list, found its images
either through the tag (or membership) rows and then sorted all of them,
or by walking every image in list order and probing each for the tag (or
the membership): either way the work grew with the catalogue.  Tag and
membership rows now carry their image's ``created_at``
(``image_created_at``, filled here from the images and kept by the
repository's writes; an image's created_at never changes), and are
indexed by (value or member, ..., deleted, image_created_at, image_id):
the list reads the tag's (or the caller's memberships') rows in list order
and stops when the page is full.  The indexes they replace
(``ix_image_tags_value_image_id``, ``ix_image_members_member_status``)
were their prefixes.  A project's own images get a list index too
(``ix_images_list_owner``), for its private and shared lists.

Filling the column rewrites every tag and membership row (and on SQLite
rebuilds both tables to make it NOT NULL): run it in a maintenance window
on a large catalogue.  Self-contained: the definitions are frozen here.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


revision = '2026_12_list_children'
down_revision = '2026_12_taskflow'
branch_labels = None
depends_on = None

_TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                        'mariadb')
_IMAGES = sa.table('images', sa.column('id', sa.String),
                   sa.column('created_at', _TIMESTAMP))
#: child table -> (new index name, columns), (old index name, columns)
CHILDREN = {
    'image_tags': [
        (('ix_image_tags_list',
          ['value', 'deleted', 'image_created_at', 'image_id']),),
        (('ix_image_tags_value_image_id', ['value', 'image_id']),),
    ],
    'image_members': [
        (('ix_image_members_list',
          ['member', 'status', 'deleted', 'image_created_at', 'image_id']),
         ('ix_image_members_list_all',
          ['member', 'deleted', 'image_created_at', 'image_id'])),
        (('ix_image_members_member_status',
          ['member', 'status', 'deleted', 'image_id']),),
    ],
}
OWNER_INDEX = ('ix_images_list_owner',
               ['owner', 'deleted', 'os_hidden', 'created_at', 'id'])


def _fill(table: str) -> None:
    child = sa.table(table, sa.column('image_id', sa.String),
                     sa.column('image_created_at', _TIMESTAMP))
    op.get_bind().execute(sa.update(child).values(
        image_created_at=sa.select(_IMAGES.c.created_at)
        .where(_IMAGES.c.id == child.c.image_id).scalar_subquery()))


def upgrade() -> None:
    for table, (new, old) in CHILDREN.items():
        for name, _ in old:
            op.drop_index(name, table_name=table)
        op.add_column(table, sa.Column('image_created_at', _TIMESTAMP,
                                       nullable=True))
        _fill(table)
        with op.batch_alter_table(table) as batch:
            batch.alter_column('image_created_at', existing_type=_TIMESTAMP,
                               nullable=False)
        for name, columns in new:
            op.create_index(name, table, columns)
    op.create_index(OWNER_INDEX[0], 'images', OWNER_INDEX[1])


def downgrade() -> None:
    op.drop_index(OWNER_INDEX[0], table_name='images')
    for table, (new, old) in CHILDREN.items():
        for name, _ in new:
            op.drop_index(name, table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column('image_created_at')
        for name, columns in old:
            op.create_index(name, table, columns)
