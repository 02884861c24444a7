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
    """The cache rules (upstream names; administrators by default).
    ``list_cached_nodes``, ``cache_clean`` and ``cache_prune`` are the
    names of the reference's design of the 2.18 calls."""
    return [
        _rule('cache_image', 'Queue an image for caching on this node.',
              [('PUT', '/v2/cache/{image_id}')]),
        _rule('cache_list', 'List the images cached and queued on this '
              'node.', [('GET', '/v2/cache')]),
        _rule('list_cached_nodes', 'List the nodes whose cache holds an '
              'image (Images API 2.18).',
              [('GET', '/v2/cache/nodes/{image_id}')]),
        _rule('cache_delete', 'Remove an image, or every image, from the '
              'cache and the queue of this node.',
              [('DELETE', '/v2/cache/{image_id}'), ('DELETE', '/v2/cache')]),
        _rule('cache_clean', 'Remove deleted images, invalid files and '
              'stalled incomplete files from the cache of this node '
              '(Images API 2.18).', [('POST', '/v2/cache/clean')]),
        _rule('cache_prune', 'Remove the least recently used images from '
              'the cache of this node until it holds at most '
              'image_cache_max_size bytes (Images API 2.18).',
              [('POST', '/v2/cache/prune')]),
    ]
