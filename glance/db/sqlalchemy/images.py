"""Queries on the image tables: the only place that writes image SQL.

Functions take and return plain dicts (``values``) or model rows; the
repository in ``glance.db.images`` maps them to domain objects.
"""
from __future__ import annotations

import datetime
import json
from typing import Any

from oslo_db import exception as db_exc
import sqlalchemy as sa
from sqlalchemy import orm

from glance.common import exception
from glance.db.sqlalchemy import image_rows, models
from glance.db.sqlalchemy.engine import (point_read, retry_on_deadlock,
                                         session_scope)
from glance.db.sqlalchemy.upsert import upsert
from glance.domain import image_fields
from glance.domain.image import IMPORT_LOCK, Changes

#: the columns of the image row (the image_fields registry's)
CORE_COLUMNS = tuple(f.name for f in image_fields.columns())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _live(session: orm.Session, image_id: str) -> models.Image | None:
    return session.execute(
        sa.select(models.Image).where(models.Image.id == image_id,
                                      models.Image.deleted == sa.false())
    ).scalar_one_or_none()


#: statuses in which an image is gone from the catalogue (its row stays)
DELETED_STATUSES = ('deleted', 'pending_delete')


def get(image_id: str) -> models.Image:
    """The live image record, with properties, tags and locations."""
    record = image_rows.one_record(
        point_read(image_rows.ONE, {'image_id': image_id}))
    if record is None:
        raise exception.ImageNotFound(image_id=image_id)
    return record


#: the status of one membership, by its key (a point read)
_MEMBER_STATUS = sa.select(models.ImageMember.status).where(
    models.ImageMember.image_id == sa.bindparam('image_id'),
    models.ImageMember.member == sa.bindparam('member'),
    models.ImageMember.deleted == sa.false())


def member_status(image_id: str, member: str | None) -> str | None:
    """Status of ``member``'s membership of the image, if any."""
    if not member:
        return None
    found = point_read(_MEMBER_STATUS,
                       {'image_id': image_id, 'member': member})
    return found[0][0] if found else None


def _write_properties(session: orm.Session, image_id: str,
                      changed: dict[str, str], removed: frozenset[str],
                      now: datetime.datetime) -> None:
    """Set and remove the named properties, and touch no other.

    A set is one upsert per property on the (image_id, name) unique key:
    a row deleted earlier is brought back, and two requests setting the
    same new property at once both succeed (the later value stays) instead
    of one failing on the key.
    """
    prop = models.ImageProperty
    if changed:
        upsert(session, prop.__table__, [
            {'image_id': image_id, 'name': name, 'value': value,
             'deleted': False, 'deleted_at': None, 'created_at': now,
             'updated_at': now}
            for name, value in sorted(changed.items())],
            keys=('image_id', 'name'),
            update=('value', 'deleted', 'deleted_at', 'updated_at'))
    _soft_delete(session, prop, image_id, prop.name, removed, now)


def _soft_delete(session: orm.Session, model, image_id: str, key,
                 values: frozenset[str], now: datetime.datetime) -> None:
    """Mark the image's live rows of ``model`` whose ``key`` is one of
    ``values`` deleted (and no other row)."""
    if values:
        session.execute(
            sa.update(model).where(model.image_id == image_id,
                                   key.in_(sorted(values)),
                                   model.deleted == sa.false())
            .values(deleted=True, deleted_at=now, updated_at=now)
            .execution_options(synchronize_session=False))


def _check_lock(session: orm.Session, image_id: str,
                expected: str | None) -> None:
    prop = models.ImageProperty
    current = session.execute(
        sa.select(prop.value).where(prop.image_id == image_id,
                                    prop.name == IMPORT_LOCK,
                                    prop.deleted == sa.false())
        .with_for_update()).scalar()
    if (current or None) != (expected or None):
        raise exception.Conflict(
            'Image %s is locked by another import (task %s).'
            % (image_id, current))


