"""One INSERT-or-UPDATE statement on a unique key, for every backend.

Reading a row to decide between INSERT and UPDATE races another request
doing the same: both read "absent", both insert, one fails on the key.
Each database has a single statement for it (PostgreSQL and SQLite ``ON
CONFLICT ... DO UPDATE``, MySQL/MariaDB ``ON DUPLICATE KEY UPDATE``), which
SQLAlchemy spells per dialect; this module picks the right one.
"""
from __future__ import annotations

from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import mysql, postgresql, sqlite


def upsert(session: orm.Session, table: sa.Table,
           rows: Sequence[dict[str, Any]], keys: Sequence[str],
           update: Sequence[str]) -> None:
    """Insert ``rows``; where one exists with the same ``keys``, update
    its ``update`` columns to the new values instead.

    ``keys`` must be the columns of a unique constraint of ``table``.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect in ('mysql', 'mariadb'):
        stmt = mysql.insert(table).values(list(rows))
        stmt = stmt.on_duplicate_key_update(
            {col: stmt.inserted[col] for col in update})
    else:
        insert = postgresql.insert if dialect == 'postgresql' \
            else sqlite.insert
        stmt = insert(table).values(list(rows))
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={col: stmt.excluded[col] for col in update})
    session.execute(stmt)
