"""The database side of delayed delete: what glance-scrubber reads and writes.

An image deleted under ``delayed_delete`` keeps its row (``deleted`` set,
status ``pending_delete``) and its location rows (live, status
``pending_delete``); those rows are the scrubber's to-do list.  Every step
below is one short transaction that checks before it writes, so a scrubber
killed at any point and started again picks up where it stopped, and a
restore racing a scrub cannot both win (both lock the image row first):

1. ``claim_location``: the location's status becomes ``deleted`` while the
   row stays live, but only while its image is still pending_delete.  From
   here on the data may be partly gone, so ``restore`` refuses the image.
2. the scrubber deletes the data (not here: through glance_store);
3. ``finish_location``: the row is soft-deleted, it has nothing left to do;
4. ``finish_image``: the image becomes ``deleted`` once no live location is
   left.  The status changes only after the data is gone.

A claimed but unfinished location (a crash between 1 and 3) is claimed again
by the next run; deleting data that is already gone counts as done.
"""
from __future__ import annotations

import dataclasses
import datetime
import json

import sqlalchemy as sa

from glance.common import exception
from glance.db.sqlalchemy import models
from glance.db.sqlalchemy.engine import session_scope

_IMAGE = models.Image
_LOC = models.ImageLocation
#: location status of data the scrubber still has to remove
PENDING = 'pending_delete'
#: location status once the scrubber has begun removing the data
CLAIMED = 'deleted'


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True)
class PendingLocation:
    """A location whose data the scrubber has to remove."""

    id: int
    image_id: str
    url: str
    store: str | None


def due_images(cutoff: datetime.datetime) -> list[str]:
    """Ids of pending_delete images deleted at or before ``cutoff``, oldest
    first.  An image without ``deleted_at`` (written by hand) counts from
    its last update."""
    when = sa.func.coalesce(_IMAGE.deleted_at, _IMAGE.updated_at)
    with session_scope(readonly=True) as session:
        return list(session.execute(
            sa.select(_IMAGE.id).where(
                _IMAGE.status == 'pending_delete',
                _IMAGE.deleted == sa.true(), when <= cutoff)
            .order_by(when, _IMAGE.id)).scalars())


def pending_locations(image_id: str) -> list[PendingLocation]:
    """The live locations of ``image_id``: data that may still exist.

    Whatever their status (``pending_delete``, or claimed by a run that
    died, or even ``active`` in rows written by other tools): the image is
    deleted, so all of its data goes.
    """
    with session_scope(readonly=True) as session:
        rows = session.execute(
            sa.select(_LOC.id, _LOC.value, _LOC.meta_data).where(
                _LOC.image_id == image_id, _LOC.deleted == sa.false())
            .order_by(_LOC.id)).all()
    return [PendingLocation(id=r.id, image_id=image_id, url=r.value,
                            store=json.loads(r.meta_data or '{}').get(
                                'store'))
            for r in rows]


def _lock_pending(session, image_id: str) -> bool:
    """Lock the image row if it is still pending_delete.

    Claims and restores both lock the image row first, so on PostgreSQL and
    MariaDB too (where two statements on different tables do not see each
    other's uncommitted work) one waits for the other and then sees what it
    did.  SQLite serialises writers anyway.
    """
    return session.execute(
        sa.select(_IMAGE.id).where(_IMAGE.id == image_id,
                                   _IMAGE.status == 'pending_delete',
                                   _IMAGE.deleted == sa.true())
        .with_for_update()).first() is not None


def claim_location(location: PendingLocation) -> bool:
    """Mark the location's data as being removed; False if the image is no
    longer pending_delete (restored meanwhile) or the row is finished."""
    with session_scope() as session:
        if not _lock_pending(session, location.image_id):
            return False
        result = session.execute(
            sa.update(_LOC).where(
                _LOC.id == location.id, _LOC.deleted == sa.false())
            .values(status=CLAIMED, updated_at=_now())
            .execution_options(synchronize_session=False))
        return result.rowcount == 1


def finish_location(location: PendingLocation) -> None:
    """The location's data is gone: soft-delete its row."""
    now = _now()
    with session_scope() as session:
        session.execute(
            sa.update(_LOC).where(_LOC.id == location.id,
                                  _LOC.deleted == sa.false())
            .values(status=CLAIMED, deleted=True, deleted_at=now,
                    updated_at=now)
            .execution_options(synchronize_session=False))


def finish_image(image_id: str) -> bool:
    """pending_delete -> deleted, once no live location is left; True if
    this call made the change."""
    live = sa.exists().where(_LOC.image_id == image_id,
                             _LOC.deleted == sa.false())
    with session_scope() as session:
        result = session.execute(
            sa.update(_IMAGE).where(
                _IMAGE.id == image_id, _IMAGE.status == 'pending_delete',
                _IMAGE.deleted == sa.true(), ~live)
            .values(status='deleted', updated_at=_now())
            .execution_options(synchronize_session=False))
        return result.rowcount == 1


def restore(image_id: str, status: str = 'active') -> int:
    """Bring a pending_delete image back to ``status``; its locations count.

    The properties, tags and memberships deleted together with the image
    (same ``deleted_at``) come back with it, so the image is what it was.
    ImageNotFound for an unknown id; Conflict when the image is not
    pending_delete or the scrubber has begun removing its data.
    """
    now = _now()
    with session_scope() as session:
        row = session.execute(
            sa.select(_IMAGE.status, _IMAGE.deleted, _IMAGE.deleted_at)
            .where(_IMAGE.id == image_id).with_for_update()).one_or_none()
        if row is None:
            raise exception.ImageNotFound(image_id=image_id)
        if row.status != 'pending_delete' or not row.deleted:
            raise exception.Conflict(
                'Image %s is %s, not pending_delete; only an image deleted '
                'under delayed_delete whose data the scrubber has not '
                'removed can be restored.' % (image_id, row.status))
        # Read after the lock: a claim committed meanwhile is seen here.
        statuses = set(session.execute(
            sa.select(_LOC.status).where(_LOC.image_id == image_id,
                                         _LOC.deleted == sa.false())
        ).scalars())
        if CLAIMED in statuses or not statuses:
            raise exception.Conflict(
                'Image %s cannot be restored: glance-scrubber has begun '
                'removing its data.' % image_id)
        session.execute(
            sa.update(_IMAGE).where(_IMAGE.id == image_id,
                                    _IMAGE.status == 'pending_delete')
            .values(status=status, deleted=False, deleted_at=None,
                    updated_at=now)
            .execution_options(synchronize_session=False))
        for model in (models.ImageProperty, models.ImageTag,
                      models.ImageMember):
            session.execute(
                sa.update(model).where(model.image_id == image_id,
                                       model.deleted == sa.true(),
                                       model.deleted_at == row.deleted_at)
                .values(deleted=False, deleted_at=None, updated_at=now)
                .execution_options(synchronize_session=False))
        moved = session.execute(
            sa.update(_LOC).where(_LOC.image_id == image_id,
                                  _LOC.deleted == sa.false(),
                                  _LOC.status == PENDING)
            .values(status='active', updated_at=now)
            .execution_options(synchronize_session=False))
        return moved.rowcount