def _write_tags(session: orm.Session, image_id: str,
                added: frozenset[str], removed: frozenset[str],
                now: datetime.datetime) -> None:
    """Add and remove the named tags, and touch no other.

    The caller has updated the image row first in this transaction, which
    locks it: saves of one image queue there, so the look-up of the tags
    already present cannot race another save's insert.  A tag row carries
    its image's created_at (the list order of lists by tag).
    """
    tag = models.ImageTag
    if added:
        have = set(session.execute(sa.select(tag.value).where(
            tag.image_id == image_id, tag.value.in_(sorted(added)),
            tag.deleted == sa.false())).scalars())
        created = session.execute(sa.select(models.Image.created_at).where(
            models.Image.id == image_id)).scalar_one()
        batch = [{'image_id': image_id, 'value': value, 'created_at': now,
                  'updated_at': now, 'image_created_at': created}
                 for value in sorted(added - have)]
        if batch:
            session.execute(sa.insert(tag.__table__), batch)
    _soft_delete(session, tag, image_id, tag.value, removed, now)


def _set_locations(session: orm.Session, image_id: str,
                   wanted: list[dict[str, Any]],
                   now: datetime.datetime) -> None:
    """Make the live locations ``wanted``, in that order.

    Locations are ordered by row id, so an existing row is kept (its
    metadata and status updated) only while the wanted order still agrees
    with the row order; from the first location that does not, the rest
    are inserted anew (after the kept ones) and the old rows deleted.  A
    save that does not change locations therefore writes no location rows.
    """
    current = session.execute(sa.select(models.ImageLocation).where(
        models.ImageLocation.image_id == image_id,
        models.ImageLocation.deleted == sa.false()).order_by(
            models.ImageLocation.id)).scalars().all()
    by_url = {loc.value: loc for loc in current}
    kept: set[int] = set()
    last_kept_id = 0
    appending = False
    for loc in wanted:
        meta = loc.get('metadata') or {}
        status = loc.get('status') or 'active'
        old = by_url.get(loc['url'])
        if not appending and old is not None and old.id > last_kept_id:
            kept.add(old.id)
            last_kept_id = old.id
            if json.loads(old.meta_data or '{}') != meta:
                old.meta_data = json.dumps(meta)
            if old.status != status:
                old.status = status
            continue
        appending = True
        session.add(models.ImageLocation(
            image_id=image_id, value=loc['url'], meta_data=json.dumps(meta),
            status=status, created_at=now))
    for loc in current:
        if loc.id not in kept:
            loc.deleted = True
            loc.deleted_at = now
            loc.status = 'deleted'


def _write_children(session: orm.Session, image_id: str,
                    changes: Changes) -> None:
    now = _now()
    _write_properties(session, image_id, changes.set_properties,
                      changes.removed_properties, now)
    _write_tags(session, image_id, changes.added_tags, changes.removed_tags,
                now)
    if changes.locations is not None:
        _set_locations(session, image_id, changes.locations, now)


def _delete_children(session: orm.Session, image_id: str, status: str,
                     now: datetime.datetime) -> None:
    """Soft-delete what hangs off a deleted image.

    Locations of a ``pending_delete`` image stay live with that status:
    they are the scrubber's list of data still to remove.
    """
    for model in (models.ImageProperty, models.ImageTag, models.ImageMember):
        session.execute(
            sa.update(model).where(model.image_id == image_id,
                                   model.deleted == sa.false())
            .values(deleted=True, deleted_at=now)
            .execution_options(synchronize_session=False))
    loc = models.ImageLocation
    live = (loc.image_id == image_id, loc.deleted == sa.false())
    if status == 'pending_delete':
        session.execute(sa.update(loc).where(*live)
                        .values(status='pending_delete', updated_at=now)
                        .execution_options(synchronize_session=False))
    else:
        session.execute(sa.update(loc).where(*live)
                        .values(status='deleted', deleted=True,
                                deleted_at=now)
                        .execution_options(synchronize_session=False))


def _insert_children(session: orm.Session, image_id: str,
                     values: dict[str, Any], now: datetime.datetime,
                     created_at: datetime.datetime) -> None:
    """The children of a new image, one multi-row INSERT per table (tags
    with the image's ``created_at``)."""
    rows = {
        models.ImageProperty: [
            {'image_id': image_id, 'name': name, 'value': value,
             'created_at': now, 'updated_at': now}
            for name, value in values.get('properties', {}).items()],
        models.ImageTag: [
            {'image_id': image_id, 'value': value, 'created_at': now,
             'updated_at': now, 'image_created_at': created_at}
            for value in sorted(set(values.get('tags', ())))],
        models.ImageLocation: [
            {'image_id': image_id, 'value': loc['url'],
             'meta_data': json.dumps(loc.get('metadata') or {}),
             'status': loc.get('status') or 'active', 'created_at': now,
             'updated_at': now}
            for loc in values.get('locations', ())],
    }
    for model, batch in rows.items():
        if batch:
            session.execute(sa.insert(model.__table__), batch)


