#!/usr/bin/env python3
"""Serve Barbican's API with gunicorn, for the tests.

Run with the Python of the Barbican virtualenv (tools/barbican_venv.sh):

    .barbican-venv/bin/python tools/barbican_wsgi.py HOST:PORT PASTE_INI

Barbican parses its configuration when its modules are imported, from the
default places only (``~/.barbican/barbican.conf`` first), and each of its
plugins does so again with a configuration of its own; the test fixture
therefore points HOME at the Barbican's work directory.  Its WSGI module
reads the paste pipeline from /etc/barbican, so this runner loads the one
given instead.  One process, a few threads: Barbican is imported once.
"""
import sys

from gunicorn.app.base import BaseApplication


class BarbicanApp(BaseApplication):
    """gunicorn serving Barbican's paste application."""

    def __init__(self, bind: str, paste: str):
        self.bind = bind
        self.paste = paste
        super().__init__()

    def load_config(self):
        self.cfg.set('bind', self.bind)
        self.cfg.set('workers', 1)
        self.cfg.set('threads', 4)
        self.cfg.set('timeout', 120)
        self.cfg.set('graceful_timeout', 5)
        self.cfg.set('accesslog', '-')

    def load(self):
        sys.argv = sys.argv[:1]
        from paste import deploy
        return deploy.loadapp('config:%s' % self.paste)


def main() -> None:
    BarbicanApp(sys.argv[1], sys.argv[2]).run()


if __name__ == '__main__':
    main()
