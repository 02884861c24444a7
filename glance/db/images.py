"""The image repository: domain ``Image`` objects in, rows out, and back."""
from __future__ import annotations

import json
from typing import Any

from glance.domain import image_fields
from glance.domain.image import IMPORT_LOCK, STORED_FIELDS, Changes, Image
from glance.domain.listing import ListQuery
from glance.domain.transfer import Download, Upload
from glance.db.sqlalchemy import image_list
from glance.db.sqlalchemy import images as db


#: (entity attribute, column) of every core field stored in the row
_COLUMNS = tuple((f.attribute, f.name) for f in image_fields.columns())


def to_domain(row, member_status: str | None = None) -> Image:
    """Build the entity from a row with its children loaded."""
    locations = []
    for loc in row.locations:
        locations.append({'url': loc.value,
                          'metadata': json.loads(loc.meta_data or '{}'),
                          'status': loc.status, 'id': loc.id})
    properties = {p.name: p.value for p in row.properties}
    image = Image(
        **{attr: getattr(row, column) for attr, column in _COLUMNS},
        extra_properties=properties,
        tags={t.value for t in row.tags}, locations=locations,
        member_status=member_status)
    image.mark_persisted()
    return image


def to_values(image: Image) -> dict[str, Any]:
    """Column values and children of a new entity, for the insert (a new
    image was last updated when it was created)."""
    values = {column: getattr(image, attr) for attr, column in _COLUMNS
              if column != 'updated_at'}
    return {
        **values,
        'properties': dict(image.extra_properties),
        'tags': sorted(image.tags),
        'locations': [{k: v for k, v in loc.items() if k != 'id'}
                      for loc in image.locations],
    }


class ImageRepo:
    """Persist and load images for one request context (every operation of
    ``glance.domain.repositories.ImageRepository``: each call reaches the
    bottom of the chain)."""

    def __init__(self, context):
        self.context = context

    def get(self, image_id: str) -> Image:
        row = db.get(image_id)
        # Memberships count only while the image is shared: making it
        # private again withdraws it from its members.
        member = db.member_status(image_id, self.context.project_id) \
            if row.visibility == 'shared' else None
        return to_domain(row, member)

    def list(self, query: ListQuery) -> list[Image]:
        rows = image_list.list_images(bool(self.context.is_admin),
                                      self.context.project_id, query)
        return [to_domain(r) for r in rows]

    def add(self, image: Image) -> Image:
        created = to_domain(db.create(to_values(image)))
        self._refresh(image, created)
        return image

    def save(self, image: Image, from_state: str | None = None) -> Image:
        """Write what ``image`` changed since it was loaded, and only that.

        A status change is guarded by the status loaded (or
        ``from_state``): of two requests moving the same image only one
        succeeds.  Other changes need no guard, since they are written
        field by field and property by property; the image then holds what
        the database holds, other requests' changes included.
        """
        changes = image.changes()
        if from_state is None and 'status' in changes.core:
            from_state = image.loaded_status
        lock = image.extra_properties.get(IMPORT_LOCK)
        saved = db.update(image.image_id, changes, from_state=from_state,
                          expect_lock=(image.loaded_lock,)
                          if lock != image.loaded_lock else None)
        if saved is None:
            image.mark_persisted()
        else:
            self._refresh(image, to_domain(saved))
        return image

    def remove(self, image: Image) -> Image:
        """Mark the image deleted; the row stays, so its id is never
        reused."""
        db.update(image.image_id, Changes(core={'status': image.status}))
        return image

    # The data path: the db layer only persists what the layers above did.
    def begin_upload(self, image: Image) -> Image:
        return self.save(image)

    def write_data(self, image: Image, upload: Upload) -> Upload:
        return upload

    def finish_upload(self, image: Image, upload: Upload) -> Image:
        return self.save(image)

    def abort_upload(self, image: Image, upload: Upload | None,
                     error: BaseException) -> Image:
        return self.save(image)

    def discard_upload(self, image: Image, upload: Upload) -> Upload:
        return upload

    def discard_partial(self, image: Image,
                        stores: list[str | None]) -> list[str]:
        return []

    def read_data(self, image: Image, download: Download) -> Download:
        return download

    # Location changes: the layers above did the work; persist the image.
    def set_locations(self, image: Image, locations: list[dict]) -> Image:
        return self.save(image)

    def add_location(self, image: Image, url: str,
                     validation_data: dict | None) -> Image:
        return self.save(image)

    def verify_location(self, image: Image) -> Image:
        return self.save(image)

    def delete_from_store(self, image: Image, store_id: str) -> Image:
        return self.save(image)

    # Checks that change nothing: the layers above answer them.
    def check_import(self, image: Image, method: str) -> None:
        return None

    def check_fetch_locations(self, image: Image) -> None:
        return None

    def deactivate(self, image: Image) -> Image:
        """Move an active image to deactivated; persisted only on change.

        The transition happens here, at the bottom, so every layer above
        (policy first) has had its say before the status is even looked at.
        """
        if image.deactivate():
            self.save(image)
        return image

    def reactivate(self, image: Image) -> Image:
        """Move a deactivated image back to active; persisted on change."""
        if image.reactivate():
            self.save(image)
        return image

    def storage_used(self, owner: str, exclude: str | None = None) -> int:
        """Bytes stored by ``owner`` (for user_storage_quota)."""
        return db.user_storage_used(owner, exclude)

    @staticmethod
    def _refresh(image: Image, fresh: Image) -> None:
        """Make ``image`` what was just stored (with other requests'
        changes), and the base of its next save."""
        for name in STORED_FIELDS + ('created_at', 'updated_at',
                                     'extra_properties', 'tags',
                                     'locations'):
            setattr(image, name, getattr(fresh, name))
        image.mark_persisted()
