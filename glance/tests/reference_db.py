"""Databases the reference service (OpenStack Glance) made, for adoption tests.

The fixtures live outside the project (``../shared/reference/upstream-db``
beside the clone in CI, or ``$GLANCE_UPSTREAM_DB_DIR``); none of their
text is copied here.  :func:`load` puts one backend's dump into a fresh
test database through the DB-API driver (no psql/mysql client needed):
the SQLite file is copied, the PostgreSQL plain dump is run statement by
statement with its ``COPY`` blocks fed through psycopg2's ``copy_expert``,
and the MariaDB dump statement by statement through PyMySQL.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import stat

import pytest
import sqlalchemy as sa

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UPSTREAM_DB = os.environ.get(
    'GLANCE_UPSTREAM_DB_DIR',
    os.path.join(os.path.dirname(ROOT), 'shared', 'reference',
                 'upstream-db'))

DUMPS = {'sqlite': 'sqlite/glance.sqlite',
         'postgresql': 'postgresql/glance.sql',
         'mysql': 'mysql/glance.sql'}


def require() -> str:
    """The fixture directory; skipped with the reason when it is absent
    (a failure under CI=true, where ../shared is always there)."""
    if not os.path.isfile(os.path.join(UPSTREAM_DB, 'expected.json')):
        why = 'reference databases not found at %s' % UPSTREAM_DB
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail(why)
        pytest.skip(why)
    return UPSTREAM_DB


def expected() -> dict:
    """``expected.json``: what the reference answered for each object."""
    with open(os.path.join(require(), 'expected.json'),
              encoding='utf-8') as f:
        return json.load(f)


def load(database) -> None:
    """Fill the fresh test ``database`` with its backend's reference dump."""
    path = os.path.join(require(), DUMPS[database.backend])
    if database.backend == 'sqlite':
        target = sa.engine.make_url(database.url).database
        shutil.copyfile(path, target)
        os.chmod(target, stat.S_IRUSR | stat.S_IWUSR)
        return
    with open(path, encoding='utf-8') as f:
        text = f.read()
    engine = sa.create_engine(database.url)
    try:
        raw = engine.raw_connection()
        try:
            if database.backend == 'postgresql':
                _run_pg_dump(raw, text)
            else:
                _run_mysql_dump(raw, text)
            raw.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()


def _run_pg_dump(raw, text: str) -> None:
    """Run a ``pg_dump`` plain-SQL dump: statements end with ``;`` at the
    end of a line; ``COPY ... FROM stdin;`` is followed by its rows up to
    a line ``\\.``; psql meta-commands (``\\restrict``) are psql's own."""
    cur = raw.cursor()
    lines = iter(text.splitlines(keepends=True))
    statement: list[str] = []
    for line in lines:
        if not statement and (line.startswith('--') or not line.strip()
                              or line.startswith('\\')):
            continue
        statement.append(line)
        if not line.rstrip().endswith(';'):
            continue
        sql = ''.join(statement)
        statement = []
        if sql.startswith('COPY ') and sql.rstrip().endswith('FROM stdin;'):
            rows = []
            for row in lines:
                if row.rstrip('\n') == '\\.':
                    break
                rows.append(row)
            cur.copy_expert(sql, io.StringIO(''.join(rows)))
        else:
            cur.execute(sql)
    cur.close()


def _run_mysql_dump(raw, text: str) -> None:
    """Run a ``mysqldump`` file: one statement ends where a line ends with
    ``;`` (values keep their newlines escaped); the sandbox-mode line is a
    command of the MariaDB client, not SQL."""
    cur = raw.cursor()
    statement: list[str] = []
    for line in text.splitlines(keepends=True):
        if not statement and (line.startswith('--') or not line.strip()
                              or line.startswith('/*M!999999')):
            continue
        statement.append(line)
        if line.rstrip().endswith(';'):
            cur.execute(''.join(statement))
            statement = []
    cur.close()


def snapshot(engine: sa.engine.Engine,
             schema: dict[str, tuple[str, ...]]) -> dict[str, list]:
    """Every row of the tables in ``schema`` (table -> columns), as sorted
    lists of column/value pairs with booleans as 0/1: what must be the
    same before and after adopting."""
    out = {}
    with engine.connect() as conn:
        for table, columns in schema.items():
            rows = conn.execute(sa.select(*[sa.column(c) for c in columns])
                                .select_from(sa.table(table))).all()
            out[table] = sorted(
                (tuple(zip(columns, (int(v) if isinstance(v, bool) else v
                                     for v in row))) for row in rows),
                key=repr)
    return out
