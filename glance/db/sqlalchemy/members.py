"""SQL for image members.  A removed membership is soft-deleted; adding the
same project again later brings its row back ((image_id, member) is
unique)."""
from __future__ import annotations

import datetime

from oslo_db import exception as db_exception
import sqlalchemy as sa

from glance.common import exception
from glance.db.sqlalchemy import models
from glance.db.sqlalchemy.engine import retry_on_deadlock, session_scope

M = models.ImageMember


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _live(image_id: str, member: str | None = None):
    conds = [M.image_id == image_id, M.deleted == sa.false()]
    if member is not None:
        conds.append(M.member == member)
    return sa.select(M.image_id, M.member, M.status, M.created_at,
                     M.updated_at).where(*conds).order_by(M.created_at, M.id)


def list_members(image_id: str, member: str | None = None) -> list[sa.Row]:
    """The live memberships of an image (only ``member``'s, if given)."""
    with session_scope(readonly=True) as session:
        return session.execute(_live(image_id, member)).all()


def count(image_id: str) -> int:
    with session_scope(readonly=True) as session:
        return session.execute(sa.select(sa.func.count()).select_from(M).where(
            M.image_id == image_id, M.deleted == sa.false())).scalar()


@retry_on_deadlock
def create(image_id: str, member: str, status: str,
           created_at: datetime.datetime) -> sa.Row:
    """Add a membership; 409 if the project already is a member.

    (image_id, member) is unique, so the database settles a race of two
    adds: a removed membership's row is revived only while it is still
    removed, and otherwise a row is inserted, which the key refuses if
    another request got there first.
    """
    values = {'status': status, 'can_share': False,
              'created_at': created_at, 'updated_at': created_at}
    try:
        with session_scope() as session:
            # the image's age: lists of the images shared with a project
            # are read from its memberships in that order
            values['image_created_at'] = session.execute(
                sa.select(models.Image.created_at).where(
                    models.Image.id == image_id)).scalar()
            if values['image_created_at'] is None:
                raise exception.ImageNotFound(image_id=image_id)
            revived = session.execute(
                sa.update(M).where(M.image_id == image_id,
                                   M.member == member,
                                   M.deleted == sa.true())
                .values(deleted=False, deleted_at=None, **values)
                .execution_options(synchronize_session=False))
            if revived.rowcount == 0:
                session.execute(sa.insert(M.__table__), [dict(
                    values, image_id=image_id, member=member,
                    deleted=False)])
            return session.execute(_live(image_id, member)).one()
    except db_exception.DBDuplicateEntry:
        raise exception.Duplicate('Member %s is already a member of image '
                                  '%s.' % (member, image_id))


@retry_on_deadlock
def update_status(image_id: str, member: str, status: str) -> sa.Row:
    with session_scope() as session:
        result = session.execute(
            sa.update(M).where(M.image_id == image_id, M.member == member,
                               M.deleted == sa.false())
            .values(status=status, updated_at=_now())
            .execution_options(synchronize_session=False))
        if result.rowcount == 0:
            raise exception.NotFound('Member %s of image %s not found.'
                                     % (member, image_id))
        return session.execute(_live(image_id, member)).one()


@retry_on_deadlock
def delete(image_id: str, member: str) -> None:
    now = _now()
    with session_scope() as session:
        result = session.execute(
            sa.update(M).where(M.image_id == image_id, M.member == member,
                               M.deleted == sa.false())
            .values(deleted=True, deleted_at=now, updated_at=now)
            .execution_options(synchronize_session=False))
        if result.rowcount == 0:
            raise exception.NotFound('Member %s of image %s not found.'
                                     % (member, image_id))
