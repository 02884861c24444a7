"""The member repository of one image: domain ``ImageMember`` in and out."""
from __future__ import annotations

from glance.common import exception
from glance.db.sqlalchemy import members as db
from glance.domain.image import Image
from glance.domain.member import ImageMember, check_shared


def _to_domain(row) -> ImageMember:
    return ImageMember(image_id=row.image_id, member_id=row.member,
                       status=row.status, created_at=row.created_at,
                       updated_at=row.updated_at)


class MemberRepo:
    """Memberships of ``image``, which the caller was allowed to load."""

    def __init__(self, context, image: Image):
        self.context = context
        self.image = image

    def list(self, member_id: str | None = None) -> list[ImageMember]:
        """Every membership, or only ``member_id``'s."""
        check_shared(self.image)
        return [_to_domain(r)
                for r in db.list_members(self.image.image_id, member_id)]

    def get(self, member_id: str) -> ImageMember:
        found = self.list(member_id)
        if not found:
            raise _not_found(self.image, member_id)
        return found[0]

    def count(self) -> int:
        return db.count(self.image.image_id)

    def add(self, member: ImageMember) -> ImageMember:
        check_shared(self.image)
        return _to_domain(db.create(member.image_id, member.member_id,
                                    member.status, member.created_at))

    def save(self, member: ImageMember) -> ImageMember:
        return _to_domain(db.update_status(member.image_id, member.member_id,
                                           member.status))

    def remove(self, member: ImageMember) -> ImageMember:
        db.delete(member.image_id, member.member_id)
        return member


def _not_found(image: Image, member_id: str) -> exception.NotFound:
    return exception.NotFound('Member %s of image %s not found.'
                              % (member_id, image.image_id))
