"""Rule defaults for the cache calls (/v2/cache, Images API 2.14+)."""
from oslo_policy import policy

from glance.policies import base


def _rule(name: str, description: str, operations: list[tuple[str, str]]
          ) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name=name, check_str=base.ADMIN, description=description,
        operations=[{'path': p, 'method': m} for m, p in operations],
        scope_types=['project'])


def list_rules() -> list[policy.DocumentedRuleDefault]:
    """The cache rules (upstream names; administrators by default)."""
    return [
        _rule('cache_image', 'Queue an image for caching on this node.',
              [('PUT', '/v2/cache/{image_id}')]),
        _rule('cache_list', 'List the images cached and queued on this '
              'node.', [('GET', '/v2/cache')]),
        _rule('cache_delete', 'Remove an image, or every image, from the '
              'cache and the queue of this node.',
              [('DELETE', '/v2/cache/{image_id}'), ('DELETE', '/v2/cache')]),
    ]
