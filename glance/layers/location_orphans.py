"""The location layer's removals of stored data: the data of a location
(an image's delete, the scrubber's delayed delete), and, for orphan sweeps,
listing what the stores hold and removing what no image references
(glance/orphans.py decides which).
"""
from __future__ import annotations

import logging
from typing import Any, Iterator

from glance import store as glance_store
from glance.common import exception

LOG = logging.getLogger(__name__)


def sweepable_stores() -> list[str]:
    """Ids of the stores that hold image data (not the reserved ones)."""
    return glance_store.backend.registry().user_stores()


def describe(store_id: str) -> tuple[tuple[str, ...], bool]:
    """(URI schemes of ``store_id``, whether several stores are enabled):
    what decides whether a location without a store id is in it."""
    registry = glance_store.backend.registry()
    try:
        store = registry.get(store_id)
    except glance_store.UnknownStore as exc:
        raise exception.BadRequest(str(exc))
    return tuple(store.schemes), registry.multi


def stored_data(store_id: str) -> Iterator[Any]:
    """Everything ``store_id`` holds under image ids (StoredData items);
    ServiceUnavailable when it cannot be listed."""
    try:
        yield from glance_store.backend.iter_image_data(store_id)
    except glance_store.GlanceStoreException as exc:
        raise exception.ServiceUnavailable(
            'Store %s could not be listed: %s' % (store_id, exc))


def remove(store_id: str, item: Any) -> bool:
    """Remove ``item`` from ``store_id``; False when it was already gone.

    Conflict when the store refuses because the data is in use (an RBD
    snapshot with clones), ServiceUnavailable on any other store error.
    """
    try:
        glance_store.backend.delete_stored(item, store_id)
    except glance_store.NotFound:
        return False
    except glance_store.InUseByStore as exc:
        raise exception.Conflict(str(exc))
    except glance_store.GlanceStoreException as exc:
        raise exception.ServiceUnavailable(str(exc))
    return True


def delete_data(url: str, store_id: str | None, context: Any = None) -> bool:
    """Remove the data at ``url`` from its store; True when it was already
    gone.  Other store errors propagate (the caller decides whether to
    retry, as the scrubber does, or to log and go on).  The one place the
    data of a location is deleted: the layer's image delete and the
    scrubber's delayed one."""
    try:
        glance_store.delete_from_backend(url, store_id=store_id,
                                         context=context)
    except glance_store.NotFound:
        return True
    return False
