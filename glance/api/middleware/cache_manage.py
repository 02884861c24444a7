"""The ``cachemanage`` paste filter, kept so the cachemanagement flavors of
existing paste files load.

Since Images API 2.14 the cache calls (/v2/cache) are routes of the v2 API
itself and work in every pipeline that has the ``cache`` filter; this
filter only passes requests on.
"""
from __future__ import annotations


class CacheManageFilter:
    """paste filter that passes every request on unchanged."""

    def __init__(self, app):
        self.app = app

    @classmethod
    def factory(cls, global_conf, **local_conf):
        """paste.filter_factory entry point."""
        def filter_(app):
            return cls(app)
        return filter_

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)
