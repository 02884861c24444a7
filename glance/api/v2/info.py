"""/v2/info/stores, /v2/info/stores/detail and /v2/info/usage.

Discovery calls touch no image, so the controller checks the one rule that
guards them (``stores_info_detail``) itself.  (/v2/info/import lives with
the import calls in image_import.py.)
"""
from __future__ import annotations

from glance.common import exception, limits, policy, wsgi
from glance.layers import location_stores


def _stores(detail: bool) -> dict:
    stores = location_stores.store_info(detail)
    if stores is None:
        raise exception.NotFound('Multi backend is not supported at this '
                                 'site.')
    return {'stores': stores}


class Controller:
    """One method per call; each answers 200 with a JSON document."""

    def stores(self, request: wsgi.Request) -> dict:
        """GET /v2/info/stores -> the stores users may choose (id,
        description, and ``default: "true"`` on the default one); 404 in a
        single-store setup."""
        return _stores(detail=False)

    def stores_detail(self, request: wsgi.Request) -> dict:
        """GET /v2/info/stores/detail -> each store with its type, weight
        and driver properties; administrators only by default (403)."""
        if not policy.check(request.context, 'stores_info_detail', {}):
            raise exception.Forbidden('You are not authorized to complete '
                                      'stores_info_detail action.')
        return _stores(detail=True)

    def usage(self, request: wsgi.Request) -> dict:
        """GET /v2/info/usage -> the caller's usage against its limits.

        Limits exist only with unified limits (``use_keystone_limits``);
        without them there is nothing to report and the document is empty,
        as the API reference shows for such a cloud.
        """
        return {'usage': limits.usage(request.context.project_id)}


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller())
