"""image cache records shared by API nodes: node_reference, cached_images

Revision ID: 2026_11_cache
Revises: 2026_11_metadefs
Create Date: 2026-11-28 08:10:00

The ``centralized_db`` cache driver keeps one row per image cached on a
node, keyed by the node's worker_self_reference_url, so that nodes sharing
the database see each other's caches.  Self-contained (it spells its own
column types out) so it can be moved onto another revision.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


revision = '2026_11_cache'
down_revision = '2026_11_metadefs'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                       'mariadb')
MYSQL = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4',
         'mysql_collate': 'utf8mb4_bin'}


def upgrade() -> None:
    op.create_table(
        'node_reference',
        sa.Column('node_reference_id', sa.Integer(), autoincrement=True,
                  nullable=False),
        sa.Column('node_reference_url', sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint('node_reference_id'),
        sa.UniqueConstraint('node_reference_url',
                            name='uq_node_reference_node_reference_url'),
        **MYSQL)
    op.create_table(
        'cached_images',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('image_id', sa.String(36), nullable=False),
        sa.Column('last_accessed', TIMESTAMP, nullable=False),
        sa.Column('last_modified', TIMESTAMP, nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('hits', sa.Integer(), nullable=False),
        sa.Column('checksum', sa.String(32), nullable=True),
        sa.Column('stamp', sa.String(64), nullable=True),
        sa.Column('node_reference_id', sa.Integer(),
                  sa.ForeignKey('node_reference.node_reference_id'),
                  nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint(
            'image_id', 'node_reference_id',
            name='uq_cached_images_image_id_node_reference_id'),
        **MYSQL)


def downgrade() -> None:
    op.drop_table('cached_images')
    op.drop_table('node_reference')
