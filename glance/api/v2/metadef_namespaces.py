"""/v2/metadefs/namespaces[/{namespace}]: the catalog's namespaces, shown
with what they contain."""
from __future__ import annotations

import urllib.parse
from typing import Any

from oslo_config import cfg

from glance.api.v2.metadef_items import list_view, load, metadef_body
from glance.common import exception, timeutils, wsgi
from glance.domain import metadef as domain
from glance import gateway
from glance.schemas import metadef as metadef_schemas

CONF = cfg.CONF
BASE = '/v2/metadefs/namespaces'


def namespace_view(ns: domain.Namespace) -> dict[str, Any]:
    """The namespace itself, without its contents."""
    view: dict[str, Any] = {
        'namespace': ns.namespace, 'visibility': ns.visibility,
        'protected': ns.protected,
        'created_at': timeutils.isotime(ns.created_at),
        'updated_at': timeutils.isotime(ns.updated_at),
        'schema': '/v2/schemas/metadefs/namespace',
        'self': '%s/%s' % (BASE, ns.namespace)}
    for key in ('display_name', 'description', 'owner'):
        if getattr(ns, key) is not None:
            view[key] = getattr(ns, key)
    return view


def full_view(ns: domain.Namespace,
              contents: dict[domain.Kind, list[domain.Item]],
              prefix: str = '') -> dict[str, Any]:
    """The namespace with whatever it contains (empty parts left out);
    ``prefix`` goes before every property name, as on the resource type
    the caller asked about."""
    view = namespace_view(ns)
    for kind, items in contents.items():
        if items:
            view[kind.list_key] = list_view(kind, items)
    if prefix:
        if 'properties' in view:
            view['properties'] = _prefixed(prefix, view['properties'])
        for obj in view.get('objects', ()):
            if obj.get('properties'):
                obj['properties'] = _prefixed(prefix, obj['properties'])
    return view


def _prefixed(prefix: str, definitions: dict[str, Any]) -> dict[str, Any]:
    return {prefix + name: d for name, d in definitions.items()}


def _new_namespace(body: dict[str, Any], owner: str | None
                   ) -> domain.Namespace:
    return domain.Namespace(
        namespace=body['namespace'], display_name=body.get('display_name'),
        description=body.get('description'),
        visibility=body.get('visibility', 'private'),
        protected=body.get('protected', False),
        owner=body.get('owner', owner))


def _check_contents(body: dict[str, Any]) -> None:
    """Refuse what would fail half-way through creating a namespace's
    contents (created one by one after it) and leave half a namespace: a
    name too long for its column (400; the served namespace schema, the
    API reference's, does not limit them), missing (400) or given twice
    (409)."""
    found = {kind: domain.entries(kind, body) for kind in domain.KINDS}
    for kind, entries in found.items():
        fields = ('name', 'prefix', 'properties_target') \
            if kind is domain.ASSOCIATIONS else ('name',)
        for entry, field in ((e, f) for e in entries for f in fields):
            value, limit = entry.get(field), metadef_schemas.NAME_MAX
            if isinstance(value, str) and len(value) > limit:
                what = 'property name' if kind.as_map \
                    else '%s %s' % (kind.list_key, field)
                raise exception.BadRequest(
                    'Each %s has at most %d characters; %r... has %d.'
                    % (what, limit, value[:20], len(value)))
    for kind, entries in found.items():
        names = [entry.get('name') for entry in entries]
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
        sort_key = params.get('sort_key', 'created_at')
        if sort_key not in domain.SORT_KEYS:
            raise exception.BadRequest(
                'Invalid sort_key %s: use one of %s.'
                % (sort_key, ', '.join(domain.SORT_KEYS)))
        sort_dir = params.get('sort_dir', 'desc')
        if sort_dir not in ('asc', 'desc'):
            raise exception.BadRequest('Invalid sort_dir %s: use asc or '
                                       'desc.' % sort_dir)
        visibility = params.get('visibility')
        if visibility is not None and \
                visibility not in domain.VISIBILITIES:
            raise exception.BadRequest('Invalid visibility %s: use public '
                                       'or private.' % visibility)
        types = [t.strip() for t in params.get('resource_types', '')
                 .split(',') if t.strip()]
        return {'query': domain.NamespaceQuery(
            limit=limit, marker=params.get('marker'), sort_key=sort_key,
            sort_dir=sort_dir, visibility=visibility, resource_types=types)}

    def create(self, request: wsgi.Request) -> dict:
        body = self.update(request)['body']
        _check_contents(body)
        return {'body': body}

    def update(self, request: wsgi.Request) -> dict:
        return {'body': metadef_body(request,
                                     metadef_schemas.namespace_schema())}

    def show(self, request: wsgi.Request) -> dict:
        return {'resource_type': request.params.get('resource_type')}


