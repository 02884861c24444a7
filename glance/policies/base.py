"""Check strings shared by the resource rules (the secure-RBAC personas)."""
from oslo_policy import policy

ADMIN = 'role:admin'
PROJECT_MEMBER = 'role:member and project_id:%(project_id)s'
PROJECT_READER = 'role:reader and project_id:%(project_id)s'
ADMIN_OR_PROJECT_MEMBER = 'rule:context_is_admin or (%s)' % PROJECT_MEMBER
ADMIN_OR_PROJECT_READER = 'rule:context_is_admin or (%s)' % PROJECT_READER
#: a reader who owns the image, is a member of it, or for whom it is public
#: or community
ADMIN_OR_PROJECT_READER_GET_IMAGE = (
    'rule:context_is_admin or (role:reader and (project_id:%(project_id)s '
    'or project_id:%(member_id)s or "community":%(visibility)s or '
    '"public":%(visibility)s))')
#: like ADMIN_OR_PROJECT_READER_GET_IMAGE, but reading the bytes takes
#: the member role
ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE = (
    'rule:context_is_admin or (role:member and (project_id:%(project_id)s '
    'or project_id:%(member_id)s or "community":%(visibility)s or '
    '"public":%(visibility)s))')
ADMIN_OR_SHARED_MEMBER = (
    'rule:context_is_admin or (role:reader and (project_id:%(project_id)s '
    'or project_id:%(member_id)s))')

rules = [
    policy.RuleDefault(name='default', check_str='',
                       description='Rule used when no other rule applies.'),
    policy.RuleDefault(name='context_is_admin', check_str=ADMIN,
                       description='Who is an administrator of the service.'),
]


def list_rules():
    return rules
