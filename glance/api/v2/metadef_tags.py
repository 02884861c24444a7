"""/v2/metadefs/namespaces/{namespace}/tags[/{tag_name}]: the tags a
namespace suggests for resources."""
from __future__ import annotations

from typing import Any

from glance.api.v2.metadef_common import load, metadef_body
from glance.common import exception, timeutils, wsgi
from glance.domain import metadef as domain
from glance.schemas import metadef as metadef_schemas

#: the X-Openstack-Append values that mean "add to the existing tags"
_TRUE = ('true', '1', 'yes', 'on')


def tag_view(tag: domain.MetadefTag) -> dict[str, Any]:
    return {'name': tag.name,
            'created_at': timeutils.isotime(tag.created_at),
            'updated_at': timeutils.isotime(tag.updated_at)}


def _check_name(name: str) -> str:
    limit = metadef_schemas.tag_schema()['properties']['name']['maxLength']
    if not name or len(name) > limit:
        raise exception.BadRequest('A tag name has 1 to %d characters.'
                                   % limit)
    return name


class Deserializer:
    def create_many(self, request: wsgi.Request) -> dict:
        body = metadef_body(request, metadef_schemas.tags_schema())
        tags = body.get('tags')
        if not isinstance(tags, list):
            raise exception.BadRequest('The body needs a "tags" list.')
        # The API reference wants objects: {"tags": [{"name": "t"}]}.
        if not all(isinstance(t, dict) and isinstance(t.get('name'), str)
                   for t in tags):
            raise exception.BadRequest(
                'Each entry of "tags" must be an object with a string '
                '"name", e.g. {"tags": [{"name": "t"}]}.')
        names = [_check_name(t['name']) for t in tags]
        append = request.headers.get('X-Openstack-Append', 'false') \
            .strip().lower() in _TRUE
        return {'names': names, 'append': append}

    def update(self, request: wsgi.Request) -> dict:
        body = metadef_body(request, metadef_schemas.tag_schema())
        return {'new_name': _check_name(body['name'])}


class Controller:
    """One method per call; policy and events happen in the chain."""

    def index(self, request: wsgi.Request, namespace: str) -> dict:
        """GET .../tags -> 200 ``{"tags": [{"name": ...}]}``, newest
        first."""
        repo, ns = load(request, namespace)
        return {'tags': [{'name': t.name} for t in repo.list_tags(ns)]}

    def create(self, request: wsgi.Request, namespace: str,
               tag_name: str) -> dict:
        """POST .../tags/{tag_name} (no body) -> 201 the tag; 409 taken."""
        repo, ns = load(request, namespace)
        return tag_view(repo.add_tag(ns, domain.MetadefTag(
            ns.namespace, _check_name(tag_name))))

    def create_many(self, request: wsgi.Request, namespace: str,
                    names: list[str], append: bool) -> dict:
        """POST .../tags {"tags": [...]} -> 201 the tags created.  They
        replace the namespace's tags unless X-Openstack-Append is true;
        409 (and nothing changed) when a name repeats or is taken."""
        repo, ns = load(request, namespace)
        tags = repo.add_tags(ns, [domain.MetadefTag(ns.namespace, n)
                                  for n in names], append)
        return {'tags': [{'name': t.name} for t in tags]}

    def show(self, request: wsgi.Request, namespace: str,
             tag_name: str) -> dict:
        """GET .../tags/{tag_name} -> 200; 404 unknown."""
        repo, ns = load(request, namespace)
        return tag_view(repo.get_tag(ns, tag_name))

    def update(self, request: wsgi.Request, namespace: str, tag_name: str,
               new_name: str) -> dict:
        """PUT .../tags/{tag_name} {"name": n} -> 200 the renamed tag;
        409 onto a taken name."""
        repo, ns = load(request, namespace)
        tag = repo.get_tag(ns, tag_name)
        tag.name = new_name
        return tag_view(repo.save_tag(ns, tag))

    def delete(self, request: wsgi.Request, namespace: str,
               tag_name: str) -> None:
        """DELETE .../tags/{tag_name} -> 204; 403 protected namespace."""
        repo, ns = load(request, namespace)
        repo.remove_tag(ns, repo.get_tag(ns, tag_name))

    def delete_all(self, request: wsgi.Request, namespace: str) -> None:
        """DELETE .../tags -> 204 every tag gone; 403 protected."""
        repo, ns = load(request, namespace)
        repo.remove_tags(ns)


class Serializer:
    def create(self, response, view: dict) -> None:
        wsgi.json_response(response, view, status=201)

    def create_many(self, response, view: dict) -> None:
        wsgi.json_response(response, view, status=201)


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
