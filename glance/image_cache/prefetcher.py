"""Fetch the images queued on this node (PUT /v2/cache/{id}) into its cache.

Images are read through the repository chain as the service itself, so the
store drivers, the range and hash handling and the image.send notification
are those of an ordinary download.
"""
from __future__ import annotations

import dataclasses
import logging

from glance.common import exception
from glance import context as glance_context
from glance.domain.transfer import Download
from glance import gateway
from glance import image_cache

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Result:
    """What one run did, image ids per outcome."""

    cached: list[str] = dataclasses.field(default_factory=list)
    #: left in the queue, to be tried again by the next run
    failed: list[str] = dataclasses.field(default_factory=list)
    #: dropped from the queue: gone, not active, or cached already
    dropped: list[str] = dataclasses.field(default_factory=list)


def prefetch(cache: image_cache.ImageCache) -> Result:
    """Cache every queued image; each is dequeued once cached or hopeless."""
    repo = gateway.get_repo(glance_context.get_admin_context())
    result = Result()
    for image_id in cache.queued():
        try:
            image = repo.get(image_id)
        except exception.NotFound:
            LOG.info('Queued image %s no longer exists; dequeued.', image_id)
            cache.dequeue(image_id)
            result.dropped.append(image_id)
            continue
        if cache.is_cached(image_id) or not image_cache.cacheable(image):
            LOG.info('Queued image %s is %s; dequeued.', image_id,
                     'cached already' if cache.is_cached(image_id)
                     else 'not active (%s)' % image.status)
            cache.dequeue(image_id)
            result.dropped.append(image_id)
            continue
        try:
            download = repo.read_data(image, Download())
            if download.data is not None and cache.fill(image,
                                                        download.data):
                cache.dequeue(image_id)
                result.cached.append(image_id)
                continue
            LOG.warning('Image %s could not be cached (see invalid/ or the '
                        'log above); it stays queued.', image_id)
        except Exception as exc:  # noqa: BLE001 - the next image still runs
            LOG.warning('Image %s could not be fetched: %s; it stays '
                        'queued.', image_id, exc)
        result.failed.append(image_id)
    return result
