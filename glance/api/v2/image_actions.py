"""/v2/images/{image_id}/actions/*: deactivate and reactivate an image.

Deactivation lets an operator (or the owner) withhold an image's data, say
while it is checked for a security problem, without deleting it: the image
stays listed and readable, only its download is refused to non-admins.
The ``deactivate`` / ``reactivate`` policy rules and the state rules are
applied in the repository chain; this module only routes the calls.
"""
from __future__ import annotations

from glance.common import wsgi
from glance import gateway


class Controller:
    """One method per action, each a single repository call."""

    def deactivate(self, request: wsgi.Request, image_id: str) -> None:
        """POST .../actions/deactivate -> 204 (also if already deactivated).

        403 when the caller may not, or the image is neither active nor
        deactivated; 404 when the caller cannot see the image.
        """
        repo = gateway.get_repo(request.context)
        repo.deactivate(repo.get(image_id))

    def reactivate(self, request: wsgi.Request, image_id: str) -> None:
        """POST .../actions/reactivate -> 204 (also if already active).

        403 when the caller may not, or the image is neither deactivated
        nor active; 404 when the caller cannot see the image.
        """
        repo = gateway.get_repo(request.context)
        repo.reactivate(repo.get(image_id))


class Deserializer:
    """The actions take no body: whatever is sent is ignored."""


class Serializer:
    """Both actions answer 204 No Content."""

    def deactivate(self, response, _result) -> None:
        response.status_int = 204

    def reactivate(self, response, _result) -> None:
        response.status_int = 204


def create_resource() -> wsgi.Resource:
    """The image-actions resource for the router."""
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
