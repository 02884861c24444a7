"""Rule defaults for the discovery calls (/v2/info/*)."""
from oslo_policy import policy

from glance.policies import base


def list_rules() -> list[policy.DocumentedRuleDefault]:
    """The discovery rules (upstream names)."""
    return [
        policy.DocumentedRuleDefault(
            name='stores_info_detail', check_str=base.ADMIN,
            description='Show every store with its type, weight and driver '
                        'properties.',
            operations=[{'path': '/v2/info/stores/detail', 'method': 'GET'}],
            scope_types=['project']),
    ]
