"""/v2/metadefs/resource_types and
/v2/metadefs/namespaces/{namespace}/resource_types[/{name}]: the kinds of
resource definitions apply to, and which namespaces apply to which."""
from __future__ import annotations

from typing import Any

from glance.api.v2.metadef_common import load, metadef_body
from glance.common import timeutils, wsgi
from glance.domain import metadef as domain
from glance import gateway
from glance.schemas import metadef as metadef_schemas


def association_view(assoc: domain.ResourceTypeAssociation
                     ) -> dict[str, Any]:
    """An association; prefix and properties_target only when set."""
    view: dict[str, Any] = {
        'name': assoc.name,
        'created_at': timeutils.isotime(assoc.created_at),
        'updated_at': timeutils.isotime(assoc.updated_at)}
    for key in ('prefix', 'properties_target'):
        if getattr(assoc, key) is not None:
            view[key] = getattr(assoc, key)
    return view


def new_association(ns: domain.Namespace, body: dict[str, Any]
                    ) -> domain.ResourceTypeAssociation:
    """An association of ``ns`` from a (validated) request body."""
    return domain.ResourceTypeAssociation(
        namespace=ns.namespace, name=body['name'], prefix=body.get('prefix'),
        properties_target=body.get('properties_target'))


class Deserializer:
    def create(self, request: wsgi.Request) -> dict:
        return {'body': metadef_body(
            request, metadef_schemas.resource_type_schema())}


class Controller:
    """One method per call; policy and events happen in the chain."""

    def index(self, request: wsgi.Request) -> dict:
        """GET /v2/metadefs/resource_types -> 200 every resource type
        known (registered by associating a namespace with it)."""
        repo = gateway.get_metadef_repo(request.context)
        return {'resource_types': [
            {'name': rt.name,
             'created_at': timeutils.isotime(rt.created_at),
             'updated_at': timeutils.isotime(rt.updated_at)}
            for rt in repo.list_resource_types()]}

    def associations(self, request: wsgi.Request, namespace: str) -> dict:
        """GET .../{namespace}/resource_types -> 200 its associations."""
        repo, ns = load(request, namespace)
        found = repo.namespace_associations(ns)
        return {'resource_type_associations': [association_view(a)
                                               for a in found]}

    def create(self, request: wsgi.Request, namespace: str,
               body: dict) -> dict:
        """POST .../{namespace}/resource_types -> 201 the association;
        409 already associated, 403 non-administrators."""
        repo, ns = load(request, namespace)
        return association_view(repo.add_association(
            ns, new_association(ns, body)))

    def delete(self, request: wsgi.Request, namespace: str,
               name: str) -> None:
        """DELETE .../{namespace}/resource_types/{name} -> 204; 404 not
        associated, 403 protected namespace."""
        repo, ns = load(request, namespace)
        repo.remove_association(ns, repo.get_association(ns, name))


class Serializer:
    def create(self, response, view: dict) -> None:
        wsgi.json_response(response, view, status=201)


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
