"""SQL for the metadata definitions catalog.

Objects, properties and tags are all "a named row inside a namespace", so
they share one set of functions parameterised by the model.  Rows are
hard-deleted; deleting a namespace deletes everything inside it in the same
transaction.  Every function takes the namespace by name, as the API does.
"""
from __future__ import annotations

import datetime
from typing import Any, Iterable

from oslo_db import exception as db_exc
import sqlalchemy as sa
from sqlalchemy import orm

from glance.common import exception
from glance.db.sqlalchemy import models
from glance.db.sqlalchemy.engine import session_scope

NS = models.MetadefNamespace
RT = models.MetadefResourceType
ASSOC = models.MetadefNamespaceResourceType
#: the tables of named things inside a namespace
CHILDREN = (models.MetadefObject, models.MetadefProperty, models.MetadefTag)
_KIND = {models.MetadefObject: 'Object', models.MetadefProperty: 'Property',
         models.MetadefTag: 'Tag'}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _ns_not_found(name: str) -> exception.NotFound:
    return exception.NotFound('Metadata definition namespace %s not found.'
                              % name)


def _ns_row(session: orm.Session, name: str) -> models.MetadefNamespace:
    row = session.execute(sa.select(NS).where(NS.namespace == name)
                          ).scalar_one_or_none()
    if row is None:
        raise _ns_not_found(name)
    return row


# ---------------------------------------------------------------- namespaces

def get_namespace(name: str) -> models.MetadefNamespace:
    """The namespace ``name``; 404 if there is none."""
    with session_scope(readonly=True) as session:
        return _ns_row(session, name)


def list_namespaces(*, limit: int, marker: str | None, sort_key: str,
                    sort_dir: str, visibility: str | None,
                    resource_types: list[str], project_id: str | None,
                    all_projects: bool) -> list[models.MetadefNamespace]:
    """A page of namespaces the caller may see, in a stable order.

    Non-administrators see public namespaces and their project's own; the
    id breaks ties so equal timestamps still page without gaps.
    """
    column = getattr(NS, sort_key)
    order = sa.desc if sort_dir == 'desc' else sa.asc
    stmt = sa.select(NS)
    if not all_projects:
        stmt = stmt.where(sa.or_(NS.visibility == 'public',
                                 NS.owner == project_id))
    if visibility:
        stmt = stmt.where(NS.visibility == visibility)
    if resource_types:
        stmt = stmt.where(NS.id.in_(
            sa.select(ASSOC.namespace_id).join(RT, RT.id ==
                                               ASSOC.resource_type_id)
            .where(RT.name.in_(resource_types))))
    with session_scope(readonly=True) as session:
        if marker is not None:
            mark = session.execute(sa.select(NS).where(
                NS.namespace == marker)).scalar_one_or_none()
            if mark is None:
                raise exception.BadRequest('Invalid marker: namespace %s '
                                           'not found.' % marker)
            value = getattr(mark, sort_key)
            after = column < value if sort_dir == 'desc' else column > value
            tie = NS.id < mark.id if sort_dir == 'desc' else NS.id > mark.id
            # Every sort column is NOT NULL (updated_at is set on
            # insert), so "after the marker" needs no NULL ordering rules,
            # which differ between the backends.
            stmt = stmt.where(after if sort_key == 'id' else sa.or_(
                after, sa.and_(column == value, tie)))
        stmt = stmt.order_by(order(column), order(NS.id)).limit(limit)
        return list(session.execute(stmt).scalars())


def create_namespace(values: dict[str, Any]) -> models.MetadefNamespace:
    """Insert a namespace; 409 when the name is taken."""
    try:
        with session_scope() as session:
            if session.execute(sa.select(NS.id).where(
                    NS.namespace == values['namespace'])).first():
                raise _ns_duplicate(values['namespace'])
            row = NS(**values)
            session.add(row)
            session.flush()
            return row
    except db_exc.DBDuplicateEntry:
        raise _ns_duplicate(values['namespace'])


def _ns_duplicate(name: str) -> exception.Duplicate:
    return exception.Duplicate('Metadata definition namespace %s already '
                               'exists.' % name)


def update_namespace(name: str, values: dict[str, Any]
                     ) -> models.MetadefNamespace:
    """Replace the fields of namespace ``name`` (which may be renamed)."""
    try:
        with session_scope() as session:
            row = _ns_row(session, name)
            new = values.get('namespace', name)
            if new != name and session.execute(sa.select(NS.id).where(
                    NS.namespace == new)).first():
                raise _ns_duplicate(new)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = _now()
            session.flush()
            return row
    except db_exc.DBDuplicateEntry:
        raise _ns_duplicate(values.get('namespace', name))


def delete_namespace(name: str) -> None:
    """Delete the namespace and everything in it."""
    with session_scope() as session:
        row = _ns_row(session, name)
        for model in (*CHILDREN, ASSOC):
            session.execute(sa.delete(model).where(
                model.namespace_id == row.id))
        session.delete(row)


# ------------------------------------------ objects, properties and tags

def list_children(model, namespace: str, newest_first: bool = False
                  ) -> list[Any]:
    """The ``model`` rows of a namespace, oldest first (tags: newest
    first, as the reference lists them)."""
    order = sa.desc if newest_first else sa.asc
    with session_scope(readonly=True) as session:
        ns = _ns_row(session, namespace)
        return list(session.execute(
            sa.select(model).where(model.namespace_id == ns.id)
            .order_by(order(model.created_at), order(model.id))).scalars())


def _child_not_found(model, namespace: str, name: str) -> exception.NotFound:
    return exception.NotFound('Metadata definition %s %s not found in '
                              'namespace %s.'
                              % (_KIND[model].lower(), name, namespace))


