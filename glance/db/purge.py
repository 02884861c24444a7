"""Hard deletion of soft-deleted rows (``glance-manage db purge``).

Design (OSSN-0075: a purged image id must never be usable again):

* ``purge`` deletes soft-deleted rows older than the cutoff from every table
  that has ``deleted``/``deleted_at`` columns, children first, in batches.
  Rows that belong to an image (an ``image_id`` column) are only removed when
  that image itself is deleted, so a live image never loses a row.  The
  ``images`` table is never touched by ``purge``.
* ``purge_images_table`` turns old deleted image rows into *tombstones*: the
  row keeps its id, ``status='deleted'``, ``deleted`` and ``deleted_at``; every
  other nullable column is cleared (and its child rows are removed first).
  Because the id stays the primary key of a row, creating an image with a
  purged id hits the same uniqueness conflict as any used id (409).  The
  tombstone costs a few dozen bytes, and no schema change is needed.
"""
from __future__ import annotations

import datetime

import sqlalchemy as sa

from glance.db.sqlalchemy import engine as db_engine

#: rows deleted per statement: keeps transactions (and locks) short
BATCH = 1000
#: columns a tombstone keeps
_TOMBSTONE_KEEP = {'id', 'status', 'deleted', 'deleted_at', 'created_at',
                   'updated_at'}


def _cutoff(age_in_days: int) -> datetime.datetime:
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return now - datetime.timedelta(days=age_in_days)


def _validate(age_in_days: int, max_rows: int) -> None:
    if age_in_days < 0:
        raise ValueError('--age_in_days must be a non-negative integer')
    if max_rows < -1 or max_rows == 0:
        raise ValueError('--max_rows must be a positive integer or -1 '
                         '(no limit)')


def _metadata(conn) -> sa.MetaData:
    md = sa.MetaData()
    md.reflect(bind=conn)
    return md


def _order(md: sa.MetaData) -> list[sa.Table]:
    """Tables, children before the tables their foreign keys point to."""
    return list(reversed(md.sorted_tables))


def _purge_table(conn, md: sa.MetaData, table: sa.Table,
                 cutoff: datetime.datetime, limit: int) -> int:
    """Delete up to ``limit`` (-1: all) old soft-deleted rows of ``table``;
    the number deleted."""
    pk = list(table.primary_key.columns)
    if len(pk) != 1:
        return 0
    pk = pk[0]
    cond = sa.and_(table.c.deleted == sa.true(), table.c.deleted_at < cutoff)
    images = md.tables['images']
    if 'image_id' in table.c:
        # Never touch rows of an image that is not deleted.
        cond = sa.and_(cond, table.c.image_id.in_(
            sa.select(images.c.id).where(images.c.deleted == sa.true())))
    dependants = [(t, fk) for t in md.sorted_tables for fk in t.foreign_keys
                  if fk.column.table is table and t is not table]
    done = 0
    while limit < 0 or done < limit:
        n = BATCH if limit < 0 else min(BATCH, limit - done)
        ids = [r[0] for r in conn.execute(
            sa.select(pk).where(cond).order_by(pk).limit(n))]
        if not ids:
            break
        for child, fk in dependants:
            # Rows hanging off the purged rows without a deleted flag
            # (task_info) go with their parent.
            if 'deleted' not in child.c:
                conn.execute(child.delete().where(fk.parent.in_(ids)))
        conn.execute(table.delete().where(pk.in_(ids)))
        conn.commit()
        done += len(ids)
    return done


def purge(age_in_days: int = 30, max_rows: int = 100) -> dict[str, int]:
    """Hard-delete old soft-deleted rows of every table but ``images``.

    ``max_rows`` caps the rows deleted per table in this run (-1: no cap).
    Returns the number of rows deleted per table.
    """
    _validate(age_in_days, max_rows)
    cutoff = _cutoff(age_in_days)
    counts: dict[str, int] = {}
    with db_engine.get_engine().connect() as conn:
        md = _metadata(conn)
        for table in _order(md):
            if table.name in ('images', 'alembic_version'):
                continue
            if 'deleted' not in table.c or 'deleted_at' not in table.c:
                continue
            counts[table.name] = _purge_table(conn, md, table, cutoff,
                                              max_rows)
    return counts


def purge_images_table(age_in_days: int = 30,
                       max_rows: int = 100) -> int:
    """Reduce old deleted images to tombstones; the number reduced.

    Child rows of those images (deleted or not: the image is gone) are
    removed first.  Already-reduced tombstones are not counted again.
    """
    _validate(age_in_days, max_rows)
    cutoff = _cutoff(age_in_days)
    done = 0
    with db_engine.get_engine().connect() as conn:
        md = _metadata(conn)
        images = md.tables['images']
        clear = {c.name: None for c in images.c
                 if c.nullable and c.name not in _TOMBSTONE_KEEP}
        # A row still carrying a name, size, owner... is not a tombstone yet.
        not_tomb = sa.or_(*[images.c[name].isnot(None) for name in clear])
        # A pending_delete image still has data in a store, listed by its
        # location rows: those are glance-scrubber's to remove first.
        cond = sa.and_(images.c.deleted == sa.true(),
                       images.c.status != 'pending_delete',
                       images.c.deleted_at < cutoff, not_tomb)
        children = [t for t in _order(md)
                    if 'image_id' in t.c and t.name != 'images'
                    and any(fk.column.table is images
                            for fk in t.c.image_id.foreign_keys)]
        while max_rows < 0 or done < max_rows:
            n = BATCH if max_rows < 0 else min(BATCH, max_rows - done)
            ids = [r[0] for r in conn.execute(
                sa.select(images.c.id).where(cond).order_by(images.c.id)
                .limit(n))]
            if not ids:
                break
            for child in children:
                conn.execute(child.delete().where(child.c.image_id.in_(ids)))
            conn.execute(images.update().where(images.c.id.in_(ids))
                         .values(status='deleted', **clear))
            conn.commit()
            done += len(ids)
    return done
