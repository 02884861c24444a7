"""The task repository: domain ``Task`` objects in, rows out, and back."""
from __future__ import annotations

from typing import Any

from glance.db.sqlalchemy import tasks as db
from glance.domain.task import Task


def to_domain(row: dict[str, Any]) -> Task:
    """Build the entity from the dict the SQL module returns."""
    return Task(task_id=row['id'], type=row['type'], status=row['status'],
                owner=row['owner'], expires_at=row['expires_at'],
                created_at=row['created_at'], updated_at=row['updated_at'],
                image_id=row['image_id'], request_id=row['request_id'],
                user_id=row['user_id'], task_input=row['input'],
                result=row['result'], message=row['message'],
                deleted=bool(row['deleted']), deleted_at=row['deleted_at'])


def to_values(task: Task) -> dict[str, Any]:
    """Column and info values of an entity."""
    return {'id': task.task_id, 'type': task.type, 'status': task.status,
            'owner': task.owner, 'expires_at': task.expires_at,
            'created_at': task.created_at, 'updated_at': task.updated_at,
            'image_id': task.image_id, 'request_id': task.request_id,
            'user_id': task.user_id, 'input': task.task_input,
            'result': task.result, 'message': task.message}


class TaskRepo:
    """Persist and load tasks for one request context."""

    def __init__(self, context):
        self.context = context

    def add(self, task: Task) -> Task:
        stored = to_domain(db.create(to_values(task)))
        task.created_at, task.updated_at = stored.created_at, \
            stored.updated_at
        return task

    def save(self, task: Task) -> Task:
        stored = to_domain(db.update(task.task_id, to_values(task)))
        task.updated_at = stored.updated_at
        return task

    def record_progress(self, task_id: str, result: dict[str, Any],
                        message: str | None = None) -> bool:
        """Write a running task's progress alone: its result and, when
        given, its message; False once the task is no longer running."""
        return db.record_progress(task_id, result, message)

    def get(self, task_id: str) -> Task:
        return to_domain(db.get(task_id))

    def list(self, filters: dict[str, str], sort_key: str = 'created_at',
             sort_dir: str = 'desc', limit: int = 25,
             marker: str | None = None) -> list[Task]:
        """Tasks the caller may list: its project's, or all for admins."""
        owner = None if self.context.is_admin else self.context.project_id
        return [to_domain(r) for r in db.list_tasks(
            owner, filters, sort_key, sort_dir, limit, marker)]

    def for_image(self, image_id: str) -> list[Task]:
        """An image's tasks the caller may see (admins see all of them)."""
        tasks = [to_domain(r) for r in db.for_image(image_id)]
        if self.context.is_admin:
            return tasks
        return [t for t in tasks if t.owner == self.context.project_id]
