"""/v2/cache: the image cache of the node answering (Images API 2.14+).

Available when the paste pipeline has the ``cache`` filter; elsewhere every
call answers 404.  The rules (cache_list, cache_image, cache_delete, and
since 2.18 cache_clean, cache_prune) touch no image, so the controller
checks them itself, before anything else.
"""
from __future__ import annotations

from oslo_config import cfg

from glance.api.middleware import cache as cache_filter
from glance.common import exception, policy, wsgi
from glance import gateway
from glance.image_cache import maintenance

CONF = cfg.CONF

#: values of the x-image-cache-clear-target header of DELETE /v2/cache
CLEAR_TARGETS = ('cache', 'queue', 'both')


def _cache(request: wsgi.Request):
    cache = request.environ.get(cache_filter.ENVIRON_KEY)
    if cache is None:
        raise exception.NotFound('Caching via API is not supported at this '
                                 'site.')
    return cache


def _enforce(request: wsgi.Request, rule: str) -> None:
    ctx = request.context
    if not policy.check(ctx, rule, {'project_id': ctx.project_id}):
        raise exception.Forbidden(
            'You are not authorized to complete %s action.' % rule)


class Deserializer:
    def clear(self, request: wsgi.Request) -> dict:
        target = request.headers.get('x-image-cache-clear-target', 'both')
        target = target.strip().lower() or 'both'
        if target not in CLEAR_TARGETS:
            raise exception.BadRequest(
                'x-image-cache-clear-target must be one of %s, not %r.'
                % (', '.join(CLEAR_TARGETS), target))
        return {'target': target}


class Controller:
    def index(self, request: wsgi.Request) -> dict:
        """GET /v2/cache -> 200 {cached_images: [...], queued_images:
        [image ids]}; 403 by policy (cache_list)."""
        _enforce(request, 'cache_list')
        cache = _cache(request)
        return {'cached_images': [e.as_api() for e in cache.cached()],
                'queued_images': cache.queued()}

    def queue(self, request: wsgi.Request, image_id: str) -> None:
        """PUT /v2/cache/{image_id} -> 202, queued for the prefetcher.

        403 by policy (cache_image), 404 for an image the caller cannot
        see, 400 unless the image is active.
        """
        _enforce(request, 'cache_image')
        cache = _cache(request)
        image = gateway.get_repo(request.context).get(image_id)
        if image.status != 'active':
            raise exception.BadRequest(
                'Only images with status active can be targeted for '
                'queueing; image %s is %s.' % (image_id, image.status))
        cache.queue(image_id)
        waker = request.environ.get(cache_filter.PREFETCHER_KEY)
        if waker is not None:
            waker.wake()

    def delete(self, request: wsgi.Request, image_id: str) -> None:
        """DELETE /v2/cache/{image_id} -> 204, out of the cache and the
        queue; 403 by policy (cache_delete), 404 for an image that is
        neither known nor cached."""
        _enforce(request, 'cache_delete')
        cache = _cache(request)
        try:
            gateway.get_repo(request.context).get(image_id)
        except exception.NotFound:
            # The data of a deleted image may still be here: remove it.
            if not (cache.delete(image_id) | cache.dequeue(image_id)):
                raise
            return
        cache.delete(image_id)
        cache.dequeue(image_id)

    def nodes(self, request: wsgi.Request, image_id: str) -> list[str]:
        """GET /v2/cache/nodes/{image_id} -> 200 [node reference URLs]
        (2.18): the nodes whose cache holds the image, every node sharing
        the database with the centralized_db driver.  403 by policy
        (cache_list), 404 for an image the caller cannot see."""
        _enforce(request, 'cache_list')
        cache = _cache(request)
        gateway.get_repo(request.context).get(image_id)
        return cache.nodes(image_id)

    def clean(self, request: wsgi.Request) -> dict:
        """POST /v2/cache/clean -> 200 (2.18): drop deleted images,
        invalid files and incomplete files stalled for
        image_cache_stall_time; 403 by policy (cache_clean)."""
        _enforce(request, 'cache_clean')
        report = maintenance.clean(_cache(request))
        return {'deleted_images': report.deleted,
                'removed_files': report.removed}

    def prune(self, request: wsgi.Request) -> dict:
        """POST /v2/cache/prune -> 200 (2.18): drop deleted images, then
        the least recently used ones until the cache holds at most
        image_cache_max_size bytes; 403 by policy (cache_prune)."""
        _enforce(request, 'cache_prune')
        cache = _cache(request)
        report = maintenance.prune(cache)
        return {'deleted_images': report.deleted,
                'pruned_images': report.removed,
                'cache_size': cache.total_size(),
                'max_size': CONF.image_cache_max_size}

    def clear(self, request: wsgi.Request, target: str) -> None:
        """DELETE /v2/cache -> 204; x-image-cache-clear-target: cache,
        queue or both (default); 400 for another value, 403 by policy."""
        _enforce(request, 'cache_delete')
        cache = _cache(request)
        if target in ('cache', 'both'):
            cache.delete_all()
        if target in ('queue', 'both'):
            cache.delete_queue()


class Serializer:
    def queue(self, response, _result) -> None:
        response.status_int = 202
        response.content_type = None

    def delete(self, response, _result) -> None:
        response.status_int = 204

    def clear(self, response, _result) -> None:
        response.status_int = 204


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
