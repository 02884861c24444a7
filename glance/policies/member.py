"""Rule defaults for the image member calls (upstream rule names).

The target is the image's: ``project_id`` is its owner, ``member_id`` the
member project concerned (the caller's own membership for reads, the
membership being changed for ``modify_member``).
"""
from oslo_policy import policy

from glance.policies import base

_MEMBERS = '/v2/images/{image_id}/members'
_MEMBER = _MEMBERS + '/{member_id}'


def _rule(name: str, check: str, description: str, method: str,
          path: str) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name=name, check_str=check, description=description,
        operations=[{'path': path, 'method': method}],
        scope_types=['project'])


def list_rules() -> list[policy.DocumentedRuleDefault]:
    """The member rules."""
    return [
        _rule('add_member', base.ADMIN_OR_PROJECT_MEMBER,
              'Share an image with a project.', 'POST', _MEMBERS),
        _rule('delete_member', base.ADMIN_OR_PROJECT_MEMBER,
              'Stop sharing an image with a project.', 'DELETE', _MEMBER),
        _rule('get_member', base.ADMIN_OR_SHARED_MEMBER,
              'Show one membership of an image.', 'GET', _MEMBER),
        _rule('get_members', base.ADMIN_OR_SHARED_MEMBER,
              'List the memberships of an image (a member project sees its '
              'own only).', 'GET', _MEMBERS),
        _rule('modify_member',
              base.ADMIN + ' or (role:member and project_id:%(member_id)s)',
              'Accept or reject an image shared with the caller\'s '
              'project.', 'PUT', _MEMBER),
    ]
