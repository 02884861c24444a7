"""The location layer's second part: who may read image data in stores
that decide it themselves (swift in multi-tenant mode keeps each image in
its owner's account, readable by whom the container's ACL names).

Glance's own rules (visibility, members) are the truth; these functions
only mirror them into such stores when an upload, a visibility change or a
membership change happens.  Stores glance reads as itself need nothing.
"""
from __future__ import annotations

import logging

from glance import store as glance_store
from glance.db.members import MemberRepo
from glance.domain.image import Image, location_store

LOG = logging.getLogger(__name__)


def grant_readers(context, image: Image, locations: list[dict]) -> None:
    """Store-side read access to the data at ``locations``: everyone for
    public and community images, the member projects (whatever their
    status: glance lets pending and rejected members read too) for shared
    ones, nobody beyond the store's own rules for private ones.

    Nothing to do (not even reading the members) for stores glance reads
    as itself.  A store that refuses (the caller may not change the owner's
    access rules) costs a log line, not the request: the image record is
    the truth, and the owner can repeat the change.
    """
    locations = [loc for loc in locations if _controls_access(loc)]
    if not locations:
        return
    public = image.visibility in ('public', 'community')
    readers = [m.member_id for m in MemberRepo(context, image).list()
               ] if image.visibility == 'shared' else []
    for loc in locations:
        try:
            glance_store.set_acls_for_image(
                loc['url'], store_id=location_store(loc),
                public=public, read_tenants=readers, context=context)
        except glance_store.GlanceStoreException as exc:
            LOG.warning('Image %s is %s but the store kept its read access '
                        'rules at %s: %s', image.image_id, image.visibility,
                        loc['url'], exc)


def _controls_access(loc: dict) -> bool:
    try:
        store, _ = glance_store.backend.registry().for_uri(
            loc['url'], location_store(loc))
    except glance_store.GlanceStoreException:
        return False
    return store.controls_access
