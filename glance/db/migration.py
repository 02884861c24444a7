"""Schema migrations with alembic: upgrade, current version, drift check."""
from __future__ import annotations

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script
from alembic.autogenerate import compare_metadata

from glance.db.sqlalchemy import engine as db_engine
from glance.db.sqlalchemy import models

_INI = os.path.join(os.path.dirname(__file__), 'sqlalchemy', 'alembic.ini')


def _config(connection=None) -> alembic_config.Config:
    cfg = alembic_config.Config(_INI)
    cfg.set_main_option('script_location', os.path.join(
        os.path.dirname(_INI), 'alembic_migrations'))
    if connection is not None:
        cfg.attributes['connection'] = connection
    return cfg


def upgrade(revision: str = 'heads') -> None:
    """Bring the database schema up to ``revision`` (default: newest)."""
    with db_engine.get_engine().begin() as conn:
        alembic_command.upgrade(_config(conn), revision)


def current() -> list[str]:
    """The revisions the database is at (empty for an empty database)."""
    with db_engine.get_engine().connect() as conn:
        ctx = alembic_migration.MigrationContext.configure(conn)
        return list(ctx.get_current_heads())


def heads() -> list[str]:
    """The newest revisions the code knows."""
    return list(alembic_script.ScriptDirectory.from_config(
        _config()).get_heads())


def drift() -> list:
    """Differences between the database schema and the models."""
    with db_engine.get_engine().connect() as conn:
        ctx = alembic_migration.MigrationContext.configure(conn)
        return compare_metadata(ctx, models.Base.metadata)
