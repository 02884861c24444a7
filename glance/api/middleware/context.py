"""Build the RequestContext of each request.

``ContextMiddleware`` reads the identity headers keystonemiddleware's
auth_token leaves (or a trusted front end sets) and refuses requests whose
X-Identity-Status is not Confirmed; ``UnauthenticatedContextMiddleware``
makes one trusted operator context for a single-user server.
"""
from __future__ import annotations

import json

from oslo_config import cfg
import webob
import webob.dec
import webob.exc

from glance.common import policy
from glance import context as glance_context

CONF = cfg.CONF


class _Base:
    def __init__(self, app):
        self.app = app

    @classmethod
    def factory(cls, global_conf, **local_conf):
        def filter_(app):
            return cls(app)
        return filter_

    @webob.dec.wsgify
    def __call__(self, request: webob.Request):
        result = self.make_context(request)
        if isinstance(result, webob.exc.HTTPException):
            return result
        request.environ['glance.context'] = result
        return self.app


class ContextMiddleware(_Base):
    """Context from X-* identity headers; 401 unless the identity is Confirmed."""

    def make_context(self, request: webob.Request):
        if request.headers.get('X-Identity-Status') != 'Confirmed':
            return webob.exc.HTTPUnauthorized()
        catalog = None
        raw = request.headers.get('X-Service-Catalog')
        if raw:
            try:
                catalog = json.loads(raw)
            except ValueError:
                return webob.exc.HTTPInternalServerError(
                    'Invalid service catalog json.')
        ctx = glance_context.RequestContext.from_environ(
            request.environ, service_catalog=catalog)
        if not ctx.project_id:
            ctx.project_id = request.headers.get('X-Tenant-Id')
        ctx.is_admin = policy.is_admin(ctx)
        return ctx


class UnauthenticatedContextMiddleware(_Base):
    """Every caller is the operator: a usable server with no Keystone."""

    def make_context(self, request: webob.Request):
        return glance_context.RequestContext(
            is_admin=True, roles=['admin', 'member', 'reader'],
            request_id=request.environ.get('openstack.request_id'))
