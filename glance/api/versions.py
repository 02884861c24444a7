"""GET / and /versions: the version document of the Images API."""
from __future__ import annotations

from oslo_config import cfg
from oslo_serialization import jsonutils
import webob
import webob.dec

CONF = cfg.CONF
CONF.import_opt('image_cache_dir', 'glance.image_cache')

#: the newest version this code serves
CURRENT = '2.18'
#: versions of the cache API (2.14 the cache calls, 2.16 and 2.18 their
#: later forms), offered only where an image cache is configured, as the
#: reference service does
CACHE_VERSIONS = frozenset({'2.14', '2.16', '2.18'})


def served() -> list[tuple[str, str]]:
    """(version, status) of the versions this configuration offers, newest
    first; the newest is CURRENT (2.17 without an image cache)."""
    cache = bool(CONF.image_cache_dir)
    offered = ['2.%d' % minor for minor in range(18, -1, -1)
               if cache or '2.%d' % minor not in CACHE_VERSIONS]
    return [(v, 'CURRENT' if i == 0 else 'SUPPORTED')
            for i, v in enumerate(offered)]


def _base_url(request: webob.Request) -> str:
    if CONF.public_endpoint:
        return CONF.public_endpoint.rstrip('/')
    return request.application_url.rstrip('/')


def version_document(request: webob.Request) -> dict:
    """The list of versions with self links pointing at this endpoint."""
    href = '%s/v2/' % _base_url(request)
    return {'versions': [
        {'id': 'v%s' % version, 'status': status,
         'links': [{'rel': 'self', 'href': href}]}
        for version, status in served()]}


class Controller:
    """WSGI app answering every request with the version document."""

    def __init__(self, status: int = 300):
        self.status = status

    @webob.dec.wsgify
    def __call__(self, request: webob.Request) -> webob.Response:
        status = self.status
        if request.path_info.strip('/') == 'versions' and \
                request.method == 'GET':
            status = 200
        response = webob.Response(request=request, status=status,
                                  content_type='application/json',
                                  charset=None)
        response.body = jsonutils.dump_as_bytes(version_document(request))
        return response


def create_resource(conf=None) -> Controller:
    return Controller()


def app_factory(global_conf, **local_conf) -> Controller:
    """paste.app_factory for the apiversions app."""
    return Controller()
