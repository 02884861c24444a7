"""HTTP: everything that knows about requests and responses."""
from __future__ import annotations


class RootApp:
    """Send each request to the app of its longest matching path prefix.

    Unlike paste's urlmap the path is left whole, so the v2 route table can
    spell out full paths ("/v2/images") as the API reference does.
    """

    def __init__(self, apps: dict[str, object]):
        self.apps = sorted(apps.items(), key=lambda kv: len(kv[0]),
                           reverse=True)

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '') or '/'
        for prefix, app in self.apps:
            stem = prefix.rstrip('/')
            if path == stem or path.startswith(stem + '/') or not stem:
                return app(environ, start_response)
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'Not Found']


def root_app_factory(loader, global_conf, **local_conf):
    """paste composite factory for ``[composite:rootapp]``."""
    return RootApp({prefix: loader.get_app(name, global_conf=global_conf)
                    for prefix, name in local_conf.items()})
