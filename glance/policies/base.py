"""Check strings shared by the resource rules (the secure-RBAC personas).

Every "admin" check goes through ``rule:context_is_admin``, so an operator
who redefines who the administrator is changes it in one place and every
rule follows.
"""
from oslo_policy import policy

#: the administrator, as the context_is_admin rule defines it
ADMIN = 'rule:context_is_admin'
#: another OpenStack service (Nova, Cinder) acting with its service token
SERVICE = 'rule:service_api'
PROJECT_MEMBER = 'role:member and project_id:%(project_id)s'
PROJECT_READER = 'role:reader and project_id:%(project_id)s'
ADMIN_OR_PROJECT_MEMBER = '%s or (%s)' % (ADMIN, PROJECT_MEMBER)
ADMIN_OR_PROJECT_READER = '%s or (%s)' % (ADMIN, PROJECT_READER)
#: another service, or a member of the owning project (the 2.17 add-location
#: call: end users are further limited to http store locations)
SERVICE_OR_PROJECT_MEMBER = '%s or (%s)' % (SERVICE, PROJECT_MEMBER)
#: a reader who owns the image, is a member of it, or for whom it is public
#: or community
ADMIN_OR_PROJECT_READER_GET_IMAGE = (
    ADMIN + ' or (role:reader and (project_id:%(project_id)s '
    'or project_id:%(member_id)s or "community":%(visibility)s or '
    '"public":%(visibility)s))')
#: like ADMIN_OR_PROJECT_READER_GET_IMAGE, but reading the bytes takes
#: the member role
ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE = (
    ADMIN + ' or (role:member and (project_id:%(project_id)s '
    'or project_id:%(member_id)s or "community":%(visibility)s or '
    '"public":%(visibility)s))')
#: a reader of the owning project or of a project the image is shared with
ADMIN_OR_SHARED_MEMBER = (
    ADMIN + ' or (role:reader and (project_id:%(project_id)s '
    'or project_id:%(member_id)s))')

rules = [
    policy.RuleDefault(
        name='default', check_str='',
        description='Rule used when a rule is asked for that has no '
                    'default and no entry in the policy file.'),
    policy.RuleDefault(
        name='context_is_admin', check_str='role:admin',
        description='Who is an administrator of the service: sees and may '
                    'change every image, whatever its owner or visibility.'),
    policy.RuleDefault(
        name='service_api', check_str='role:service',
        description='Who is another OpenStack service: the calls meant for '
                    'service-to-service use (the locations API) take it.'),
]


def list_rules() -> list[policy.RuleDefault]:
    """The shared rules (default, context_is_admin, service_api)."""
    return rules
