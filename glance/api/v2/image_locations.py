"""/v2/images/{image_id}/locations: the locations API of version 2.17.

Meant for other services (Nova, Cinder) that create images whose data
already sits in a store: they add the one location of a queued image and
list where an image's data lives.  Listing takes a service
(``fetch_image_location``); adding (``add_image_location``) also lets the
owner's members add the location of an http store.  Each add is recorded
as a ``location_import`` task of the image (GET /v2/images/{id}/tasks).
With ``do_secure_hash`` the data at the new location is hashed after the
202, off the request thread, and the image turns active (task success) or
stays queued (task failure) only then (glance.services.location_import).
"""
from __future__ import annotations

from glance.common import wsgi
from glance import gateway
from glance.layers import location as location_layer
from glance.schemas import image as image_schemas
from glance import schemas
from glance.services import location_import


class Deserializer:
    """Validates the new location against the location schema."""

    def create(self, request: wsgi.Request) -> dict:
        body = request.json_body_or_400()
        if isinstance(body, dict) and body.get('validation_data') == {}:
            # what clients send for "none" (python-glanceclient, Tempest)
            del body['validation_data']
        schemas.validate(image_schemas.new_location_schema(), body)
        return {'url': body['url'],
                'validation_data': body.get('validation_data')}


class Controller:
    """Adds and lists locations through the image repository."""

    def index(self, request: wsgi.Request, image_id: str):
        """GET /v2/images/{image_id}/locations -> 200 and the locations."""
        repo = gateway.get_repo(request.context)
        image = repo.get(image_id)
        repo.check_fetch_locations(image)
        return image

    def create(self, request: wsgi.Request, image_id: str, url: str,
               validation_data: dict | None) -> None:
        """POST /v2/images/{image_id}/locations -> 202 (hashing follows)."""
        location_import.accept(request.context, image_id, url,
                               validation_data)


class Serializer:
    """The list as a JSON array; the add as an empty 202."""

    def index(self, response, image) -> None:
        wsgi.json_response(response, location_layer.location_views(image))

    def create(self, response, _result) -> None:
        response.status_int = 202


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
