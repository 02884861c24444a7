"""Property protection layer: the operator's rules on extra properties.

Right below the policy layer: once a caller may change an image at all,
this layer decides which of its extra properties the caller may create,
see, change and remove (``glance.common.property_protections``).
Properties the caller may not read are taken off every image it is handed
and put back before a save, so they are neither shown nor lost.
"""
from __future__ import annotations

from typing import Any

from glance.common import exception
from glance.common import property_protections as protections
from glance.domain.listing import FILTER_COLUMNS, ListQuery
from glance.domain.image import Image
from glance.domain.proxy import Proxy

#: attribute of an image naming the properties its reader may not see (the
#: API leaves them out of every response; they stay on the entity so that
#: no layer below can lose them)
HIDDEN = '_protected_hidden'
#: attribute of an image holding its extra properties as loaded
_LOADED = '_protected_loaded'


def hidden_properties(image: Image) -> frozenset[str]:
    """Names of ``image``'s properties its reader may not see."""
    return getattr(image, HIDDEN, frozenset())


def _refuse(name: str, operation: str) -> exception.Forbidden:
    return exception.Forbidden('Property %r is protected: you may not %s '
                               'it.' % (name, operation))


#: "look the rules up" (a list passes the ones it looked up once)
_UNSET = object()


class ImageRepo(Proxy):
    """Enforces the property protections, when a file is configured."""

    #: writes through which no caller sets a property, and why
    PASSES = dict.fromkeys(
        ('remove', 'deactivate', 'reactivate'),
        'takes the image as loaded; delete_image/deactivate/reactivate '
        'rules decide')
    PASSES.update(dict.fromkeys(
        ('add_location', 'verify_location', 'delete_from_store'),
        'changes locations, hashes and status only'))
    PASSES.update(dict.fromkeys(
        ('begin_upload', 'write_data', 'finish_upload', 'abort_upload',
         'discard_upload', 'discard_partial'),
        'the data path writes status, size, hashes and locations only'))

    def _mark(self, image: Image, rules: Any = _UNSET) -> Image:
        """Note which properties the caller may not read, and the loaded
        values the next save is compared with."""
        if rules is _UNSET:
            rules = protections.current()
        hidden = frozenset() if rules is None else frozenset(
            name for name in image.extra_properties
            if not rules.allows(self.context, name, 'read'))
        setattr(image, HIDDEN, hidden)
        setattr(image, _LOADED, dict(image.extra_properties))
        return image

    def get(self, image_id: str) -> Image:
        return self._mark(self.base.get(image_id))

    def list(self, query: ListQuery) -> list[Image]:
        rules = protections.current()
        if rules is not None and any(
                key not in FILTER_COLUMNS and
                not rules.allows(self.context, key, 'read')
                for key, _op, _value in query.filters):
            # Filtering on a property one cannot read would reveal it.
            return []
        return [self._mark(image, rules) for image in self.base.list(query)]

    def add(self, image: Image) -> Image:
        rules = protections.current()
        if rules is not None:
            for name in image.extra_properties:
                if not rules.allows(self.context, name, 'create'):
                    raise _refuse(name, 'create')
        return self._mark(self.base.add(image))

    def save(self, image: Image, from_state: str | None = None) -> Image:
        self._check(image)
        return self._mark(self.base.save(image, from_state))

    def set_locations(self, image: Image, locations: list[dict]) -> Image:
        """The same PATCH may have changed properties too."""
        self._check(image)
        return self._mark(self.base.set_locations(image, locations))

    def _check(self, image: Image) -> None:
        rules = protections.current()
        if rules is not None:
            self._check_changes(rules, image)

    def _check_changes(self, rules, image: Image) -> None:
        loaded = getattr(image, _LOADED, {})
        hidden = hidden_properties(image)
        now = image.extra_properties
        for name, value in now.items():
            if name in loaded and value == loaded[name]:
                continue
            if name not in loaded or name in hidden:
                # Changing a property one cannot see counts as creating
                # it: the caller must not learn it exists from a refusal.
                if not rules.allows(self.context, name, 'create'):
                    raise _refuse(name, 'create')
            elif not rules.allows(self.context, name, 'update'):
                raise _refuse(name, 'update')
        for name in loaded:
            if name not in now and (
                    name in hidden or
                    not rules.allows(self.context, name, 'delete')):
                raise _refuse(name, 'delete')
