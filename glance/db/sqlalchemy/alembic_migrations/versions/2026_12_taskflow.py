"""taskflow persistence for distributed imports: logbooks, flowdetails,
atomdetails

Revision ID: 2026_12_taskflow
Revises: 2026_12_leases
Create Date: 2026-12-04 16:40:00

glance-worker runs import flows with taskflow's SQL persistence backend in
the service's database (unless ``[jobboard] persistence_connection`` names
another one).  taskflow's own ``upgrade()`` runs its alembic history in a
table named ``alembic_version`` — this project's — so its tables are
created here instead, from taskflow's table definitions at its current
schema.  They belong to taskflow, not to the models: ``glance-manage db
check`` leaves them out of its comparison (``migration.FOREIGN_TABLES``).
"""
from alembic import op
import sqlalchemy as sa


revision = '2026_12_taskflow'
down_revision = '2026_12_pg_null_order'
branch_labels = None
depends_on = None

TABLES = ('logbooks', 'flowdetails', 'atomdetails')


def _metadata() -> sa.MetaData:
    from taskflow.persistence.backends.sqlalchemy import tables
    metadata = sa.MetaData()
    tables.fetch(metadata)
    return metadata


def upgrade() -> None:
    bind = op.get_bind()
    metadata = _metadata()
    for table in metadata.tables.values():
        # as the project's own tables (taskflow declares none)
        table.dialect_kwargs.update({'mysql_engine': 'InnoDB',
                                     'mysql_charset': 'utf8mb4',
                                     'mysql_collate': 'utf8mb4_bin'})
    metadata.create_all(bind=bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    _metadata().drop_all(bind=bind, checkfirst=True)
