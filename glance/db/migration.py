"""Schema migrations with alembic: upgrade, current version, drift check."""
from __future__ import annotations

import functools
import os
from typing import Any

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script
from alembic.autogenerate import compare_metadata
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from glance.db import adopt
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
    """Bring the database schema up to ``revision`` (default: newest).

    A database the reference service (OpenStack Glance) made is adopted
    first (see :mod:`glance.db.adopt`), so that a cloud switching to this
    project runs the one command it always runs; one this version cannot
    adopt is refused with nothing changed.
    """
    with db_engine.get_engine().connect() as conn:
        # One run at a time: deployment tools start db sync on every
        # controller at once, and two alembic runs (or adoptions) on one
        # database would trip over each other.
        with adopt.exclusive(conn):
            adopt.adopt(conn, known_revisions(), _create_adopted_schema)
            with conn.begin():
                alembic_command.upgrade(_config(conn), revision)


def _create_adopted_schema(conn) -> None:
    """Our tables as they are at the revision adopted databases join."""
    alembic_command.upgrade(_config(conn), adopt.TARGET_REVISION)


def known_revisions() -> set[str]:
    """Every revision of this project's history."""
    scripts = alembic_script.ScriptDirectory.from_config(_config())
    return {rev.revision for rev in scripts.walk_revisions()}


def pending() -> list[str]:
    """What ``upgrade()`` would do, in lines for an operator; empty when
    the schema is current.  Changes nothing."""
    engine = db_engine.get_engine()
    with engine.connect() as conn:
        finding = adopt.find(conn, known_revisions())
        lines = finding.describe() if finding else []
        have = set() if finding else set(current())
    scripts = alembic_script.ScriptDirectory.from_config(_config())
    base = {adopt.TARGET_REVISION} if finding else have
    todo = []
    for rev in scripts.iterate_revisions('heads', 'base'):
        if rev.revision in base or _is_ancestor(scripts, rev.revision,
                                                base):
            continue
        todo.append(rev)
    for rev in reversed(todo):
        lines.append('Migration %s: %s' % (
            rev.revision, (rev.doc or '').splitlines()[0]))
    return lines


def _is_ancestor(scripts, revision: str, of: set[str]) -> bool:
    """True when ``revision`` is already applied below one of ``of``."""
    for head in of:
        for rev in scripts.iterate_revisions(head, 'base'):
            if rev.revision == revision:
                return True
    return False


def foreign() -> 'adopt.Finding | None':
    """The reference database found, or None for one of ours (or empty).
    Raises :class:`adopt.AdoptionRefused` for an unknown one."""
    with db_engine.get_engine().connect() as conn:
        return adopt.find(conn, known_revisions())


def current() -> list[str]:
    """The revisions the database is at (empty for an empty database)."""
    with db_engine.get_engine().connect() as conn:
        ctx = alembic_migration.MigrationContext.configure(conn)
        return list(ctx.get_current_heads())


def heads() -> list[str]:
    """The newest revisions the code knows."""
    return list(alembic_script.ScriptDirectory.from_config(
        _config()).get_heads())


def _compare_type(context, inspected_column, metadata_column,
                  inspected_type, metadata_type) -> bool | None:
    """Catch what alembic's own type comparison misses on MySQL/MariaDB.

    Alembic compares a dialect variant by its generic base, so a plain
    DATETIME passes for the DATETIME(6) the models ask for; compare the
    fractional-second precision ourselves.  ``None`` lets alembic decide.
    """
    if context.dialect.name not in ('mysql', 'mariadb'):
        return None
    wanted = metadata_type.dialect_impl(context.dialect)
    if isinstance(wanted, mysql.DATETIME) and \
            isinstance(inspected_type, mysql.DATETIME):
        return (wanted.fsp or 0) != (inspected_type.fsp or 0)
    return None


def _mysql_collation_drift(conn) -> list[tuple[Any, ...]]:
    """Tables or text columns not in the collation the models declare.

    Alembic does not compare table options or collations, and a
    case-insensitive collation changes which names collide and how lists
    sort, so this is checked by hand.
    """
    want = models.MYSQL_TABLE_ARGS['mysql_collate']
    names = tuple(models.Base.metadata.tables)
    out: list[tuple[Any, ...]] = []
    tables = conn.execute(sa.text(
        'SELECT table_name, table_collation FROM information_schema.tables '
        'WHERE table_schema = DATABASE()')).all()
    for table, collation in tables:
        if table in names and collation != want:
            out.append(('table_collation', table, collation, want))
    columns = conn.execute(sa.text(
        'SELECT table_name, column_name, collation_name '
        'FROM information_schema.columns WHERE table_schema = DATABASE() '
        'AND collation_name IS NOT NULL')).all()
    for table, column, collation in columns:
        if table in names and collation != want:
            out.append(('column_collation', table, column, collation, want))
    return out


def _on_backend(dialect_name: str, obj, name, type_, reflected,
                compare_to) -> bool:
    """Leave out of the comparison the indexes the models declare for
    other backends only (``Index.ddl_if``), which alembic does not read."""
    if type_ != 'index' or reflected:
        return True
    return models.index_applies(obj, dialect_name)


#: tables in the service's database that belong to a library, not to the
#: models (taskflow's persistence: migration 2026_12_taskflow)
FOREIGN_TABLES = frozenset({'logbooks', 'flowdetails', 'atomdetails'})


def _ours(name, type_, parent_names) -> bool:
    return not (type_ == 'table' and name in FOREIGN_TABLES)


def drift() -> list:
    """Differences between the database schema and the models.

    Empty when the schema is exactly what the models describe: tables,
    columns, types, nullability, indexes, unique constraints and foreign
    keys, plus the MySQL collation.
    """
    with db_engine.get_engine().connect() as conn:
        ctx = alembic_migration.MigrationContext.configure(
            conn, opts={'compare_type': _compare_type,
                        'include_object': functools.partial(
                            _on_backend, conn.dialect.name),
                        'include_name': _ours})
        diffs = list(compare_metadata(ctx, models.Base.metadata))
        if conn.dialect.name in ('mysql', 'mariadb'):
            diffs += _mysql_collation_drift(conn)
        return diffs