@retry_on_deadlock
def create(values: dict[str, Any]) -> image_rows.SimpleNamespace:
    """Insert an image; 409 if the id was ever used (ids are never reused).

    Plain INSERTs rather than ORM objects: a new image has no rows to
    reconcile, and creating is the API's most frequent write.  The primary
    key refuses a used id, deleted images' ids included.
    """
    core = {k: values[k] for k in CORE_COLUMNS if k in values}
    now = _now()
    if core.get('created_at') is None:
        core['created_at'] = now
    # A new image was last updated when it was created.
    if core.get('updated_at') is None:
        core['updated_at'] = core['created_at']
    try:
        with session_scope() as session:
            session.execute(sa.insert(models.Image.__table__), [core])
            _insert_children(session, core['id'], values, now,
                             core['created_at'])
            return image_rows.load_one(session, core['id'])
    except db_exc.DBDuplicateEntry:
        raise exception.Duplicate(
            'Image with identifier %s already exists!' % core['id'])


@retry_on_deadlock
def update(image_id: str, changes: Changes,
           from_state: str | None = None,
           expect_lock: tuple[str | None] | None = None
           ) -> image_rows.SimpleNamespace | None:
    """Write ``changes`` to an image; with ``from_state``, only if its
    status still is that.

    Only the columns and child rows named in ``changes`` are written, so
    concurrent requests that change different things all keep their
    change.  The status check and the write are one UPDATE, so two requests
    racing to move the same image (two uploads, say) cannot both succeed;
    that UPDATE also locks the row, which queues the rest of concurrent
    saves of the image behind it.  Moving to a deleted status takes the
    image out of the catalogue for good (and returns None).  With
    ``expect_lock`` (a 1-tuple) the import lock property must still hold
    that value: of two imports taking the lock at once the second sees the
    first's and is refused.
    """
    core = {k: v for k, v in changes.core.items() if k in CORE_COLUMNS}
    now = _now()
    core['updated_at'] = now
    deleting = core.get('status') in DELETED_STATUSES
    if deleting:
        core['deleted'] = True
        core['deleted_at'] = now
    try:
        with session_scope() as session:
            conds = [models.Image.id == image_id,
                     models.Image.deleted == sa.false()]
            if from_state is not None:
                conds.append(models.Image.status == from_state)
            result = session.execute(
                sa.update(models.Image).where(*conds).values(**core)
                .execution_options(synchronize_session=False))
            if result.rowcount == 0:
                row = _live(session, image_id)
                if row is None:
                    raise exception.ImageNotFound(image_id=image_id)
                raise exception.Conflict(
                    'Image %s status changed to %s while this request ran; '
                    'expected %s' % (image_id, row.status, from_state))
            if expect_lock is not None:
                _check_lock(session, image_id, expect_lock[0])
            if deleting:
                _delete_children(session, image_id, core['status'], now)
                return None
            _write_children(session, image_id, changes)
            return image_rows.load_one(session, image_id)
    except db_exc.DBDuplicateEntry as exc:
        # Two requests adding the same location at once.
        raise exception.Conflict('Image %s was changed by another request '
                                 'at the same time: %s' % (image_id,
                                                           exc.columns))


def user_storage_used(owner: str, exclude_image_id: str | None = None) -> int:
    """Bytes used by all live images of ``owner``, counting every location.

    An image's size counts once per active location (a copy-image into a
    second store uses the bytes again, as the reference counts it), and
    once for an image whose data has no location yet.
    """
    loc = models.ImageLocation
    copies = (sa.select(sa.func.count()).where(
        loc.image_id == models.Image.id, loc.deleted == sa.false(),
        loc.status == 'active').scalar_subquery())
    times = sa.case((copies > 1, copies), else_=1)
    with session_scope(readonly=True) as session:
        q = (sa.select(sa.func.coalesce(
                sa.func.sum(models.Image.size * times), 0))
             .where(models.Image.owner == owner,
                    models.Image.deleted == sa.false(),
                    models.Image.status.in_(('active', 'saving', 'queued',
                                             'deactivated', 'importing',
                                             'uploading'))))
        if exclude_image_id:
            q = q.where(models.Image.id != exclude_image_id)
        return int(session.execute(q).scalar() or 0)
