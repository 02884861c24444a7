"""Build the RequestContext of each request.

``ContextMiddleware`` reads the identity headers keystonemiddleware's
auth_token leaves (or a trusted front end sets) and refuses requests whose
X-Identity-Status is not Confirmed; ``UnauthenticatedContextMiddleware``
makes one trusted operator context for a single-user server.
"""
from __future__ import annotations

import json
import logging

from oslo_config import cfg
import webob
import webob.exc

from glance.common import policy, wsgi
from glance import context as glance_context

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class _Base(wsgi.Filter):
    """A paste filter that stores ``make_context``'s result in the environ."""

    def make_context(self, request: webob.Request):
        """A RequestContext, or the HTTP error that ends the request."""
        raise NotImplementedError

    def process_request(self, request: wsgi.Request):
        result = self.make_context(request)
        if isinstance(result, webob.exc.HTTPException):
            return result
        request.environ['glance.context'] = result
        return None


def _service_catalog(raw: str | None):
    """The parsed X-Service-Catalog, or the error response for a bad one.

    keystonemiddleware writes this header itself, so a value that is not a
    JSON list means the front end is broken: a server-side error, reported
    in words an operator can act on.
    """
    if not raw:
        return None
    try:
        catalog = json.loads(raw)
    except ValueError as exc:
        LOG.error('Rejecting request: X-Service-Catalog is not valid JSON '
                  '(%s); check the authentication middleware.', exc)
        return webob.exc.HTTPInternalServerError(
            'Invalid service catalog json: the X-Service-Catalog header '
            'is not valid JSON.')
    if not isinstance(catalog, list):
        LOG.error('Rejecting request: X-Service-Catalog is a JSON %s, not '
                  'a list.', type(catalog).__name__)
        return webob.exc.HTTPInternalServerError(
            'Invalid service catalog json: the X-Service-Catalog header '
            'must be a JSON list of services.')
    return catalog


#: identity headers stored with what a caller creates, and the longest
#: value their database columns hold (owner, member: 255; a task's user: 64)
_STORED_IDS = {'X-Project-Id': 255, 'X-Tenant-Id': 255, 'X-User-Id': 64}


def _bad_identity(request: webob.Request):
    """The 400 for an identity header no database could store, or None.

    Keystone's ids are at most 64 printable characters; anything else
    comes from a broken or hostile front end and would fail in the
    database driver later (a 500) instead of here.
    """
    for name, limit in _STORED_IDS.items():
        value = request.headers.get(name)
        if value is not None and (len(value) > limit or
                                  not value.isprintable()):
            LOG.info('Rejecting request: %s is not an identifier this '
                     'service can store (%d characters).', name, len(value))
            return webob.exc.HTTPBadRequest(
                explanation='%s must be at most %d printable characters.'
                % (name, limit))
    return None


class ContextMiddleware(_Base):
    """Context from X-* identity headers; 401 unless X-Identity-Status is
    Confirmed."""

    def make_context(self, request: webob.Request):
        if request.headers.get('X-Identity-Status') != 'Confirmed':
            return webob.exc.HTTPUnauthorized()
        bad = _bad_identity(request)
        if bad is not None:
            return bad
        # With delay_auth_decision auth_token passes a request whose
        # X-Service-Token failed validation on to us, marked Invalid; it
        # would have refused it itself otherwise, and so do we.
        service_status = request.headers.get('X-Service-Identity-Status')
        if service_status is not None and service_status != 'Confirmed':
            return webob.exc.HTTPUnauthorized()
        catalog = _service_catalog(request.headers.get('X-Service-Catalog'))
        if isinstance(catalog, webob.exc.HTTPException):
            return catalog
        ctx = glance_context.RequestContext.from_environ(
            request.environ, service_catalog=catalog)
        if not ctx.project_id:
            # X-Tenant-Id: the name of X-Project-Id before Keystone v3
            ctx.project_id = request.headers.get('X-Tenant-Id')
        # Who is an administrator is the operator's policy, not a role name.
        ctx.is_admin = policy.is_admin(ctx)
        return ctx


class UnauthenticatedContextMiddleware(_Base):
    """Every caller is the operator: a usable server with no Keystone."""

    def make_context(self, request: webob.Request):
        return glance_context.RequestContext(
            is_admin=True, roles=['admin', 'member', 'reader'],
            request_id=request.environ.get('openstack.request_id'),
            global_request_id=request.environ.get(
                'openstack.global_request_id'))