class Controller:
    """One method per call; the repository chain does policy and events."""

    def index(self, request: wsgi.Request, query: domain.NamespaceQuery):
        """GET /v2/metadefs/namespaces -> 200 a page of the namespaces the
        caller may see (public ones and the project's own; all for an
        administrator), each with its resource type associations."""
        repo = gateway.get_metadef_repo(request.context)
        found = repo.list_namespaces(query)
        assocs = repo.list_associations(found)
        return ([full_view(ns, {domain.ASSOCIATIONS: assocs[ns.namespace]})
                 for ns in found], query.limit)

    def create(self, request: wsgi.Request, body: dict) -> dict:
        """POST /v2/metadefs/namespaces -> 201 the namespace and what was
        created inside it; 403 for non-administrators, 409 name taken,
        400 a body the namespace schema refuses."""
        repo = gateway.get_metadef_repo(request.context)
        ns = repo.add_namespace(_new_namespace(body,
                                               request.context.project_id))
        contents = {}
        for kind in domain.KINDS:
            items = [domain.new_item(kind, ns.namespace, entry)
                     for entry in domain.entries(kind, body)]
            if 'add_many' in kind.rules:
                contents[kind] = repo.add_items(kind, ns, items) \
                    if items else []
            else:
                contents[kind] = [repo.add_item(ns, i) for i in items]
        return full_view(ns, contents)

    def show(self, request: wsgi.Request, namespace: str,
             resource_type: str | None = None) -> dict:
        """GET .../{namespace}[?resource_type=T] -> 200 the namespace with
        its properties, objects, tags and associations; with T, property
        names carry T's prefix.  404 unknown or not visible."""
        repo, ns = load(request, namespace)
        assocs = repo.list_associations([ns])[ns.namespace]
        prefix = next((a.values['prefix'] or '' for a in assocs
                       if a.name == resource_type), '')
        contents = {kind: repo.list_items(kind, ns) for kind in
                    (domain.PROPERTIES, domain.OBJECTS, domain.TAGS)}
        contents[domain.ASSOCIATIONS] = assocs
        return full_view(ns, contents, prefix)

    def update(self, request: wsgi.Request, namespace: str,
               body: dict) -> dict:
        """PUT .../{namespace} -> 200; the body replaces the namespace
        (absent fields take their defaults; the owner stays unless
        given).  403 non-administrators, 409 renamed onto a taken name."""
        repo, ns = load(request, namespace)
        new = _new_namespace(body, ns.owner)
        for key in ('namespace', 'display_name', 'description',
                    'visibility', 'protected', 'owner'):
            setattr(ns, key, getattr(new, key))
        return namespace_view(repo.save_namespace(ns))

    def delete(self, request: wsgi.Request, namespace: str) -> None:
        """DELETE .../{namespace} -> 204, with everything in it; 403 when
        protected or not an administrator."""
        repo, ns = load(request, namespace)
        repo.remove_namespace(ns)


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
