"""The Images API v2 route table, as data.

``ROUTES`` maps a path template to {HTTP method: (resource, action)}; the
metadefs and their schemas are added from their declarations.  Every path
also gets a catch-all route, so a method it does not list answers 405
with an Allow header generated from the same table.
"""
from __future__ import annotations

import importlib

import routes
import routes.middleware
import webob.dec
import webob.exc

from glance.async_ import recovery
from glance.domain import metadef
from glance.schemas import metadef as metadef_schemas

ROUTES: dict[str, dict[str, tuple[str, str]]] = {
    '/v2/images': {
        'GET': ('images', 'index'),
        'POST': ('images', 'create'),
    },
    '/v2/images/{image_id}': {
        'GET': ('images', 'show'),
        'PATCH': ('images', 'update'),
        'DELETE': ('images', 'delete'),
    },
    '/v2/images/{image_id}/file': {
        'GET': ('image_data', 'download'),
        'PUT': ('image_data', 'upload'),
    },
    '/v2/images/{image_id}/tags/{tag}': {
        'PUT': ('image_tags', 'update'),
        'DELETE': ('image_tags', 'delete'),
    },
    '/v2/images/{image_id}/actions/deactivate': {
        'POST': ('image_actions', 'deactivate'),
    },
    '/v2/images/{image_id}/actions/reactivate': {
        'POST': ('image_actions', 'reactivate'),
    },
    '/v2/images/{image_id}/members': {
        'GET': ('image_members', 'index'),
        'POST': ('image_members', 'create'),
    },
    '/v2/images/{image_id}/members/{member_id}': {
        'GET': ('image_members', 'show'),
        'PUT': ('image_members', 'update'),
        'DELETE': ('image_members', 'delete'),
    },
    '/v2/images/{image_id}/locations': {
        'GET': ('image_locations', 'index'),
        'POST': ('image_locations', 'create'),
    },
    '/v2/images/{image_id}/stage': {
        'PUT': ('image_stage', 'stage'),
    },
    '/v2/images/{image_id}/import': {
        'POST': ('image_import', 'import_image'),
    },
    '/v2/images/{image_id}/tasks': {
        'GET': ('image_import', 'tasks'),
    },
    '/v2/info/import': {'GET': ('image_import', 'info')},
    '/v2/info/stores': {'GET': ('info', 'stores')},
    '/v2/info/stores/detail': {'GET': ('info', 'stores_detail')},
    '/v2/info/usage': {'GET': ('info', 'usage')},
    '/v2/stores/{store_id}/{image_id}': {'DELETE': ('stores', 'delete')},
    '/v2/tasks': {
        'GET': ('tasks', 'index'),
        'POST': ('tasks', 'create'),
    },
    '/v2/tasks/{task_id}': {'GET': ('tasks', 'show')},
    '/v2/cache': {
        'GET': ('cached_images', 'index'),
        'DELETE': ('cached_images', 'clear'),
    },
    # before /v2/cache/{image_id}: the first template matching wins
    '/v2/cache/clean': {'POST': ('cached_images', 'clean')},
    '/v2/cache/prune': {'POST': ('cached_images', 'prune')},
    '/v2/cache/nodes/{image_id}': {'GET': ('cached_images', 'nodes')},
    '/v2/cache/{image_id}': {
        'PUT': ('cached_images', 'queue'),
        'DELETE': ('cached_images', 'delete'),
    },
    '/v2/schemas/member': {'GET': ('schemas', 'member')},
    '/v2/schemas/members': {'GET': ('schemas', 'members')},
    '/v2/schemas/task': {'GET': ('schemas', 'task')},
    '/v2/schemas/tasks': {'GET': ('schemas', 'tasks')},
    '/v2/schemas/image': {'GET': ('schemas', 'image')},
    '/v2/schemas/images': {'GET': ('schemas', 'images')},
}


def _metadef_routes() -> dict[str, dict[str, tuple[str, str]]]:
    """/v2/metadefs/...: the calls each kind declares (``Kind.rules``), on
    the resource made for that kind (``metadefs:<collection>``)."""
    table = {'/v2/metadefs/resource_types': {
        'GET': ('metadefs:resource_types', 'resource_types')}}
    for kind in metadef.KINDS:
        for method, path, action in map(kind.call, kind.rules):
            table.setdefault(path, {})[method] = (
                'metadefs:' + kind.collection, action)
    return table


ROUTES.update(_metadef_routes())
# /v2/schemas/metadefs/namespace ... /resource_types, one route each
ROUTES.update({'/v2/schemas/metadefs/%s' % name:
               {'GET': ('schemas', 'metadef_%s' % name)}
               for name in metadef_schemas.SCHEMA_NAMES})


@webob.dec.wsgify
def _reject(request):
    """Answer a method the table does not list for this path."""
    allowed = request.urlvars['allowed']
    if request.method == 'OPTIONS':
        response = webob.Response(status=200, headers=[('Allow', allowed)])
        response.content_type = None
        return response
    return webob.exc.HTTPMethodNotAllowed(headers=[('Allow', allowed)])


class API:
    """WSGI app dispatching to the resources by the route table."""

    def __init__(self, mapper: routes.Mapper):
        # No method override: Routes would otherwise turn a POST with
        # ``?_method=DELETE`` (or a form field of that name) into a DELETE,
        # a way round every proxy or firewall rule written per method, and
        # it would read a form-encoded body to look (consuming image data,
        # and failing on a malformed multipart body).
        # Not a singleton: the default keeps the match in Routes'
        # thread-local request config, which no code here reads and which
        # cost a tenth of a show under eventlet's green-thread locals.
        self._router = routes.middleware.RoutesMiddleware(
            self._dispatch, mapper, use_method_override=False,
            singleton=False)

    @classmethod
    def factory(cls, global_conf, **local_conf):
        """paste.app_factory entry point."""
        return cls(build_mapper())

    def __call__(self, environ, start_response):
        # The process serving requests heartbeats its leases (started on
        # its first request: the parent builds the app too, and forks).
        recovery.start()
        return self._router(environ, start_response)

    @staticmethod
    def _dispatch(environ, start_response):
        match = environ['wsgiorg.routing_args'][1]
        app = match['controller'] if match else webob.exc.HTTPNotFound()
        return app(environ, start_response)


def resource(name: str):
    """The Resource a route names: ``module`` is built by the module's
    ``create_resource()``, ``module:argument`` by
    ``create_resource(argument)`` (one module serving several
    resources)."""
    module, _, argument = name.partition(':')
    mod = importlib.import_module('glance.api.v2.%s' % module)
    return mod.create_resource(argument) if argument \
        else mod.create_resource()


def build_mapper() -> routes.Mapper:
    """A Routes mapper for ``ROUTES`` with one Resource per module."""
    mapper = routes.Mapper()
    resources = {}
    for path, methods in ROUTES.items():
        for method, (module, action) in methods.items():
            if module not in resources:
                resources[module] = resource(module)
            mapper.connect(path, controller=resources[module], action=action,
                           conditions={'method': [method]})
        mapper.connect(path, controller=_reject,
                       allowed=', '.join(methods))
    return mapper
