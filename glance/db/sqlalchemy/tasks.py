"""Queries on the tasks and task_info tables: the only place writing task SQL.

Functions take and return plain dicts; ``glance.db.tasks`` maps them to the
domain ``Task``.
"""
from __future__ import annotations

import datetime
import json
from typing import Any

import sqlalchemy as sa

from glance.common import exception
from glance.db.sqlalchemy import models
from glance.db.sqlalchemy.engine import retry_on_deadlock, session_scope

#: what a NULL sorts as, for the sort keys that may be NULL (unowned tasks
#: of the noauth mode, tasks still running): first in ascending order
_NULL_AS = {'owner': '', 'expires_at': datetime.datetime(1970, 1, 1)}
COLUMNS = ('id', 'type', 'status', 'owner', 'expires_at', 'created_at',
           'updated_at', 'image_id', 'request_id', 'user_id', 'deleted',
           'deleted_at')


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _as_dict(row: models.Task, info: models.TaskInfo | None) -> dict:
    out = {c: getattr(row, c) for c in COLUMNS}
    out['input'] = json.loads(info.input) if info and info.input else None
    out['result'] = json.loads(info.result) if info and info.result else None
    out['message'] = (info.message if info else None) or ''
    return out


def _info_values(values: dict[str, Any]) -> dict[str, Any]:
    return {
        'input': None if values.get('input') is None
        else json.dumps(values['input']),
        'result': None if values.get('result') is None
        else json.dumps(values['result']),
        'message': values.get('message') or '',
    }


@retry_on_deadlock
def create(values: dict[str, Any]) -> dict:
    """Insert a task and its info; return it as stored."""
    with session_scope() as session:
        row = models.Task(**{c: values.get(c) for c in COLUMNS
                             if c not in ('deleted', 'deleted_at')})
        row.deleted = False
        session.add(row)
        session.flush()
        info = models.TaskInfo(task_id=row.id, **_info_values(values))
        session.add(info)
        session.flush()
        return _as_dict(row, info)


@retry_on_deadlock
def update(task_id: str, values: dict[str, Any]) -> dict:
    """Write status, expiry and info of a task."""
    with session_scope() as session:
        row = session.get(models.Task, task_id)
        if row is None or row.deleted:
            raise exception.NotFound('Task with the given id %s was not '
                                     'found' % task_id)
        for key in ('status', 'expires_at', 'image_id'):
            if key in values:
                setattr(row, key, values[key])
        row.updated_at = _now()
        info = session.get(models.TaskInfo, task_id)
        for key, value in _info_values(values).items():
            setattr(info, key, value)
        session.flush()
        return _as_dict(row, info)


@retry_on_deadlock
def record_progress(task_id: str, result: dict[str, Any],
                    message: str | None = None) -> bool:
    """Write the result (and ``message``, when given) of a task still
    ``processing`` and nothing else (its status may be changed by another
    process meanwhile); False when it is no longer processing."""
    with session_scope() as session:
        processing = sa.select(models.Task.id).where(
            models.Task.id == task_id, models.Task.status == 'processing')
        return bool(session.execute(
            sa.update(models.TaskInfo)
            .where(models.TaskInfo.task_id == task_id,
                   models.TaskInfo.task_id.in_(processing))
            .values(result=json.dumps(result),
                    **({} if message is None else {'message': message}))
            .execution_options(synchronize_session=False)).rowcount)


def get(task_id: str) -> dict:
    """A live (not deleted, not expired) task."""
    with session_scope(readonly=True) as session:
        row = session.execute(sa.select(models.Task).where(
            models.Task.id == task_id, models.Task.deleted == sa.false())
        ).scalar_one_or_none()
        if row is None or _expired(row):
            raise exception.NotFound('Task with the given id %s was not '
                                     'found' % task_id)
        return _as_dict(row, session.get(models.TaskInfo, task_id))


def _expired(row: models.Task) -> bool:
    return row.expires_at is not None and row.expires_at <= _now()


def list_tasks(owner: str | None, filters: dict[str, str],
               sort_key: str, sort_dir: str, limit: int,
               marker: str | None) -> list[dict]:
    """Live tasks, ``owner``'s only unless None (admin), sorted and paged."""
    with session_scope(readonly=True) as session:
        query = sa.select(models.Task).where(
            models.Task.deleted == sa.false(),
            sa.or_(models.Task.expires_at.is_(None),
                   models.Task.expires_at > _now()))
        if owner is not None:
            query = query.where(models.Task.owner == owner)
        for key, value in filters.items():
            query = query.where(getattr(models.Task, key) == value)
        column = getattr(models.Task, sort_key)
        if sort_key in _NULL_AS:
            column = sa.func.coalesce(column, _NULL_AS[sort_key])
        order = sa.desc if sort_dir == 'desc' else sa.asc
        if marker is not None:
            mrow = session.get(models.Task, marker)
            if mrow is None or mrow.deleted or (
                    owner is not None and mrow.owner != owner):
                # as the reference: a marker that names no task the caller
                # can list is a bad request, not a missing resource
                raise exception.BadRequest('Invalid marker: no task %s.'
                                           % marker)
            mval = getattr(mrow, sort_key)
            if mval is None:
                mval = _NULL_AS[sort_key]
            cmp = column < mval if sort_dir == 'desc' else column > mval
            tie = sa.and_(column == mval, (models.Task.id < marker)
                          if sort_dir == 'desc' else
                          (models.Task.id > marker))
            query = query.where(sa.or_(cmp, tie))
        query = query.order_by(order(column), order(models.Task.id))
        query = query.limit(limit)
        rows = session.execute(query).scalars().all()
        return [_as_dict(r, session.get(models.TaskInfo, r.id)) for r in rows]


def for_image(image_id: str) -> list[dict]:
    """Every live task of an image, newest first."""
    with session_scope(readonly=True) as session:
        rows = session.execute(sa.select(models.Task).where(
            models.Task.image_id == image_id,
            models.Task.deleted == sa.false()).order_by(
                models.Task.created_at.desc())).scalars().all()
        return [_as_dict(r, session.get(models.TaskInfo, r.id))
                for r in rows if not _expired(r)]
