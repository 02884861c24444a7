"""glance.wsgi.api:application for uWSGI, gunicorn or mod_wsgi.

Configuration comes from OS_GLANCE_CONFIG_DIR (default /etc/glance):
glance-api.conf there, and any files in its glance-api.conf.d.
"""
from __future__ import annotations

import os
import threading

from glance.common import startup


def init_application():
    """Read the configuration and build the application (the factory)."""
    conf_dir = os.environ.get('OS_GLANCE_CONFIG_DIR', '/etc/glance').strip()
    files = [os.path.join(conf_dir, 'glance-api.conf')]
    args = []
    extra = os.path.join(conf_dir, 'glance-api.conf.d')
    if os.path.isdir(extra):
        args = ['--config-dir', extra]
    startup.prepare(args, 'glance-api',
                    default_config_files=[f for f in files
                                          if os.path.exists(f)])
    return startup.load_app()


_APP = None
_APP_LOCK = threading.Lock()


def application(environ, start_response):
    """The WSGI callable; configuration is loaded on the first request.

    Loading lazily keeps importing this module free of side effects (the
    server may import it in a master process and fork); the lock keeps a
    threaded server from building the application twice.
    """
    global _APP
    if _APP is None:
        with _APP_LOCK:
            if _APP is None:
                _APP = init_application()
    return _APP(environ, start_response)
