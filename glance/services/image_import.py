"""Accepting an interoperable import: every check, the lock, the task.

An import is accepted (the API answers 202) once it is recorded as a task
and the image is locked for it (``os_glance_import_task``); the work runs
afterwards on the executor or a glance-worker
(``glance.async_.jobs``).  Every refusal happens before anything is
recorded.  A glance-direct import of data staged on another API node is
handed to that node (``forward``), which alone can read the data.
"""
from __future__ import annotations

from typing import Any, Callable

from oslo_config import cfg

from glance.async_ import jobs, leases, recovery
from glance.async_.flows import api_image_import as flow
from glance.common import exception
from glance.domain import task as domain_task
from glance.domain.image import Image
from glance import gateway
from glance.layers import location_stores

CONF = cfg.CONF

#: every method this service implements
METHODS = ('glance-direct', 'web-download', 'copy-image', 'glance-download')
#: status an image must be in for each method
REQUIRED_STATUS = {'glance-direct': 'uploading', 'web-download': 'queued',
                   'copy-image': 'active', 'glance-download': 'queued'}


def accept(context: Any, image_id: str, body: dict,
           header_store: str | None,
           forward: Callable[[str], None]) -> None:
    """Accept the import ``body`` asks for, or raise why not.

    400 for a copy to a store the image is in; 403 when the caller may
    not; 404 for an image it cannot see; 409 for the wrong image status,
    missing formats, unstaged data, an unknown store or an image locked by
    another import.  ``forward(host)`` passes the request to the node
    ``host`` holding the staged data, whose answer is the answer.
    """
    repo = gateway.get_repo(context)
    image = repo.get(image_id)
    name = body['method']['name']
    repo.check_import(image, name)
    host = stage_host(image)
    if name == 'glance-direct' and host:
        return forward(host)
    if recovery.settle(image):
        image = repo.get(image_id)
    _check(image, name)
    stores = targets(body, header_store, image)
    task = domain_task.new_task(
        'api_image_import', context.owner,
        {'image_id': image_id, 'import_req': body,
         'backend': stores if stores != [None] else None},
        image_id=image_id, request_id=context.request_id,
        user_id=context.user_id)
    # The lease first: whatever this process records from here on is
    # undone by another one should this process die.
    lease = recovery.acquire(image_id, leases.IMPORT, task.task_id, stores)
    try:
        _take(context, repo, image, task, stores, name)
        spec = flow.ImportSpec(
            context=context, task_id=task.task_id, image_id=image_id,
            method=name, stores=stores, uri=body['method'].get('uri'),
            source=body['method'],
            all_stores_must_succeed=body.get('all_stores_must_succeed',
                                             True),
            lease=lease)
    except BaseException:
        leases.release(lease)
        raise
    jobs.submit_import(spec)


def stage_host(image: Image) -> str | None:
    """The URL of the other node holding ``image``'s staged data, None
    when this node holds it or nothing is staged."""
    host = (image.extra_properties.get(flow.STAGE_HOST) or '').rstrip('/')
    own = (CONF.worker_self_reference_url or '').rstrip('/')
    return host if host and host != own else None


def _check(image: Image, name: str) -> None:
    """409 unless ``image`` can take an import by ``name`` now."""
    holder = image.extra_properties.get(flow.LOCK)
    if holder:
        # A lock whose import died (its process stopped heartbeating) was
        # released by ``recovery.settle`` before this is asked.
        raise exception.Conflict('Image %s is being imported by task %s.'
                                 % (image.image_id, holder))
    if image.status != REQUIRED_STATUS[name]:
        raise exception.InvalidImageStatus(
            'Image %s is %s; %s needs it %s.' % (
                image.image_id, image.status, name, REQUIRED_STATUS[name]))
    if name not in ('copy-image', 'glance-download') and not (
            image.disk_format and image.container_format):
        # as for an upload: data without its formats could never be
        # booted or converted; the reference answers 409 (copy-image's
        # image has them, glance-download takes the remote image's)
        raise exception.Conflict(
            'Image %s needs disk_format and container_format set before '
            'data can be imported into it.' % image.image_id)
    if name == 'glance-direct':
        flow.check_staged(image.image_id)


def targets(body: dict, header_store: str | None, image: Image) -> list:
    """The stores to import to; 409 for one that does not exist."""
    users, multi = location_stores.enabled_stores()
    copying = body['method']['name'] == 'copy-image'
    if not multi:
        if copying:
            raise exception.BadRequest('copy-image needs several stores.')
        return [None]
    if body.get('all_stores'):
        stores = [s for s in location_stores.writable_stores()
                  if not (copying and s in image.stores)]
    elif body.get('stores'):
        stores = list(dict.fromkeys(body['stores']))
    elif header_store:
        stores = [header_store]
    elif copying:
        raise exception.BadRequest('copy-image requires stores or '
                                   'all_stores.')
    else:
        stores = [CONF.glance_store.default_backend]
    for store in stores:
        if store not in users:
            raise exception.Conflict('Store %s is not available.' % store)
        if copying and store in image.stores:
            raise exception.BadRequest('Image %s is already in store %s.'
                                       % (image.image_id, store))
    if not stores:
        raise exception.BadRequest('Image %s is already in every store.'
                                   % image.image_id)
    return stores


def _take(context: Any, repo: Any, image: Image, task: Any, stores: list,
          name: str) -> None:
    """Lock the image for ``task`` and record the task."""
    before = {key: image.extra_properties.get(key)
              for key in (flow.LOCK, flow.IMPORTING, flow.FAILED)}
    image.extra_properties[flow.LOCK] = task.task_id
    image.extra_properties[flow.IMPORTING] = ','.join(s for s in stores if s)
    image.extra_properties[flow.FAILED] = ''
    if name != 'copy-image':
        # Saved only if the image is still in the status checked above, so
        # of two racing imports exactly one is accepted.
        image.set_status('importing')
    repo.save(image)
    if name == 'copy-image':
        _check_still_missing(repo, image, stores, before)
    # Recorded once the image is ours: a racing import that lost leaves no
    # task behind.  (Should this fail, the lock names a missing task: the
    # next request touching the image releases it.)
    gateway.get_internal_task_repo(context).add(task)


def _check_still_missing(repo: Any, image: Image, stores: list,
                         before: dict) -> None:
    """409 when a copy racing this one finished between this request's
    read of the image and its taking the lock (the lock was free again, so
    the save could not tell): the stores asked for hold the data now."""
    fresh = repo.get(image.image_id)
    done = [s for s in stores if s and s in fresh.stores]
    if not done:
        return
    for key, value in before.items():
        if value is None:
            fresh.extra_properties.pop(key, None)
        else:
            fresh.extra_properties[key] = value
    repo.save(fresh)
    raise exception.Conflict('Image %s was copied to %s by another import '
                             'meanwhile.' % (image.image_id, ','.join(done)))
