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
from glance.db.sqlalchemy import models
from glance.db.sqlalchemy.engine import session_scope

SORT_KEYS = ('name', 'status', 'container_format', 'disk_format', 'size',
             'id', 'created_at', 'updated_at', 'min_disk', 'min_ram',
             'owner', 'visibility', 'protected', 'os_hidden',
             'virtual_size', 'checksum')
CORE_COLUMNS = ('id', 'name', 'status', 'visibility', 'owner', 'protected',
                'os_hidden', 'min_disk', 'min_ram', 'container_format',
                'disk_format', 'size', 'virtual_size', 'checksum',
                'os_hash_algo', 'os_hash_value', 'created_at', 'updated_at')


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _live(session: orm.Session, image_id: str) -> models.Image | None:
    return session.execute(
        sa.select(models.Image).where(models.Image.id == image_id,
                                      models.Image.deleted == sa.false())
    ).scalar_one_or_none()


def get(image_id: str) -> models.Image:
    """The live image row, with properties, tags and locations loaded."""
    with session_scope() as session:
        row = _live(session, image_id)
        if row is None:
            raise exception.ImageNotFound(image_id=image_id)
        return row


def member_status(image_id: str, member: str | None) -> str | None:
    """Status of ``member``'s membership of the image, if any."""
    if not member:
        return None
    with session_scope() as session:
        return session.execute(
            sa.select(models.ImageMember.status).where(
                models.ImageMember.image_id == image_id,
                models.ImageMember.member == member,
                models.ImageMember.deleted == sa.false())).scalar()


def _set_children(session: orm.Session, row: models.Image,
                  values: dict[str, Any]) -> None:
    now = _now()
    if 'properties' in values:
        wanted = values['properties']
        existing = {p.name: p for p in session.execute(
            sa.select(models.ImageProperty).where(
                models.ImageProperty.image_id == row.id)).scalars()}
        for name, prop in existing.items():
            if name in wanted:
                if prop.deleted or prop.value != wanted[name]:
                    prop.value = wanted[name]
                    prop.deleted = False
                    prop.deleted_at = None
            elif not prop.deleted:
                prop.deleted = True
                prop.deleted_at = now
        for name, value in wanted.items():
            if name not in existing:
                session.add(models.ImageProperty(
                    image_id=row.id, name=name, value=value, created_at=now))
    if 'tags' in values:
        wanted_tags = set(values['tags'])
        current = session.execute(sa.select(models.ImageTag).where(
            models.ImageTag.image_id == row.id,
            models.ImageTag.deleted == sa.false())).scalars().all()
        have = set()
        for tag in current:
            if tag.value in wanted_tags and tag.value not in have:
                have.add(tag.value)
            else:
                tag.deleted = True
                tag.deleted_at = now
        for value in sorted(wanted_tags - have):
            session.add(models.ImageTag(image_id=row.id, value=value,
                                        created_at=now))
    if 'locations' in values:
        current = session.execute(sa.select(models.ImageLocation).where(
            models.ImageLocation.image_id == row.id,
            models.ImageLocation.deleted == sa.false())).scalars().all()
        for loc in current:
            loc.deleted = True
            loc.deleted_at = now
            loc.status = 'deleted'
        for loc in values['locations']:
            session.add(models.ImageLocation(
                image_id=row.id, value=loc['url'],
                meta_data=json.dumps(loc.get('metadata') or {}),
                status=loc.get('status', 'active'), created_at=now))


def create(values: dict[str, Any]) -> models.Image:
    """Insert an image; 409 if the id was ever used (ids are never reused)."""
    core = {k: values[k] for k in CORE_COLUMNS if k in values}
    try:
        with session_scope() as session:
            if session.get(models.Image, core['id']) is not None:
                raise exception.Duplicate(
                    'Image with identifier %s already exists!' % core['id'])
            row = models.Image(**core)
            session.add(row)
            session.flush()
            _set_children(session, row, values)
    except db_exc.DBDuplicateEntry:
        raise exception.Duplicate(
            'Image with identifier %s already exists!' % core['id'])
    return get(core['id'])


def update(image_id: str, values: dict[str, Any],
           from_state: str | None = None) -> models.Image:
    """Update an image; with ``from_state``, only if its status still is that.

    The status check and the write are one UPDATE, so two requests racing to
    move the same image (two uploads, say) cannot both succeed.
    """
    core = {k: values[k] for k in CORE_COLUMNS if k in values and k != 'id'}
    core['updated_at'] = values.get('updated_at') or _now()
    with session_scope() as session:
        conds = [models.Image.id == image_id,
                 models.Image.deleted == sa.false()]
        if from_state is not None:
            conds.append(models.Image.status == from_state)
        if core.get('status') == 'deleted':
            core['deleted'] = True
            core['deleted_at'] = _now()
        result = session.execute(sa.update(models.Image).where(*conds)
                                 .values(**core)
                                 .execution_options(synchronize_session=False))
        if result.rowcount == 0:
            row = _live(session, image_id)
            if row is None:
                raise exception.ImageNotFound(image_id=image_id)
            raise exception.Conflict(
                'Image %s status changed to %s while this request ran; '
                'expected %s' % (image_id, row.status, from_state))
        row = session.get(models.Image, image_id)
        _set_children(session, row, values)
    if core.get('status') == 'deleted':
        return row
    return get(image_id)


def user_storage_used(owner: str, exclude_image_id: str | None = None) -> int:
    """Bytes used by all live images of ``owner``, counting every location."""
    with session_scope() as session:
        q = (sa.select(sa.func.coalesce(sa.func.sum(models.Image.size), 0))
             .where(models.Image.owner == owner,
                    models.Image.deleted == sa.false(),
                    models.Image.status.in_(('active', 'saving', 'queued',
                                             'deactivated', 'importing',
                                             'uploading'))))
        if exclude_image_id:
            q = q.where(models.Image.id != exclude_image_id)
        return int(session.execute(q).scalar() or 0)
