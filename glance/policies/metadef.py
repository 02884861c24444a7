"""Rule defaults for the metadata definitions calls (upstream rule names).

The catalog is the operator's: every write is the administrator's by
default.  Reads follow the secure-RBAC personas: a reader sees public
namespaces and those of their own project.  The target is the namespace's:
``project_id``/``owner`` its owner, ``visibility`` its visibility.
"""
from oslo_policy import policy

from glance.policies import base

#: a reader of the owning project, or any reader for a public namespace
ADMIN_OR_PROJECT_READER_GET_NAMESPACE = (
    base.ADMIN + ' or (role:reader and (project_id:%(project_id)s or '
    '"public":%(visibility)s))')
#: reading lists: any reader (what the list holds is filtered by project)
ADMIN_OR_READER = base.ADMIN + ' or role:reader'

_NSS = '/v2/metadefs/namespaces'
_NS = _NSS + '/{namespace_name}'
_OBJS = _NS + '/objects'
_OBJ = _OBJS + '/{object_name}'
_PROPS = _NS + '/properties'
_PROP = _PROPS + '/{property_name}'
_TAGS = _NS + '/tags'
_TAG = _TAGS + '/{tag_name}'
_ASSOCS = _NS + '/resource_types'
_ASSOC = _ASSOCS + '/{name}'


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


def _rule(name: str, check: str, description: str,
          *operations: tuple[str, str], legacy: str
          ) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name=name, check_str=check, description=description,
        operations=[{'method': m, 'path': p} for m, p in operations],
        scope_types=['project'],
        deprecated_rule=policy.DeprecatedRule(
            name=name, check_str=legacy,
            deprecated_reason='Secure RBAC personas replace the legacy '
                              'metadef_default/metadef_admin defaults',
            deprecated_since='2024.1'))


def _read(name: str, description: str, *operations: tuple[str, str],
          check: str = ADMIN_OR_PROJECT_READER_GET_NAMESPACE
          ) -> policy.DocumentedRuleDefault:
    return _rule(name, check, description, *operations,
                 legacy='rule:metadef_default')


def _write(name: str, description: str, *operations: tuple[str, str]
           ) -> policy.DocumentedRuleDefault:
    return _rule(name, base.ADMIN, description, *operations,
                 legacy='rule:metadef_admin')


def list_rules() -> list[policy.RuleDefault]:
    """The metadef rules (the two legacy ones first)."""
    return LEGACY + [
        _read('get_metadef_namespace', 'Show a namespace.', ('GET', _NS)),
        _read('get_metadef_namespaces',
              'List the namespaces (each filtered by get_metadef_namespace '
              'visibility).', ('GET', _NSS), check=ADMIN_OR_READER),
        _write('modify_metadef_namespace', 'Replace a namespace.',
               ('PUT', _NS)),
        _write('add_metadef_namespace', 'Create a namespace.',
               ('POST', _NSS)),
        _write('delete_metadef_namespace',
               'Delete a namespace and everything in it.', ('DELETE', _NS)),
        _read('get_metadef_object', 'Show an object.', ('GET', _OBJ)),
        _read('get_metadef_objects', 'List the objects of a namespace.',
              ('GET', _OBJS)),
        _write('modify_metadef_object', 'Replace an object.', ('PUT', _OBJ)),
        _write('add_metadef_object', 'Create an object.', ('POST', _OBJS)),
        _write('delete_metadef_object', 'Delete an object.',
               ('DELETE', _OBJ)),
        _write('delete_metadef_objects',
               'Delete every object of a namespace.', ('DELETE', _OBJS)),
        _read('list_metadef_resource_types', 'List the resource types.',
              ('GET', '/v2/metadefs/resource_types'), check=ADMIN_OR_READER),
        _read('get_metadef_resource_type',
              'List the resource types a namespace is associated with.',
              ('GET', _ASSOCS)),
        _write('add_metadef_resource_type_association',
               'Associate a namespace with a resource type.',
               ('POST', _ASSOCS)),
        _write('remove_metadef_resource_type_association',
               'Remove a namespace\'s association with a resource type.',
               ('DELETE', _ASSOC)),
        _read('get_metadef_property', 'Show a property definition.',
              ('GET', _PROP)),
        _read('get_metadef_properties',
              'List the property definitions of a namespace.',
              ('GET', _PROPS)),
        _write('modify_metadef_property', 'Replace a property definition.',
               ('PUT', _PROP)),
        _write('add_metadef_property', 'Create a property definition.',
               ('POST', _PROPS)),
        _write('remove_metadef_property', 'Delete a property definition.',
               ('DELETE', _PROP)),
        _write('remove_metadef_properties',
               'Delete every property definition of a namespace.',
               ('DELETE', _PROPS)),
        _read('get_metadef_tag', 'Show a tag.', ('GET', _TAG)),
        _read('get_metadef_tags', 'List the tags of a namespace.',
              ('GET', _TAGS)),
        _write('modify_metadef_tag', 'Rename a tag.', ('PUT', _TAG)),
        _write('add_metadef_tag', 'Create a tag.', ('POST', _TAG)),
        _write('add_metadef_tags',
               'Create tags at once (replacing or appending).',
               ('POST', _TAGS)),
        _write('delete_metadef_tag', 'Delete a tag.', ('DELETE', _TAG)),
        _write('delete_metadef_tags', 'Delete every tag of a namespace.',
               ('DELETE', _TAGS)),
    ]
