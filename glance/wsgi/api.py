"""glance.wsgi.api:application for uWSGI, gunicorn or mod_wsgi.

Configuration comes from OS_GLANCE_CONFIG_DIR (default /etc/glance):
glance-api.conf there, and any files in its glance-api.conf.d.

The application is built when this module is imported, that is when the
WSGI server loads it into a worker (or into its master, before forking),
so a configuration that cannot work stops the server at start-up with the
reason in its log, instead of answering 500 to every request later.  Give
uWSGI ``need-app = true`` so that it exits when the application cannot be
loaded (gunicorn does by itself); see etc/glance-api-uwsgi.ini.
"""
from __future__ import annotations

import argparse
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


def main() -> None:
    """glance-wsgi-api: serve the application with the standard library's
    WSGI server, for trying a configuration out (one thread, no TLS);
    production runs it under uWSGI, gunicorn or mod_wsgi."""
    from wsgiref import simple_server
    parser = argparse.ArgumentParser(
        prog='glance-wsgi-api', description=main.__doc__)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=9292)
    options = parser.parse_args()
    server = simple_server.make_server(options.host, options.port,
                                       application)
    print('glance-wsgi-api: http://%s:%d (configuration from %s)'
          % (options.host, options.port,
             os.environ.get('OS_GLANCE_CONFIG_DIR', '/etc/glance')),
          file=sys.stderr)
    server.serve_forever()


def _build():
    try:
        return init_application()
    except Exception as exc:
        # The log file has the traceback (oslo.log's hook); the server's
        # own log, where an operator looks first, gets the reason.
        print('glance-api cannot start: %s' % exc, file=sys.stderr)
        raise


application = _build()
