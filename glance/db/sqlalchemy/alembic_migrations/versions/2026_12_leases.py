"""leases on long operations: lease_holders, image_leases, staged_images

Revision ID: 2026_12_leases
Revises: 2026_12_list_indexes
Create Date: 2026-12-04 13:20:00

Every API process heartbeats its ``lease_holders`` row; an upload, stage
or import holds an ``image_leases`` row naming that process, so any node
can tell an operation whose process died from one still running and undo
it.  ``staged_images`` records staged data received whole (size and
hash), so only complete stages are imported.  Self-contained (it spells
its own column types out) so it can be moved onto another revision.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


revision = '2026_12_leases'
down_revision = '2026_12_list_indexes'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                       'mariadb')
MYSQL = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4',
         'mysql_collate': 'utf8mb4_bin'}


def upgrade() -> None:
    op.create_table(
        'lease_holders',
        sa.Column('id', sa.String(255), nullable=False),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', TIMESTAMP, nullable=False),
        sa.Column('heartbeat_at', TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint('id'),
        **MYSQL)
    op.create_index('ix_lease_holders_heartbeat_at', 'lease_holders',
                    ['heartbeat_at'])
    op.create_table(
        'image_leases',
        sa.Column('image_id', sa.String(36), nullable=False),
        sa.Column('operation', sa.String(30), nullable=False),
        sa.Column('holder_id', sa.String(255), nullable=False),
        sa.Column('task_id', sa.String(36), nullable=True),
        sa.Column('stores', sa.Text(), nullable=True),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint('image_id'),
        **MYSQL)
    op.create_index('ix_image_leases_holder_id', 'image_leases',
                    ['holder_id'])
    op.create_table(
        'staged_images',
        sa.Column('image_id', sa.String(36), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('hash_algo', sa.String(64), nullable=False),
        sa.Column('hash_value', sa.String(128), nullable=False),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint('image_id'),
        **MYSQL)


def downgrade() -> None:
    op.drop_table('staged_images')
    op.drop_index('ix_image_leases_holder_id', 'image_leases')
    op.drop_table('image_leases')
    op.drop_index('ix_lease_holders_heartbeat_at', 'lease_holders')
    op.drop_table('lease_holders')
