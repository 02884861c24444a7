"""Queries on the lease tables: lease_holders, image_leases, staged_images.

The only place writing lease SQL.  Every statement is small and touches
only these tables (image rows are read, never written, here): images
change through the repository chain.  Times are naive UTC from the
process clock, like every other timestamp of the catalogue; nodes sharing
a database are expected to keep their clocks in step (NTP).
"""
from __future__ import annotations

import datetime
from typing import Any

from oslo_db import exception as db_exc
import sqlalchemy as sa

from glance.common import exception
from glance.db.sqlalchemy import models, upsert
from glance.db.sqlalchemy.engine import session_scope
from glance.domain.image import IMPORT_LOCK

_HOLDER = models.LeaseHolder
_LEASE = models.ImageLease
_STAGED = models.StagedImage
#: statuses an image passes through only while a long operation runs
TRANSIENT = ('saving', 'uploading', 'importing')


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def heartbeat(holder_id: str, host: str, pid: int) -> None:
    """Mark ``holder_id`` alive now: one INSERT-or-UPDATE of its row.

    One statement (:func:`glance.db.sqlalchemy.upsert.upsert`), because
    two threads of a process (the heartbeat thread, a request taking its
    first lease) may write the first beat at once; and a row removed
    meanwhile (purged while the process was stopped, say) is written
    again, so a process keeps its leases alive whatever happened to it.
    """
    now = _now()
    with session_scope() as session:
        upsert.upsert(session, _HOLDER.__table__, [dict(
            id=holder_id, host=host, pid=pid, started_at=now,
            heartbeat_at=now)], keys=['id'], update=['heartbeat_at'])


def _as_dict(lease: models.ImageLease,
             heartbeat_at: datetime.datetime | None) -> dict[str, Any]:
    return {'image_id': lease.image_id, 'operation': lease.operation,
            'holder_id': lease.holder_id, 'task_id': lease.task_id,
            'stores': lease.stores, 'created_at': lease.created_at,
            'heartbeat_at': heartbeat_at}


def _with_holder():
    return (sa.select(_LEASE, _HOLDER.heartbeat_at)
            .outerjoin(_HOLDER, _HOLDER.id == _LEASE.holder_id))


def acquire(image_id: str, operation: str, holder_id: str,
            task_id: str | None = None, stores: str | None = None
            ) -> dict[str, Any]:
    """Record that ``holder_id`` works on ``image_id``.

    The primary key makes it one lease per image: Conflict when another
    (dead or alive) holds it; the caller decides what a dead one means.
    """
    try:
        with session_scope() as session:
            row = _LEASE(image_id=image_id, operation=operation,
                         holder_id=holder_id, task_id=task_id,
                         stores=stores, created_at=_now())
            session.add(row)
            session.flush()
            return _as_dict(row, _now())
    except db_exc.DBDuplicateEntry:
        held = get(image_id)
        raise exception.Conflict(
            'Image %s is busy: %s is in progress.'
            % (image_id, held['operation'] if held else 'another operation'))


def get(image_id: str) -> dict[str, Any] | None:
    """The lease on ``image_id`` with its holder's last heartbeat."""
    with session_scope(readonly=True) as session:
        row = session.execute(_with_holder().where(
            _LEASE.image_id == image_id)).first()
    return None if row is None else _as_dict(row[0], row[1])


def release(image_id: str, holder_id: str) -> bool:
    """Drop the lease if ``holder_id`` still holds it."""
    with session_scope() as session:
        return bool(session.execute(
            sa.delete(_LEASE).where(_LEASE.image_id == image_id,
                                    _LEASE.holder_id == holder_id)
            .execution_options(synchronize_session=False)).rowcount)


def take_over(image_id: str, dead_holder: str, new_holder: str,
              operation: str) -> bool:
    """Move a lease from a dead holder to ``new_holder`` (now doing
    ``operation``); False when someone else got there first (the lease
    changed meanwhile)."""
    with session_scope() as session:
        return bool(session.execute(
            sa.update(_LEASE).where(_LEASE.image_id == image_id,
                                    _LEASE.holder_id == dead_holder)
            .values(holder_id=new_holder, operation=operation)
            .execution_options(synchronize_session=False)).rowcount)


def expired(cutoff: datetime.datetime, limit: int = 100
            ) -> list[dict[str, Any]]:
    """Leases whose holder has not beaten since ``cutoff`` (or is gone)."""
    with session_scope(readonly=True) as session:
        rows = session.execute(_with_holder().where(sa.or_(
            _HOLDER.heartbeat_at.is_(None),
            _HOLDER.heartbeat_at < cutoff)).limit(limit)).all()
    return [_as_dict(r[0], r[1]) for r in rows]


def unleased(cutoff: datetime.datetime, limit: int = 100) -> list[str]:
    """Images caught mid-operation without any lease, unchanged since
    ``cutoff``: left by a process that predates leases, or that died
    between its last two steps.  A completed stage is at rest, not
    caught."""
    img, prop = models.Image, models.ImageProperty
    no_lease = ~sa.exists().where(_LEASE.image_id == img.id)
    locked = sa.exists().where(prop.image_id == img.id,
                               prop.name == IMPORT_LOCK,
                               prop.deleted == sa.false(),
                               prop.value.isnot(None), prop.value != '')
    staged = sa.exists().where(_STAGED.image_id == img.id)
    busy = sa.or_(img.status.in_(('saving', 'importing')),
                  sa.and_(img.status == 'uploading', ~staged), locked)
    with session_scope(readonly=True) as session:
        return list(session.execute(
            sa.select(img.id).where(img.deleted == sa.false(), busy,
                                    no_lease, img.updated_at < cutoff)
            .limit(limit)).scalars())


def record_stage(image_id: str, holder_id: str, size: int, algo: str,
                 value: str) -> None:
    """The stage of ``image_id`` completed: record its size and hash and
    end the stage lease, in one transaction (no moment where the data is
    neither leased nor recorded whole)."""
    with session_scope() as session:
        session.execute(sa.delete(_STAGED).where(
            _STAGED.image_id == image_id)
            .execution_options(synchronize_session=False))
        session.add(_STAGED(image_id=image_id, size=size, hash_algo=algo,
                            hash_value=value, created_at=_now()))
        session.execute(
            sa.delete(_LEASE).where(_LEASE.image_id == image_id,
                                    _LEASE.holder_id == holder_id)
            .execution_options(synchronize_session=False))


def staged(image_id: str) -> dict[str, Any] | None:
    """Size and hash of the completed stage of ``image_id``, if any."""
    with session_scope(readonly=True) as session:
        row = session.get(_STAGED, image_id)
        if row is None:
            return None
        return {'size': row.size, 'hash_algo': row.hash_algo,
                'hash_value': row.hash_value, 'created_at': row.created_at}


def forget_stage(image_id: str) -> None:
    """The staged data is gone (imported, removed, re-staged)."""
    with session_scope() as session:
        session.execute(sa.delete(_STAGED).where(
            _STAGED.image_id == image_id)
            .execution_options(synchronize_session=False))


def purge_holders(cutoff: datetime.datetime) -> int:
    """Forget processes silent since ``cutoff`` that hold no lease."""
    with session_scope() as session:
        return session.execute(
            sa.delete(_HOLDER).where(
                _HOLDER.heartbeat_at < cutoff,
                ~sa.exists().where(_LEASE.holder_id == _HOLDER.id))
            .execution_options(synchronize_session=False)).rowcount
