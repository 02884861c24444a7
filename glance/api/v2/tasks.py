"""/v2/tasks: the legacy tasks API (create an import task, list, show).

Administrators only by default (``tasks_api_access``).  Tasks cannot be
changed or deleted through the API: they expire ``task_time_to_live``
hours after they finish.
"""
from __future__ import annotations

from typing import Any

from oslo_utils import uuidutils

from glance.async_.flows import legacy_import
from glance.common import exception, timeutils, wsgi
from glance.domain import task as domain
from glance import gateway

IMPORT_INPUT = ('import_from', 'import_from_format', 'image_properties')


def _times(task: domain.Task, view: dict[str, Any]) -> None:
    view['created_at'] = timeutils.isotime(task.created_at)
    view['updated_at'] = timeutils.isotime(task.updated_at)


#: fields the task schema types as plain strings: left out when unset
#: (a task made in the noauth mode has no owner), so that clients that
#: validate against the schema (python-glanceclient) accept the task
_STRING_FIELDS = ('owner', 'request_id', 'user_id')


def _without_nulls(view: dict[str, Any]) -> dict[str, Any]:
    for key in _STRING_FIELDS:
        if key in view and view[key] is None:
            del view[key]
    return view


def task_view(task: domain.Task) -> dict[str, Any]:
    """A task as GET /v2/tasks/{id} shows it."""
    view: dict[str, Any] = {
        'id': task.task_id, 'type': task.type, 'status': task.status,
        'owner': task.owner, 'input': task.task_input,
        'result': task.result, 'message': task.message,
        'request_id': task.request_id, 'user_id': task.user_id,
        'self': '/v2/tasks/%s' % task.task_id, 'schema': '/v2/schemas/task',
    }
    if task.image_id:
        view['image_id'] = task.image_id
    if task.expires_at:
        view['expires_at'] = timeutils.isotime(task.expires_at)
    _times(task, view)
    return _without_nulls(view)


def summary_view(task: domain.Task) -> dict[str, Any]:
    """A task in a list: no input, result or message."""
    view: dict[str, Any] = {
        'id': task.task_id, 'type': task.type, 'status': task.status,
        'owner': task.owner, 'self': '/v2/tasks/%s' % task.task_id,
        'schema': '/v2/schemas/task',
    }
    if task.expires_at:
        view['expires_at'] = timeutils.isotime(task.expires_at)
    _times(task, view)
    return _without_nulls(view)


def image_task_view(task: domain.Task) -> dict[str, Any]:
    """A task as GET /v2/images/{id}/tasks lists it."""
    view: dict[str, Any] = {
        'id': task.task_id, 'type': task.type, 'status': task.status,
        'owner': task.owner, 'input': task.task_input,
        'result': task.result, 'message': task.message,
        'image_id': task.image_id, 'request_id': task.request_id,
        'user_id': task.user_id, 'deleted': task.deleted,
        'deleted_at': timeutils.isotime(task.deleted_at),
        'expires_at': timeutils.isotime(task.expires_at),
    }
    _times(task, view)
    return view


class Deserializer:
    def create(self, request: wsgi.Request) -> dict:
        body = request.json_body_or_400()
        if not isinstance(body, dict):
            raise exception.BadRequest('The request body must be a JSON '
                                       'object.')
        return {'body': body}

    def index(self, request: wsgi.Request) -> dict:
        params = request.params
        from oslo_config import cfg
        limit = min(wsgi.int_param(params, 'limit',
                                   cfg.CONF.limit_param_default),
                    cfg.CONF.api_limit_max)
        sort_key = params.get('sort_key', 'created_at')
        if sort_key not in domain.SORT_KEYS:
            raise exception.BadRequest('Invalid sort_key: %s. It must be '
                                       'one of the following: %s.' % (
                                           sort_key,
                                           ', '.join(domain.SORT_KEYS)))
        sort_dir = params.get('sort_dir', 'desc')
        if sort_dir not in ('asc', 'desc'):
            raise exception.BadRequest('Invalid sort direction: %s'
                                       % sort_dir)
        filters = {}
        if 'status' in params:
            if params['status'] not in domain.STATUSES:
                raise exception.BadRequest('Invalid status value: %s'
                                           % params['status'])
            filters['status'] = params['status']
        if 'type' in params:
            if params['type'] not in domain.USER_TYPES:
                raise exception.BadRequest('Invalid type value: %s'
                                           % params['type'])
            filters['type'] = params['type']
        if 'owner' in params:
            filters['owner'] = params['owner']
        marker = params.get('marker')
        if marker is not None and not uuidutils.is_uuid_like(marker):
            raise exception.BadRequest('Invalid marker %r: a task id is a '
                                       'UUID.' % marker)
        return {'filters': filters, 'sort_key': sort_key,
                'sort_dir': sort_dir, 'limit': limit,
                'marker': marker}


class Controller:
    def create(self, request: wsgi.Request, body: dict) -> domain.Task:
        """POST /v2/tasks -> 201 and the pending task (import only)."""
        context = request.context
        gateway.get_task_repo(context).check_add()
        task_type = body.get('type')
        if task_type not in domain.USER_TYPES:
            raise exception.BadRequest(
                "Provided object does not match schema 'task': '%s' is not "
                "one of %s" % (task_type, list(domain.USER_TYPES)))
        task_input = body.get('input')
        if not isinstance(task_input, dict):
            raise exception.BadRequest('Task input must be an object.')
        for key in IMPORT_INPUT:
            if key not in task_input:
                raise exception.BadRequest("Input does not contain '%s' "
                                           "field" % key)
        if not isinstance(task_input['image_properties'], dict):
            raise exception.BadRequest('image_properties must be an '
                                       'object.')
        task = domain.new_task(task_type, context.owner, task_input,
                               request_id=context.request_id,
                               user_id=context.user_id)
        legacy_import.accept(context, task)
        return task

    def show(self, request: wsgi.Request, task_id: str) -> domain.Task:
        """GET /v2/tasks/{task_id} -> 200 and the task."""
        return gateway.get_task_repo(request.context).get(task_id)

    def index(self, request: wsgi.Request, filters, sort_key, sort_dir,
              limit, marker):
        """GET /v2/tasks -> 200 and a page of tasks."""
        repo = gateway.get_task_repo(request.context)
        return repo.list(filters, sort_key, sort_dir, limit, marker), limit


class Serializer:
    def create(self, response, task: domain.Task) -> None:
        wsgi.json_response(response, task_view(task), status=201)
        response.location = '%s/v2/tasks/%s' % (
            response.request.application_url, task.task_id)

    def show(self, response, task: domain.Task) -> None:
        wsgi.json_response(response, task_view(task))

    def index(self, response, result) -> None:
        tasks, limit = result
        links = wsgi.page_links(response.request, '/v2/tasks',
                                bool(limit) and len(tasks) == limit,
                                tasks[-1].task_id if tasks else None)
        wsgi.json_response(response, {
            'tasks': [summary_view(t) for t in tasks],
            **links, 'schema': '/v2/schemas/tasks'})


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
