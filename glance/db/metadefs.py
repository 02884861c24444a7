"""The metadata definitions repository: domain objects in and out.

Sub-resources are always addressed through the namespace the caller was
allowed to load, so the layers above see that namespace (its owner and
visibility are what policy decides on).  Deletions inside a protected
namespace are refused here, at the bottom, so no layer can skip it.
"""
from __future__ import annotations

import json
from typing import Any

from glance.common import exception
from glance.db.sqlalchemy import metadefs as db
from glance.db.sqlalchemy import models
from glance.domain.metadef import (MetadefObject, MetadefProperty,
                                   MetadefTag, Namespace, NamespaceQuery,
                                   ResourceType, ResourceTypeAssociation)

_NS_FIELDS = ('namespace', 'display_name', 'description', 'visibility',
              'protected', 'owner')


def _namespace(row) -> Namespace:
    return Namespace(**{f: getattr(row, f) for f in _NS_FIELDS},
                     created_at=row.created_at,
                     updated_at=row.updated_at or row.created_at,
                     loaded_name=row.namespace)


def _object(namespace: str, row) -> MetadefObject:
    return MetadefObject(
        namespace=namespace, name=row.name, description=row.description,
        required=json.loads(row.required) if row.required else [],
        properties=json.loads(row.json_schema) if row.json_schema else {},
        created_at=row.created_at,
        updated_at=row.updated_at or row.created_at, loaded_name=row.name)


def _object_values(obj: MetadefObject) -> dict[str, Any]:
    return {'name': obj.name, 'description': obj.description,
            'required': json.dumps(obj.required or []),
            'json_schema': json.dumps(obj.properties or {})}


def _property(namespace: str, row) -> MetadefProperty:
    return MetadefProperty(namespace=namespace, name=row.name,
                           schema=json.loads(row.json_schema),
                           loaded_name=row.name)


def _property_values(prop: MetadefProperty) -> dict[str, Any]:
    return {'name': prop.name, 'json_schema': json.dumps(prop.schema)}


def _tag(namespace: str, row) -> MetadefTag:
    return MetadefTag(namespace=namespace, name=row.name,
                      created_at=row.created_at,
                      updated_at=row.updated_at or row.created_at,
                      loaded_name=row.name)


