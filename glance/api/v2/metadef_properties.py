"""/v2/metadefs/namespaces/{namespace}/properties[/{property_name}]: the
property definitions of a namespace (each a JSON Schema fragment)."""
from __future__ import annotations

from typing import Any

from glance.api.v2.metadef_common import load, metadef_body
from glance.common import wsgi
from glance.domain import metadef as domain
from glance.schemas import metadef as metadef_schemas


def property_view(prop: domain.MetadefProperty) -> dict[str, Any]:
    """A property definition: its name and its schema fragment."""
    return {**prop.schema, 'name': prop.name}


def new_property(ns: domain.Namespace, body: dict[str, Any]
                 ) -> domain.MetadefProperty:
    """A property of ``ns`` from a (validated) request body."""
    schema = {k: v for k, v in body.items() if k != 'name'}
    return domain.MetadefProperty(namespace=ns.namespace, name=body['name'],
                                  schema=schema)


def _body(request: wsgi.Request) -> dict:
    return {'body': metadef_body(
        request, metadef_schemas.property_schema())}


class Deserializer:
    def create(self, request: wsgi.Request) -> dict:
        return _body(request)

    def update(self, request: wsgi.Request) -> dict:
        return _body(request)


class Controller:
    """One method per call; policy and events happen in the chain."""

    def index(self, request: wsgi.Request, namespace: str) -> dict:
        """GET .../properties -> 200 ``{"properties": {name: def}}``."""
        repo, ns = load(request, namespace)
        return {'properties': {p.name: property_view(p)
                               for p in repo.list_properties(ns)}}

    def create(self, request: wsgi.Request, namespace: str,
               body: dict) -> dict:
        """POST .../properties -> 201; 400 without name, title or a known
        type; 409 name taken; 403 non-administrators."""
        repo, ns = load(request, namespace)
        return property_view(repo.add_property(ns, new_property(ns, body)))

    def show(self, request: wsgi.Request, namespace: str,
             property_name: str) -> dict:
        """GET .../properties/{property_name} -> 200; 404 unknown."""
        repo, ns = load(request, namespace)
        return property_view(repo.get_property(ns, property_name))

    def update(self, request: wsgi.Request, namespace: str,
               property_name: str, body: dict) -> dict:
        """PUT .../properties/{property_name} -> 200; the body replaces
        the definition (and may rename it)."""
        repo, ns = load(request, namespace)
        prop = repo.get_property(ns, property_name)
        new = new_property(ns, body)
        prop.name, prop.schema = new.name, new.schema
        return property_view(repo.save_property(ns, prop))

    def delete(self, request: wsgi.Request, namespace: str,
               property_name: str) -> None:
        """DELETE .../properties/{property_name} -> 204; 403 protected."""
        repo, ns = load(request, namespace)
        repo.remove_property(ns, repo.get_property(ns, property_name))

    def delete_all(self, request: wsgi.Request, namespace: str) -> None:
        """DELETE .../properties -> 204 every definition gone."""
        repo, ns = load(request, namespace)
        repo.remove_properties(ns)


class Serializer:
    def create(self, response, view: dict) -> None:
        wsgi.json_response(response, view, status=201)


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
