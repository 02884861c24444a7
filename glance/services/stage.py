"""Staging data for a later glance-direct import: receive, judge, record.

PUT /v2/images/{id}/stage has moved the image to uploading; ``stage()``
then streams the bytes into the staging area under a lease, as
``upload()`` does for the stores, so the controller only checks and hands
over.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any, Iterable, Iterator

from oslo_config import cfg

from glance.async_ import leases, recovery, staging
from glance.async_.flows.api_image_import import STAGE_HOST
from glance.common import exception, format_inspector
from glance.domain.image import Image

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


def _hashed(data: Iterable[bytes], hasher) -> Iterator[bytes]:
    """``data`` passed on, hashed and keeping the stage's lease alive."""
    for chunk in leases.beating(data):
        hasher.update(chunk)
        yield chunk


def stage(repo: Any, image: Image, data: Iterable[bytes]) -> None:
    """Receive ``image``'s staged data under a lease, judged by the format
    inspector and hashed as it passes; record it whole (only a complete
    stage can be imported) or undo everything: nothing stays staged and
    the image is queued again."""
    image_id = image.image_id
    hasher = hashlib.new(CONF.hashing_algorithm)
    inspection = format_inspector.Inspection(
        image_id, image.disk_format, image.container_format)
    # Leased once the image is ours (uploading): a process dying
    # before this leaves an unleased stage, undone after a lease
    # timeout all the same; a live one failing to lease it undoes it
    # itself.
    lease = None
    try:
        leases.forget_stage(image_id)
        lease = recovery.acquire(image_id, leases.STAGE)
        image.size = staging.write(
            image_id, inspection.feed(_hashed(data, hasher)),
            CONF.image_size_cap)
        inspection.judge()
        repo.save(image)
        leases.record_stage(lease, image.size, hasher.name,
                            hasher.hexdigest())
    except BaseException as exc:
        LOG.info('Staging data of image %s failed: %s', image_id, exc)
        staging.remove(image_id)
        leases.forget_stage(image_id)
        try:
            image = repo.get(image_id)
            image.set_status('queued')
            image.size = None
            image.extra_properties.pop(STAGE_HOST, None)
            repo.save(image)
        except exception.NotFound:
            pass            # deleted meanwhile: nothing to return
        except Exception as undo:  # noqa: BLE001 - e.g. the database is down
            LOG.error('Image %s could not be returned to queued after '
                      'a failed stage: %s', image_id, undo)
            if lease is None:   # the database went away before it
                recovery.undo_unleased_later(image, leases.STAGE)
            else:
                recovery.undo_later(lease)
                lease = None    # kept until the sweep has undone it
        raise
    finally:
        if lease is not None:
            leases.release(lease)
