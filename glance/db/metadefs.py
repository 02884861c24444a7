"""The metadata definitions repository: namespaces and their entries in
the database, as domain ``Item`` objects.

One implementation serves every kind (``glance.domain.metadef.KINDS``):
the kind's table and columns are declared below, and each operation is the
same SQL whatever the table.  An entry is addressed through the namespace
the caller was allowed to load (``ns``; None for a namespace itself), so
the layers above see that namespace (its owner and visibility are what
policy decides on).  Deletions inside a protected namespace are refused
here, at the bottom, so no layer can skip it.  Rows are hard-deleted: a
definition is a document an operator maintains (and reloads from
etc/metadefs), not a record anyone must audit afterwards.
"""
from __future__ import annotations

import datetime
from typing import Any

from oslo_db import exception as db_exc
import sqlalchemy as sa
from sqlalchemy import orm

from glance.common import exception
from glance.db.sqlalchemy import models, upsert
from glance.db.sqlalchemy.engine import session_scope
from glance.domain.metadef import (ASSOCIATIONS, CONTENTS, NAMESPACES, Item,
                                   Kind, NamespaceQuery)

NS, RT = models.MetadefNamespace, models.MetadefResourceType
ASSOC = models.MetadefNamespaceResourceType
#: kind -> (its table, the column holding an entry's name).  An
#: association is a link to a resource type, whose name it goes by.
TABLES = {
    'namespace': (NS, NS.namespace),
    'object': (models.MetadefObject, models.MetadefObject.name),
    'property': (models.MetadefProperty, models.MetadefProperty.name),
    'tag': (models.MetadefTag, models.MetadefTag.name),
    'resource_type': (ASSOC, RT.name)}
#: the tables of what a namespace holds
CHILDREN = [TABLES[kind.name][0] for kind in CONTENTS]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _columns(item: Item) -> dict[str, Any]:
    """The row values of an entry: its fields are the model's attributes
    of the same names (JSON ones decoded by the model), a property
    definition is ``definition`` whole, and an association's ``name`` is
    its resource type's, resolved when it is stored."""
    if item.kind.fields is None:
        return {'name': item.name, 'definition': item.values}
    return {item.kind.name_key: item.name,
            **{f: item.values.get(f) for f in item.kind.fields}}


def _item(kind: Kind, namespace: str | None, row, name: str) -> Item:
    values = dict(row.definition) if kind.fields is None else {
        f: getattr(row, f) for f in kind.fields}
    return Item(kind, namespace, name, values, created_at=row.created_at,
                updated_at=row.updated_at or row.created_at,
                loaded_name=name)


def _stored(item: Item, row) -> Item:
    """``item`` as just written: the row's timestamps, its name loaded."""
    item.created_at, item.updated_at = row.created_at, row.updated_at
    item.loaded_name = item.name
    return item


def _error(error: type, kind: Kind, ns: Item | None, name: str):
    """404 or 409 for the entry ``name``, in the API's words."""
    missing = error is exception.NotFound
    if kind is ASSOCIATIONS:
        return error('Namespace %s %s resource type %s.' % (
            ns.name, 'has no association with' if missing
            else 'is already associated with', name))
    return error('Metadata definition %s %s %s%s.' % (
        kind.name, name, 'not found' if missing else 'already exists',
        '' if ns is None else ' in namespace %s' % ns.name))


def _select(kind: Kind, namespaces: list[str] | None = None):
    """SELECT (namespace name, row, entry name) of the kind's entries in
    ``namespaces`` (namespaces themselves: of no namespace), oldest first
    (tags newest first, as the reference lists them)."""
    model, name = TABLES[kind.name]
    if model is NS:
        stmt = sa.select(sa.null(), NS, NS.namespace)
    else:
        stmt = sa.select(NS.namespace, model, name).select_from(model).join(
            NS, NS.id == model.namespace_id).where(
                NS.namespace.in_(namespaces))
    tie = RT.id if model is ASSOC else model.id
    if model is ASSOC:
        stmt = stmt.join(RT, RT.id == model.resource_type_id)
    order = sa.desc if kind.newest_first else sa.asc
    return stmt.order_by(order(model.created_at), order(tie))


def _one(session: orm.Session, kind: Kind, ns: Item | None, name: str):
    """The (namespace name, row, name) of one entry; 404 if absent."""
    found = session.execute(_select(kind, [ns.name] if ns else None).where(
        TABLES[kind.name][1] == name)).first()
    if found is None:
        raise _error(exception.NotFound, kind, ns, name)
    return found


def _empty(session: orm.Session, ns: Item, tables: list) -> int:
    """Delete the namespace's rows in ``tables``; the namespace's id."""
    ns_id = _one(session, NAMESPACES, None, ns.name)[1].id
    for model in tables:
        session.execute(sa.delete(model).where(model.namespace_id == ns_id))
    return ns_id


def _resource_type_id(session: orm.Session, name: str,
                      now: datetime.datetime) -> int:
    """The resource type ``name``, registered on first use (in one
    statement: two requests may register the same one at once)."""
    upsert.upsert(session, RT.__table__, [dict(
        name=name, protected=False, created_at=now, updated_at=now)],
        keys=['name'], update=['name'])
    return session.execute(sa.select(RT.id).where(RT.name == name)
                           ).scalar_one()


