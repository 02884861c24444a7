"""JSON-patch updates of images (the two media types of the Images API).

``parse`` checks the request's shape; ``apply`` first checks every
operation on its own (may its target be set, does its value fit the
schema) and only then changes the domain image, so a refused patch leaves
the image as it was.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from oslo_config import cfg

from glance.common import exception, wsgi
from glance.domain import image as domain
from glance.domain import image_fields
from glance.layers import location as location_layer
from glance.schemas import image as image_schemas
from glance import schemas

CONF = cfg.CONF

MEDIA_TYPES = ('application/openstack-images-v2.1-json-patch',
               'application/openstack-images-v2.0-json-patch')
OPS = ('add', 'replace', 'remove')
#: core fields a patch may never remove (they always exist)
NOT_REMOVABLE = image_fields.NOT_REMOVABLE
#: columns a PATCH sets as plain values
SETTABLE_CORE = image_fields.SETTABLE_COLUMNS
#: names that were image columns once; as properties they would mislead
#: every client that still knows them, so neither create nor PATCH takes them
RESERVED_NAMES = frozenset({'location', 'deleted', 'deleted_at'})


def check_name(name: str, creating: bool) -> None:
    """Raise 403 unless a caller may set (or remove) property ``name``."""
    domain.check_settable(name, creating=creating)
    if name in RESERVED_NAMES:
        raise exception.ReservedProperty(property=name)


@dataclasses.dataclass
class Change:
    """One operation: ``name`` is the property; ``index`` the position in
    a list property ("/locations/1" or "/locations/-"), else None."""

    op: str
    name: str
    value: Any = None
    index: str | None = None


def _decode_path(path: Any) -> tuple[str, str | None]:
    """The property a JSON pointer names, and the list index if any.

    Pointer tokens are unescaped (``~1`` is "/", ``~0`` is "~") and trimmed;
    any other use of "~", empty tokens and deeper paths are refused.
    """
    if not isinstance(path, str) or not path.startswith('/'):
        raise exception.InvalidJsonPatchPath(
            path=path, explanation='a path is "/" and a property name')
    if re.search('~(?![01])', path):
        raise exception.InvalidJsonPatchPath(
            path=path, explanation='"~" must be escaped as "~0"')
    parts = [p.replace('~1', '/').replace('~0', '~').strip()
             for p in path[1:].split('/')]
    if not all(parts):
        raise exception.InvalidJsonPatchPath(
            path=path, explanation='a path names a property and may not '
                                   'have empty parts')
    if len(parts) > 1 and parts[0] != 'locations':
        raise exception.InvalidJsonPatchPath(
            path=path, explanation='nested paths are only valid under '
                                   '/locations')
    return parts[0], parts[1] if len(parts) > 1 else None


def _change_v21(raw: dict) -> Change:
    op = raw.get('op')
    if op not in OPS:
        raise exception.BadRequest(
            'Operation objects must have an "op" of add, replace or remove.')
    if 'path' not in raw:
        raise exception.BadRequest('Operation objects must have a "path".')
    name, index = _decode_path(raw['path'])
    if op != 'remove' and 'value' not in raw:
        raise exception.BadRequest('Operation "%s" needs a "value".' % op)
    return Change(op, name, raw.get('value'), index)


def _change_v20(raw: dict) -> Change:
    ops = [op for op in OPS if op in raw]
    if len(ops) != 1:
        raise exception.BadRequest(
            'Operation objects must have exactly one of add, replace or '
            'remove as their key.')
    op = ops[0]
    name, index = _decode_path(raw[op])
    if op != 'remove' and 'value' not in raw:
        raise exception.BadRequest('Operation "%s" needs a "value".' % op)
    return Change(op, name, raw.get('value'), index)


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


def _check(change: Change) -> None:
    """Refuse a change on its own: its target (403) or its value (400)."""
    name = change.name
    check_name(name, creating=False)
    if change.op == 'remove':
        return
    # "/locations/N" adds one location: validate it as a list of one.
    value = change.value if change.index is None else [change.value]
    schemas.check(image_schemas.image_validator(), {name: value})
    domain.check_values({name: value})


def _patch_locations(locations: list[dict], change: Change) -> list[dict]:
    """The location list after one change to /locations or /locations/N.

    Only allowed where the operator shows locations
    (``show_multiple_locations``); the location layer checks the URLs.
    """
    if not CONF.show_multiple_locations:
        raise exception.Forbidden(
            'Image locations cannot be changed through this API with '
            'the current configuration.')
    if change.index is None:
        if change.op == 'add':
            raise exception.BadRequest('Add locations one at a time, with '
                                       'the path /locations/- or '
                                       '/locations/N.')
        if change.op == 'remove':
            raise exception.Forbidden('Property locations cannot be '
                                      'removed.')
        return [dict(loc) for loc in change.value]
    size = len(locations) + (1 if change.op == 'add' else 0)
    if change.index == '-' and change.op == 'add':
        position = len(locations)
    else:
        try:
            position = int(change.index)
        except ValueError:
            position = -1
        if not 0 <= position < size or change.index != str(position):
            raise exception.BadRequest('Invalid location index %s.'
                                       % change.index)
    out = list(locations)
    if change.op == 'add':
        out.insert(position, dict(change.value))
    elif change.op == 'remove':
        del out[position]
    else:
        out[position] = dict(change.value)
    return out


#: fields that describe the data: fixed once data has arrived
DATA_FORMATS = ('disk_format', 'container_format')


def _check_format_change(image: domain.Image, name: str) -> None:
    """The formats describe the data; once there is data (or it is on its
    way) they stay, as in the reference service (403)."""
    if name in DATA_FORMATS and image.status != 'queued':
        raise exception.Forbidden('Property %s can be only replaced for a '
                                  'queued image.' % name)


def apply(image: domain.Image, changes: list[Change]) -> list[dict] | None:
    """Apply ``changes`` to ``image`` or raise without changing it.

    Every change is checked before any is applied, so the first refused
    target or value is reported even after an operation that would fail
    later (as a missing property does, with 409).  Location changes are
    not applied: the new list of locations is returned (None if the patch
    leaves them alone) for the repository's ``set_locations``.
    """
    for change in changes:
        _check(change)
    view = _view(image)
    locations = None
    for change in changes:
        name = change.name
        if name == 'locations':
            if locations is None:
                locations = location_layer.location_views(image)
            locations = _patch_locations(locations, change)
            continue
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
            _check_format_change(image, name)
            view[name] = change.value
            if name == 'visibility':
                image.requested_visibilities.add(change.value)
    for key in SETTABLE_CORE:
        setattr(image, key, view.pop(key))
    image.tags = set(view.pop('tags'))
    image.extra_properties = view
    return locations
