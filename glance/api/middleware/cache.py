"""The ``cache`` paste filter: puts this node's image cache on the path.

The filter hands the cache to the request (``environ['glance.image_cache']``);
the download then travels the repository chain as every download does, and
the location layer reads a verified cached copy or copies the store's
stream into the cache.  Serving a hit from inside the chain keeps the
policy layer's checks (download_image, deactivated images) and the
image.send notification for cached downloads too.
"""
from __future__ import annotations

import logging

from glance import image_cache
from glance.image_cache import prefetcher

LOG = logging.getLogger(__name__)

ENVIRON_KEY = 'glance.image_cache'
#: the process's background prefetcher (PUT /v2/cache wakes it)
PREFETCHER_KEY = 'glance.image_cache.prefetcher'


class CacheFilter:
    """paste filter: makes the image cache available to the request."""

    def __init__(self, app, cache: image_cache.ImageCache | None = None):
        self.app = app
        # Built at start-up so a missing image_cache_dir or
        # worker_self_reference_url stops glance-api with the reason.
        self.cache = cache or image_cache.ImageCache()
        self.prefetcher = prefetcher.Periodic(self.cache)
        LOG.info('Image cache in %s (driver %s).', self.cache.base,
                 self.cache.driver.name)

    @classmethod
    def factory(cls, global_conf, **local_conf):
        """paste.filter_factory entry point."""
        def filter_(app):
            return cls(app)
        return filter_

    def __call__(self, environ, start_response):
        environ[ENVIRON_KEY] = self.cache
        environ[PREFETCHER_KEY] = self.prefetcher
        self.prefetcher.start()     # in the worker, on its first request
        return self.app(environ, start_response)
