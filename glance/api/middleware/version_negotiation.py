"""Version negotiation: by URL (/v2, /v2.x) or by Accept media type.

Requests for / or for a version we do not serve get the version document
(300 Multiple Choices) without touching authentication.
"""
from __future__ import annotations

import re

import webob.exc

from glance.api import versions
from glance.common import wsgi

_URL_VERSION = re.compile(r'^/v(\d+)(?:\.(\d+))?(/.*)?$')
_MEDIA = re.compile(r'application/vnd\.openstack\.images-v(\d+)(?:\.(\d+))?')


def _supported(major: str, minor: str | None) -> bool:
    if major != '2':
        return False
    # only the versions the configuration offers (no cache: no 2.18)
    return minor is None or '2.%d' % int(minor) in dict(versions.served())


class VersionNegotiationFilter(wsgi.Filter):
    """Rewrite /v2.x/... to /v2/..., answer unknown versions with 300."""

    def __init__(self, app):
        super().__init__(app)
        self.versions_app = versions.Controller()

    def process_request(self, request: wsgi.Request):
        try:
            path = request.path_info
        except UnicodeDecodeError:
            # WSGI hands the path over as latin-1 bytes; one that is not
            # UTF-8 names nothing we serve, and the client should know.
            return webob.exc.HTTPBadRequest(
                explanation='The request path is not valid UTF-8.')
        if path.strip('/') in ('', 'versions'):
            return self.versions_app
        m = _URL_VERSION.match(path)
        if m:
            major, minor, rest = m.groups()
            if not _supported(major, minor):
                return self.versions_app
            request.path_info = '/v2' + (rest or '')
            return None
        m = _MEDIA.search(request.headers.get('Accept', ''))
        if m and _supported(m.group(1), m.group(2)):
            request.path_info = '/v2' + path
            return None
        return self.versions_app
