"""Metadata definitions: the catalog of properties operators may set on
images, flavors, volumes... grouped in namespaces.

A namespace holds property definitions (plain JSON Schema fragments),
objects (named groups of them), tags, and associations with the resource
types it applies to, each maybe with a prefix its properties take there
(``hw_`` on images).  All five are "a named thing with a few fields" and
differ only in what their ``Kind`` declares below, so the API, the layers
and the database each have one implementation for all of them.
"""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from glance.common import exception
from glance.domain.image import utcnow

#: what the namespace list may be sorted by
SORT_KEYS = ('created_at', 'updated_at', 'namespace', 'id')
#: operation -> the verb of the event it sends (metadef_<kind>.<verb>)
VERBS = {'add': 'create', 'save': 'update', 'remove': 'delete'}
#: operation -> (HTTP method, whether its URL names one entry, the API
#: controller's action).  Both the route table and the rules' documentation
#: are read from this and each kind's ``rules``.
CALLS = {'list': ('GET', False, 'index'), 'get': ('GET', True, 'show'),
         'add': ('POST', False, 'create'),
         'add_many': ('POST', False, 'create_many'),
         'save': ('PUT', True, 'update'), 'remove': ('DELETE', True, 'delete'),
         'remove_all': ('DELETE', False, 'delete_all')}


@dataclasses.dataclass(frozen=True, eq=False)
class Kind:
    """One kind of metadata definition, declared once."""

    name: str                   # in schema names, events, messages
    collection: str             # its URL segment: .../{namespace}/objects
    path_var: str               # the URL variable naming one of them
    list_key: str               # the body key holding a list of them
    #: what one holds besides its name; None: a free JSON Schema
    #: fragment (a property definition), kept and shown whole
    fields: tuple[str, ...] | None
    #: operation (a key of ``CALLS``) -> policy rule (upstream's names):
    #: the calls the API offers on the kind
    rules: dict[str, str]
    name_key: str = 'name'      # the key (and column) holding its name
    #: values of fields a body leaves out
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)
    kept: tuple[str, ...] = ()  # fields a replacing PUT keeps unless given
    timestamps: bool = True     # shown in views and notifications
    renamable: bool = True      # PUT may rename; events carry <name>_old
    newest_first: bool = False  # listing order (the reference's)
    as_map: bool = False        # listed as {name: entry}
    names_in_lists: bool = False  # lists show only each name
    self_link: bool = False     # views carry their schema and self links
    list_schema: str | None = None  # the schema link a listing carries
    #: created by POST .../{name} without a body; no schema sees those
    #: names, so their length is checked by hand
    named_by_path: bool = False

    def call(self, operation: str) -> tuple[str, str, str]:
        """(HTTP method, URL template, API action) of ``operation``."""
        method, one, action = CALLS[operation]
        url = '/v2/metadefs/namespaces'
        if self.name != 'namespace':
            url += '/{namespace}/' + self.collection
        if one or self.named_by_path and operation == 'add':
            url += '/{%s}' % self.path_var
        return method, url, action

    def rule(self, operation: str) -> str:
        """The policy rule of ``operation``.  An association has no call
        to read one alone: it is read (to delete it) under its list's."""
        if operation == 'get' and 'get' not in self.rules:
            return self.rules['list']
        return self.rules[operation]

    def event(self, operation: str) -> str:
        """The notification a change sends (``metadef_object.create``,
        ``metadef_namespace.delete_tags``)."""
        if operation == 'remove_all':
            return 'metadef_namespace.delete_%s' % self.collection
        return 'metadef_%s.%s' % (self.name, VERBS[operation])


NAMESPACES = Kind(
    'namespace', 'namespaces', 'namespace', 'namespaces',
    fields=('display_name', 'description', 'visibility', 'protected',
            'owner'),
    rules={'list': 'get_metadef_namespaces', 'get': 'get_metadef_namespace',
           'add': 'add_metadef_namespace', 'save': 'modify_metadef_namespace',
           'remove': 'delete_metadef_namespace'},
    name_key='namespace', defaults={'visibility': 'private',
                                    'protected': False},
    kept=('owner',), self_link=True)
OBJECTS = Kind(
    'object', 'objects', 'object_name', 'objects',
    fields=('description', 'required', 'properties'),
    rules={'list': 'get_metadef_objects', 'get': 'get_metadef_object',
           'add': 'add_metadef_object', 'save': 'modify_metadef_object',
           'remove': 'delete_metadef_object',
           'remove_all': 'delete_metadef_objects'},
    self_link=True, list_schema='v2/schemas/metadefs/objects')
