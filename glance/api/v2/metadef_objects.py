"""/v2/metadefs/namespaces/{namespace}/objects[/{object_name}]: named groups
of property definitions inside a namespace."""
from __future__ import annotations

from typing import Any

from glance.api.v2.metadef_common import load, metadef_body
from glance.common import timeutils, wsgi
from glance.domain import metadef as domain
from glance.schemas import metadef as metadef_schemas


def object_view(obj: domain.MetadefObject) -> dict[str, Any]:
    """An object; description, required and properties only when set."""
    view: dict[str, Any] = {
        'name': obj.name,
        'created_at': timeutils.isotime(obj.created_at),
        'updated_at': timeutils.isotime(obj.updated_at),
        'schema': '/v2/schemas/metadefs/object',
        'self': '/v2/metadefs/namespaces/%s/objects/%s' % (obj.namespace,
                                                           obj.name)}
    for key in ('description', 'required', 'properties'):
        if getattr(obj, key) is not None:
            view[key] = getattr(obj, key)
    return view


def new_object(ns: domain.Namespace, body: dict[str, Any]
               ) -> domain.MetadefObject:
    """An object of ``ns`` from a (validated) request body."""
    return domain.MetadefObject(
        namespace=ns.namespace, name=body['name'],
        description=body.get('description'), required=body.get('required'),
        properties=body.get('properties'))


def _body(request: wsgi.Request) -> dict:
    return {'body': metadef_body(
        request, metadef_schemas.object_schema())}


class Deserializer:
    def create(self, request: wsgi.Request) -> dict:
        return _body(request)

    def update(self, request: wsgi.Request) -> dict:
        return _body(request)


class Controller:
    """One method per call; policy and events happen in the chain."""

    def index(self, request: wsgi.Request, namespace: str) -> dict:
        """GET .../objects -> 200 every object of the namespace."""
        repo, ns = load(request, namespace)
        # The reference writes this link without its leading slash.
        return {'objects': [object_view(o) for o in repo.list_objects(ns)],
                'schema': 'v2/schemas/metadefs/objects'}

    def create(self, request: wsgi.Request, namespace: str,
               body: dict) -> dict:
        """POST .../objects -> 201 the object; 409 name taken in the
        namespace, 403 non-administrators."""
        repo, ns = load(request, namespace)
        return object_view(repo.add_object(ns, new_object(ns, body)))

    def show(self, request: wsgi.Request, namespace: str,
             object_name: str) -> dict:
        """GET .../objects/{object_name} -> 200; 404 unknown."""
        repo, ns = load(request, namespace)
        return object_view(repo.get_object(ns, object_name))

    def update(self, request: wsgi.Request, namespace: str,
               object_name: str, body: dict) -> dict:
        """PUT .../objects/{object_name} -> 200; the body replaces the
        object (and may rename it: 409 onto a taken name)."""
        repo, ns = load(request, namespace)
        obj = repo.get_object(ns, object_name)
        new = new_object(ns, body)
        for key in ('name', 'description', 'required', 'properties'):
            setattr(obj, key, getattr(new, key))
        return object_view(repo.save_object(ns, obj))

    def delete(self, request: wsgi.Request, namespace: str,
               object_name: str) -> None:
        """DELETE .../objects/{object_name} -> 204; 403 when the
        namespace is protected."""
        repo, ns = load(request, namespace)
        repo.remove_object(ns, repo.get_object(ns, object_name))

    def delete_all(self, request: wsgi.Request, namespace: str) -> None:
        """DELETE .../objects -> 204 every object gone; 403 protected."""
        repo, ns = load(request, namespace)
        repo.remove_objects(ns)


class Serializer:
    def create(self, response, view: dict) -> None:
        wsgi.json_response(response, view, status=201)


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
