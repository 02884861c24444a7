"""Rule defaults for the tasks API (upstream rule names).

The legacy tasks API is an administrator's tool: upstream deprecated it for
users, so every rule defaults to admin, and ``tasks_api_access`` guards the
API as a whole.  The tasks of an image (GET /v2/images/{id}/tasks) are
governed by ``get_image`` instead.
"""
from oslo_policy import policy

from glance.policies import base


def _rule(name: str, description: str, operations: list[tuple[str, str]]
          ) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name=name, check_str=base.ADMIN, description=description,
        operations=[{'path': p, 'method': m} for m, p in operations],
        scope_types=['project'])


rules = [
    _rule('get_task', 'Show a task.', [('GET', '/v2/tasks/{task_id}')]),
    _rule('get_tasks', 'List tasks.', [('GET', '/v2/tasks')]),
    _rule('add_task', 'Create a task.', [('POST', '/v2/tasks')]),
    _rule('modify_task', 'Change a task (not exposed by the API).',
          [('PATCH', '/v2/tasks/{task_id}')]),
    _rule('tasks_api_access', 'Use the tasks API at all.',
          [('GET', '/v2/tasks/{task_id}'), ('GET', '/v2/tasks'),
           ('POST', '/v2/tasks')]),
]


def list_rules() -> list[policy.DocumentedRuleDefault]:
    """The task rules."""
    return rules
