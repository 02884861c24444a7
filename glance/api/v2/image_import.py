"""POST /v2/images/{id}/import, GET /v2/images/{id}/tasks, GET /v2/info/import.

The request is checked here (``Deserializer``); accepting it is
``glance.services.image_import.accept``'s.
"""
from __future__ import annotations

import logging
from typing import Any

from oslo_config import cfg
from oslo_utils import uuidutils

from glance.api.v2 import stage_node
from glance.api.v2 import tasks as task_views
from glance.async_ import web
from glance.common import exception, wsgi
from glance import gateway
from glance.services import image_import

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

METHODS = image_import.METHODS


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


def _forward(request: wsgi.Request, image_id: str, host: str) -> None:
    """Hand a glance-direct import to the node that staged the data.

    Only that node can read the staged file; its answer (202 or a
    refusal) is the answer.
    """
    LOG.info('Proxying import of image %s to %s', image_id, host)
    try:
        answer = stage_node.call(
            request, 'POST', host, '/v2/images/%s/import' % image_id,
            extra=('X-Image-Meta-Store', 'Content-Type'), data=request.body)
    except stage_node.Unreachable as exc:
        raise exception.ServiceUnavailable(
            'The API node holding the staged data of image %s (%s) is not '
            'reachable: %s' % (image_id, host, exc))
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
        image_import.accept(
            request.context, image_id, body, header_store,
            forward=lambda host: _forward(request, image_id, host))

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
