"""What a caller asks of an image list, as the domain states it.

The API builds a ``ListQuery`` from the query string; the layers read it
(the property protections refuse filters on properties the caller cannot
see); the database turns it into SQL.  The vocabulary of filters and sort
keys comes from the field registry (``image_fields``).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from glance.domain import image_fields

#: image columns a list may filter on by name; any other filter key is an
#: extra property (so "deleted" or "deleted_at" never reach the columns)
FILTER_COLUMNS = image_fields.FILTER_COLUMNS
#: the sort keys callers may name
SORT_KEYS = image_fields.SORT_KEYS


@dataclasses.dataclass
class ListQuery:
    """A validated list request, as the API deserializer builds it."""

    #: (key, op, value): key is a core column or an extra property name
    filters: list[tuple[str, str, Any]] = dataclasses.field(
        default_factory=list)
    tags: list[str] = dataclasses.field(default_factory=list)
    visibility: str | None = None
    member_status: str = 'accepted'
    os_hidden: bool | None = None
    marker: str | None = None
    limit: int | None = None
    sort: list[tuple[str, str]] = dataclasses.field(
        default_factory=lambda: [('created_at', 'desc')])
