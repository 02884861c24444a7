"""The two upkeep runs of a node's image cache: clean and prune.

Shared by the API calls (``POST /v2/cache/clean``, ``POST /v2/cache/prune``,
Images API 2.18) and the commands run from cron (glance-cache-cleaner,
glance-cache-pruner), so both ways of keeping a cache do the same thing.
Each run first drops the copies of images that were deleted meanwhile
(through another node, or while this one was down).
"""
from __future__ import annotations

import dataclasses
import logging

from oslo_config import cfg

from glance import image_cache

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Report:
    """What one run removed, and what it could not look at."""

    #: ids of cached images dropped because the image was deleted
    deleted: list[str] = dataclasses.field(default_factory=list)
    #: clean: invalid/ and stalled incomplete/ files removed (their
    #: cache-relative names); prune: least recently used image ids removed
    removed: list[str] = dataclasses.field(default_factory=list)
    #: why deleted images were not looked for (the database was out of
    #: reach); the run went on without that step
    warning: str | None = None
    #: prune: bytes the cache held before the run less those it holds now
    bytes_removed: int = 0


def _drop_deleted(cache: image_cache.ImageCache, report: Report) -> None:
    from glance.db import image_refs
    try:
        report.deleted = cache.drop_deleted(image_refs.live_ids)
    except Exception as exc:  # noqa: BLE001 - cleaning/pruning go on
        report.warning = ('deleted images not checked (the image database '
                          'is needed): %s' % exc)
        LOG.warning('Image cache upkeep: %s', report.warning)


def clean(cache: image_cache.ImageCache) -> Report:
    """Drop deleted images, invalid files and stalled incomplete ones
    (untouched for ``image_cache_stall_time`` seconds)."""
    report = Report()
    _drop_deleted(cache, report)
    report.removed = cache.clean()
    LOG.info('Image cache cleaned: %d deleted image(s), %d file(s) '
             'removed.', len(report.deleted), len(report.removed))
    return report


def prune(cache: image_cache.ImageCache) -> Report:
    """Drop deleted images, then the least recently used ones until the
    cache holds at most ``image_cache_max_size`` bytes."""
    report = Report()
    before = cache.total_size()
    _drop_deleted(cache, report)
    report.removed = cache.prune()
    report.bytes_removed = max(0, before - cache.total_size())
    LOG.info('Image cache pruned: %d deleted image(s) and %d least '
             'recently used removed; %d bytes held (image_cache_max_size '
             '%d).', len(report.deleted), len(report.removed),
             cache.total_size(), CONF.image_cache_max_size)
    return report
