"""Rule defaults for the image calls (upstream rule names, our own defaults).

The target of each check is the image as the policy layer presents it:
``project_id`` (the owner), ``member_id`` (the caller's project when it is a
member), ``visibility``.
"""
from oslo_policy import policy

from glance.policies import base

_DEPRECATED = 'role:admin or project_id:%(project_id)s'


def _rule(name: str, check: str, description: str,
          operations: list[tuple[str, str]], deprecated: str | None = None
          ) -> policy.DocumentedRuleDefault:
    """A project-scoped rule; ``deprecated`` is the legacy check it
    replaces, honoured while ``enforce_new_defaults`` is off."""
    kwargs = {}
    if deprecated is not None:
        kwargs['deprecated_rule'] = policy.DeprecatedRule(
            name=name, check_str=deprecated,
            deprecated_reason='Secure RBAC personas replace the legacy '
                              'owner-only defaults',
            deprecated_since='2024.1')
    return policy.DocumentedRuleDefault(
        name=name, check_str=check, description=description,
        operations=[{'path': p, 'method': m} for m, p in operations],
        scope_types=['project'], **kwargs)


rules = [
    _rule('add_image', base.ADMIN_OR_PROJECT_MEMBER, 'Create an image.',
          [('POST', '/v2/images')], deprecated=_DEPRECATED),
    _rule('delete_image', base.ADMIN_OR_PROJECT_MEMBER, 'Delete an image.',
          [('DELETE', '/v2/images/{image_id}')], deprecated=_DEPRECATED),
    _rule('get_image', base.ADMIN_OR_PROJECT_READER_GET_IMAGE,
          'Show an image.', [('GET', '/v2/images/{image_id}')],
          deprecated=''),
    _rule('get_images', base.ADMIN_OR_PROJECT_READER, 'List images.',
          [('GET', '/v2/images')], deprecated=''),
    _rule('modify_image', base.ADMIN_OR_PROJECT_MEMBER, 'Update an image.',
          [('PATCH', '/v2/images/{image_id}')], deprecated=_DEPRECATED),
    _rule('publicize_image', base.ADMIN, 'Make an image public.',
          [('POST', '/v2/images'), ('PATCH', '/v2/images/{image_id}')]),
    _rule('communitize_image', base.ADMIN_OR_PROJECT_MEMBER,
          'Make an image available to the community.',
          [('POST', '/v2/images'), ('PATCH', '/v2/images/{image_id}')],
          deprecated=_DEPRECATED),
    _rule('upload_image', base.ADMIN_OR_PROJECT_MEMBER,
          'Upload image data.', [('PUT', '/v2/images/{image_id}/file')],
          deprecated=_DEPRECATED),
    _rule('download_image', base.ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE,
          'Download image data.', [('GET', '/v2/images/{image_id}/file')],
          deprecated=''),
    _rule('deactivate', base.ADMIN_OR_PROJECT_MEMBER, 'Deactivate an image.',
          [('POST', '/v2/images/{image_id}/actions/deactivate')],
          deprecated=_DEPRECATED),
    _rule('reactivate', base.ADMIN_OR_PROJECT_MEMBER, 'Reactivate an image.',
          [('POST', '/v2/images/{image_id}/actions/reactivate')],
          deprecated=_DEPRECATED),
    _rule('get_image_location', base.ADMIN_OR_PROJECT_READER,
          'Read the locations of an image.',
          [('GET', '/v2/images/{image_id}')], deprecated=_DEPRECATED),
    _rule('set_image_location', base.ADMIN_OR_PROJECT_MEMBER,
          'Add or replace image locations.',
          [('PATCH', '/v2/images/{image_id}')], deprecated=_DEPRECATED),
    _rule('delete_image_location', base.ADMIN, 'Remove image locations.',
          [('PATCH', '/v2/images/{image_id}')], deprecated=_DEPRECATED),
    _rule('add_image_location', base.SERVICE_OR_PROJECT_MEMBER,
          'Add a location to a queued image (images API 2.17).  A caller '
          'that is not a service may add only the location of an http '
          'store, and only where one is configured.',
          [('POST', '/v2/images/{image_id}/locations')]),
    _rule('fetch_image_location', base.SERVICE,
          'List the locations of an image (images API 2.17).',
          [('GET', '/v2/images/{image_id}/locations')]),
    _rule('copy_image', base.ADMIN,
          'Copy existing image data to more stores (import method '
          'copy-image).', [('POST', '/v2/images/{image_id}/import')]),
]


def list_rules() -> list[policy.DocumentedRuleDefault]:
    """The image rules."""
    return rules
