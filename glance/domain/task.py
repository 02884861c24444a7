"""The Task entity: an asynchronous job (an image import) and its states.

A task is created ``pending``, moves to ``processing`` when the executor
picks it up and ends in ``success`` or ``failure``; a finished task expires
``task_time_to_live`` hours after it ended.  Nothing here knows about HTTP,
SQL or taskflow.
"""
from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Any

from oslo_config import cfg

from glance.common import exception
from glance.domain.image import utcnow

CONF = cfg.CONF

task_opts = [
    cfg.IntOpt('task_time_to_live', default=48, min=0,
               help='Hours a finished task stays visible before it '
                    'expires.'),
    cfg.StrOpt('task_executor', default='taskflow', choices=('taskflow',),
               help='The engine that runs tasks; taskflow is the only one '
                    '(another value stops glance-api at start-up).'),
    cfg.StrOpt('work_dir',
               help='Scratch directory for tasks that need local disk.'),
]
CONF.register_opts(task_opts, group='task')

#: status -> statuses it may move to
TRANSITIONS: dict[str, frozenset[str]] = {
    'pending': frozenset({'processing', 'failure'}),
    'processing': frozenset({'success', 'failure'}),
    'success': frozenset(),
    'failure': frozenset(),
}
STATUSES = tuple(TRANSITIONS)
#: types a caller of the legacy tasks API may create
USER_TYPES = ('import',)
#: every type a task row may have (api_image_import: interoperable import)
TYPES = ('import', 'api_image_import', 'location_import')
#: what a task list may be sorted by (GET /v2/tasks?sort_key=)
SORT_KEYS = ('id', 'type', 'status', 'owner', 'expires_at', 'created_at',
             'updated_at')


@dataclasses.dataclass(eq=False)
class Task:
    """One task row with its info (input, result, message)."""

    task_id: str
    type: str
    status: str = 'pending'
    owner: str | None = None
    expires_at: datetime.datetime | None = None
    created_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    updated_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    image_id: str | None = None
    request_id: str | None = None
    user_id: str | None = None
    task_input: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    message: str = ''
    deleted: bool = False
    deleted_at: datetime.datetime | None = None

    def _move(self, new_status: str) -> None:
        if new_status not in TRANSITIONS[self.status]:
            raise exception.Conflict(
                'Task status transition from %s to %s is not allowed'
                % (self.status, new_status))
        self.status = new_status

    def begin_processing(self) -> None:
        """The executor has picked the task up."""
        self._move('processing')

    def succeed(self, result: dict[str, Any] | None) -> None:
        """The work is done; the task expires after its time to live."""
        self._move('success')
        self.result = result
        self._expire_later()

    def fail(self, message: str) -> None:
        """The work failed; ``message`` tells the user why (and the
        progress it may have recorded while running is dropped: a failed
        task has no result)."""
        self._move('failure')
        self.message = message
        self.result = None
        self._expire_later()

    def _expire_later(self) -> None:
        self.expires_at = utcnow() + datetime.timedelta(
            hours=CONF.task.task_time_to_live)


def new_task(task_type: str, owner: str | None, task_input: dict,
             image_id: str | None = None, request_id: str | None = None,
             user_id: str | None = None) -> Task:
    """A pending task of ``task_type``."""
    if task_type not in TYPES:
        raise exception.BadRequest('Invalid task type %s' % task_type)
    now = utcnow()
    return Task(task_id=str(uuid.uuid4()), type=task_type, owner=owner,
                created_at=now, updated_at=now, image_id=image_id,
                request_id=request_id, user_id=user_id,
                task_input=task_input)
