"""metadata definitions catalog: namespaces, objects, properties, tags,
resource types and their associations

Revision ID: 2026_11_metadefs
Revises: 2026_11_initial
Create Date: 2026-11-28 08:10:00

Like every migration, a frozen copy of the schema at this point: columns
are spelt out, not imported from the models.  Metadef rows are
hard-deleted, so these tables have no ``deleted``/``deleted_at`` columns
(and ``glance-manage db purge`` passes them by).
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


revision = '2026_11_metadefs'
down_revision = '2026_11_initial'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                       'mariadb')
MYSQL = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4',
         'mysql_collate': 'utf8mb4_bin'}


def _timestamps() -> list[sa.Column]:
    return [sa.Column('created_at', TIMESTAMP, nullable=False),
            sa.Column('updated_at', TIMESTAMP, nullable=True)]


def _namespace_child(table: str, *columns: sa.Column) -> None:
    """A table of named things inside one namespace, names unique there."""
    op.create_table(
        table,
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('namespace_id', sa.Integer(),
                  sa.ForeignKey('metadef_namespaces.id'), nullable=False),
        sa.Column('name', sa.String(80), nullable=False),
        *columns,
        *_timestamps(),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('namespace_id', 'name',
                            name='uq_%s_namespace_id_name' % table),
        **MYSQL)


def upgrade() -> None:
    op.create_table(
        'metadef_namespaces',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('namespace', sa.String(80), nullable=False),
        sa.Column('display_name', sa.String(80), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('visibility', sa.String(32), nullable=False),
        sa.Column('protected', sa.Boolean(), nullable=False),
        sa.Column('owner', sa.String(255), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('namespace',
                            name='uq_metadef_namespaces_namespace'),
        **MYSQL)
    op.create_index('ix_metadef_namespaces_owner', 'metadef_namespaces',
                    ['owner'])

    _namespace_child('metadef_objects',
                     sa.Column('description', sa.Text(), nullable=True),
                     sa.Column('required', sa.Text(), nullable=True),
                     sa.Column('json_schema', sa.Text(), nullable=False))
    _namespace_child('metadef_properties',
                     sa.Column('json_schema', sa.Text(), nullable=False))
    _namespace_child('metadef_tags')

    op.create_table(
        'metadef_resource_types',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('name', sa.String(80), nullable=False),
        sa.Column('protected', sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name', name='uq_metadef_resource_types_name'),
        **MYSQL)

    op.create_table(
        'metadef_namespace_resource_types',
        sa.Column('resource_type_id', sa.Integer(),
                  sa.ForeignKey('metadef_resource_types.id'),
                  nullable=False),
        sa.Column('namespace_id', sa.Integer(),
                  sa.ForeignKey('metadef_namespaces.id'), nullable=False),
        sa.Column('properties_target', sa.String(80), nullable=True),
        sa.Column('prefix', sa.String(80), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint('resource_type_id', 'namespace_id'),
        **MYSQL)
    op.create_index('ix_metadef_ns_res_types_namespace_id',
                    'metadef_namespace_resource_types', ['namespace_id'])
