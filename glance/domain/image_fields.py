"""The core fields of an image, declared once.

Each field says what it is to every part of the service: whether it is a
column of the image row, whether callers may set it (on create and with
PATCH, or on create only), whether lists sort or filter on it and how, and
how the API view shows it.  The entity's rules, the database mapping, the
list query vocabulary, the PATCH rules, the view and the notification
payload all read this table, so adding a core property means adding a row
here, a column to the model, a migration and the schema.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from glance.common import timeutils


@dataclasses.dataclass(frozen=True)
class Field:
    """One core field, by its API name."""

    name: str
    #: the entity attribute holding it (None: computed for the view only)
    attr: str | None = ''
    #: a column of the images table
    column: bool = True
    #: callers set it on create and change it with PATCH
    settable: bool = False
    #: callers set it on create only
    create_only: bool = False
    #: changed through rules of its own (PATCH of /locations), not as a
    #: plain value, yet not read-only either
    own_rules: bool = False
    #: a sort key of GET /v2/images
    sortable: bool = False
    #: how GET /v2/images filters on it: 'in' (eq or in:), 'eq', 'int',
    #: 'bool', 'date' (with comparison operators); None: not a filter
    filter: str | None = None
    #: a timestamp (shown in ISO 8601)
    time: bool = False

    @property
    def attribute(self) -> str | None:
        return self.name if self.attr == '' else self.attr

    @property
    def readonly(self) -> bool:
        """Shown to callers, never set by them."""
        return not (self.settable or self.create_only or self.own_rules)


FIELDS: tuple[Field, ...] = (
    Field('id', attr='image_id', create_only=True, sortable=True,
          filter='in'),
    Field('name', settable=True, sortable=True, filter='in'),
    Field('status', sortable=True, filter='in'),
    Field('visibility', settable=True),
    Field('owner', settable=True, filter='eq'),
    Field('protected', settable=True, filter='bool'),
    Field('os_hidden', settable=True),
    Field('min_disk', settable=True, filter='int'),
    Field('min_ram', settable=True, filter='int'),
    Field('container_format', settable=True, sortable=True, filter='in'),
    Field('disk_format', settable=True, sortable=True, filter='in'),
    Field('size', sortable=True, filter='int'),
    Field('virtual_size', filter='int'),
    Field('checksum', filter='eq'),
    Field('os_hash_algo', filter='eq'),
    Field('os_hash_value', filter='eq'),
    Field('created_at', sortable=True, filter='date', time=True),
    Field('updated_at', sortable=True, filter='date', time=True),
    Field('tags', column=False, settable=True),
    Field('locations', column=False, own_rules=True),
    # computed for the view from the locations and the image's id
    Field('direct_url', attr=None, column=False),
    Field('stores', attr=None, column=False),
    Field('self', attr=None, column=False),
    Field('file', attr=None, column=False),
    Field('schema', attr=None, column=False),
)
BY_NAME = {f.name: f for f in FIELDS}
_COLUMNS = tuple(f for f in FIELDS if f.column)

#: every core field's API name; any other key is an extra property
NAMES = frozenset(BY_NAME)
#: fields callers may read but never set
READONLY = frozenset(f.name for f in FIELDS if f.readonly)
#: fields callers may set on create only
CREATE_ONLY = frozenset(f.name for f in FIELDS if f.create_only)
#: columns a save may write (id and the timestamps are the database's)
STORED = tuple(f.name for f in FIELDS
               if f.column and not f.create_only and not f.time)
#: columns callers set, as entity attributes of the same names
SETTABLE_COLUMNS = tuple(f.name for f in FIELDS if f.column and f.settable)
#: core fields a PATCH may never remove (they always exist)
NOT_REMOVABLE = frozenset(f.name for f in FIELDS
                          if f.settable or f.create_only)
#: sort keys of GET /v2/images
SORT_KEYS = tuple(f.name for f in FIELDS if f.sortable)
#: columns GET /v2/images filters on by name
FILTER_COLUMNS = frozenset(f.name for f in FIELDS if f.filter)


def filtered(kind: str) -> tuple[str, ...]:
    """The filter fields of one kind ('in', 'eq', 'int', 'bool', 'date')."""
    return tuple(f.name for f in FIELDS if f.filter == kind)


def columns() -> tuple[Field, ...]:
    """The fields stored as columns of the image row, id first."""
    return _COLUMNS


#: (API name, entity attribute, a timestamp) of each column field
_SHOWN = tuple((f.name, f.attribute, f.time) for f in _COLUMNS)


def column_values(image: Any) -> dict[str, Any]:
    """The column fields of an image by their API names, timestamps in
    ISO 8601: what the API view and the notifications show of them."""
    return {name: timeutils.isotime(getattr(image, attribute)) if time
            else getattr(image, attribute)
            for name, attribute, time in _SHOWN}
