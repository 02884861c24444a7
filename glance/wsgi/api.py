"""glance.wsgi.api:application for uWSGI, gunicorn or mod_wsgi.

Configuration comes from OS_GLANCE_CONFIG_DIR (default /etc/glance):
glance-api.conf there, and any files in its glance-api.conf.d.

The application is built when this module is imported, that is when the
WSGI server loads it into a worker (or into its master, before forking),
so a configuration that cannot work stops the server at start-up with the
reason in its log, instead of answering 500 to every request later.  Give
uWSGI ``need-app = true`` so that it exits when the application cannot be
loaded (gunicorn does by itself); see etc/glance-api-uwsgi.ini.
The glance-wsgi-api command (glance.cmd.wsgi_api) serves it for trying a
configuration out.
"""
from __future__ import annotations

import os
import sys

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
    app = startup.load_app()
    # What glance-api's own server does before its workers start: staged
    # files left by a crash or a delete on another node go (files of
    # images still staging are kept, so a worker starting later is safe).
    from glance.async_ import staging
    staging.sweep_at_startup()
    return app


def _build():
    try:
        return init_application()
    except Exception as exc:
        # The log file has the traceback (oslo.log's hook); the server's
        # own log, where an operator looks first, gets the reason.
        print('glance-api cannot start: %s' % exc, file=sys.stderr)
        raise


application = _build()
