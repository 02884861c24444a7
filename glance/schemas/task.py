"""JSON Schemas of tasks, as /v2/schemas/task(s) serve them."""
from __future__ import annotations

from typing import Any

from glance.domain import task as domain

_UUID = ('^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}'
         '-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$')


def _properties() -> dict[str, Any]:
    return {
        'id': {'description': 'An identifier for the task',
               'pattern': _UUID, 'type': 'string'},
        'type': {'description': 'The type of task represented by this '
                                'content', 'enum': list(domain.TYPES),
                 'type': 'string'},
        'status': {'description': 'The current status of this task',
                   'enum': list(domain.STATUSES), 'type': 'string'},
        'input': {'description': 'The parameters required by task, JSON '
                                 'blob', 'type': ['null', 'object']},
        'result': {'description': 'The result of current task, JSON blob',
                   'type': ['null', 'object']},
        'owner': {'description': 'An identifier for the owner of this '
                                 'task', 'type': 'string'},
        'message': {'description': 'Human-readable informative message '
                                   'only included when appropriate '
                                   '(usually on failure)',
                    'type': 'string'},
        'image_id': {'description': 'Image associated with the task',
                     'type': 'string'},
        'request_id': {'description': 'Human-readable informative '
                                      'request-id', 'type': 'string'},
        'user_id': {'description': 'User associated with the task',
                    'type': 'string'},
        'expires_at': {'description': 'Datetime when this resource would '
                                      'be subject to removal',
                       'type': ['null', 'string']},
        'created_at': {'description': 'Datetime when this resource was '
                                      'created', 'type': 'string'},
        'updated_at': {'description': 'Datetime when this resource was '
                                      'updated', 'type': 'string'},
        'self': {'readOnly': True, 'type': 'string'},
        'schema': {'readOnly': True, 'type': 'string'},
    }


def task_schema() -> dict[str, Any]:
    """GET /v2/schemas/task"""
    return {'name': 'task', 'properties': _properties()}


def tasks_schema() -> dict[str, Any]:
    """GET /v2/schemas/tasks: list items leave out input, result, message."""
    props = _properties()
    for key in ('input', 'result', 'message'):
        del props[key]
    return {
        'name': 'tasks',
        'properties': {
            'schema': {'type': 'string'},
            'tasks': {'items': {'name': 'task', 'properties': props},
                      'type': 'array'},
        },
        'links': [{'href': '{schema}', 'rel': 'describedby'}],
    }
