"""/v2/metadefs: the catalog's namespaces, what they hold (objects,
property definitions, tags, resource type associations), and
/v2/metadefs/resource_types.

One resource serves every kind; what differs between them (schema, URL
variable, list shape, view, rules, events) is the kind's declaration in
``glance.domain.metadef``.  The route table binds the resource to a kind as
``metadefs:<collection>``.  A namespace is one more kind, replaced and
deleted by the same code; the ``Namespace*`` classes add only what it has
besides: the paged list, creation with contents and the view with them.
"""
from __future__ import annotations

from typing import Any

from oslo_config import cfg
import webob

from glance.common import exception, timeutils, wsgi
from glance.domain import metadef as domain
from glance.domain.metadef import NAMESPACES
from glance.domain.repositories import MetadefRepository
from glance import gateway
from glance import schemas
from glance.schemas import metadef as metadef_schemas

CONF = cfg.CONF
BASE = '/v2/metadefs/namespaces'
#: the X-Openstack-Append values that mean "add to the existing tags"
_TRUE = ('true', '1', 'yes', 'on')
#: the namespace list's parameters naming one of a few values, and those
_CHOICES = {'sort_key': domain.SORT_KEYS, 'sort_dir': ('asc', 'desc'),
            'visibility': tuple(metadef_schemas.VISIBILITIES)}


