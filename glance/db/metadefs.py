"""The metadata definitions repository: domain entries in and out.

One implementation serves every kind (``glance.domain.metadef.KINDS``),
namespaces included; what differs is the table and columns declared here.
An entry is addressed through the namespace the caller was allowed to load
(``ns``; None for a namespace itself), so the layers above see that
namespace (its owner and visibility are what policy decides on).
Deletions inside a protected namespace are refused here, at the bottom,
so no layer can skip it.
"""
from __future__ import annotations

import json
from typing import Any

from glance.common import exception
from glance.db.sqlalchemy import metadefs as db
from glance.db.sqlalchemy import models
from glance.domain.metadef import (ASSOCIATIONS, NAMESPACES, Item, Kind,
                                   NamespaceQuery)

#: the table of each kind that has a row of its own (an association is a
#: link between a namespace and a resource type)
TABLES = {'namespace': models.MetadefNamespace,
          'object': models.MetadefObject, 'property': models.MetadefProperty,
          'tag': models.MetadefTag}
#: (kind, field) -> (column, what an empty column reads as) for the fields
#: stored as JSON text.  Any other field is the column of its name, the
#: name is in the column the kind calls it by, and a property definition
#: is JSON in ``json_schema`` whole.
JSON_FIELDS = {('object', 'required'): ('required', []),
               ('object', 'properties'): ('json_schema', {})}


def _columns(item: Item) -> dict[str, Any]:
    """The row values of an entry."""
    kind = item.kind
    if kind.fields is None:
        return {'name': item.name, 'json_schema': json.dumps(item.values)}
    out = {kind.name_key: item.name}
    for field in kind.fields:
        column, empty = JSON_FIELDS.get((kind.name, field), (field, None))
        value = item.values.get(field)
        out[column] = value if empty is None else json.dumps(value or empty)
    return out


def _item(kind: Kind, namespace: str | None, row,
          name: str | None = None) -> Item:
    """The entry a row holds (an association's name comes beside it)."""
    if kind.fields is None:
        values = json.loads(row.json_schema)
    else:
        values = {}
        for field in kind.fields:
            column, empty = JSON_FIELDS.get((kind.name, field), (field, None))
            value = getattr(row, column)
            values[field] = value if empty is None else (
                json.loads(value) if value else type(empty)())
    name = name or getattr(row, kind.name_key)
    return Item(kind, namespace, name, values, created_at=row.created_at,
                updated_at=row.updated_at or row.created_at,
                loaded_name=name)


def _stored(item: Item, row) -> Item:
    """``item`` as just written: the row's timestamps, its name loaded."""
    item.created_at, item.updated_at = row.created_at, row.updated_at
    item.loaded_name = item.name
    return item


def _in(ns: Item | None) -> str | None:
    """The namespace name rows are looked for in."""
    return None if ns is None else ns.name


class MetadefRepo:
    """The catalog as the database holds it."""

    def __init__(self, context):
        self.context = context

    def list_namespaces(self, query: NamespaceQuery,
                        all_projects: bool = False) -> list[Item]:
        """A page of the namespaces the caller's project may see
        (``all_projects``: every namespace, for administrators)."""
        return [_item(NAMESPACES, None, r) for r in db.list_namespaces(
            limit=query.limit, marker=query.marker, sort_key=query.sort_key,
            sort_dir=query.sort_dir, visibility=query.visibility,
            resource_types=query.resource_types, all_projects=all_projects,
            project_id=None if all_projects else self.context.project_id)]

    def list_items(self, kind: Kind, ns: Item) -> list[Item]:
        """The namespace's entries of ``kind``, in the kind's order."""
        if kind is ASSOCIATIONS:
            return self.list_associations([ns])[ns.name]
        return [_item(kind, ns.name, r) for r in db.list_rows(
            TABLES[kind.name], ns.name, kind.newest_first)]

    def get_item(self, kind: Kind, ns: Item | None, name: str) -> Item:
        """One entry (or namespace); 404 if there is none of that name."""
        if kind is not ASSOCIATIONS:
            return _item(kind, _in(ns), db.get_row(
                TABLES[kind.name], _in(ns), name))
        for assoc in self.list_items(kind, ns):
            if assoc.name == name:
                return assoc
        raise db.association_error(exception.NotFound, ns.name, name)

    def add_item(self, ns: Item | None, item: Item) -> Item:
        """Store a new entry; 409 if its name is taken."""
        if item.kind is ASSOCIATIONS:
            return _stored(item, db.create_association(
                ns.name, item.name, **item.values))
        return self.add_items(item.kind, ns, [item])[0]

    def add_items(self, kind: Kind, ns: Item | None, items: list[Item],
                  append: bool = True) -> list[Item]:
        """Store entries (all or none); unless ``append``, they replace
        the namespace's entries of ``kind``."""
        rows = db.create_rows(TABLES[kind.name], _in(ns),
                              [_columns(i) for i in items],
                              replace=not append)
        return [_stored(i, r) for i, r in zip(items, rows)]

    def save_item(self, ns: Item | None, item: Item) -> Item:
        """Store a changed (maybe renamed) entry; 409 onto a taken name."""
        return _stored(item, db.update_row(
            TABLES[item.kind.name], _in(ns), item.loaded_name or item.name,
            _columns(item)))

    def remove_item(self, ns: Item | None, item: Item) -> Item:
        """Delete an entry (a namespace: with everything in it)."""
        (ns or item).check_deletable()
        if item.kind is ASSOCIATIONS:
            db.delete_association(ns.name, item.name)
        else:
            db.delete_row(TABLES[item.kind.name], _in(ns),
                          item.loaded_name or item.name)
        return item

    def remove_all(self, kind: Kind, ns: Item) -> Item:
        """Delete every entry of ``kind`` in the namespace."""
        ns.check_deletable()
        db.delete_rows(TABLES[kind.name], ns.name)
        return ns

    def list_resource_types(self) -> list[Item]:
        """Every resource type known, as associations of no namespace."""
        return [Item(ASSOCIATIONS, None, r.name, created_at=r.created_at,
                     updated_at=r.updated_at or r.created_at)
                for r in db.list_resource_types()]

    def list_associations(self, namespaces: list[Item]
                          ) -> dict[str, list[Item]]:
        """Each namespace's associations (by namespace name), oldest
        first."""
        out: dict[str, list[Item]] = {ns.name: [] for ns in namespaces}
        for ns_name, row, name in db.list_associations(list(out)):
            out[ns_name].append(_item(ASSOCIATIONS, ns_name, row, name))
        return out
