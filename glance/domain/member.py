"""Image members: the projects a ``shared`` image is offered to.

A membership starts ``pending``; only the member project decides whether it
is ``accepted`` (the image then appears in its default image list) or
``rejected``.  Only images whose visibility is ``shared`` have members.
"""
from __future__ import annotations

import dataclasses
import datetime

from glance.common import exception
from glance.domain.image import Image, utcnow

STATUSES = ('pending', 'accepted', 'rejected')
#: the longest member id the API takes (a project id, with room to spare)
MAX_MEMBER_LENGTH = 255


@dataclasses.dataclass
class ImageMember:
    """One project's membership of one image."""

    image_id: str
    member_id: str
    status: str = 'pending'
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None

    def set_status(self, status: str) -> None:
        """Move to ``status``; anything but the three statuses is 400."""
        if status not in STATUSES:
            raise exception.BadRequest(
                'Invalid status %r for a member: use one of %s.'
                % (status, ', '.join(STATUSES)))
        self.status = status


def check_shared(image: Image) -> None:
    """Members are for shared images only (403 otherwise, as upstream)."""
    if image.visibility != 'shared':
        raise exception.Forbidden(
            'Only shared images have members; image %s is %s.'
            % (image.image_id, image.visibility))


def new_member(image: Image, member_id: str) -> ImageMember:
    """A pending membership of ``member_id`` in ``image``."""
    check_shared(image)
    if len(member_id) > MAX_MEMBER_LENGTH:
        raise exception.BadRequest(
            'Member ids are at most %d characters long; this one has %d.'
            % (MAX_MEMBER_LENGTH, len(member_id)))
    now = utcnow()
    return ImageMember(image_id=image.image_id, member_id=member_id,
                       created_at=now, updated_at=now)
