"""SQL for the metadata definitions catalog.

Namespaces, objects, properties and tags are all "a named row", the last
three inside a namespace, so they share one set of functions taking the
model and the namespace's name (None for namespaces themselves).  Rows are
hard-deleted; deleting a namespace deletes everything inside it in the same
transaction.  Associations name their resource type's row instead of
carrying a name, and have functions of their own.
"""
from __future__ import annotations

import datetime
from typing import Any

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
#: what messages call a row of each table
_NOUN = {NS: 'namespace', models.MetadefObject: 'object',
         models.MetadefProperty: 'property', models.MetadefTag: 'tag'}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _name(model) -> Any:
    """The column holding a row's name."""
    return NS.namespace if model is NS else model.name


def _error(error: type, model, namespace: str | None, name: str):
    """404 or 409 for the row ``name``, in the API's words."""
    what = 'not found' if error is exception.NotFound else 'already exists'
    where = ' in namespace %s' % namespace if namespace is not None else ''
    return error('Metadata definition %s %s %s%s.'
                 % (_NOUN[model], name, what, where))


def _scope(session: orm.Session, model, namespace: str | None):
    """(the condition selecting the rows of ``model`` in ``namespace``,
    the values that put a new row there); 404 for an unknown namespace."""
    if namespace is None:
        return sa.true(), {}
    ns = _one(session, NS, sa.true(), None, namespace)
    return model.namespace_id == ns.id, {'namespace_id': ns.id}


def _one(session: orm.Session, model, where, namespace: str | None,
         name: str):
    row = session.execute(sa.select(model).where(
        where, _name(model) == name)).scalar_one_or_none()
    if row is None:
        raise _error(exception.NotFound, model, namespace, name)
    return row


# ------------------------------------------------- every kind of named row

def get_row(model, namespace: str | None, name: str):
    """One row; 404 if absent (or its namespace is)."""
    with session_scope(readonly=True) as session:
        where, _ = _scope(session, model, namespace)
        return _one(session, model, where, namespace, name)


def list_rows(model, namespace: str, newest_first: bool = False
              ) -> list[Any]:
    """The ``model`` rows of a namespace, oldest first (tags: newest
    first, as the reference lists them)."""
    order = sa.desc if newest_first else sa.asc
    with session_scope(readonly=True) as session:
        where, _ = _scope(session, model, namespace)
        return list(session.execute(sa.select(model).where(where).order_by(
            order(model.created_at), order(model.id))).scalars())


def create_rows(model, namespace: str | None, items: list[dict[str, Any]],
                replace: bool = False) -> list[Any]:
    """Insert rows (in order, one transaction); 409 if a name is taken or
    repeated.  ``replace`` first deletes every row of the namespace."""
    names = [item[_name(model).key] for item in items]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise _error(exception.Duplicate, model, namespace, name)
    try:
        with session_scope() as session:
            where, parent = _scope(session, model, namespace)
            if replace:
                session.execute(sa.delete(model).where(where))
            taken = session.execute(sa.select(_name(model)).where(
                where, _name(model).in_(names))).scalars().first()
            if taken is not None:
                raise _error(exception.Duplicate, model, namespace, taken)
            now = _now()
            rows = [model(created_at=now, updated_at=now, **parent, **item)
                    for item in items]
            session.add_all(rows)
            session.flush()
            return rows
    except db_exc.DBDuplicateEntry:
        raise _error(exception.Duplicate, model, namespace, ', '.join(names))


def update_row(model, namespace: str | None, name: str,
               values: dict[str, Any]):
    """Replace the fields of one row (it may be renamed; 409 on a taken
    name)."""
    new = values.get(_name(model).key, name)
    try:
        with session_scope() as session:
            where, _ = _scope(session, model, namespace)
            row = _one(session, model, where, namespace, name)
            if new != name and session.execute(sa.select(model.id).where(
                    where, _name(model) == new)).first():
                raise _error(exception.Duplicate, model, namespace, new)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = _now()
            session.flush()
            return row
    except db_exc.DBDuplicateEntry:
        raise _error(exception.Duplicate, model, namespace, new)


def delete_row(model, namespace: str | None, name: str) -> None:
    """Delete one row; a namespace goes with everything in it."""
    with session_scope() as session:
        where, _ = _scope(session, model, namespace)
        row = _one(session, model, where, namespace, name)
        for child in (*CHILDREN, ASSOC) if model is NS else ():
            session.execute(sa.delete(child).where(
                child.namespace_id == row.id))
        session.delete(row)


def delete_rows(model, namespace: str) -> None:
    """Delete every ``model`` row of a namespace."""
    with session_scope() as session:
        where, _ = _scope(session, model, namespace)
        session.execute(sa.delete(model).where(where))


# ---------------------------------------------------------------- namespaces

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


def association_error(error: type, namespace: str, name: str):
    """404 or 409 for the association of ``namespace`` with ``name``."""
    return error('Namespace %s %s resource type %s.' % (
        namespace, 'has no association with' if error is exception.NotFound
        else 'is already associated with', name))


def create_association(namespace: str, name: str, prefix: str | None,
                       properties_target: str | None) -> Any:
    """Associate; the resource type is registered on first use.  409 if
    the namespace already has this resource type."""
    try:
        with session_scope() as session:
            ns = _one(session, NS, sa.true(), None, namespace)
            now = _now()
            rt = session.execute(sa.select(RT).where(RT.name == name)
                                 ).scalar_one_or_none()
            if rt is None:
                rt = RT(name=name, protected=False, created_at=now,
                        updated_at=now)
                session.add(rt)
                session.flush()
            elif session.get(ASSOC, (rt.id, ns.id)) is not None:
                raise association_error(exception.Duplicate, namespace, name)
            row = ASSOC(namespace_id=ns.id, resource_type_id=rt.id,
                        prefix=prefix, properties_target=properties_target,
                        created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            return row
    except db_exc.DBDuplicateEntry:
        raise association_error(exception.Duplicate, namespace, name)


def delete_association(namespace: str, name: str) -> None:
    with session_scope() as session:
        ns = _one(session, NS, sa.true(), None, namespace)
        rt_id = session.execute(sa.select(RT.id).where(RT.name == name)
                                ).scalar_one_or_none()
        row = None if rt_id is None else session.get(ASSOC, (rt_id, ns.id))
        if row is None:
            raise association_error(exception.NotFound, namespace, name)
        session.delete(row)


def delete_all() -> int:
    """Empty the catalog (glance-manage db unload_metadefs); the number of
    namespaces removed.  Resource types go too: loading registers them."""
    with session_scope() as session:
        n = session.execute(sa.select(sa.func.count()).select_from(NS)
                            ).scalar()
        for model in (ASSOC, *CHILDREN, NS, RT):
            session.execute(sa.delete(model))
        return n
