"""The metadata definitions repository: domain objects in and out.

Entries are always addressed through the namespace the caller was allowed
to load, so the layers above see that namespace (its owner and visibility
are what policy decides on).  Deletions inside a protected namespace are
refused here, at the bottom, so no layer can skip it.  One implementation
serves every kind of entry (``glance.domain.metadef.KINDS``); only an
association, whose name is the resource type's, has SQL of its own.
"""
from __future__ import annotations

import json
from typing import Any

from glance.common import exception
from glance.db.sqlalchemy import metadefs as db
from glance.db.sqlalchemy import models
from glance.domain.metadef import (ASSOCIATIONS, Item, Kind, Namespace,
                                   NamespaceQuery, ResourceType)

_NS_FIELDS = ('namespace', 'display_name', 'description', 'visibility',
              'protected', 'owner')
#: the table of each kind whose rows carry their own name
MODELS = {'object': models.MetadefObject, 'property': models.MetadefProperty,
          'tag': models.MetadefTag}
#: kind -> {field: (column, empty)}: a field whose ``empty`` is not None is
#: stored as JSON text, and an empty column reads back as ``empty``.  A
#: property definition (no declared fields) is JSON in ``json_schema``.
COLUMNS: dict[str, dict[str, tuple[str, Any]]] = {
    'object': {'description': ('description', None),
               'required': ('required', []),
               'properties': ('json_schema', {})},
    'tag': {},
    'resource_type': {'prefix': ('prefix', None),
                      'properties_target': ('properties_target', None)},
}


def _columns(kind: Kind, name: str, values: dict[str, Any]
             ) -> dict[str, Any]:
    """The row values of an entry."""
    if kind.fields is None:
        return {'name': name, 'json_schema': json.dumps(values)}
    out = {'name': name}
    for field, (column, empty) in COLUMNS[kind.name].items():
        value = values.get(field)
        out[column] = value if empty is None else json.dumps(value or empty)
    return out


def _values(kind: Kind, row) -> dict[str, Any]:
    if kind.fields is None:
        return json.loads(row.json_schema)
    out = {}
    for field, (column, empty) in COLUMNS[kind.name].items():
        value = getattr(row, column)
        out[field] = value if empty is None else (
            json.loads(value) if value else type(empty)())
    return out


def _item(kind: Kind, namespace: str, row, name: str | None = None) -> Item:
    name = name or row.name
    return Item(kind, namespace, name, _values(kind, row),
                created_at=row.created_at,
                updated_at=row.updated_at or row.created_at,
                loaded_name=name)


def _stored(item: Item, row) -> Item:
    """``item`` as just written: the row's timestamps, its name loaded."""
    item.created_at, item.updated_at = row.created_at, row.updated_at
    item.loaded_name = item.name
    return item


def _namespace(row) -> Namespace:
    return Namespace(**{f: getattr(row, f) for f in _NS_FIELDS},
                     created_at=row.created_at,
                     updated_at=row.updated_at or row.created_at,
                     loaded_name=row.namespace)


class MetadefRepo:
    """The catalog as the database holds it."""

    def __init__(self, context):
        self.context = context

    # namespaces
    def get_namespace(self, name: str) -> Namespace:
        return _namespace(db.get_namespace(name))

    def list_namespaces(self, query: NamespaceQuery,
                        all_projects: bool = False) -> list[Namespace]:
        """A page of the namespaces the caller's project may see
        (``all_projects``: every namespace, for administrators)."""
        return [_namespace(r) for r in db.list_namespaces(
            limit=query.limit, marker=query.marker, sort_key=query.sort_key,
            sort_dir=query.sort_dir, visibility=query.visibility,
            resource_types=query.resource_types,
            project_id=self.context.project_id, all_projects=all_projects)]

    def add_namespace(self, ns: Namespace) -> Namespace:
        values = {f: getattr(ns, f) for f in _NS_FIELDS}
        return _namespace(db.create_namespace(
            dict(values, created_at=ns.created_at,
                 updated_at=ns.updated_at)))

    def save_namespace(self, ns: Namespace) -> Namespace:
        return _namespace(db.update_namespace(
            ns.loaded_name or ns.namespace,
            {f: getattr(ns, f) for f in _NS_FIELDS}))

    def remove_namespace(self, ns: Namespace) -> Namespace:
        ns.check_deletable()
        db.delete_namespace(ns.loaded_name or ns.namespace)
        return ns

    # entries of every kind
    def list_items(self, kind: Kind, ns: Namespace) -> list[Item]:
        """The namespace's entries of ``kind``, in the kind's order."""
        if kind is ASSOCIATIONS:
            return self.list_associations([ns])[ns.namespace]
        return [_item(kind, ns.namespace, r) for r in db.list_children(
            MODELS[kind.name], ns.namespace, kind.newest_first)]

    def get_item(self, kind: Kind, ns: Namespace, name: str) -> Item:
        """One entry; 404 if the namespace has none of that name."""
        if kind is not ASSOCIATIONS:
            return _item(kind, ns.namespace, db.get_child(
                MODELS[kind.name], ns.namespace, name))
        for assoc in self.list_items(kind, ns):
            if assoc.name == name:
                return assoc
        raise exception.NotFound('Namespace %s has no association with '
                                 'resource type %s.' % (ns.namespace, name))

    def add_item(self, ns: Namespace, item: Item) -> Item:
        """Store a new entry; 409 if its name is taken."""
        if item.kind is ASSOCIATIONS:
            return _stored(item, db.create_association(
                ns.namespace, item.name, **item.values))
        return self.add_items(item.kind, ns, [item])[0]

    def add_items(self, kind: Kind, ns: Namespace, items: list[Item],
                  append: bool = True) -> list[Item]:
        """Store entries (all or none); unless ``append``, they replace
        the namespace's entries of ``kind``."""
        rows = db.create_children(
            MODELS[kind.name], ns.namespace,
            [_columns(kind, i.name, i.values) for i in items],
            replace=not append)
        return [_stored(i, r) for i, r in zip(items, rows)]

    def save_item(self, ns: Namespace, item: Item) -> Item:
        """Store a changed (maybe renamed) entry; 409 onto a taken name."""
        return _stored(item, db.update_child(
            MODELS[item.kind.name], ns.namespace,
            item.loaded_name or item.name,
            _columns(item.kind, item.name, item.values)))

    def remove_item(self, ns: Namespace, item: Item) -> Item:
        ns.check_deletable()
        if item.kind is ASSOCIATIONS:
            db.delete_association(ns.namespace, item.name)
        else:
            db.delete_child(MODELS[item.kind.name], ns.namespace,
                            item.loaded_name or item.name)
        return item

    def remove_all(self, kind: Kind, ns: Namespace) -> Namespace:
        """Delete every entry of ``kind`` in the namespace."""
        ns.check_deletable()
        db.delete_children(MODELS[kind.name], ns.namespace)
        return ns

    # resource types
    def list_resource_types(self) -> list[ResourceType]:
        return [ResourceType(name=r.name, created_at=r.created_at,
                             updated_at=r.updated_at or r.created_at)
                for r in db.list_resource_types()]

    def list_associations(self, namespaces: list[Namespace]
                          ) -> dict[str, list[Item]]:
        """Each namespace's associations (by namespace name), oldest
        first."""
        out: dict[str, list[Item]] = {ns.namespace: [] for ns in namespaces}
        for ns_name, row, name in db.list_associations(list(out)):
            out[ns_name].append(_item(ASSOCIATIONS, ns_name, row, name))
        return out