def _association(namespace: str, row, name: str) -> ResourceTypeAssociation:
    return ResourceTypeAssociation(
        namespace=namespace, name=name, prefix=row.prefix,
        properties_target=row.properties_target, created_at=row.created_at,
        updated_at=row.updated_at or row.created_at)


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

    # objects
    def list_objects(self, ns: Namespace) -> list[MetadefObject]:
        return [_object(ns.namespace, r) for r in
                db.list_children(models.MetadefObject, ns.namespace)]

    def get_object(self, ns: Namespace, name: str) -> MetadefObject:
        return _object(ns.namespace, db.get_child(models.MetadefObject,
                                                  ns.namespace, name))

    def add_object(self, ns: Namespace, obj: MetadefObject) -> MetadefObject:
        row, = db.create_children(models.MetadefObject, ns.namespace,
                                  [_object_values(obj)])
        obj.created_at, obj.updated_at = row.created_at, row.updated_at
        obj.loaded_name = obj.name
        return obj

    def save_object(self, ns: Namespace, obj: MetadefObject
                    ) -> MetadefObject:
        row = db.update_child(models.MetadefObject, ns.namespace,
                              obj.loaded_name or obj.name,
                              _object_values(obj))
        obj.created_at, obj.updated_at = row.created_at, row.updated_at
        return obj

    def remove_object(self, ns: Namespace, obj: MetadefObject
                      ) -> MetadefObject:
        ns.check_deletable()
        db.delete_child(models.MetadefObject, ns.namespace,
                        obj.loaded_name or obj.name)
        return obj

    def remove_objects(self, ns: Namespace) -> Namespace:
        ns.check_deletable()
        db.delete_children(models.MetadefObject, ns.namespace)
        return ns

    # properties
    def list_properties(self, ns: Namespace) -> list[MetadefProperty]:
        return [_property(ns.namespace, r) for r in
                db.list_children(models.MetadefProperty, ns.namespace)]

    def get_property(self, ns: Namespace, name: str) -> MetadefProperty:
        return _property(ns.namespace, db.get_child(models.MetadefProperty,
                                                    ns.namespace, name))

    def add_property(self, ns: Namespace, prop: MetadefProperty
                     ) -> MetadefProperty:
        db.create_children(models.MetadefProperty, ns.namespace,
                           [_property_values(prop)])
        prop.loaded_name = prop.name
        return prop

    def save_property(self, ns: Namespace, prop: MetadefProperty
                      ) -> MetadefProperty:
        db.update_child(models.MetadefProperty, ns.namespace,
                        prop.loaded_name or prop.name,
                        _property_values(prop))
        return prop

    def remove_property(self, ns: Namespace, prop: MetadefProperty
                        ) -> MetadefProperty:
        ns.check_deletable()
        db.delete_child(models.MetadefProperty, ns.namespace,
                        prop.loaded_name or prop.name)
        return prop

    def remove_properties(self, ns: Namespace) -> Namespace:
        ns.check_deletable()
        db.delete_children(models.MetadefProperty, ns.namespace)
        return ns

    # tags
    def list_tags(self, ns: Namespace) -> list[MetadefTag]:
        return [_tag(ns.namespace, r) for r in db.list_children(
            models.MetadefTag, ns.namespace, newest_first=True)]

    def get_tag(self, ns: Namespace, name: str) -> MetadefTag:
        return _tag(ns.namespace, db.get_child(models.MetadefTag,
                                               ns.namespace, name))

    def add_tag(self, ns: Namespace, tag: MetadefTag) -> MetadefTag:
        """Add one tag (POST .../tags/{tag_name})."""
        return self.add_tags(ns, [tag])[0]

    def add_tags(self, ns: Namespace, tags: list[MetadefTag],
                 append: bool = True) -> list[MetadefTag]:
        """Add ``tags`` (all or none); unless ``append``, they replace
        the namespace's tags."""
        rows = db.create_children(models.MetadefTag, ns.namespace,
                                  [{'name': t.name} for t in tags],
                                  replace=not append)
        return [_tag(ns.namespace, r) for r in rows]

    def save_tag(self, ns: Namespace, tag: MetadefTag) -> MetadefTag:
        return _tag(ns.namespace, db.update_child(
            models.MetadefTag, ns.namespace, tag.loaded_name or tag.name,
            {'name': tag.name}))

    def remove_tag(self, ns: Namespace, tag: MetadefTag) -> MetadefTag:
        ns.check_deletable()
        db.delete_child(models.MetadefTag, ns.namespace,
                        tag.loaded_name or tag.name)
        return tag

    def remove_tags(self, ns: Namespace) -> Namespace:
        ns.check_deletable()
        db.delete_children(models.MetadefTag, ns.namespace)
        return ns

    # resource types
    def list_resource_types(self) -> list[ResourceType]:
        return [ResourceType(name=r.name, created_at=r.created_at,
                             updated_at=r.updated_at or r.created_at)
                for r in db.list_resource_types()]

    def list_associations(self, namespaces: list[Namespace]
                          ) -> dict[str, list[ResourceTypeAssociation]]:
        """Each namespace's associations (by namespace name)."""
        out: dict[str, list[ResourceTypeAssociation]] = {
            ns.namespace: [] for ns in namespaces}
        for ns_name, row, name in db.list_associations(list(out)):
            out[ns_name].append(_association(ns_name, row, name))
        return out

    def add_association(self, ns: Namespace,
                        assoc: ResourceTypeAssociation
                        ) -> ResourceTypeAssociation:
        row = db.create_association(ns.namespace, assoc.name, assoc.prefix,
                                    assoc.properties_target)
        return _association(ns.namespace, row, assoc.name)

    def remove_association(self, ns: Namespace,
                           assoc: ResourceTypeAssociation
                           ) -> ResourceTypeAssociation:
        ns.check_deletable()
        db.delete_association(ns.namespace, assoc.name)
        return assoc

    def namespace_associations(self, ns: Namespace
                               ) -> list[ResourceTypeAssociation]:
        """The associations of one namespace, oldest first."""
        return self.list_associations([ns])[ns.namespace]

    def get_association(self, ns: Namespace, name: str
                        ) -> ResourceTypeAssociation:
        """The namespace's association with ``name``; 404 if none."""
        for assoc in self.namespace_associations(ns):
            if assoc.name == name:
                return assoc
        raise exception.NotFound('Namespace %s has no association with '
                                 'resource type %s.' % (ns.namespace, name))
