"""The ``cachemanage`` paste filter, kept so the cachemanagement flavors of
existing paste files load.

Since Images API 2.14 the cache calls (/v2/cache) are routes of the v2 API
itself and work in every pipeline that has the ``cache`` filter; this
filter only passes requests on.
"""
from __future__ import annotations


class CacheManageFilter:
    """paste filter that is no filter: the app is returned unwrapped."""

    @classmethod
    def factory(cls, global_conf, **local_conf):
        """paste.filter_factory entry point (the upstream name)."""
        return lambda app: app
