"""glance-cache-manage: the image cache of one glance-api node, over HTTP.

    glance-cache-manage [options] list-cached
    glance-cache-manage [options] list-queued
    glance-cache-manage [options] queue-image IMAGE_ID
    glance-cache-manage [options] delete-cached-image IMAGE_ID
    glance-cache-manage [options] delete-all-cached-images
    glance-cache-manage [options] delete-queued-image IMAGE_ID
    glance-cache-manage [options] delete-all-queued-images
    glance-cache-manage help [COMMAND]

Command and option names are the ones operators have scripted against;
each command is one call of the cache API (/v2/cache, Images API 2.14) of
the node named by --host/--port (or --url): the cache is per node, so the
node is asked directly, never a load balancer in front of several.  Without
either, a command that logs in (--os-username... or the OS_* variables,
glance.common.client_auth) asks the image endpoint of the catalogue, else
0.0.0.0:9292.  Exit status 0 on success, 1 on an error (told on stderr),
2 for bad usage.
"""
from __future__ import annotations

import argparse
import datetime
from importlib import metadata
import re
import sys
from typing import Callable

from keystoneauth1 import exceptions as ks_exc
import requests

from glance.common import client_auth

#: the commands: name -> (help, takes an image id)
COMMANDS: dict[str, tuple[str, bool]] = {
    'list-cached': ('List all images currently cached.', False),
    'list-queued': ('List all images currently queued for caching.', False),
    'queue-image': ('Queue an image for caching.', True),
    'delete-cached-image': ('Purge an image from the cache.', True),
    'delete-all-cached-images': ('Remove all images from the cache.', False),
    'delete-queued-image': ('Delete an image from the cache queue.', True),
    'delete-all-queued-images': ('Delete all images from the cache queue.',
                                 False),
}


DEFAULT_HOST, DEFAULT_PORT = '0.0.0.0', 9292


class Failed(Exception):
    """A call failed; the message says why, for stderr."""


def _version() -> str:
    try:
        return '%(prog)s ' + metadata.version('glance')
    except metadata.PackageNotFoundError:
        return '%(prog)s (not installed)'


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glance-cache-manage',
        description='Manage the image cache of a glance-api node through '
                    'its cache API.',
        epilog='Commands: %s, help.' % ', '.join(COMMANDS))
    p.add_argument('--version', action='version', version=_version())
    p.add_argument('-v', '--verbose', action='store_true',
                   help='Print more verbose output.')
    p.add_argument('-d', '--debug', action='store_true',
                   help='Print each HTTP call made.')
    p.add_argument('-H', '--host', metavar='ADDRESS',
                   help='Address of the glance-api node (default: the '
                        'catalogue\'s image endpoint when logging in, '
                        'else %s).' % DEFAULT_HOST)
    p.add_argument('-p', '--port', type=int,
                   help='Port the node listens on (default %d).'
                        % DEFAULT_PORT)
    p.add_argument('--url', help='URL of the node (http[s]://host:port), '
                                 'instead of --host and --port.')
    p.add_argument('-k', '--insecure', action='store_true',
                   help='Do not verify the certificate of an https node '
                        '(use with caution).')
    p.add_argument('-f', '--force', action='store_true',
                   help='Do not ask for confirmation before deleting all '
                        'cached or queued images.')
    p.add_argument('command', help='One of the commands below, or help.')
    p.add_argument('args', nargs='*', help='The command\'s arguments.')
    client_auth.add_arguments(p)
    return p


class CacheClient:
    """The cache API of one node, through a keystoneauth1 session (which
    adds the token of its login, or the one given)."""

    def __init__(self, base: str, auth: client_auth.Auth,
                 debug: bool = False):
        self.base = base.rstrip('/')
        self.session = auth.session
        self.debug = debug

    def call(self, method: str, path: str, **kw) -> requests.Response:
        url = self.base + path
        if self.debug:
            print('%s %s' % (method, url), file=sys.stderr)
        # errors as JSON ({"message": ...}) rather than an HTML page
        headers = {'Accept': 'application/json', **kw.pop('headers', {})}
        try:
            r = self.session.request(url, method, headers=headers,
                                     raise_exc=False, connect_retries=0,
                                     timeout=60, **kw)
        except ks_exc.ConnectionError as exc:
            raise Failed('cannot reach %s: %s' % (self.base, exc))
        except ks_exc.ClientException as exc:    # the login itself
            raise Failed(client_auth._login_error(self.session, exc))
        if self.debug:
            print('-> %d' % r.status_code, file=sys.stderr)
        if r.status_code >= 400:
            raise Failed('%s %s answered %d: %s' % (
                method, path, r.status_code, _reason(r)))
        return r

    def state(self) -> dict:
        return self.call('GET', '/v2/cache').json()


def _reason(r: requests.Response) -> str:
    """The server's own words for an error: the message of its JSON body
    (webob pads it with line breaks in markup), else its text."""
    try:
        body = r.json()
    except ValueError:
        body = None
    text = body.get('message') if isinstance(body, dict) else None
    text = re.sub(r'<[^>]*>', ' ', str(text or r.text or r.reason))
    return ' '.join(text.split())[:500]


