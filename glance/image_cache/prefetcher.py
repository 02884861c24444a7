"""Fetch the images queued on this node (PUT /v2/cache/{id}) into its cache.

Images are read through the repository chain as the service itself, so the
store drivers, the range and hash handling and the image.send notification
are those of an ordinary download.
"""
from __future__ import annotations

import dataclasses
import logging
import threading

from oslo_config import cfg

from glance.common import exception
from glance import context as glance_context
from glance.domain.transfer import Download
from glance import gateway
from glance import image_cache

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

prefetcher_opts = [
    cfg.IntOpt('cache_prefetcher_interval', default=300, min=0,
               help='Seconds between the runs of the cache prefetcher in '
                    'each glance-api worker with a caching paste flavor: '
                    'it caches the images queued with PUT '
                    '/v2/cache/{image_id} (a queued image also starts a '
                    'run at once).  0 leaves prefetching to '
                    'glance-cache-prefetcher.'),
]
CONF.register_opts(prefetcher_opts)


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


# --- in glance-api: a prefetcher per process --------------------------------

class Periodic:
    """Runs :func:`prefetch` in the background of an API process.

    Every ``cache_prefetcher_interval`` seconds, and at once when an image
    is queued on this process (``wake``), as the reference service does,
    so that ``PUT /v2/cache/{image_id}`` caches the image without an
    operator running glance-cache-prefetcher.  Under eventlet the thread
    and the event are green.  Started by the first request a worker serves
    (not when the application is built: glance-api builds it once in its
    parent process too, which serves nothing).
    """

    def __init__(self, cache: image_cache.ImageCache):
        self.cache = cache
        self._due = threading.Event()
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the loop in this process, once."""
        if self._started:
            return
        with self._lock:
            if self._started or CONF.cache_prefetcher_interval <= 0:
                return
            self._started = True
            threading.Thread(target=self._loop, name='cache-prefetcher',
                             daemon=True).start()

    def wake(self) -> None:
        """Prefetch soon (an image was queued)."""
        self.start()
        self._due.set()

    def _loop(self) -> None:
        while True:
            self._due.wait(CONF.cache_prefetcher_interval)
            self._due.clear()
            try:
                if self.cache.queued():
                    result = prefetch(self.cache)
                    LOG.info('Cache prefetch: %d cached, %d left queued, '
                             '%d dropped.', len(result.cached),
                             len(result.failed), len(result.dropped))
            except Exception as exc:  # noqa: BLE001 - try again next time
                LOG.warning('Cache prefetch failed: %s; trying again in %d '
                            's.', exc, CONF.cache_prefetcher_interval)
