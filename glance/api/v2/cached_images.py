"""/v2/cache: the image cache of the node answering (Images API 2.14+).

Available when the paste pipeline has the ``cache`` filter; elsewhere every
call answers 404 (but the nodes of an image: 409, as the reference's design
of that call says).  The rules (cache_list, cache_image, cache_delete, and
since 2.18 list_cached_nodes, cache_clean, cache_prune) touch no image, so
the controller checks them itself, before anything else.
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

    def nodes(self, request: wsgi.Request, image_id: str) -> dict:
        """GET /v2/cache/nodes/{image_id} -> 200 {cached_nodes: [node
        reference URLs]} (2.18): the nodes whose cache holds the image,
        known to every node sharing the database of the centralized_db
        driver.  403 by policy (list_cached_nodes); 409 where the node has
        no cache or another driver (which knows only its own node); 404
        for an image the caller cannot see."""
        _enforce(request, 'list_cached_nodes')
        cache = request.environ.get(cache_filter.ENVIRON_KEY)
        if cache is None or CONF.image_cache_driver != 'centralized_db':
            raise exception.Conflict(
                'The nodes caching an image are known only where the image '
                'cache is enabled with the centralized_db driver.')
        gateway.get_repo(request.context).get(image_id)
        return {'cached_nodes': cache.nodes(image_id)}

    def clean(self, request: wsgi.Request) -> dict:
        """POST /v2/cache/clean -> 200 (2.18): drop deleted images,
        invalid files and incomplete files stalled for
        image_cache_stall_time; 403 by policy (cache_clean).  The body,
        which the reference's design leaves open, names what went."""
        _enforce(request, 'cache_clean')
        report = maintenance.clean(_cache(request))
        return {'deleted_images': report.deleted,
                'removed_files': report.removed}

    def prune(self, request: wsgi.Request) -> dict:
        """POST /v2/cache/prune -> 200 {total_files_pruned,
        total_bytes_pruned} (2.18): drop deleted images, then the least
        recently used ones until the cache holds at most
        image_cache_max_size bytes; 403 by policy (cache_prune)."""
        _enforce(request, 'cache_prune')
        report = maintenance.prune(_cache(request))
        return {'total_files_pruned': len(report.deleted) +
                len(report.removed),
                'total_bytes_pruned': report.bytes_removed}

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
