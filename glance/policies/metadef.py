"""Rule defaults for the metadata definitions calls (upstream rule names).

The rules are the ones each kind declares (``glance.domain.metadef``), so
a rule is named in one place.  The catalog is the operator's: every write
is the administrator's by default.  Reads follow the secure-RBAC personas:
a reader sees public namespaces and those of their own project.  The
target is the namespace's: ``project_id``/``owner`` its owner,
``visibility`` its visibility.
"""
from oslo_policy import policy

from glance.domain.metadef import KINDS, NAMESPACES
from glance.policies import base

#: a reader of the owning project, or any reader for a public namespace
ADMIN_OR_PROJECT_READER_GET_NAMESPACE = (
    base.ADMIN + ' or (role:reader and (project_id:%(project_id)s or '
    '"public":%(visibility)s))')
#: reading lists: any reader (what the list holds is filtered by project)
ADMIN_OR_READER = base.ADMIN + ' or role:reader'
#: operation -> what its rule allows
WHAT = {'get': 'Show one of the %s.', 'list': 'List the %s.',
        'save': 'Replace one of the %s.', 'add': 'Create one of the %s.',
        'add_many': 'Create several %s at once, replacing or adding to '
                    'those there are.',
        'remove': 'Delete one of the %s.', 'remove_all': 'Delete all the %s.'}
#: the legacy defaults every metadef rule pointed at; deployments' policy
#: files still name them, and they apply while enforce_new_defaults is off
LEGACY = [
    policy.RuleDefault(
        name='metadef_default', check_str='',
        description='Legacy default of the metadef reads (anyone).'),
    policy.RuleDefault(
        name='metadef_admin', check_str='role:admin',
        description='Legacy default of the metadef writes.'),
]


def _rule(name: str, check: str, description: str, method: str, path: str
          ) -> policy.DocumentedRuleDefault:
    read = method == 'GET'
    return policy.DocumentedRuleDefault(
        name=name, check_str=check, description=description,
        operations=[{'method': method, 'path': path}],
        scope_types=['project'],
        deprecated_rule=policy.DeprecatedRule(
            name=name, check_str='rule:metadef_%s' % (
                'default' if read else 'admin'),
            deprecated_reason='Secure RBAC personas replace the legacy '
                              'metadef_default/metadef_admin defaults',
            deprecated_since='2024.1'))


def list_rules() -> list[policy.RuleDefault]:
    """The metadef rules (the two legacy ones first): each kind's writes
    are the administrator's, its reads a reader's of the namespace's
    project (any reader's for a public one), the namespace list any
    reader's (it shows each namespace the reader may read)."""
    rules = []
    for kind in KINDS:
        what = kind.list_key.replace('_', ' ')
        what += '' if kind is NAMESPACES else ' of a namespace'
        for operation, name in kind.rules.items():
            method, path, _ = kind.call(operation)
            check = base.ADMIN if method != 'GET' else \
                ADMIN_OR_PROJECT_READER_GET_NAMESPACE
            if operation == 'list' and kind is NAMESPACES:
                check = ADMIN_OR_READER
            rules.append(_rule(name, check, WHAT[operation] % what, method,
                               path))
    return LEGACY + rules + [_rule(
        'list_metadef_resource_types', ADMIN_OR_READER,
        'List the resource types.', 'GET', '/v2/metadefs/resource_types')]
