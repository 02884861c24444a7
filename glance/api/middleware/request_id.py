"""Give every request an id, and answer every response with it.

oslo.middleware's RequestId does the work: a fresh ``req-<uuid>`` in the
environ (``openstack.request_id``) and in the ``x-openstack-request-id``
response header, and an incoming ``X-OpenStack-Request-ID`` of the same
form kept as the global request id (``openstack.global_request_id``),
which the context middleware puts into the RequestContext.  It is the
first filter of every pipeline, so 404s, versions and healthcheck answers
carry the header too.

Here it also honours ``max_request_id_length``: an incoming id longer than
that is refused with 400 rather than silently dropped, so a client that
sends a malformed id learns of it.
"""
from __future__ import annotations

import logging

from oslo_config import cfg
from oslo_context import context
from oslo_middleware import request_id as oslo_request_id

from glance.common import exception, wsgi

CONF = cfg.CONF
CONF.import_opt('max_request_id_length', 'glance.common.server')
LOG = logging.getLogger(__name__)

HEADER = oslo_request_id.HTTP_RESP_HEADER_REQUEST_ID
_HEADER_LOWER = HEADER.lower()
_INBOUND_KEY = 'HTTP_' + oslo_request_id.INBOUND_HEADER.upper().replace(
    '-', '_')


class RequestIdMiddleware(oslo_request_id.RequestId):
    """oslo.middleware's RequestId that also bounds the incoming id and
    makes the ids current for logging from the first line of the request.

    Plain WSGI (see :class:`glance.common.wsgi.Filter`): the id goes into
    the answer's headers as they are started, with no Response built.
    """

    def __call__(self, environ, start_response):
        req = wsgi.Request(environ)
        self.set_global_req_id(req)
        req_id = context.generate_request_id()
        environ[oslo_request_id.ENV_REQUEST_ID] = req_id
        # Until the context middleware builds the caller's context (and for
        # requests that never reach it: healthcheck, versions, 404s), log
        # lines of this greenthread carry these ids, not a previous
        # request's on the same connection.
        context.RequestContext(
            request_id=req_id,
            global_request_id=environ.get(oslo_request_id.GLOBAL_REQ_ID))
        given = environ.get(_INBOUND_KEY, '')
        limit = CONF.max_request_id_length
        app = self.application
        if len(given) > limit:
            # the raw path: req.path decodes it, and fails on bytes that
            # are not UTF-8 (which the API answers with its own 400)
            LOG.info('Refusing %s %r: its X-OpenStack-Request-ID is %d '
                     'characters long, more than max_request_id_length '
                     '(%d)', req.method, environ.get('PATH_INFO', ''),
                     len(given), limit)
            app = wsgi.http_error(exception.BadRequest(
                'X-OpenStack-Request-ID is longer than %d characters.'
                % limit))

        def start(status, headers, exc_info=None):
            if not any(name.lower() == _HEADER_LOWER for name, _ in headers):
                headers = [*headers, (HEADER, req_id)]
            return start_response(status, headers, exc_info)
        return app(environ, start)
