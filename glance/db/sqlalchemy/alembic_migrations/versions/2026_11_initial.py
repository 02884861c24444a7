"""initial schema: images, properties, tags, members, locations, tasks

Revision ID: 2026_11_initial
Revises: (none, the first revision)
Create Date: 2026-11-22 07:45:09.735173
"""
from alembic import op
import sqlalchemy as sa


revision = '2026_11_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('images',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('disk_format', sa.String(length=20), nullable=True),
    sa.Column('container_format', sa.String(length=20), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('virtual_size', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('visibility', sa.String(length=20), nullable=False),
    sa.Column('checksum', sa.String(length=32), nullable=True),
    sa.Column('os_hash_algo', sa.String(length=64), nullable=True),
    sa.Column('os_hash_value', sa.String(length=128), nullable=True),
    sa.Column('min_disk', sa.Integer(), nullable=False),
    sa.Column('min_ram', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('protected', sa.Boolean(), nullable=False),
    sa.Column('os_hidden', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.create_index('checksum_image_idx', ['checksum'], unique=False)
        batch_op.create_index('created_at_image_idx', ['created_at'], unique=False)
        batch_op.create_index('ix_images_deleted', ['deleted'], unique=False)
        batch_op.create_index('os_hash_value_image_idx', ['os_hash_value'], unique=False)
        batch_op.create_index('os_hidden_image_idx', ['os_hidden'], unique=False)
        batch_op.create_index('owner_image_idx', ['owner'], unique=False)
        batch_op.create_index('updated_at_image_idx', ['updated_at'], unique=False)
        batch_op.create_index('visibility_image_idx', ['visibility'], unique=False)

    op.create_table('tasks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('image_id', sa.String(length=36), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_image_id', ['image_id'], unique=False)
        batch_op.create_index('ix_tasks_owner', ['owner'], unique=False)
        batch_op.create_index('ix_tasks_status', ['status'], unique=False)
        batch_op.create_index('ix_tasks_type', ['type'], unique=False)

    op.create_table('image_locations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('meta_data', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('image_locations', schema=None) as batch_op:
        batch_op.create_index('ix_image_locations_image_id', ['image_id'], unique=False)

    op.create_table('image_members',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=False),
    sa.Column('member', sa.String(length=255), nullable=False),
    sa.Column('can_share', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('image_id', 'member', 'deleted_at', name='image_members_image_id_member_deleted_at_key')
    )
    with op.batch_alter_table('image_members', schema=None) as batch_op:
        batch_op.create_index('ix_image_members_image_id_member', ['image_id', 'member'], unique=False)

    op.create_table('image_properties',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('image_id', 'name', name='ix_image_properties_image_id_name')
    )
    with op.batch_alter_table('image_properties', schema=None) as batch_op:
        batch_op.create_index('ix_image_properties_name', ['name'], unique=False)

    op.create_table('image_tags',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('image_tags', schema=None) as batch_op:
        batch_op.create_index('ix_image_tags_image_id_tag_value', ['image_id', 'value'], unique=False)

    op.create_table('task_info',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('input', sa.Text(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ),
    sa.PrimaryKeyConstraint('task_id')
    )
