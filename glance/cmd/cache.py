"""glance-cache-prefetcher, glance-cache-pruner, glance-cache-cleaner.

    glance-cache-prefetcher [--config-file FILE ...]
    glance-cache-pruner [--config-file FILE ...]
    glance-cache-cleaner [--config-file FILE ...]

Run on each glance-api node (from cron, say) with the node's configuration:
by default glance-api.conf and then glance-cache.conf from the usual places
(~/.glance, ~/, /etc/glance, /etc); image_cache_dir, image_cache_driver and
for centralized_db worker_self_reference_url and [database] must match the
node's glance-api.  Exit status 0 on success, 1 on an error (told on
stderr), 2 when the prefetcher left images queued.
"""
from __future__ import annotations

import sys
from typing import Callable

from oslo_config import cfg
from oslo_log import log

from glance import store as glance_store
from glance.common import config
import glance.db.sqlalchemy.engine  # noqa: F401 - registers [database]
from glance import image_cache
from glance.image_cache import maintenance

CONF = cfg.CONF
log.register_options(CONF)
glance_store.register_opts(CONF)

#: exit status of the prefetcher when some queued images were not cached
EXIT_LEFT_QUEUED = 2


def _default_config_files() -> list[str]:
    return (cfg.find_config_files(project='glance', prog='glance-api') +
            cfg.find_config_files(project='glance', prog='glance-cache'))


def _run(argv, prog: str, description: str,
         action: Callable[[image_cache.ImageCache], int]) -> int:
    config.set_config_defaults()
    try:
        CONF(args=sys.argv[1:] if argv is None else argv, project='glance',
             prog=prog, description=description,
             default_config_files=_default_config_files())
    except cfg.Error as exc:
        print('%s: %s' % (prog, exc), file=sys.stderr)
        return 1
    log.setup(CONF, 'glance')
    try:
        return action(image_cache.ImageCache())
    except Exception as exc:  # noqa: BLE001 - a clear message for operators
        print('%s: %s' % (prog, exc), file=sys.stderr)
        return 1


def _prefetch(cache: image_cache.ImageCache) -> int:
    from glance.image_cache import prefetcher
    glance_store.create_stores(CONF)
    result = prefetcher.prefetch(cache)
    for image_id in result.cached:
        print('cached %s' % image_id)
    for image_id in result.dropped:
        print('dequeued %s (deleted, not active or cached already)'
              % image_id)
    for image_id in result.failed:
        print('failed %s (still queued)' % image_id)
    return EXIT_LEFT_QUEUED if result.failed else 0


def _report(report: maintenance.Report) -> None:
    if report.warning:
        print(report.warning, file=sys.stderr)
    for image_id in report.deleted:
        print('removed %s (image deleted)' % image_id)


def _prune(cache: image_cache.ImageCache) -> int:
    report = maintenance.prune(cache)
    _report(report)
    for image_id in report.removed:
        print('pruned %s' % image_id)
    print('cache holds %d bytes (image_cache_max_size %d)'
          % (cache.total_size(), CONF.image_cache_max_size))
    return 0


def _clean(cache: image_cache.ImageCache) -> int:
    report = maintenance.clean(cache)
    _report(report)
    for name in report.removed:
        print('removed %s' % name)
    return 0


def prefetcher_main(argv=None) -> int:
    """glance-cache-prefetcher: cache the images queued on this node."""
    return _run(argv, 'glance-cache-prefetcher',
                'Fetch the images queued for caching on this node (PUT '
                '/v2/cache/{image_id}) from their stores into the image '
                'cache.', _prefetch)


def pruner_main(argv=None) -> int:
    """glance-cache-pruner: shrink the cache to image_cache_max_size."""
    return _run(argv, 'glance-cache-pruner',
                'Remove deleted images from the image cache, then the '
                'least recently used ones until it holds at most '
                'image_cache_max_size bytes.',
                _prune)


def cleaner_main(argv=None) -> int:
    """glance-cache-cleaner: remove invalid and stalled cache files."""
    return _run(argv, 'glance-cache-cleaner',
                'Remove deleted images and invalid files from the image '
                'cache, and incomplete ones nobody has written to for '
                'image_cache_stall_time seconds.', _clean)
