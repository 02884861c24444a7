"""oslo.middleware's CORS and HTTPProxyToWSGI, passed by where they have
nothing to do.

Both are ``ConfigurableMiddleware``: per request a webob Request, the
response rebuilt as a webob Response, and ``inspect.getfullargspec`` of
their ``process_response``; about 70 microseconds together, a tenth of a
show.  Here the requests they would only pass on go straight through:

* HTTPProxyToWSGI only rewrites the environ (scheme, host, address) from
  the proxy headers, on the way in; it never touches the response.
* CORS changes nothing of a request without an ``Origin`` header unless
  it is an OPTIONS request (whose non-2xx answer it makes a 200).

Everything else is theirs, unchanged, and paste files that name
oslo.middleware's own factories keep working (only slower).

CORS reads its ``[cors]`` options from glance-api's own configuration
(the files and directories it was started with).  Given
``oslo_config_project`` (which its paste factory insists on unless the
paste file names ``allowed_origin`` itself), oslo.middleware reads the
project's default files instead (``/etc/glance/glance-api.conf`` and the
like), and a ``--config-file`` elsewhere was not heard.
"""
from __future__ import annotations

from oslo_config import cfg
from oslo_middleware import base
from oslo_middleware import cors
from oslo_middleware import http_proxy_to_wsgi


class HTTPProxyToWSGI(http_proxy_to_wsgi.HTTPProxyToWSGI):
    """HTTPProxyToWSGI on plain WSGI (it has no response work)."""

    def __call__(self, environ, start_response):
        self.process_request(base.NoContentTypeRequest(environ))
        return self.application(environ, start_response)


#: paste options that would make oslo.middleware read other files
_OTHER_FILES = ('oslo_config_project', 'oslo_config_program',
                'oslo_config_file')


class CORS(cors.CORS):
    """CORS on glance-api's configuration, letting requests without an
    ``Origin`` go straight on."""

    def __init__(self, application, conf=None):
        if isinstance(conf, dict):
            conf = {key: value for key, value in conf.items()
                    if key not in _OTHER_FILES} or cfg.CONF
        super().__init__(application, conf)

    def __call__(self, environ, start_response):
        if 'HTTP_ORIGIN' in environ or environ['REQUEST_METHOD'] == 'OPTIONS':
            return super().__call__(environ, start_response)
        return self.application(environ, start_response)
