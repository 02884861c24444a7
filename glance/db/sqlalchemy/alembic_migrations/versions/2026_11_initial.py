"""initial schema: images, properties, tags, members, locations, tasks

Revision ID: 2026_11_initial
Revises: (none, the first revision)
Create Date: 2026-11-22 07:45:09.735173

A migration is a frozen copy of the schema at one point in time, so it
spells every column out rather than importing the models (which move on).
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


revision = '2026_11_initial'
down_revision = None
branch_labels = None
depends_on = None

#: as in the models: microsecond timestamps on every backend, and
#: MySQL/MariaDB tables in utf8mb4 with a binary (case-sensitive) collation
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                       'mariadb')
MYSQL = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4',
         'mysql_collate': 'utf8mb4_bin'}


def _soft_delete_columns() -> list[sa.Column]:
    return [
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.Column('updated_at', TIMESTAMP, nullable=True),
        sa.Column('deleted_at', TIMESTAMP, nullable=True),
        sa.Column('deleted', sa.Boolean(), nullable=False),
    ]


def _child_columns() -> list[sa.Column]:
    """The surrogate key and image reference of the image's child tables."""
    return [
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('image_id', sa.String(36), sa.ForeignKey('images.id'),
                  nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        'images',
        sa.Column('id', sa.String(36), nullable=False),
        sa.Column('name', sa.String(255), nullable=True),
        sa.Column('disk_format', sa.String(20), nullable=True),
        sa.Column('container_format', sa.String(20), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('virtual_size', sa.BigInteger(), nullable=True),
        sa.Column('status', sa.String(30), nullable=False),
        sa.Column('visibility', sa.String(20), nullable=False),
        sa.Column('checksum', sa.String(32), nullable=True),
        sa.Column('os_hash_algo', sa.String(64), nullable=True),
        sa.Column('os_hash_value', sa.String(128), nullable=True),
        sa.Column('min_disk', sa.Integer(), nullable=False),
        sa.Column('min_ram', sa.Integer(), nullable=False),
        sa.Column('owner', sa.String(255), nullable=True),
        sa.Column('protected', sa.Boolean(), nullable=False),
        sa.Column('os_hidden', sa.Boolean(), nullable=False),
        *_soft_delete_columns(),
        sa.PrimaryKeyConstraint('id'),
        **MYSQL)
    for name, column in (('checksum_image_idx', 'checksum'),
                         ('created_at_image_idx', 'created_at'),
                         ('ix_images_deleted', 'deleted'),
                         ('os_hash_value_image_idx', 'os_hash_value'),
                         ('os_hidden_image_idx', 'os_hidden'),
                         ('owner_image_idx', 'owner'),
                         ('updated_at_image_idx', 'updated_at'),
                         ('visibility_image_idx', 'visibility')):
        op.create_index(name, 'images', [column])

    op.create_table(
        'tasks',
        sa.Column('id', sa.String(36), nullable=False),
        sa.Column('type', sa.String(30), nullable=False),
        sa.Column('status', sa.String(30), nullable=False),
        sa.Column('owner', sa.String(255), nullable=True),
        sa.Column('expires_at', TIMESTAMP, nullable=True),
        sa.Column('image_id', sa.String(36), nullable=True),
        sa.Column('request_id', sa.String(64), nullable=True),
        sa.Column('user_id', sa.String(64), nullable=True),
        *_soft_delete_columns(),
        sa.PrimaryKeyConstraint('id'),
        **MYSQL)
    for column in ('image_id', 'owner', 'status', 'type'):
        op.create_index('ix_tasks_%s' % column, 'tasks', [column])

    op.create_table(
        'image_locations',
        *_child_columns(),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('meta_data', sa.Text(), nullable=True),
        sa.Column('status', sa.String(30), nullable=False),
        *_soft_delete_columns(),
        sa.PrimaryKeyConstraint('id'),
        **MYSQL)
    op.create_index('ix_image_locations_image_id', 'image_locations',
                    ['image_id'])

    op.create_table(
        'image_members',
        *_child_columns(),
        sa.Column('member', sa.String(255), nullable=False),
        sa.Column('can_share', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        *_soft_delete_columns(),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint(
            'image_id', 'member', 'deleted_at',
            name='image_members_image_id_member_deleted_at_key'),
        **MYSQL)
    op.create_index('ix_image_members_image_id_member', 'image_members',
                    ['image_id', 'member'])

    op.create_table(
        'image_properties',
        *_child_columns(),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('value', sa.Text(), nullable=True),
        *_soft_delete_columns(),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('image_id', 'name',
                            name='ix_image_properties_image_id_name'),
        **MYSQL)
    op.create_index('ix_image_properties_name', 'image_properties', ['name'])

    op.create_table(
        'image_tags',
        *_child_columns(),
        sa.Column('value', sa.String(255), nullable=False),
        *_soft_delete_columns(),
        sa.PrimaryKeyConstraint('id'),
        **MYSQL)
    op.create_index('ix_image_tags_image_id_tag_value', 'image_tags',
                    ['image_id', 'value'])

    op.create_table(
        'task_info',
        sa.Column('task_id', sa.String(36), sa.ForeignKey('tasks.id'),
                  nullable=False),
        sa.Column('input', sa.Text(), nullable=True),
        sa.Column('result', sa.Text(), nullable=True),
        sa.Column('message', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('task_id'),
        **MYSQL)
