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


@dataclasses.dataclass(frozen=True, eq=False)
class Kind:
    """One kind of thing a namespace holds, declared once.

    Objects, property definitions, tags and resource type associations are
    all "a named entry inside a namespace"; they differ only in what this
    declaration says, so the API, the policy and notifier layers and the
    database each have one implementation for all four, read from here.
    """

    name: str                   # in schema names and messages: 'object'
    collection: str             # its URL segment: .../{namespace}/objects
    path_var: str               # the URL variable naming one of them
    list_key: str               # the body key holding a list of them
    #: what an entry holds besides its name; None: a free JSON Schema
    #: fragment (a property definition), kept and shown whole
    fields: tuple[str, ...] | None
    rules: dict[str, str]       # operation -> policy rule (upstream names)
    events: dict[str, str]      # operation -> notification event
    timestamps: bool = True     # shown in views and notifications
    renamable: bool = True      # PUT may rename; events carry name_old
    newest_first: bool = False  # listing order (the reference's)
    as_map: bool = False        # listed as {name: entry}
    names_in_lists: bool = False  # lists show only each name
    self_link: bool = False     # views carry their schema and self links
    list_schema: str | None = None  # the schema link a listing carries
    #: created by POST .../{name} without a body; no schema sees those
    #: names, so their length is checked by hand
    named_by_path: bool = False


#: the operations on entries, as rules and events name them: list, get,
#: add, add_many (several at once), save, remove, remove_all
OBJECTS = Kind(
    'object', 'objects', 'object_name', 'objects',
    fields=('description', 'required', 'properties'),
    rules={'list': 'get_metadef_objects', 'get': 'get_metadef_object',
           'add': 'add_metadef_object', 'save': 'modify_metadef_object',
           'remove': 'delete_metadef_object',
           'remove_all': 'delete_metadef_objects'},
    events={'add': 'metadef_object.create', 'save': 'metadef_object.update',
            'remove': 'metadef_object.delete',
            'remove_all': 'metadef_namespace.delete_objects'},
    self_link=True, list_schema='v2/schemas/metadefs/objects')
PROPERTIES = Kind(
    'property', 'properties', 'property_name', 'properties', fields=None,
    rules={'list': 'get_metadef_properties', 'get': 'get_metadef_property',
           'add': 'add_metadef_property', 'save': 'modify_metadef_property',
           'remove': 'remove_metadef_property',
           'remove_all': 'remove_metadef_properties'},
    events={'add': 'metadef_property.create',
            'save': 'metadef_property.update',
            'remove': 'metadef_property.delete',
            'remove_all': 'metadef_namespace.delete_properties'},
    timestamps=False, as_map=True)
TAGS = Kind(
    'tag', 'tags', 'tag_name', 'tags', fields=(),
    rules={'list': 'get_metadef_tags', 'get': 'get_metadef_tag',
           'add': 'add_metadef_tag', 'add_many': 'add_metadef_tags',
           'save': 'modify_metadef_tag', 'remove': 'delete_metadef_tag',
           'remove_all': 'delete_metadef_tags'},
    events={'add': 'metadef_tag.create', 'save': 'metadef_tag.update',
            'remove': 'metadef_tag.delete',
            'remove_all': 'metadef_namespace.delete_tags'},
    newest_first=True, names_in_lists=True, named_by_path=True)
ASSOCIATIONS = Kind(
    'resource_type', 'resource_types', 'name', 'resource_type_associations',
    fields=('prefix', 'properties_target'),
    rules={'list': 'get_metadef_resource_type',
           'get': 'get_metadef_resource_type',
           'add': 'add_metadef_resource_type_association',
           'remove': 'remove_metadef_resource_type_association'},
    events={'add': 'metadef_resource_type.create',
            'remove': 'metadef_resource_type.delete'},
    renamable=False)
#: every kind, in the order a new namespace's contents are created
KINDS = (PROPERTIES, OBJECTS, TAGS, ASSOCIATIONS)


@dataclasses.dataclass
class Item:
    """One entry of a namespace: an object, a property definition, a tag
    or an association with the resource type ``name``."""

    kind: Kind
    namespace: str
    name: str
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    created_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    updated_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    #: the name it was loaded with (None: not stored yet), so a rename can
    #: find its row and notifications can say what it was
    loaded_name: str | None = None

    def shown(self) -> dict[str, Any]:
        """Its values as views show them: the declared fields that are
        set, or a property definition whole."""
        if self.kind.fields is None:
            return dict(self.values)
        return {f: self.values[f] for f in self.kind.fields
                if self.values.get(f) is not None}


def new_item(kind: Kind, namespace: str, entry: dict[str, Any]) -> Item:
    """An entry of ``kind`` from a (validated) request body or catalog
    file entry: its name and the fields the kind declares."""
    if kind.fields is None:
        values = {k: v for k, v in entry.items() if k != 'name'}
    else:
        values = {f: entry.get(f) for f in kind.fields}
    return Item(kind, namespace, entry['name'], values)


def entries(kind: Kind, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of ``kind`` in a namespace document (a create body or a
    catalog file), each with its name (properties come as a map)."""
    if kind.as_map:
        return [dict(definition, name=name) for name, definition in
                (doc.get(kind.list_key) or {}).items()]
    return list(doc.get(kind.list_key) or ())


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
