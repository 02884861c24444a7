"""The Resource every API module is built from, and the one error map.

A Resource is deserializer -> controller -> serializer.  Domain exceptions
raised anywhere below turn into HTTP errors here and nowhere else.
"""
from __future__ import annotations

import logging
import urllib.parse
from typing import Any

from oslo_serialization import jsonutils
import webob
import webob.exc
import webob.request

from glance.common import exception, json_input

LOG = logging.getLogger(__name__)

#: Environ key under which glance-api's own server (glance.common.sendfile)
#: offers to send glance_store FileRegions itself, without copying them
#: through Python; absent under any other WSGI server.
SENDFILE_KEY = 'glance.sendfile'


def http_error(exc: exception.GlanceException) -> webob.exc.HTTPException:
    """The webob error response for a domain exception."""
    cls = webob.exc.status_map.get(exc.code, webob.exc.HTTPInternalServerError)
    kwargs = {}
    if exc.code == 405:
        kwargs['headers'] = [('Allow', exc.kwargs.get('allow', ''))]
    if exc.code == 415:
        # webob's 415 page shows only ``detail``, not the explanation.
        kwargs['detail'] = str(exc)
    return cls(explanation=str(exc), **kwargs)


class Request(webob.Request):
    """A webob Request that knows the glance context and JSON bodies."""

    def json_body_or_400(self) -> Any:
        """The request body parsed as JSON; 400 when it is not JSON, or
        holds what no layer below could store (see glance.common.json_input:
        too deep, numbers out of range, NUL or lone surrogates)."""
        if self.content_length is None and self.headers.get(
                'Transfer-Encoding', '').strip().lower() == 'chunked':
            # webob reads no body without a Content-Length unless told
            # to; the server has already undone the chunking.
            self.is_body_readable = True
        try:
            body = self.body
        except (IOError, ValueError) as exc:
            # The client went away mid-body (webob's DisconnectionError is
            # an IOError) or broke the chunked encoding (ValueError).
            LOG.info('%s %s (request %s): client disconnected before '
                     'sending its whole body: %s', self.method, self.path,
                     self.request_id, exc)
            raise exception.BadRequest(
                'The request body ended before its declared '
                'Content-Length, or its chunked encoding is broken.')
        if not body:
            raise exception.BadRequest('Body expected in request.')
        return json_input.loads(body)

    @property
    def request_id(self) -> str | None:
        """The id the request-id middleware (or the context) gave it."""
        ctx = self.environ.get('glance.context')
        return (getattr(ctx, 'request_id', None) or
                self.environ.get('openstack.request_id'))

    @property
    def context(self):
        return self.environ['glance.context']


class Filter:
    """A paste filter on plain WSGI: it looks at each request on its way
    in and answers it (returns a WSGI app, such as a webob error) or lets
    it through (returns None).

    ``webob.dec.wsgify`` builds a Request and a Response per filter, and
    ``get_response`` one more: about 12 and 25 microseconds, paid by every
    request in every filter (a twentieth of a show across our five).  Here
    the Request is only a view of the environ, and nothing is built for
    the way out.
    """

    def __init__(self, app):
        self.app = app

    @classmethod
    def factory(cls, global_conf, **local_conf):
        """paste.filter_factory entry point."""
        return cls

    def process_request(self, request: Request):
        """The app that answers ``request`` instead of the next one, or
        None to pass it on (after changing its environ, if need be)."""
        raise NotImplementedError

    def __call__(self, environ, start_response):
        answer = self.process_request(Request(environ))
        app = self.app if answer is None else answer
        return app(environ, start_response)


