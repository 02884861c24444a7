"""POST /v2/images/{id}/import, GET /v2/images/{id}/tasks, GET /v2/info/import.

An import is accepted (202) once it is recorded as a task and the image is
locked for it (``os_glance_import_task``); the work runs afterwards on the
executor or a glance-worker (``glance.async_.jobs``).  Every refusal
happens before anything is recorded.
"""
from __future__ import annotations

import logging
from typing import Any

from oslo_config import cfg
from oslo_utils import uuidutils
import requests

from glance.api.v2 import stage_node
from glance.api.v2 import tasks as task_views
from glance.async_ import jobs, leases, recovery, web
from glance.async_.flows import api_image_import as flow
from glance.common import exception, wsgi
from glance.domain import task as domain_task
from glance import gateway
from glance.layers import location_stores

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

#: every method this service implements
METHODS = ('glance-direct', 'web-download', 'copy-image', 'glance-download')
#: status an image must be in for each method
REQUIRED_STATUS = {'glance-direct': 'uploading', 'web-download': 'queued',
                   'copy-image': 'active', 'glance-download': 'queued'}


def _bool(body: dict, key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise exception.BadRequest('%s must be a boolean.' % key)
    return value


class Deserializer:
    def import_image(self, request: wsgi.Request) -> dict:
        body = request.json_body_or_400()
        if not isinstance(body, dict):
            raise exception.BadRequest('The request body must be a JSON '
                                       'object.')
        method = body.get('method')
        if not isinstance(method, dict) or \
                not isinstance(method.get('name'), str):
            raise exception.BadRequest('Import request requires a '
                                       "'method' with a 'name'.")
        name = method['name']
        if name not in METHODS or name not in CONF.enabled_import_methods:
            raise exception.BadRequest('Import method %s is not valid or '
                                       'not enabled.' % name)
        if name == 'web-download':
            uri = method.get('uri')
            if not isinstance(uri, str) or not uri:
                raise exception.BadRequest('web-download requires a uri.')
            web.check_uri(uri)
        if name == 'glance-download':
            for key in ('glance_image_id', 'glance_region'):
                if not isinstance(method.get(key), str) or not method[key]:
                    raise exception.BadRequest('glance-download requires '
                                               '%s.' % key)
            if not uuidutils.is_uuid_like(method['glance_image_id']):
                # refused before the import is accepted, as the reference
                # does, rather than failing in the task later
                raise exception.BadRequest(
                    'glance_image_id %r: the image id does not look like '
                    'a UUID.' % method['glance_image_id'])
        stores = body.get('stores')
        if stores is not None and (not isinstance(stores, list) or not all(
                isinstance(s, str) for s in stores)):
            raise exception.BadRequest('stores must be a list of store '
                                       'ids.')
        _bool(body, 'all_stores', False)
        _bool(body, 'all_stores_must_succeed', True)
        if body.get('all_stores') and stores is not None:
            raise exception.BadRequest('Name either stores or all_stores, '
                                       'not both.')
        return {'body': body,
                'header_store': request.headers.get('X-Image-Meta-Store')}


def _targets(body: dict, header_store: str | None, image) -> list:
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
        stores = [glance_default_store()]
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


def glance_default_store() -> str:
    """The backend new data goes to when nothing else is asked for."""
    return CONF.glance_store.default_backend


def _check_lock(image) -> None:
    """409 while another live import holds the image.

    A lock whose import died (its process stopped heartbeating) was
    released by ``recovery.settle`` before this is asked.
    """
    holder = image.extra_properties.get(flow.LOCK)
    if holder:
        raise exception.Conflict('Image %s is being imported by task %s.'
                                 % (image.image_id, holder))


def _proxy(request: wsgi.Request, image, host: str) -> None:
    """Hand a glance-direct import to the node that staged the data.

    Only that node can read the staged file; its answer (202 or a
    refusal) is the answer.
    """
    LOG.info('Proxying import of image %s to %s', image.image_id, host)
    try:
        answer = requests.post(
            '%s/v2/images/%s/import' % (host, image.image_id),
            data=request.body, timeout=stage_node.TIMEOUT,
            headers=stage_node.headers(request, 'X-Image-Meta-Store',
                                       'Content-Type'))
    except requests.RequestException as exc:
        raise exception.ServiceUnavailable(
            'The API node holding the staged data of image %s (%s) is not '
            'reachable: %s' % (image.image_id, host, exc))
    if answer.status_code != 202:
        raise stage_node.refusal(answer)


class Controller:
    def import_image(self, request: wsgi.Request, image_id: str,
                     body: dict, header_store: str | None) -> None:
        """POST /v2/images/{image_id}/import -> 202, the work runs later.

        400 for a bad body, unknown or disabled method, refused URI or a
        copy to a store the image is in; 403 when the caller may not; 404
        for an image it cannot see; 409 for the wrong image status, an
        unknown store or an image locked by another import.
        """
        context = request.context
        repo = gateway.get_repo(context)
        image = repo.get(image_id)
        name = body['method']['name']
        repo.check_import(image, name)
        host = stage_node.other_host(image)
        if name == 'glance-direct' and host:
            return _proxy(request, image, host)
        if recovery.settle(image):
            image = repo.get(image_id)
        _check_lock(image)
        if image.status != REQUIRED_STATUS[name]:
            raise exception.InvalidImageStatus(
                'Image %s is %s; %s needs it %s.' % (
                    image_id, image.status, name, REQUIRED_STATUS[name]))
        if name not in ('copy-image', 'glance-download') and not (
                image.disk_format and image.container_format):
            # as for an upload: data without its formats could never be
            # booted or converted; the reference answers 409 (copy-image's
            # image has them, glance-download takes the remote image's)
            raise exception.Conflict(
                'Image %s needs disk_format and container_format set before '
                'data can be imported into it.' % image_id)
        if name == 'glance-direct':
            flow.check_staged(image_id)
        stores = _targets(body, header_store, image)
        task_input = {'image_id': image_id, 'import_req': body,
                      'backend': stores if stores != [None] else None}
        task = domain_task.new_task(
            'api_image_import', context.owner, task_input,
            image_id=image_id, request_id=context.request_id,
            user_id=context.user_id)
        # The lease first: whatever this process records from here on is
        # undone by another one should this process die.
        lease = recovery.acquire(image_id, leases.IMPORT, task.task_id,
                                 stores)
        try:
            self._take(context, repo, image, task, stores, name)
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

    @staticmethod
    def _take(context, repo, image, task, stores: list, name: str) -> None:
        """Lock the image for ``task`` and record the task."""
        image.extra_properties[flow.LOCK] = task.task_id
        image.extra_properties[flow.IMPORTING] = ','.join(
            s for s in stores if s)
        image.extra_properties[flow.FAILED] = ''
        if name != 'copy-image':
            # Saved only if the image is still in the status checked above,
            # so of two racing imports exactly one is accepted.
            image.set_status('importing')
        repo.save(image)
        # Recorded once the image is ours: a racing import that lost
        # leaves no task behind.  (Should this fail, the lock names a
        # missing task: the next request touching the image releases it.)
        gateway.get_internal_task_repo(context).add(task)

    def tasks(self, request: wsgi.Request, image_id: str) -> dict:
        """GET /v2/images/{image_id}/tasks -> 200, the image's tasks."""
        gateway.get_repo(request.context).get(image_id)
        tasks = gateway.get_internal_task_repo(
            request.context).for_image(image_id)
        return {'tasks': [task_views.image_task_view(t) for t in tasks]}

    def info(self, request: wsgi.Request) -> dict:
        """GET /v2/info/import -> 200, the enabled import methods."""
        return {'import-methods': {
            'description': 'Import methods available.',
            'type': 'array',
            'value': list(CONF.enabled_import_methods)}}


class Serializer:
    def import_image(self, response, _result: Any) -> None:
        response.status_int = 202
        response.body = b''


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
