"""What deleting an image takes along beyond its record and store data.

* Staged data: only the node that staged it can remove it, so a delete of
  an image staged on another API node (``os_glance_stage_host``) is handed
  to that node, as a glance-direct import is.  When that node cannot be
  reached the delete goes ahead here; its staged file goes at that node's
  next start (``glance.async_.staging.sweep_at_startup``) or with
  ``glance-manage store orphans``.
* The image cache of the deleting node drops its copy at once; other
  nodes drop theirs at their next glance-cache-pruner/cleaner run.
"""
from __future__ import annotations

import logging

from oslo_config import cfg

from glance.api.middleware.cache import ENVIRON_KEY as CACHE_KEY
from glance.api.v2 import stage_node
from glance.common import wsgi

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

#: marks a delete one node handed to another: it is never handed on again
#: (two nodes that disagree about their own URLs must not ping-pong)
MARK = 'X-Glance-Stage-Forwarded'
#: statuses in which an image has staged data
STAGED_STATUSES = ('uploading', 'importing')


def forward_to_stage_host(request: wsgi.Request, image) -> bool:
    """Hand the delete of ``image`` to the node holding its staged data.

    True when that node deleted it (nothing is left to do here); its
    refusal (403, 404, 409...) is the answer.  False when the image has no
    staged data elsewhere or that node is unreachable or failing: the
    caller deletes it here and the staged file waits for a sweep.
    """
    host = stage_node.other_host(image)
    if host is None or image.status not in STAGED_STATUSES or \
            MARK in request.headers:
        return False
    try:
        answer = stage_node.call(
            request, 'DELETE', host, '/v2/images/%s' % image.image_id,
            headers={MARK: CONF.worker_self_reference_url or 'unknown',
                     'Accept': 'application/json'})  # a refusal's message
    except stage_node.Unreachable as exc:
        _left_behind(image, host, str(exc))
        return False
    if answer.status_code >= 500:
        _left_behind(image, host, 'it answered %d' % answer.status_code)
        return False
    if answer.status_code != 204:
        raise stage_node.refusal(answer)
    LOG.info('Delete of image %s handed to %s, the node holding its staged '
             'data', image.image_id, host)
    return True


def _left_behind(image, host: str, why: str) -> None:
    LOG.warning('Image %s: the node holding its staged data (%s) could not '
                'take the delete (%s); deleting here, and its staged file '
                'stays there until that node restarts or an operator runs '
                '`glance-manage store orphans` on it.', image.image_id, host,
                why)


def evict_from_cache(request: wsgi.Request, image_id: str) -> None:
    """Drop the deleted image from this node's image cache, if it has one
    (a failure only leaves the copy for the next cache run).  A queued
    prefetch of it is left to glance-cache-prefetcher, which drops queued
    images that were deleted."""
    cache = request.environ.get(CACHE_KEY)
    if cache is None:
        return
    try:
        if cache.delete(image_id):
            LOG.info('Deleted image %s removed from the image cache.',
                     image_id)
    except Exception as exc:  # noqa: BLE001 - the delete itself succeeded
        LOG.warning('Deleted image %s could not be removed from the image '
                    'cache now (%s); the next glance-cache-pruner run '
                    'removes it.', image_id, exc)
