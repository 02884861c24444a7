"""/v2/images/{image_id}/members[/{member_id}]: share an image with projects.

The image is loaded through the image repository first, so a caller who
cannot see it gets 404 before anything about its members is said.  Who may
do what to which membership is the member repository's policy layer.
"""
from __future__ import annotations

from typing import Any

from glance.common import exception, timeutils, wsgi
from glance.domain import member as domain
from glance import gateway


def _body_field(request: wsgi.Request, field: str) -> str:
    body = request.json_body_or_400()
    if not isinstance(body, dict) or not isinstance(body.get(field), str) \
            or not body[field]:
        raise exception.BadRequest('The request body must be a JSON object '
                                   'with a %r string.' % field)
    return body[field]


def member_view(member: domain.ImageMember) -> dict[str, Any]:
    return {'created_at': timeutils.isotime(member.created_at),
            'image_id': member.image_id, 'member_id': member.member_id,
            'schema': '/v2/schemas/member', 'status': member.status,
            'updated_at': timeutils.isotime(member.updated_at)}


class Deserializer:
    def create(self, request: wsgi.Request) -> dict:
        """A member id is a project id: the reference service also takes
        a JSON number (some deployments' project ids are numeric), kept as
        the string of its digits."""
        body = request.json_body_or_400()
        member = body.get('member') if isinstance(body, dict) else None
        if type(member) is int and member:      # not a bool, not 0
            return {'member_id': str(member)}
        return {'member_id': _body_field(request, 'member')}

    def update(self, request: wsgi.Request) -> dict:
        return {'status': _body_field(request, 'status')}


def _repo(request: wsgi.Request, image_id: str):
    image = gateway.get_repo(request.context).get(image_id)
    return image, gateway.get_member_repo(request.context, image)


class Controller:
    """One method per call; each a gateway call and a view."""

    def index(self, request: wsgi.Request, image_id: str) -> dict:
        """GET .../members -> 200 the memberships the caller may see
        (a member project: its own); 403 for an image that is not
        shared."""
        _image, repo = _repo(request, image_id)
        return {'members': [member_view(m) for m in repo.list()],
                'schema': '/v2/schemas/members'}

    def show(self, request: wsgi.Request, image_id: str,
             member_id: str) -> dict:
        """GET .../members/{member_id} -> 200; 404 if not visible."""
        _image, repo = _repo(request, image_id)
        return member_view(repo.get(member_id))

    def create(self, request: wsgi.Request, image_id: str,
               member_id: str) -> dict:
        """POST .../members {"member": id} -> 200 the pending membership;
        403 not the owner or not a shared image, 409 already a member,
        413 over image_member_quota."""
        image, repo = _repo(request, image_id)
        return member_view(repo.add(domain.new_member(image, member_id)))

    def update(self, request: wsgi.Request, image_id: str, member_id: str,
               status: str) -> dict:
        """PUT .../members/{member_id} {"status": s} -> 200; only the
        member project may (403), 400 for an unknown status."""
        _image, repo = _repo(request, image_id)
        member = repo.get(member_id)
        member.set_status(status)
        return member_view(repo.save(member))

    def delete(self, request: wsgi.Request, image_id: str,
               member_id: str) -> None:
        """DELETE .../members/{member_id} -> 204; the owner only."""
        _image, repo = _repo(request, image_id)
        repo.remove(repo.get(member_id))


class Serializer:
    def delete(self, response, _result) -> None:
        # The reference answers this 204 with no Content-Type at all.
        response.status_int = 204
        response.content_type = None


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