def _child_duplicate(model, namespace: str, name: str
                     ) -> exception.Duplicate:
    return exception.Duplicate('Metadata definition %s %s already exists '
                               'in namespace %s.'
                               % (_KIND[model].lower(), name, namespace))


def _child_row(session, model, ns_id: int, namespace: str, name: str):
    row = session.execute(sa.select(model).where(
        model.namespace_id == ns_id, model.name == name)
    ).scalar_one_or_none()
    if row is None:
        raise _child_not_found(model, namespace, name)
    return row


def get_child(model, namespace: str, name: str):
    """One ``model`` row of a namespace; 404 if absent."""
    with session_scope(readonly=True) as session:
        ns = _ns_row(session, namespace)
        return _child_row(session, model, ns.id, namespace, name)


def create_children(model, namespace: str, items: Iterable[dict[str, Any]],
                    replace: bool = False) -> list[Any]:
    """Insert rows (in order, one transaction); 409 if a name is taken or
    repeated.  ``replace`` first deletes every row of the namespace."""
    items = list(items)
    names = [i['name'] for i in items]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise _child_duplicate(model, namespace, name)
    try:
        with session_scope() as session:
            ns = _ns_row(session, namespace)
            if replace:
                session.execute(sa.delete(model).where(
                    model.namespace_id == ns.id))
            else:
                taken = session.execute(sa.select(model.name).where(
                    model.namespace_id == ns.id,
                    model.name.in_(names))).scalars().first()
                if taken is not None:
                    raise _child_duplicate(model, namespace, taken)
            now = _now()
            rows = [model(namespace_id=ns.id, created_at=now, updated_at=now,
                          **item) for item in items]
            session.add_all(rows)
            session.flush()
            return rows
    except db_exc.DBDuplicateEntry:
        raise _child_duplicate(model, namespace, ', '.join(names))


def update_child(model, namespace: str, name: str, values: dict[str, Any]):
    """Replace the fields of one row (it may be renamed; 409 on a taken
    name)."""
    try:
        with session_scope() as session:
            ns = _ns_row(session, namespace)
            row = _child_row(session, model, ns.id, namespace, name)
            new = values.get('name', name)
            if new != name and session.execute(sa.select(model.id).where(
                    model.namespace_id == ns.id, model.name == new)).first():
                raise _child_duplicate(model, namespace, new)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = _now()
            session.flush()
            return row
    except db_exc.DBDuplicateEntry:
        raise _child_duplicate(model, namespace, values.get('name', name))


def delete_child(model, namespace: str, name: str) -> None:
    with session_scope() as session:
        ns = _ns_row(session, namespace)
        session.delete(_child_row(session, model, ns.id, namespace, name))


def delete_children(model, namespace: str) -> int:
    """Delete every ``model`` row of a namespace; how many there were."""
    with session_scope() as session:
        ns = _ns_row(session, namespace)
        return session.execute(sa.delete(model).where(
            model.namespace_id == ns.id)).rowcount


# -------------------------------------------- resource types, associations

def list_resource_types() -> list[models.MetadefResourceType]:
    with session_scope(readonly=True) as session:
        return list(session.execute(sa.select(RT).order_by(
            RT.created_at, RT.id)).scalars())


def list_associations(namespaces: list[str]) -> list[tuple[str, Any, str]]:
    """(namespace, association row, resource type name) for ``namespaces``,
    in the order they were made."""
    if not namespaces:
        return []
    with session_scope(readonly=True) as session:
        return [tuple(r) for r in session.execute(
            sa.select(NS.namespace, ASSOC, RT.name)
            .join(ASSOC, ASSOC.namespace_id == NS.id)
            .join(RT, RT.id == ASSOC.resource_type_id)
            .where(NS.namespace.in_(namespaces))
            .order_by(ASSOC.created_at, RT.id)).all()]


def create_association(namespace: str, name: str, prefix: str | None,
                       properties_target: str | None) -> Any:
    """Associate; the resource type is registered on first use.  409 if
    the namespace already has this resource type."""
    try:
        with session_scope() as session:
            ns = _ns_row(session, namespace)
            now = _now()
            rt = session.execute(sa.select(RT).where(RT.name == name)
                                 ).scalar_one_or_none()
            if rt is None:
                rt = RT(name=name, protected=False, created_at=now,
                        updated_at=now)
                session.add(rt)
                session.flush()
            elif session.get(ASSOC, (rt.id, ns.id)) is not None:
                raise _assoc_duplicate(namespace, name)
            row = ASSOC(namespace_id=ns.id, resource_type_id=rt.id,
                        prefix=prefix, properties_target=properties_target,
                        created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            return row
    except db_exc.DBDuplicateEntry:
        raise _assoc_duplicate(namespace, name)


def _assoc_duplicate(namespace: str, name: str) -> exception.Duplicate:
    return exception.Duplicate('Namespace %s is already associated with '
                               'resource type %s.' % (namespace, name))


def delete_association(namespace: str, name: str) -> None:
    with session_scope() as session:
        ns = _ns_row(session, namespace)
        rt_id = session.execute(sa.select(RT.id).where(RT.name == name)
                                ).scalar_one_or_none()
        row = None if rt_id is None else session.get(ASSOC, (rt_id, ns.id))
        if row is None:
            raise exception.NotFound('Namespace %s has no association with '
                                     'resource type %s.' % (namespace, name))
        session.delete(row)


# -------------------------------------------------------- the whole catalog

def delete_all() -> int:
    """Empty the catalog (glance-manage db unload_metadefs); the number of
    namespaces removed.  Resource types go too: loading registers them."""
    with session_scope() as session:
        n = session.execute(sa.select(sa.func.count()).select_from(NS)
                            ).scalar()
        for model in (ASSOC, *CHILDREN, NS, RT):
            session.execute(sa.delete(model))
        return n
