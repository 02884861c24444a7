"""Adding a location (POST /v2/images/{id}/locations, API 2.17) and the
``location_import`` task that verifies it.

The location is recorded on the queued image at once (the API answers
202) and, with ``do_secure_hash``, its data is hashed afterwards on the
executor.  The whole of it, from before the location is recorded until
the task has its end, runs under a lease on the image, as uploads and
imports do: should this process die mid-hash, any node that shares the
database fails the task and takes the half-added location back
(``glance.async_.recovery``), instead of leaving the task ``processing``
and the image ``queued`` with data nobody verified.
"""
from __future__ import annotations

import logging
from typing import Any

from glance.async_ import executor, leases, recovery
from glance.common import exception
from glance import context as glance_context
from glance.domain import task as domain_task
from glance import gateway

LOG = logging.getLogger(__name__)

#: the task type the reference service records for each add
TASK_TYPE = 'location_import'


def accept(context: Any, image_id: str, url: str,
           validation_data: dict | None) -> str:
    """Record the location and its task, and start the verification;
    returns the task id.  Every refusal (400, 403, 404, 409) happens
    before anything is recorded; 409 too while another operation holds
    the image."""
    repo = gateway.get_repo(context)
    image = repo.get(image_id)
    task = domain_task.new_task(
        TASK_TYPE, context.owner,
        {'image_id': image_id, 'loc_url': url,
         'validation_data': validation_data or {}},
        image_id=image_id, request_id=context.request_id,
        user_id=context.user_id)
    # The lease first: whatever this process records from here on is
    # undone by another one should this process die.
    lease = recovery.acquire(image_id, leases.LOCATION, task.task_id)
    try:
        repo.add_location(image, url, validation_data)
        gateway.get_internal_task_repo(context).add(task)
    except BaseException:
        leases.release(lease)
        raise
    executor.submit(verify, image_id, task.task_id, lease)
    return task.task_id


def verify(image_id: str, task_id: str, lease: leases.Lease) -> None:
    """Run the location_import task: hash the data at the new location
    (when the image waits for it) and record how that ended; the lease
    goes once the task is final."""
    try:
        _verify(image_id, task_id)
    finally:
        leases.release(lease)


def _verify(image_id: str, task_id: str) -> None:
    context = glance_context.get_admin_context()
    tasks = gateway.get_internal_task_repo(context)
    task = tasks.get(task_id)
    task.begin_processing()
    tasks.save(task)
    try:
        repo = gateway.get_repo(context)
        image = repo.get(image_id)
        if image.status == 'queued':
            image = repo.verify_location(image)
    except exception.GlanceException as exc:
        LOG.warning('Location import task %s of image %s failed: %s',
                    task_id, image_id, exc)
        task.fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the task must still end
        LOG.exception('Location import task %s of image %s failed '
                      'unexpectedly', task_id, image_id)
        task.fail('The location could not be verified: %s' % exc)
    else:
        task.succeed({'image_id': image_id})
    tasks.save(task)
