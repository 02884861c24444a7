"""One upload of image data, from any caller: begin, write, finish or abort.

The image repository offers the upload protocol as separate steps (see
``glance.domain.repositories.ImageRepository``): ``begin_upload`` (queued
-> saving), ``write_data`` (the location layer streams the bytes into a
store and hashes them), ``finish_upload`` (saving -> active) and
``abort_upload`` (back to queued, partial data removed).  ``upload()`` is
the one place that drives them, under a lease, so PUT /file and the legacy
import task cannot drift apart in how they recover from a failure.
"""
from __future__ import annotations

import logging
from typing import Any

from glance.async_ import leases, recovery
from glance.common import exception
from glance.domain.image import Image
from glance.domain.transfer import Upload
from glance.layers import location_stores

LOG = logging.getLogger(__name__)


def upload(repo: Any, image: Image, data: Upload,
           task_id: str | None = None) -> Image:
    """Store ``data`` as ``image``'s data and make it active.

    On any failure the image is back to queued with nothing stored and the
    error is raised again (an image deleted meanwhile becomes
    ``ImageDeletedDuringUpload``, 410).  A lease covers the work, so should
    this process die, any node undoes it (``glance.async_.recovery``).
    """
    if recovery.settle(image):
        image = repo.get(image.image_id)
    recovery.check_free(image)
    image = repo.begin_upload(image)
    # Leased once the image is ours (saving): a process dying before this
    # leaves an unleased saving image, undone after a lease timeout all
    # the same; a live one failing to lease it undoes it itself.
    lease = None
    try:
        lease = recovery.acquire(image.image_id, leases.UPLOAD,
                                 task_id=task_id,
                                 stores=[_target(data.store)])
        data.data = leases.beating(data.data)
        data = repo.write_data(image, data)
        return repo.finish_upload(image, data)
    except BaseException as exc:
        # A refusal the client caused is not the operator's business.
        client_error = isinstance(exc, exception.GlanceException) and \
            exc.code < 500
        LOG.log(logging.INFO if client_error else logging.WARNING,
                'Upload of image %s failed: %s', image.image_id, exc)
        if not _abort(repo, image, data, exc):
            if lease is None:   # the database went away before the lease
                recovery.undo_unleased_later(image, leases.UPLOAD)
            else:
                recovery.undo_later(lease)
                lease = None    # kept until the sweep has undone it
        if isinstance(exc, exception.ImageNotFound):
            raise exception.ImageDeletedDuringUpload(image_id=image.image_id)
        raise
    finally:
        if lease is not None:
            leases.release(lease)


def _abort(repo: Any, image: Image, data: Upload,
           error: BaseException) -> bool:
    """Undo a failed upload; never let the undo hide the original error.
    False when the undo failed."""
    try:
        repo.abort_upload(image, data, error)
    except exception.NotFound:
        LOG.info('Image %s was deleted during its upload; its data was '
                 'discarded.', image.image_id)
    except Exception as exc:  # noqa: BLE001 - e.g. the database is down
        # The stored data is gone already (the location layer removes it
        # before saving); the record stays "saving" until it can be
        # written again, and the operator is told.
        LOG.error('Image %s could not be returned to queued after a failed '
                  'upload: %s', image.image_id, exc)
        return False
    return True


def _target(requested: str | None) -> str | None:
    """The store the upload writes to, recorded on its lease so a
    recovery knows where partial data may be (None: the default)."""
    try:
        return location_stores.target_store(requested)
    except exception.GlanceException:
        return None             # refused later, by the location layer