def _time(seconds: float | None) -> str:
    if not seconds:
        return 'N/A'
    return datetime.datetime.fromtimestamp(
        seconds, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S')


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    line = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'
    print(line)
    print('| ' + ' | '.join(h.ljust(w) for h, w in zip(header, widths))
          + ' |')
    print(line)
    for row in rows:
        print('| ' + ' | '.join(c.ljust(w) for c, w in zip(row, widths))
              + ' |')
    print(line)


def _confirm(question: str, force: bool) -> bool:
    if force:
        return True
    try:
        answer = input('%s [y/N] ' % question)
    except EOFError:
        answer = ''
    return answer.strip().lower() in ('y', 'yes')


# --- the commands ------------------------------------------------------------

def _listing(what: str, header: list[str], rows: list[list[str]]) -> int:
    if not rows:
        print('No %s images.' % what)
        return 0
    print('Found %d %s images...' % (len(rows), what))
    _table(header, rows)
    return 0


def list_cached(client: CacheClient, opts) -> int:
    return _listing(
        'cached', ['ID', 'Last Accessed (UTC)', 'Last Modified (UTC)',
                   'Size', 'Hits'],
        [[e['image_id'], _time(e.get('last_accessed')),
          _time(e.get('last_modified')), str(e['size']), str(e['hits'])]
         for e in client.state()['cached_images']])


def list_queued(client: CacheClient, opts) -> int:
    return _listing('queued', ['ID'], [
        [image_id] for image_id in client.state()['queued_images']])


def queue_image(client: CacheClient, opts) -> int:
    client.call('PUT', '/v2/cache/%s' % opts.image_id)
    if opts.verbose:
        print('Queued image %s for caching' % opts.image_id)
    return 0


def delete_image(client: CacheClient, opts) -> int:
    """delete-cached-image and delete-queued-image: the API removes the
    image from the cache and the queue of the node at once."""
    client.call('DELETE', '/v2/cache/%s' % opts.image_id)
    if opts.verbose:
        print('Deleted image %s from the cache and its queue'
              % opts.image_id)
    return 0


Action = Callable[[CacheClient, argparse.Namespace], int]


def _delete_all(target: str, what: str) -> Action:
    def run(client: CacheClient, opts) -> int:
        if not _confirm('Delete all %s images?' % what, opts.force):
            print('Nothing deleted.')
            return 0
        client.call('DELETE', '/v2/cache',
                    headers={'x-image-cache-clear-target': target})
        if opts.verbose:
            print('Deleted all %s images' % what)
        return 0
    return run


ACTIONS: dict[str, Action] = {
    'list-cached': list_cached,
    'list-queued': list_queued,
    'queue-image': queue_image,
    'delete-cached-image': delete_image,
    'delete-all-cached-images': _delete_all('cache', 'cached'),
    'delete-queued-image': delete_image,
    'delete-all-queued-images': _delete_all('queue', 'queued'),
}


def _help(p: argparse.ArgumentParser, args: list[str]) -> int:
    if not args:
        p.print_help()
        print('\nCommands:')
        for name, (text, takes_id) in COMMANDS.items():
            print('  %-26s %s' % (name + (' IMAGE_ID' if takes_id else ''),
                                  text))
        return 0
    if args[0] not in COMMANDS:
        print('glance-cache-manage: unknown command %r' % args[0],
              file=sys.stderr)
        return 2
    text, takes_id = COMMANDS[args[0]]
    print('glance-cache-manage [options] %s%s\n\n%s'
          % (args[0], ' IMAGE_ID' if takes_id else '', text))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of glance-cache-manage."""
    p = parser()
    opts = p.parse_args(sys.argv[1:] if argv is None else argv)
    if opts.command == 'help':
        return _help(p, opts.args)
    if opts.command not in COMMANDS:
        p.print_usage(sys.stderr)
        print('glance-cache-manage: unknown command %r (one of %s, help)'
              % (opts.command, ', '.join(COMMANDS)), file=sys.stderr)
        return 2
    takes_id = COMMANDS[opts.command][1]
    if len(opts.args) != (1 if takes_id else 0):
        print('glance-cache-manage: %s takes %s' % (
            opts.command, 'one IMAGE_ID' if takes_id else 'no arguments'),
            file=sys.stderr)
        return 2
    opts.image_id = opts.args[0] if takes_id else None
    try:
        auth = client_auth.from_options(opts, verify=not opts.insecure)
    except ValueError as exc:
        print('glance-cache-manage: %s' % exc, file=sys.stderr)
        return 2
    try:
        auth.check()
        client = CacheClient(_node_url(opts, auth), auth, debug=opts.debug)
        return ACTIONS[opts.command](client, opts)
    except (Failed, client_auth.AuthFailed) as exc:
        print('glance-cache-manage: %s' % exc, file=sys.stderr)
        return 1


def _node_url(opts: argparse.Namespace, auth: client_auth.Auth) -> str:
    """--url; else --host/--port; else the catalogue's image endpoint of
    a login; else the default address."""
    if opts.url:
        return opts.url
    if opts.host is None and opts.port is None and auth.logged_in:
        return auth.image_endpoint()
    return 'http://%s:%d' % (opts.host or DEFAULT_HOST,
                             opts.port or DEFAULT_PORT)


if __name__ == '__main__':
    sys.exit(main())
