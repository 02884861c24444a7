"""Metadata definitions: the catalog of properties operators may set on
images, flavors, volumes... grouped in namespaces.

A namespace holds property definitions, objects (named groups of property
definitions), tags, and associations with the resource types it applies
to; an association may carry a prefix that the properties take on that
resource type (``hw_`` on images, ``hw:`` on flavors).  Definitions are
plain JSON Schema fragments and stay plain dicts here.
"""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from glance.common import exception
from glance.domain.image import utcnow

VISIBILITIES = ('public', 'private')
#: what the namespace list may be sorted by
SORT_KEYS = ('created_at', 'updated_at', 'namespace', 'id')


@dataclasses.dataclass
class Namespace:
    """One namespace of definitions."""

    namespace: str
    display_name: str | None = None
    description: str | None = None
    visibility: str = 'private'
    protected: bool = False
    owner: str | None = None
    created_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    updated_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    #: the name the namespace was loaded with (None: not stored yet), so a
    #: rename can find its row and notifications can say what it was
    loaded_name: str | None = None

    def check_deletable(self) -> None:
        """A protected namespace keeps itself and its contents (403)."""
        if self.protected:
            raise exception.Forbidden(
                'Namespace %s is protected; unprotect it first.'
                % self.namespace)


@dataclasses.dataclass
class MetadefObject:
    """A named group of property definitions inside a namespace."""

    namespace: str
    name: str
    description: str | None = None
    required: list[str] | None = None
    properties: dict[str, Any] | None = None
    created_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    updated_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    loaded_name: str | None = None


@dataclasses.dataclass
class MetadefProperty:
    """One property definition: ``schema`` is the JSON Schema fragment
    (title, type, enum...) without the name."""

    namespace: str
    name: str
    schema: dict[str, Any]
    loaded_name: str | None = None


@dataclasses.dataclass
class MetadefTag:
    """A tag a namespace suggests for resources."""

    namespace: str
    name: str
    created_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    updated_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    loaded_name: str | None = None


@dataclasses.dataclass
class ResourceTypeAssociation:
    """A namespace applies to resource type ``name`` (with ``prefix``)."""

    namespace: str
    name: str
    prefix: str | None = None
    properties_target: str | None = None
    created_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    updated_at: datetime.datetime = dataclasses.field(default_factory=utcnow)


@dataclasses.dataclass
class ResourceType:
    """A kind of resource definitions can apply to (OS::Glance::Image)."""

    name: str
    created_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    updated_at: datetime.datetime = dataclasses.field(default_factory=utcnow)


@dataclasses.dataclass
class NamespaceQuery:
    """What GET /v2/metadefs/namespaces asks for."""

    limit: int
    marker: str | None = None
    sort_key: str = 'created_at'
    sort_dir: str = 'desc'
    visibility: str | None = None
    resource_types: list[str] = dataclasses.field(default_factory=list)