class MetadefRepo:
    """The catalog as the database holds it."""

    def __init__(self, context):
        self.context = context

    def list_namespaces(self, query: NamespaceQuery,
                        all_projects: bool = False) -> list[Item]:
        """A page of the namespaces the caller's project may see
        (``all_projects``: every namespace, for administrators), in a
        stable order: the id breaks ties so equal timestamps still page
        without gaps."""
        column = getattr(NS, query.sort_key)
        desc = query.sort_dir == 'desc'
        stmt = sa.select(NS)
        if not all_projects:
            stmt = stmt.where(sa.or_(NS.visibility == 'public',
                                     NS.owner == self.context.project_id))
        if query.visibility:
            stmt = stmt.where(NS.visibility == query.visibility)
        if query.resource_types:
            stmt = stmt.where(NS.id.in_(
                sa.select(ASSOC.namespace_id).join(
                    RT, RT.id == ASSOC.resource_type_id)
                .where(RT.name.in_(query.resource_types))))
        with session_scope(readonly=True) as session:
            if query.marker is not None:
                mark = session.execute(sa.select(NS).where(
                    NS.namespace == query.marker)).scalar_one_or_none()
                if mark is None:
                    raise exception.BadRequest('Invalid marker: namespace '
                                               '%s not found.' % query.marker)
                # After the marker in (column, id) order.  Every sort
                # column is NOT NULL (updated_at is set on insert), so no
                # NULL ordering rules (which differ by backend) come in.
                key = sa.tuple_(column, NS.id)
                at = sa.tuple_(getattr(mark, query.sort_key), mark.id)
                stmt = stmt.where(key < at if desc else key > at)
            order = sa.desc if desc else sa.asc
            stmt = stmt.order_by(order(column), order(NS.id))
            return [_item(NAMESPACES, None, row, row.namespace) for row in
                    session.execute(stmt.limit(query.limit)).scalars()]

    def list_items(self, kind: Kind, ns: Item) -> list[Item]:
        """The namespace's entries of ``kind``, in the kind's order."""
        return self._contents(kind, [ns])[ns.name]

    def _contents(self, kind: Kind, namespaces: list[Item]
                  ) -> dict[str, list[Item]]:
        """Each namespace's entries of ``kind``, by namespace name."""
        out: dict[str, list[Item]] = {ns.name: [] for ns in namespaces}
        with session_scope(readonly=True) as session:
            for ns_name, row, name in session.execute(
                    _select(kind, list(out))):
                out[ns_name].append(_item(kind, ns_name, row, name))
        return out

    def list_associations(self, namespaces: list[Item]
                          ) -> dict[str, list[Item]]:
        """Each namespace's associations (by namespace name)."""
        return self._contents(ASSOCIATIONS, namespaces)

    def get_item(self, kind: Kind, ns: Item | None, name: str) -> Item:
        """One entry (or namespace); 404 if there is none of that name."""
        with session_scope(readonly=True) as session:
            return _item(kind, *_one(session, kind, ns, name))

    def add_item(self, ns: Item | None, item: Item) -> Item:
        """Store a new entry; 409 if its name is taken."""
        return self.add_items(item.kind, ns, [item])[0]

    def add_items(self, kind: Kind, ns: Item | None, items: list[Item],
                  append: bool = True) -> list[Item]:
        """Store entries (all or none, in order); 409 if a name is taken
        or repeated (the tables' unique constraints say so).  Unless
        ``append``, they replace the namespace's entries of ``kind``."""
        model = TABLES[kind.name][0]
        try:
            with session_scope() as session:
                parent = {} if ns is None else {
                    'namespace_id': _empty(session, ns,
                                           [] if append else [model])}
                rows, now = [], _now()
                for values in (_columns(item) for item in items):
                    if kind is ASSOCIATIONS:
                        values['resource_type_id'] = _resource_type_id(
                            session, values.pop('name'), now)
                    rows.append(model(created_at=now, updated_at=now,
                                      **parent, **values))
                session.add_all(rows)
                session.flush()
        except db_exc.DBDuplicateEntry:
            raise _error(exception.Duplicate, kind, ns,
                         ', '.join(i.name for i in items))
        return [_stored(i, r) for i, r in zip(items, rows)]

    def save_item(self, ns: Item | None, item: Item) -> Item:
        """Store a changed (maybe renamed) entry; 409 onto a taken name."""
        try:
            with session_scope() as session:
                row = _one(session, item.kind, ns,
                           item.loaded_name or item.name)[1]
                for key, value in _columns(item).items():
                    setattr(row, key, value)
                row.updated_at = _now()
                session.flush()
        except db_exc.DBDuplicateEntry:
            raise _error(exception.Duplicate, item.kind, ns, item.name)
        return _stored(item, row)

    def remove_item(self, ns: Item | None, item: Item) -> Item:
        """Delete an entry (a namespace: with everything in it)."""
        (ns or item).check_deletable()
        with session_scope() as session:
            if ns is None:
                _empty(session, item, CHILDREN)
            session.delete(_one(session, item.kind, ns,
                                item.loaded_name or item.name)[1])
        return item

    def remove_all(self, kind: Kind, ns: Item) -> Item:
        """Delete every entry of ``kind`` in the namespace."""
        ns.check_deletable()
        with session_scope() as session:
            _empty(session, ns, [TABLES[kind.name][0]])
        return ns

    def list_resource_types(self) -> list[Item]:
        """Every resource type known, as associations of no namespace."""
        with session_scope(readonly=True) as session:
            return [Item(ASSOCIATIONS, None, r.name, created_at=r.created_at,
                         updated_at=r.updated_at or r.created_at)
                    for r in session.execute(sa.select(RT).order_by(
                        RT.created_at, RT.id)).scalars()]


def delete_all() -> int:
    """Empty the catalog (glance-manage db unload_metadefs); the number of
    namespaces removed.  Resource types go too: loading registers them."""
    with session_scope() as session:
        count = session.execute(sa.select(sa.func.count()).select_from(NS)
                                ).scalar()
        for model in (*CHILDREN, NS, RT):
            session.execute(sa.delete(model))
        return count
