"""The request context: who is calling, as glance's layers need to know it."""
from __future__ import annotations

from oslo_context import context


class RequestContext(context.RequestContext):
    """oslo.context's RequestContext plus the owner notion images use.

    ``owner`` is the project that new images belong to; ``is_admin`` is set
    by the policy layer from the ``context_is_admin`` rule, so it follows an
    operator's policy file rather than a hard-coded role name.
    """

    def __init__(self, service_catalog=None, **kwargs):
        super().__init__(**kwargs)
        self.service_catalog = service_catalog

    @property
    def owner(self) -> str | None:
        return self.project_id

    def to_dict(self) -> dict:
        d = super().to_dict()
        d['service_catalog'] = self.service_catalog
        return d


def get_admin_context() -> RequestContext:
    """A context for maintenance tools that act on behalf of the operator."""
    return RequestContext(is_admin=True, roles=['admin'], overwrite=False)