def metadef_body(request: wsgi.Request, kind: domain.Kind,
                 schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON object body of ``request``, checked against the kind's
    schema (or ``schema``).

    Keys the server owns (self, schema, timestamps) are refused with 403,
    as for images, rather than silently dropped: a client sending them
    believes it can set them.
    """
    body = request.json_body_or_400()
    if not isinstance(body, dict):
        raise exception.BadRequest('The request body must be a JSON object.')
    for key in metadef_schemas.READ_ONLY:
        if key in body:
            raise exception.Forbidden("Attribute '%s' is read-only." % key)
    schemas.validate(schema or _schema(kind), body)
    return body


def load(request: wsgi.Request, namespace: str
         ) -> tuple[MetadefRepository, domain.Item]:
    """(repository, namespace) for a call on ``namespace`` or its contents;
    404 when the caller may not see the namespace."""
    repo = gateway.get_metadef_repo(request.context)
    return repo, repo.get_item(NAMESPACES, None, namespace)


def item_view(item: domain.Item) -> dict[str, Any]:
    """One entry (or namespace) as its own calls show it."""
    kind = item.kind
    view: dict[str, Any] = {kind.name_key: item.name}
    if kind.timestamps:
        view['created_at'] = timeutils.isotime(item.created_at)
        view['updated_at'] = timeutils.isotime(item.updated_at)
    if kind.self_link:
        view['schema'] = '/v2/schemas/metadefs/%s' % kind.name
        view['self'] = '/v2/metadefs/namespaces/' + '/'.join(
            (item.namespace, kind.collection, item.name)
            if item.namespace else (item.name,))
    view.update(item.shown())
    return view


def list_view(kind: domain.Kind, items: list[domain.Item]
              ) -> list[dict[str, Any]] | dict[str, Any]:
    """Entries as lists show them (in their namespace's view too)."""
    def shown(item):
        return {'name': item.name} if kind.names_in_lists \
            else item_view(item)
    if kind.as_map:
        return {i.name: shown(i) for i in items}
    return [shown(i) for i in items]


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


def _schema(kind: domain.Kind) -> dict[str, Any]:
    return getattr(metadef_schemas, '%s_schema' % kind.name)()


def _check_names(kind: domain.Kind, names: list) -> list[str]:
    """Names no schema has seen (a tag's from its path or a list, those of
    a new namespace's contents) fit their column (400) and differ (409).
    A namespace's contents are stored one by one after it: refusing here
    what the database would refuse half-way leaves no half namespace."""
    limit = metadef_schemas.NAME_MAX
    for name in names:
        if not isinstance(name, str) or not 0 < len(name) <= limit:
            raise exception.BadRequest(
                'Each name in %s is a string of 1 to %d characters, not '
                '%.20r.' % (kind.list_key, limit, name))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise exception.Duplicate('%s given twice in %s.'
                                  % (', '.join(repeated), kind.list_key))
    return names


def _check_contents(found: dict[domain.Kind, list[domain.Item]]) -> None:
    """A new namespace's contents, checked as each kind's own calls would
    (the served namespace schema, the API reference's, does not limit
    their names or an association's prefix and target)."""
    for kind, items in found.items():
        _check_names(kind, [item.name for item in items])
        for item in items if kind is domain.ASSOCIATIONS else ():
            schemas.validate(_schema(kind), {'name': item.name,
                                             **item.shown()})


class Deserializer:
    """Request bodies of the kind, checked against its schema."""

    def __init__(self, kind: domain.Kind):
        self.kind = kind

    def create(self, request: wsgi.Request) -> dict:
        if self.kind.named_by_path:
            return {}
        return {'body': metadef_body(request, self.kind)}

    def update(self, request: wsgi.Request) -> dict:
        body = metadef_body(request, self.kind)
        if self.kind.named_by_path:
            _check_names(self.kind, [body['name']])
        return {'body': body}

    def create_many(self, request: wsgi.Request) -> dict:
        body = metadef_body(request, self.kind, metadef_schemas.tags_schema())
        tags = body.get('tags')
        if not isinstance(tags, list) or not all(isinstance(t, dict)
                                                 for t in tags):
            raise exception.BadRequest('The body needs a "tags" list of '
                                       'objects: {"tags": [{"name": "t"}]}.')
        names = _check_names(self.kind, [t.get('name') for t in tags])
        append = request.headers.get('X-Openstack-Append', 'false') \
            .strip().lower() in _TRUE
        return {'names': names, 'append': append}


class NamespaceDeserializer(Deserializer):
    """The namespace list's query, and a new namespace's contents."""

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

    def show(self, request: wsgi.Request) -> dict:
        return {'resource_type': request.params.get('resource_type')}


class Controller:
    """One method per call on the kind the resource was made for; the
    repository chain does policy and events.  An entry's name is in the
    kind's URL variable, a namespace's in ``namespace``."""

    def __init__(self, kind: domain.Kind):
        self.kind = kind

    def _load(self, request: wsgi.Request, namespace: str,
              path: dict[str, str]):
        """(repository, the namespace the entry is in, the entry)."""
        repo, ns = load(request, namespace)
        if self.kind is NAMESPACES:
            return repo, None, ns
        return repo, ns, repo.get_item(self.kind, ns, path[self.kind.path_var])

    def index(self, request: wsgi.Request, namespace: str) -> dict:
        """GET .../{namespace}/<kind> -> 200 every entry of the namespace
        (tags newest first, the rest oldest first)."""
        repo, ns = load(request, namespace)
        body = {self.kind.list_key: list_view(
            self.kind, repo.list_items(self.kind, ns))}
        if self.kind.list_schema:
            # The reference writes this link without its leading slash.
            body['schema'] = self.kind.list_schema
        return body

    def create(self, request: wsgi.Request, namespace: str,
               body: dict | None = None, **path: str) -> dict:
        """POST .../<kind> (a tag: POST .../tags/{tag_name}, no body)
        -> 201 the entry; 409 name taken, 403 non-administrators."""
        repo, ns = load(request, namespace)
        if body is None:
            body = {'name': _check_names(self.kind,
                                         [path[self.kind.path_var]])[0]}
        return item_view(repo.add_item(
            ns, domain.new_item(self.kind, ns.name, body)))

    def create_many(self, request: wsgi.Request, namespace: str,
                    names: list[str], append: bool) -> dict:
        """POST .../tags {"tags": [...]} -> 201 the tags created.  They
        replace the namespace's tags unless X-Openstack-Append is true;
        409 (and nothing changed) when a name repeats or is taken."""
        repo, ns = load(request, namespace)
        items = repo.add_items(self.kind, ns, [
            domain.Item(self.kind, ns.name, n) for n in names], append)
        return {self.kind.list_key: list_view(self.kind, items)}

    def show(self, request: wsgi.Request, namespace: str,
             **path: str) -> dict:
        """GET .../<kind>/{name} -> 200; 404 unknown."""
        return item_view(self._load(request, namespace, path)[2])

    def update(self, request: wsgi.Request, namespace: str, body: dict,
               **path: str) -> dict:
        """PUT .../{name} -> 200; the body replaces the entry (absent
        fields take their defaults, a namespace keeps its owner unless
        given) and may rename it: 409 onto a taken name; 403 for
        non-administrators."""
        repo, ns, item = self._load(request, namespace, path)
        kept = {f: item.values[f] for f in self.kind.kept}
        new = domain.new_item(self.kind, item.namespace, {**kept, **body})
        item.name, item.values = new.name, new.values
        return item_view(repo.save_item(ns, item))

    def delete(self, request: wsgi.Request, namespace: str,
               **path: str) -> None:
        """DELETE .../{name} -> 204 (a namespace with everything in it);
        404 unknown, 403 when the namespace is protected."""
        repo, ns, item = self._load(request, namespace, path)
        repo.remove_item(ns, item)

    def delete_all(self, request: wsgi.Request, namespace: str) -> None:
        """DELETE .../<kind> -> 204 every entry gone; 403 protected."""
        repo, ns = load(request, namespace)
        repo.remove_all(self.kind, ns)

    def resource_types(self, request: wsgi.Request) -> dict:
        """GET /v2/metadefs/resource_types -> 200 every resource type
        known (registered by associating a namespace with it)."""
        repo = gateway.get_metadef_repo(request.context)
        return {'resource_types': [
            item_view(t) for t in repo.list_resource_types()]}


class NamespaceController(Controller):
    """A namespace's own list, creation and view, each with contents."""

    def index(self, request: wsgi.Request, query: domain.NamespaceQuery
              ) -> tuple[list[dict[str, Any]], int]:
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
    """A created entry (or several tags) answers 201."""

    def create(self, response: webob.Response, view: dict) -> None:
        wsgi.json_response(response, view, status=201)

    create_many = create


class NamespaceSerializer(Serializer):
    """A created namespace says where it is; the list links its pages."""

    def create(self, response: webob.Response, view: dict) -> None:
        super().create(response, view)
        response.location = '%s%s' % (response.request.application_url,
                                      view['self'])

    def index(self, response: webob.Response,
              result: tuple[list[dict[str, Any]], int]) -> None:
        views, limit = result
        links = wsgi.page_links(response.request, BASE, len(views) == limit,
                                views[-1]['namespace'] if views else None)
        wsgi.json_response(response, {
            'namespaces': views, **links,
            'schema': '/v2/schemas/metadefs/namespaces'})


def create_resource(collection: str) -> wsgi.Resource:
    """The resource of one kind, by its URL segment (``objects``...)."""
    kind = next(k for k in domain.KINDS if k.collection == collection)
    if kind is NAMESPACES:
        return wsgi.Resource(NamespaceController(kind),
                             NamespaceDeserializer(kind),
                             NamespaceSerializer())
    return wsgi.Resource(Controller(kind), Deserializer(kind), Serializer())
