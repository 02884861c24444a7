"""/v2/images/{image_id}/tags/{tag}: add (PUT) and remove (DELETE) one tag.

A tag change is an image change: it goes through the repository's ``save``,
so the policy layer applies ``modify_image``, the quota layer counts the tags
against ``image_tag_quota`` and the notifier sends ``image.update``.
"""
from __future__ import annotations

from glance.common import exception, wsgi
from glance import gateway
from glance.schemas import image as image_schemas

#: the longest tag the database column (and the image schema) holds
MAX_TAG_LENGTH = 255


def _tag_from_path(request: wsgi.Request) -> str:
    """The tag as the client wrote it, from the percent-decoded path.

    The WSGI server hands the path over as latin-1 characters standing for
    bytes (PEP 3333), so a tag written in UTF-8 is decoded again here.
    """
    raw = request.urlvars['tag']
    try:
        tag = raw.encode('latin-1').decode('utf-8')
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise exception.BadRequest('Image tags must be UTF-8 text.')
    limit = image_schemas.image_schema()['properties']['tags']['items'].get(
        'maxLength', MAX_TAG_LENGTH)
    if len(tag) > limit:
        raise exception.BadRequest(
            'Image tags may be at most %d characters long; this one has %d.'
            % (limit, len(tag)))
    return tag


class Deserializer:
    """Decodes and checks the tag named in the path."""

    def update(self, request: wsgi.Request) -> dict:
        return {'tag': _tag_from_path(request)}

    def delete(self, request: wsgi.Request) -> dict:
        return {'tag': _tag_from_path(request)}


class Controller:
    """Adds and removes tags through the image repository."""

    def update(self, request: wsgi.Request, image_id: str, tag: str) -> None:
        """PUT /v2/images/{image_id}/tags/{tag} -> 204, also if present.

        The image is saved even when it has the tag already, so the caller's
        right to modify it is checked every time: a reader gets 403, not a
        success that depends on what the image happens to carry.
        """
        repo = gateway.get_repo(request.context)
        image = repo.get(image_id)
        image.tags.add(tag)
        repo.save(image)

    def delete(self, request: wsgi.Request, image_id: str, tag: str) -> None:
        """DELETE /v2/images/{image_id}/tags/{tag} -> 204; 404 without it."""
        repo = gateway.get_repo(request.context)
        image = repo.get(image_id)
        if tag not in image.tags:
            raise exception.NotFound('Image %s has no tag %r.'
                                     % (image_id, tag))
        image.tags.discard(tag)
        repo.save(image)


class Serializer:
    """Both calls answer 204 No Content."""

    def update(self, response, _result) -> None:
        response.status_int = 204

    def delete(self, response, _result) -> None:
        response.status_int = 204


def create_resource() -> wsgi.Resource:
    """The tags resource for the router."""
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
