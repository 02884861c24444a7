"""Reading image data: byte ranges and the node's image cache.

Helpers of the location layer's ``read_data``
(:class:`glance.layers.location.ImageRepo`): which bytes a download asks
for, and the cache tried before the stores and filled while they stream.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

from glance.common import exception
from glance.domain.image import Image
from glance.domain.transfer import Download

LOG = logging.getLogger(__name__)


def resolve_range(download: Download, size: int | None) -> None:
    """Turn the byte range asked for into an offset and a length."""
    if download.byte_range is None or size is None:
        # Without a recorded size (a location added by hand) the whole
        # image is the only range that can be answered honestly.
        download.offset, download.length = 0, None
        return
    first, last = download.byte_range
    if first < 0:
        first, last = max(0, size + first), size - 1
    if first >= size:
        raise exception.RangeNotSatisfiable(
            'The requested range starts beyond the image, which has %d '
            'bytes.' % size)
    last = size - 1 if last is None else min(last, size - 1)
    download.offset, download.length = first, last - first + 1


def read_cached(image: Image, download: Download) -> bool:
    """Fill ``download`` from the node's image cache; False on a miss.

    A broken cache (disk, its database) costs a store read, never the
    download.
    """
    try:
        hit = download.cache.open(image, download.offset, download.length)
    except Exception as exc:  # noqa: BLE001 - fall back to the store
        LOG.warning('Image %s: image cache unusable, reading the store: '
                    '%s', image.image_id, exc)
        return False
    if hit is None:
        return False
    download.data, download.size = hit
    download.image_size = image.size
    return True


def tee(image: Image, cache: Any, data: Iterable[bytes]) -> Iterable[bytes]:
    """``data`` copied into the cache as it streams (whole reads)."""
    try:
        return cache.tee(image, data)
    except Exception as exc:  # noqa: BLE001 - serve uncached
        LOG.warning('Image %s: not cached: %s', image.image_id, exc)
        return data
