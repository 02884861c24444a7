"""JSON-patch updates of images (the two media types of the Images API).

``parse`` checks the request's shape; ``apply`` changes the domain image,
checking each target property's rules and the result against the schema.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from oslo_config import cfg

from glance.common import exception, wsgi
from glance.domain import image as domain
from glance.schemas import image as image_schemas
from glance import schemas

CONF = cfg.CONF

MEDIA_TYPES = ('application/openstack-images-v2.1-json-patch',
               'application/openstack-images-v2.0-json-patch')
OPS = ('add', 'replace', 'remove')
#: core fields a patch may never remove (they always exist)
NOT_REMOVABLE = frozenset({'name', 'visibility', 'protected', 'os_hidden',
                           'min_disk', 'min_ram', 'container_format',
                           'disk_format', 'owner', 'tags', 'id'})
SETTABLE_CORE = ('name', 'visibility', 'protected', 'os_hidden', 'min_disk',
                 'min_ram', 'container_format', 'disk_format', 'owner')


@dataclasses.dataclass
class Change:
    op: str
    name: str
    value: Any = None


def _decode_path(path: Any) -> str:
    if not isinstance(path, str) or not path.startswith('/') or path == '/':
        raise exception.InvalidJsonPatchPath(
            path=path, explanation='a path is "/" and a property name')
    parts = path[1:].split('/')
    name = parts[0].replace('~1', '/').replace('~0', '~')
    if len(parts) > 1 and name != 'locations':
        raise exception.InvalidJsonPatchPath(
            path=path, explanation='nested paths are only valid under '
                                   '/locations')
    return name if len(parts) == 1 else path[1:]


def _change_v21(raw: dict) -> Change:
    op = raw.get('op')
    if op not in OPS:
        raise exception.BadRequest(
            'Operation objects must have an "op" of add, replace or remove.')
    if 'path' not in raw:
        raise exception.BadRequest('Operation objects must have a "path".')
    name = _decode_path(raw['path'])
    if op != 'remove' and 'value' not in raw:
        raise exception.BadRequest('Operation "%s" needs a "value".' % op)
    return Change(op, name, raw.get('value'))


def _change_v20(raw: dict) -> Change:
    ops = [op for op in OPS if op in raw]
    if len(ops) != 1:
        raise exception.BadRequest(
            'Operation objects must have exactly one of add, replace or '
            'remove as their key.')
    op = ops[0]
    name = _decode_path(raw[op])
    if op != 'remove' and 'value' not in raw:
        raise exception.BadRequest('Operation "%s" needs a "value".' % op)
    return Change(op, name, raw.get('value'))


def parse(request: wsgi.Request) -> list[Change]:
    """The changes of a PATCH request; 415 for other media types."""
    media_type = request.content_type
    if media_type not in MEDIA_TYPES:
        raise exception.UnsupportedMediaType(
            'Use one of the media types %s for PATCH.'
            % ', '.join(MEDIA_TYPES))
    body = request.json_body_or_400()
    if not isinstance(body, list):
        raise exception.BadRequest('A JSON-patch body is a list of '
                                   'operation objects.')
    make = _change_v21 if media_type == MEDIA_TYPES[0] else _change_v20
    changes = []
    for raw in body:
        if not isinstance(raw, dict):
            raise exception.BadRequest('Each operation must be an object.')
        changes.append(make(raw))
    return changes


def _view(image: domain.Image) -> dict[str, Any]:
    view = dict(image.extra_properties)
    for key in SETTABLE_CORE:
        view[key] = getattr(image, key)
    view['tags'] = sorted(image.tags)
    return view


def apply(image: domain.Image, changes: list[Change]) -> None:
    """Apply ``changes`` to ``image`` or raise without changing it."""
    view = _view(image)
    for change in changes:
        name = change.name
        if name.startswith('locations'):
            raise exception.Forbidden(
                'Image locations cannot be changed through this API with '
                'the current configuration.')
        domain.check_settable(name, creating=False)
        if change.op == 'remove':
            if name in NOT_REMOVABLE:
                raise exception.Forbidden(
                    'Property %s cannot be removed.' % name)
            if name not in view:
                raise exception.Conflict(
                    'Property %s does not exist.' % name)
            del view[name]
        elif change.op == 'replace' and name not in view:
            raise exception.Conflict('Property %s does not exist.' % name)
        else:
            view[name] = change.value
    # Only what changed is validated: stored values were checked on entry.
    before = _view(image)
    changed = {k: v for k, v in view.items()
               if k not in before or before[k] != v}
    schemas.validate(image_schemas.image_schema(), changed)
    domain.check_values(changed)
    for key in SETTABLE_CORE:
        setattr(image, key, view.pop(key))
    image.tags = set(view.pop('tags'))
    image.extra_properties = view
