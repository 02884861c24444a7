"""glance-wsgi-api: the WSGI application under the standard library's
server, for trying a configuration out (one thread, no TLS); production
runs ``glance.wsgi.api:application`` under uWSGI, gunicorn or mod_wsgi.

A module of its own because importing glance.wsgi.api builds the
application: the arguments (``--help`` included) are read first.
"""
from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, build the application, serve until stopped."""
    parser = argparse.ArgumentParser(
        prog='glance-wsgi-api', description=__doc__.split('\n\n')[0],
        epilog='The configuration is read from OS_GLANCE_CONFIG_DIR '
               '(default /etc/glance): glance-api.conf and the files of '
               'glance-api.conf.d.')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default: %(default)s)')
    parser.add_argument('--port', type=int, default=9292,
                        help='port to listen on (default: %(default)s)')
    options = parser.parse_args(argv)
    from wsgiref import simple_server

    from glance.wsgi import api
    server = simple_server.make_server(options.host, options.port,
                                       api.application)
    print('glance-wsgi-api: http://%s:%d (configuration from %s)'
          % (options.host, options.port,
             os.environ.get('OS_GLANCE_CONFIG_DIR', '/etc/glance')),
          file=sys.stderr)
    server.serve_forever()
