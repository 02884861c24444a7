#!/usr/bin/env python3
"""Serve Keystone's WSGI application with gunicorn, for the tests.

Run with the Python of the Keystone virtualenv (tools/keystone_venv.sh):

    .keystone-venv/bin/python tools/keystone_wsgi.py HOST:PORT [THREADS]

Keystone reads its configuration files from OS_KEYSTONE_CONFIG_DIR.  It also
parses sys.argv with oslo.config when the application is built, so the
gunicorn command line cannot be used: this runner embeds gunicorn and
hands Keystone an empty command line.
"""
import sys

from gunicorn.app.base import BaseApplication


class KeystoneApp(BaseApplication):
    """gunicorn serving keystone.wsgi.api:application."""

    def __init__(self, bind: str, threads: int):
        self.bind = bind
        self.threads = threads
        super().__init__()

    def load_config(self):
        # One process (Keystone is imported once: a quicker start on two
        # cores), several threads.
        self.cfg.set('bind', self.bind)
        self.cfg.set('workers', 1)
        self.cfg.set('threads', self.threads)
        self.cfg.set('timeout', 120)
        self.cfg.set('graceful_timeout', 5)
        self.cfg.set('accesslog', '-')

    def load(self):
        sys.argv = sys.argv[:1]
        from keystone.wsgi.api import application
        return application


def main() -> None:
    bind = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    KeystoneApp(bind, threads).run()


if __name__ == '__main__':
    main()
