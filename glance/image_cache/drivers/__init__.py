"""Cache drivers: where the records of cached images are kept.

``sqlite``: a SQLite file of its own under ``image_cache_dir`` (one node).
``centralized_db``: tables in the glance database, one set of records per
node (``worker_self_reference_url``), so nodes sharing the database see
each other's caches.
"""
from __future__ import annotations

from glance.image_cache.drivers.base import Driver, Entry

NAMES = ('sqlite', 'centralized_db')


def load(name: str, cache_dir: str) -> Driver:
    """The driver called ``name`` (one of :data:`NAMES`)."""
    if name == 'sqlite':
        from glance.image_cache.drivers import sqlite
        return sqlite.Driver(cache_dir)
    if name == 'centralized_db':
        from glance.image_cache.drivers import centralized_db
        return centralized_db.Driver()
    raise ValueError('Unknown image_cache_driver %r; choose one of %s'
                     % (name, ', '.join(NAMES)))


__all__ = ['Driver', 'Entry', 'NAMES', 'load']
