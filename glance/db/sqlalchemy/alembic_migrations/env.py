"""Alembic environment: migrations on the connection glance-manage gives."""
from alembic import context

from glance.db.sqlalchemy import models

target_metadata = models.Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get('connection')
    if connection is None:
        from glance.db.sqlalchemy.engine import get_engine
        with get_engine().connect() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
