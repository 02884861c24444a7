"""/v2/images/{image_id}/locations: the locations API of version 2.17.

Meant for other services (Nova, Cinder) that create images whose data
already sits in a store: they add the one location of a queued image and
list where an image's data lives.  Both calls take service rules
(``add_image_location``, ``fetch_image_location``).  With
``do_secure_hash`` the data at the new location is hashed after the 202,
off the request thread, and the image turns active only then.
"""
from __future__ import annotations

from glance.async_ import executor
from glance.common import wsgi
from glance import context as glance_context
from glance import gateway
from glance.layers import location as location_layer
from glance.schemas import image as image_schemas
from glance import schemas


def verify(image_id: str) -> None:
    """Hash the data at a new location and activate (or kill) the image."""
    repo = gateway.get_repo(glance_context.get_admin_context())
    repo.verify_location(repo.get(image_id))


class Deserializer:
    """Validates the new location against the location schema."""

    def create(self, request: wsgi.Request) -> dict:
        body = request.json_body_or_400()
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
        repo = gateway.get_repo(request.context)
        image = repo.add_location(repo.get(image_id), url, validation_data)
        if image.status == 'queued':
            executor.submit(verify, image.image_id)


class Serializer:
    """The list as a JSON array; the add as an empty 202."""

    def index(self, response, image) -> None:
        wsgi.json_response(response, location_layer.location_views(image))

    def create(self, response, _result) -> None:
        response.status_int = 202


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