class Resource:
    """Route target: ``action`` names the method on each of the three parts.

    The deserializer's method returns keyword arguments for the controller
    (absent: no arguments), the controller returns a result, and the
    serializer's method fills the response (absent: JSON 200 of the result).
    """

    def __init__(self, controller, deserializer=None, serializer=None):
        self.controller = controller
        self.deserializer = deserializer
        self.serializer = serializer

    def __call__(self, environ, start_response):
        # Plain WSGI, not wsgify: one Request and one Response per call.
        return self.respond(Request(environ))(environ, start_response)

    def respond(self, request: Request) -> webob.Response:
        """The response to ``request``: the controller's result, or the
        error any part raised."""
        args = dict(request.urlvars)
        action = args.pop('action')
        args.pop('controller', None)
        args.pop('format', None)
        try:
            _check_request_text(request, args)
            deserialize = getattr(self.deserializer, action, None)
            if deserialize is not None:
                args.update(deserialize(request))
            result = getattr(self.controller, action)(request, **args)
            response = webob.Response(request=request)
            serialize = getattr(self.serializer, action, None)
            if serialize is not None:
                serialize(response, result)
            elif result is not None:
                json_response(response, result)
            else:
                response.status_int = 204
            if response.status_int == 204:
                # No Content has no body, so no Content-Length either
                # (RFC 9110 section 8.6).
                response.content_length = None
            return response
        except exception.GlanceException as exc:
            if exc.code >= 500:
                LOG.error('%s %s failed: %s', request.method, request.path,
                          exc)
            return http_error(exc)
        except webob.exc.HTTPException as exc:
            return exc
        except webob.request.DisconnectionError as exc:
            # The client went away mid-body: nothing to answer, nothing
            # for the operator to fix, nothing was written.
            LOG.info('%s %s (request %s): client disconnected before '
                     'sending its whole body: %s', request.method,
                     request.path, request.request_id, exc)
            return http_error(exception.BadRequest(
                'The request body ended before its declared '
                'Content-Length.'))
        except Exception:  # noqa: BLE001 - the client gets a clean 500
            LOG.exception('%s %s failed unexpectedly', request.method,
                          request.path)
            return webob.exc.HTTPInternalServerError()


def _check_request_text(request: Request, urlvars: dict) -> None:
    """400 for a query string or path value no layer below can use: not
    UTF-8, or holding NUL (PostgreSQL cannot compare with it)."""
    try:
        params = request.GET.items()
    except UnicodeDecodeError:
        raise exception.BadRequest('The query string is not valid UTF-8.')
    for key, value in params:
        json_input.check_text(key, 'A query parameter name')
        json_input.check_text(value, 'Query parameter %s' % key[:80])
    for key, value in urlvars.items():
        if isinstance(value, str):
            json_input.check_text(value, 'The %s in the path' % key)


def int_param(params: Any, key: str, default: int, minimum: int = 0) -> int:
    """An integer query parameter (``limit``...); 400 if it is not one."""
    raw = params.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise exception.BadRequest('%s must be an integer.' % key)
    json_input.check_int(value, key)
    if value < minimum:
        raise exception.BadRequest('%s must be at least %d.' % (key, minimum))
    return value


def page_links(request: Request, path: str, full: bool, last: str | None,
               last_values: bool = False) -> dict[str, str]:
    """``first`` and, when the page was ``full``, ``next`` (after the
    marker ``last``): the links of a list page, as the reference writes
    them.  Both carry the request's own query without its marker, each
    parameter as often and in the order it was given; with
    ``last_values`` once, with its last value (the reference's image
    lists: ``tag=a&tag=b`` becomes ``tag=b`` on their links)."""
    given = request.params.items()
    if last_values:
        given = dict(given).items()
    params = [(k, v) for k, v in given if k != 'marker']

    def link(query: list[tuple[str, str]]) -> str:
        return path + ('?' + urllib.parse.urlencode(query) if query else '')

    links = {'first': link(params)}
    if full and last is not None:
        links['next'] = link(params + [('marker', last)])
    return links


def json_response(response: webob.Response, body: Any, status: int = 200
                  ) -> None:
    """Fill ``response`` with ``body`` as JSON."""
    response.status_int = status
    response.content_type = 'application/json'
    response.charset = None
    response.body = jsonutils.dump_as_bytes(body)