PROPERTIES = Kind(
    'property', 'properties', 'property_name', 'properties', fields=None,
    rules={'list': 'get_metadef_properties', 'get': 'get_metadef_property',
           'add': 'add_metadef_property', 'save': 'modify_metadef_property',
           'remove': 'remove_metadef_property',
           'remove_all': 'remove_metadef_properties'},
    timestamps=False, as_map=True)
TAGS = Kind(
    'tag', 'tags', 'tag_name', 'tags', fields=(),
    rules={'list': 'get_metadef_tags', 'get': 'get_metadef_tag',
           'add': 'add_metadef_tag', 'add_many': 'add_metadef_tags',
           'save': 'modify_metadef_tag', 'remove': 'delete_metadef_tag',
           'remove_all': 'delete_metadef_tags'},
    newest_first=True, names_in_lists=True, named_by_path=True)
#: an association's name is its resource type's; listed without a
#: namespace, associations stand for the resource types themselves
ASSOCIATIONS = Kind(
    'resource_type', 'resource_types', 'name', 'resource_type_associations',
    fields=('prefix', 'properties_target'),
    rules={'list': 'get_metadef_resource_type',
           'add': 'add_metadef_resource_type_association',
           'remove': 'remove_metadef_resource_type_association'},
    renamable=False)
#: every kind; after namespaces, what a namespace holds, in the order a
#: new namespace's contents are created
KINDS = (NAMESPACES, PROPERTIES, OBJECTS, TAGS, ASSOCIATIONS)
CONTENTS = KINDS[1:]


@dataclasses.dataclass
class Item:
    """One namespace (``namespace`` None, its name in ``name``), or one
    entry of the namespace ``namespace``: an object, a property
    definition, a tag or an association with the resource type ``name``."""

    kind: Kind
    namespace: str | None
    name: str
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    created_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    updated_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    #: the name it was loaded with (None: not stored yet), so a rename can
    #: find its row and notifications can say what it was
    loaded_name: str | None = None

    def shown(self) -> dict[str, Any]:
        """Its values as views show them: the fields set, or a property
        definition whole."""
        if self.kind.fields is None:
            return dict(self.values)
        return {f: self.values[f] for f in self.kind.fields
                if self.values.get(f) is not None}

    def check_deletable(self) -> None:
        """A protected namespace keeps itself and its contents (403)."""
        if self.values.get('protected'):
            raise exception.Forbidden(
                'Namespace %s is protected; unprotect it first.' % self.name)


def new_item(kind: Kind, namespace: str | None,
             entry: dict[str, Any]) -> Item:
    """An entry of ``kind`` from a request body or a catalog file: its
    name (None if none, for the API to refuse) and the kind's fields."""
    if kind.fields is None:
        values = {k: v for k, v in entry.items() if k != kind.name_key}
    else:
        values = {f: entry.get(f, kind.defaults.get(f)) for f in kind.fields}
    return Item(kind, namespace, entry.get(kind.name_key), values)


def contents(namespace: str, doc: dict[str, Any]) -> dict[Kind, list[Item]]:
    """The entries of each kind a namespace document (a create body or a
    catalog file) lists."""
    found = {}
    for kind in CONTENTS:
        listed = doc.get(kind.list_key) or ({} if kind.as_map else [])
        if kind.as_map:     # {name: definition}
            listed = [dict(d, name=name) for name, d in listed.items()]
        found[kind] = [new_item(kind, namespace, e) for e in listed]
    return found


def add_contents(repo: Any, ns: Item, found: dict[Kind, list[Item]]
                 ) -> dict[Kind, list[Item]]:
    """Store entries in ``ns`` through ``repo``: at once for a kind with a
    rule for that (tags), else one by one, so policy and notifications
    judge them as the API's own calls would."""
    added = {}
    for kind, items in found.items():
        if items and 'add_many' in kind.rules:
            added[kind] = repo.add_items(kind, ns, items)
        else:
            added[kind] = [repo.add_item(ns, i) for i in items]
    return added


@dataclasses.dataclass
class NamespaceQuery:
    """What GET /v2/metadefs/namespaces asks for."""

    limit: int
    marker: str | None = None
    sort_key: str = 'created_at'
    sort_dir: str = 'desc'
    visibility: str | None = None
    resource_types: list[str] = dataclasses.field(default_factory=list)
