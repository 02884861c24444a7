"""The ``sqlite`` cache driver: records in a SQLite file of this node.

The file is ``image_cache_sqlite_db`` under ``image_cache_dir``.  Several
API workers and the cache tools use it at once, so it runs in WAL mode
with a busy timeout, and each call is one short transaction.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from typing import Iterator

from oslo_config import cfg

from glance.image_cache.drivers import base

CONF = cfg.CONF

_SCHEMA = '''
CREATE TABLE IF NOT EXISTS cached_images (
    image_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    last_accessed REAL NOT NULL,
    last_modified REAL NOT NULL,
    checksum TEXT,
    stamp TEXT
)'''
_COLUMNS = ('image_id, size, hits, last_accessed, last_modified, checksum, '
            'stamp')


class Driver(base.Driver):
    """Records in ``<image_cache_dir>/<image_cache_sqlite_db>``."""

    name = 'sqlite'

    def __init__(self, cache_dir: str):
        db = CONF.image_cache_sqlite_db
        self.path = db if os.path.isabs(db) else os.path.join(cache_dir, db)
        with self._db() as conn:
            conn.execute(_SCHEMA)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30,
                               isolation_level='IMMEDIATE')
        try:
            conn.execute('PRAGMA journal_mode=WAL')
            with conn:
                yield conn
        finally:
            conn.close()

    @staticmethod
    def _entry(row) -> base.Entry:
        return base.Entry(*row)

    def get(self, image_id: str) -> base.Entry | None:
        with self._db() as conn:
            row = conn.execute('SELECT %s FROM cached_images WHERE '
                               'image_id = ?' % _COLUMNS,
                               (image_id,)).fetchone()
        return self._entry(row) if row else None

    def list(self) -> list[base.Entry]:
        with self._db() as conn:
            rows = conn.execute('SELECT %s FROM cached_images ORDER BY '
                                'last_accessed, image_id' % _COLUMNS)
            return [self._entry(r) for r in rows.fetchall()]

    def put(self, entry: base.Entry) -> None:
        with self._db() as conn:
            conn.execute('INSERT OR REPLACE INTO cached_images (%s) VALUES '
                         '(?, ?, ?, ?, ?, ?, ?)' % _COLUMNS,
                         (entry.image_id, entry.size, entry.hits,
                          entry.last_accessed, entry.last_modified,
                          entry.checksum, entry.stamp))

    def hit(self, image_id: str) -> None:
        with self._db() as conn:
            conn.execute('UPDATE cached_images SET hits = hits + 1, '
                         'last_accessed = ? WHERE image_id = ?',
                         (time.time(), image_id))

    def set_stamp(self, image_id: str, stamp: str) -> None:
        with self._db() as conn:
            conn.execute('UPDATE cached_images SET stamp = ? WHERE '
                         'image_id = ?', (stamp, image_id))

    def delete(self, image_id: str) -> bool:
        with self._db() as conn:
            return conn.execute('DELETE FROM cached_images WHERE '
                                'image_id = ?', (image_id,)).rowcount > 0

    def delete_all(self) -> list[str]:
        with self._db() as conn:
            ids = [r[0] for r in conn.execute(
                'SELECT image_id FROM cached_images').fetchall()]
            conn.execute('DELETE FROM cached_images')
        return ids
