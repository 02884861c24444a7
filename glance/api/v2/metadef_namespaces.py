"""/v2/metadefs/namespaces[/{namespace}]: the catalog's namespaces, shown
with what they contain.

A namespace is replaced and deleted as any entry is
(``metadef_items.EntryController``); listing it page by page, creating it
with contents and showing it with them are its own.
"""
from __future__ import annotations

import urllib.parse
from typing import Any

from oslo_config import cfg

from glance.api.v2.metadef_items import (EntryController, item_view,
                                         list_view, load, metadef_body)
from glance.common import exception, wsgi
from glance.domain import metadef as domain
from glance.domain.metadef import NAMESPACES
from glance import gateway
from glance.schemas import metadef as metadef_schemas

CONF = cfg.CONF
BASE = '/v2/metadefs/namespaces'
#: the query parameters naming one of a few values, and those values
_CHOICES = {'sort_key': domain.SORT_KEYS, 'sort_dir': ('asc', 'desc'),
            'visibility': tuple(metadef_schemas.VISIBILITIES)}


def full_view(ns: domain.Item,
              contents: dict[domain.Kind, list[domain.Item]],
              prefix: str = '') -> dict[str, Any]:
    """The namespace with whatever it contains (empty parts left out);
    ``prefix`` goes before every property name, as on the resource type
    the caller asked about."""
    view = item_view(ns)
    for kind, items in contents.items():
        if items:
            view[kind.list_key] = list_view(kind, items)
    for holder in (view, *view.get('objects', ())) if prefix else ():
        if holder.get('properties'):
            holder['properties'] = {prefix + name: definition for
                                    name, definition in
                                    holder['properties'].items()}
    return view


def _check_contents(found: dict[domain.Kind, list[domain.Item]]) -> None:
    """Refuse what would fail half-way through creating a namespace's
    contents (created one by one after it) and leave half a namespace: a
    name (or an association's prefix or target) too long for its column
    (400; the served namespace schema, the API reference's, does not limit
    them), a name missing (400) or given twice (409)."""
    limit = metadef_schemas.NAME_MAX
    for kind, items in found.items():
        for item in items:
            texts = [item.name, *(item.values.values()
                                  if kind is domain.ASSOCIATIONS else ())]
            for text in texts:
                if isinstance(text, str) and len(text) > limit:
                    raise exception.BadRequest(
                        'Each name in %s has at most %d characters; %r... '
                        'has %d.' % (kind.list_key, limit, text[:20],
                                     len(text)))
    for kind, items in found.items():
        names = [item.name for item in items]
        if None in names:
            raise exception.BadRequest('Every entry of %s needs a name.'
                                       % kind.list_key)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise exception.Duplicate('%s given twice in %s.'
                                      % (', '.join(repeated), kind.list_key))


class Deserializer:
    def index(self, request: wsgi.Request) -> dict:
        params = request.params
        limit = min(wsgi.int_param(params, 'limit', CONF.limit_param_default,
                                   minimum=1),
                    CONF.api_limit_max)
        for key, allowed in _CHOICES.items():
            if params.get(key, allowed[0]) not in allowed:
                raise exception.BadRequest('Invalid %s %s: use one of %s.'
                                           % (key, params[key],
                                              ', '.join(allowed)))
        types = [t.strip() for t in params.get('resource_types', '')
                 .split(',') if t.strip()]
        given = ('marker', 'sort_key', 'sort_dir', 'visibility')
        return {'query': domain.NamespaceQuery(
            limit=limit, resource_types=types,
            **{key: params[key] for key in given if key in params})}

    def create(self, request: wsgi.Request) -> dict:
        body = metadef_body(request, NAMESPACES)
        found = domain.contents(body['namespace'], body)
        _check_contents(found)
        return {'body': body, 'found': found}

    def update(self, request: wsgi.Request) -> dict:
        return {'body': metadef_body(request, NAMESPACES)}

    def show(self, request: wsgi.Request) -> dict:
        return {'resource_type': request.params.get('resource_type')}


class Controller(EntryController):
    """One method per call; the repository chain does policy and events."""

    def __init__(self):
        super().__init__(NAMESPACES)

    def index(self, request: wsgi.Request, query: domain.NamespaceQuery):
        """GET /v2/metadefs/namespaces -> 200 a page of the namespaces the
        caller may see (public ones and the project's own; all for an
        administrator), each with its resource type associations."""
        repo = gateway.get_metadef_repo(request.context)
        found = repo.list_namespaces(query)
        assocs = repo.list_associations(found)
        return ([full_view(ns, {domain.ASSOCIATIONS: assocs[ns.name]})
                 for ns in found], query.limit)

    def create(self, request: wsgi.Request, body: dict,
               found: dict[domain.Kind, list[domain.Item]]) -> dict:
        """POST /v2/metadefs/namespaces -> 201 the namespace and what was
        created inside it; 403 for non-administrators, 409 name taken,
        400 a body the namespace schema refuses."""
        repo = gateway.get_metadef_repo(request.context)
        ns = repo.add_item(None, domain.new_item(
            NAMESPACES, None, {'owner': request.context.project_id, **body}))
        return full_view(ns, domain.add_contents(repo, ns, found))

    def show(self, request: wsgi.Request, namespace: str,
             resource_type: str | None = None) -> dict:
        """GET .../{namespace}[?resource_type=T] -> 200 the namespace with
        its properties, objects, tags and associations; with T, property
        names carry T's prefix.  404 unknown or not visible."""
        repo, ns = load(request, namespace)
        assocs = repo.list_associations([ns])[ns.name]
        prefix = next((a.values['prefix'] or '' for a in assocs
                       if a.name == resource_type), '')
        contents = {kind: repo.list_items(kind, ns) for kind in
                    (domain.PROPERTIES, domain.OBJECTS, domain.TAGS)}
        contents[domain.ASSOCIATIONS] = assocs
        return full_view(ns, contents, prefix)


class Serializer:
    def create(self, response, view: dict) -> None:
        wsgi.json_response(response, view, status=201)
        response.location = '%s%s' % (response.request.application_url,
                                      view['self'])

    def index(self, response, result) -> None:
        views, limit = result
        params = [(k, v) for k, v in response.request.params.items()
                  if k != 'marker']
        body: dict[str, Any] = {'namespaces': views, 'first': _link(params),
                                'schema': '/v2/schemas/metadefs/namespaces'}
        if len(views) == limit:
            body['next'] = _link(params + [('marker',
                                            views[-1]['namespace'])])
        wsgi.json_response(response, body)


def _link(params: list[tuple[str, str]]) -> str:
    return BASE + ('?' + urllib.parse.urlencode(params) if params else '')


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
