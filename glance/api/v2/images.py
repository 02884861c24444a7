"""/v2/images and /v2/images/{image_id}: create, list, show, update, delete."""
from __future__ import annotations

from typing import Any

from oslo_config import cfg

from glance.api.v2 import discovery, image_cleanup, image_patch, image_query
from glance.async_ import recovery
from glance.common import exception, wsgi
from glance.domain import image as domain
from glance.domain import image_fields
from glance import gateway
from glance.layers import location as location_layer
from glance.layers import property_protection
from glance.schemas import image as image_schemas
from glance import schemas

CONF = cfg.CONF

#: fields a create request may carry but which are quietly left to the
#: service (the reference accepts and ignores them rather than refusing)
IGNORED_ON_CREATE = ('os_hash_algo', 'os_hash_value')


class Deserializer:
    """Turns requests into controller arguments, refusing bad input."""

    def create(self, request: wsgi.Request) -> dict:
        body = request.json_body_or_400()
        if not isinstance(body, dict):
            raise exception.BadRequest('The request body must be a JSON '
                                       'object describing the image.')
        for key in IGNORED_ON_CREATE:
            body.pop(key, None)
        if 'locations' in body:
            raise exception.Forbidden('Locations cannot be set when '
                                      'creating an image.')
        for key in body:
            image_patch.check_name(key, creating=True)
        schemas.check(image_schemas.image_validator(), body)
        domain.check_values(body)
        return {'values': body}

    def update(self, request: wsgi.Request) -> dict:
        return {'changes': image_patch.parse(request)}

    def index(self, request: wsgi.Request) -> dict:
        return {'query': image_query.parse(request.params)}


class Controller:
    """One method per call; each talks to the gateway only."""

    def create(self, request: wsgi.Request, values: dict):
        """POST /v2/images -> 201 and the new image."""
        image = domain.new_image(values, request.context.owner)
        return gateway.get_repo(request.context).add(image)

    def show(self, request: wsgi.Request, image_id: str):
        """GET /v2/images/{image_id} -> 200 and the image."""
        return gateway.get_repo(request.context).get(image_id)

    def index(self, request: wsgi.Request, query):
        """GET /v2/images -> 200 and a page of images."""
        return gateway.get_repo(request.context).list(query), query

    def update(self, request: wsgi.Request, image_id: str, changes):
        """PATCH /v2/images/{image_id} -> 200 and the changed image."""
        repo = gateway.get_repo(request.context)
        image = repo.get(image_id)
        locations = image_patch.apply(image, changes)
        if locations is not None:
            return repo.set_locations(image, locations)
        return repo.save(image)

    def delete(self, request: wsgi.Request, image_id: str):
        """DELETE /v2/images/{image_id} -> 204."""
        repo = gateway.get_repo(request.context)
        image = repo.get(image_id)
        if recovery.settle(image):      # a dead upload's data goes first
            image = repo.get(image_id)
        if image_cleanup.forward_to_stage_host(request, image):
            return      # the node holding its staged data deleted it
        image.delete()
        repo.remove(image)
        image_cleanup.evict_from_cache(request, image_id)


def image_view(image: domain.Image, context: Any = None) -> dict[str, Any]:
    """The image as the API shows it (to the caller of ``context``)."""
    hidden = property_protection.hidden_properties(image)
    view: dict[str, Any] = {k: v for k, v in image.extra_properties.items()
                            if k not in hidden}
    view.update(image_fields.column_values(image))
    view.update({
        'tags': sorted(image.tags),
        'self': '/v2/images/%s' % image.image_id,
        'file': '/v2/images/%s/file' % image.image_id,
        'schema': '/v2/schemas/image',
    })
    withheld = _data_withheld(image, context)
    shown = [] if withheld else location_layer.location_views(image)
    if image.stores and not withheld:
        view['stores'] = ','.join(image.stores)
    if CONF.show_multiple_locations:
        view['locations'] = shown
    if CONF.show_image_direct_url and shown:
        view['direct_url'] = shown[0]['url']
    return view


class Serializer:
    """Fills responses: JSON bodies, status codes and headers."""

    def create(self, response, image) -> None:
        wsgi.json_response(response,
                           image_view(image, response.request.context),
                           status=201)
        response.location = '%s/v2/images/%s' % (
            response.request.application_url, image.image_id)
        discovery.add_headers(response)

    def show(self, response, image) -> None:
        wsgi.json_response(response,
                           image_view(image, response.request.context))

    def update(self, response, image) -> None:
        wsgi.json_response(response,
                           image_view(image, response.request.context))

    def delete(self, response, _result) -> None:
        response.status_int = 204

    def index(self, response, result) -> None:
        images, query = result
        links = wsgi.page_links(
            response.request, '/v2/images',
            bool(query.limit) and len(images) == query.limit,
            images[-1].image_id if images else None, last_values=True)
        wsgi.json_response(response, {
            'images': [image_view(i, response.request.context)
                       for i in images],
            **links, 'schema': '/v2/schemas/images'})


def _data_withheld(image: domain.Image, context: Any) -> bool:
    """Whether the locations (and so the stores) are hidden from the caller.

    A deactivated image's data is withheld from everyone but admins; where
    it lives is part of the data, as the reference shows it.
    """
    return image.status == 'deactivated' and not (
        context is not None and context.is_admin)


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
