"""Undoing a location import whose process died mid-verification.

POST /v2/images/{id}/locations records the location on the queued image
and leaves a ``location_import`` task to hash the data there, all under a
``location`` lease (:mod:`glance.services.location_import`).  When the
holder stops heartbeating, :mod:`glance.async_.recovery` takes the lease
over and calls :func:`undo`, which ends the task and puts the image where
a failed location import leaves it in the reference service: ``queued``,
without the location whose data nobody verified, and without the size and
hashes taken from it.  The location goes as any removed location does
(its data deleted from a store glance writes to, nothing done to a web
server's), so nothing is left that no image references.  A verification
that had finished before the crash is kept: its task is only given the
end it was about to record.
"""
from __future__ import annotations

import logging
from typing import Any

from glance.async_ import leases
from glance.common import exception
from glance.domain.image import Image
from glance.domain.task import Task
from glance import gateway

LOG = logging.getLogger(__name__)

#: what the failed task tells its user
STOPPED = ('The glance-api process verifying this location stopped before '
           'it finished; the location was removed and the image is queued '
           'again: add the location again.')


def undo(context: Any, repo: Any, lease: leases.Lease) -> None:
    """End the location import of the dead ``lease`` (see module doc)."""
    tasks = gateway.get_internal_task_repo(context)
    task = _task(tasks, lease.task_id)
    try:
        image = repo.get(lease.image_id)
    except exception.NotFound:
        _end(tasks, task, lease, 'The image was deleted before its '
                                 'location was verified.')
        return
    if image.status == 'queued':
        _withdraw(repo, image)
        _end(tasks, task, lease, STOPPED)
    elif image.status == 'active':
        # Hashed and saved; only the task's end was lost.
        _end(tasks, task, lease, None)
    else:
        _end(tasks, task, lease, 'The data at the location was refused: '
                                 'image %s is %s.' % (image.image_id,
                                                      image.status))


def _task(tasks: Any, task_id: str | None) -> Task | None:
    if not task_id:
        return None
    try:
        return tasks.get(task_id)
    except exception.NotFound:
        return None     # the process died before recording the task


def _withdraw(repo: Any, image: Image) -> None:
    """The queued image as it was before the location was added."""
    image.size = image.virtual_size = image.checksum = None
    image.os_hash_algo = image.os_hash_value = None
    repo.set_locations(image, [])
    LOG.warning('Image %s: location import of a stopped process undone; '
                'the location was removed and the image is queued',
                image.image_id)


def _end(tasks: Any, task: Task | None, lease: leases.Lease,
         failure: str | None) -> None:
    """Give the task its end, if it has none yet: ``failure``'s message,
    or success when ``failure`` is None."""
    if task is None or task.status not in ('pending', 'processing'):
        return
    if failure is None:
        if task.status == 'pending':
            task.begin_processing()
        task.succeed({'image_id': lease.image_id})
    else:
        task.fail(failure)
    tasks.save(task)
    LOG.warning('Image %s: location import task %s of a stopped process '
                'ended as %s', lease.image_id, task.task_id, task.status)
