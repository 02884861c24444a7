"""DELETE /v2/stores/{store_id}/{image_id}: drop one store's copy of an image.

Used after copy-image has spread an image over several stores, to take it
out of one of them.  The ``delete_image_location`` rule (administrators by
default) and the store rules are applied in the repository chain.
"""
from __future__ import annotations

from glance.common import wsgi
from glance import gateway


class Controller:
    """The one call of this resource."""

    def delete(self, request: wsgi.Request, store_id: str,
               image_id: str) -> None:
        """-> 204.  403 by policy or for the image's last copy; 404 when
        the image is not visible or not in that store; 409 for an unknown
        store or an image that is not active."""
        repo = gateway.get_repo(request.context)
        repo.delete_from_store(repo.get(image_id), store_id)


class Serializer:
    def delete(self, response, _result) -> None:
        response.status_int = 204


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), serializer=Serializer())
