"""GET / and /versions: the version document of the Images API."""
from __future__ import annotations

from oslo_config import cfg
from oslo_serialization import jsonutils
import webob
import webob.dec

CONF = cfg.CONF

#: (version, status), newest first
VERSIONS = [('2.%d' % minor, 'SUPPORTED') for minor in range(17, -1, -1)]
VERSIONS.insert(0, ('2.18', 'CURRENT'))
CURRENT = '2.18'


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
        for version, status in VERSIONS]}


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
