"""glance-replicator: copy images between glance deployments.

    glance-replicator [options] compare FROMSERVER:PORT TOSERVER:PORT
    glance-replicator [options] dump SERVER:PORT PATH
    glance-replicator [options] livecopy FROMSERVER:PORT TOSERVER:PORT
    glance-replicator [options] load PATH SERVER:PORT
    glance-replicator [options] size SERVER:PORT

Command names, arguments and options are those operators have scripted
against for years; the work itself is in ``glance.replicator``.
"""
from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys

from glance import replicator

COMMANDS = {
    'compare': ('What is missing from (or different on) the target glance?',
                ('fromserver', 'toserver')),
    'dump': ('Dump the contents of a glance instance to local disk.',
             ('server', 'path')),
    'livecopy': ('Load the contents of one glance instance into another.',
                 ('fromserver', 'toserver')),
    'load': ('Load the contents of a local directory into glance.',
             ('path', 'server')),
    'size': ('Determine the size of a glance instance if dumped to disk.',
             ('server',)),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glance-replicator',
        description='Replicate images (ids, metadata and data) from one '
                    'glance to another, or through a local directory.',
        epilog='Servers are HOST:PORT or a URL (http://host:port).')
    p.add_argument('-c', '--chunksize', type=int, default=65536,
                   help='Amount of data to transfer per HTTP read or write '
                        '(bytes, default 65536).')
    p.add_argument('-d', '--debug', action='store_true',
                   help='Print debugging information.')
    p.add_argument('-D', '--dontreplicate',
                   default=' '.join(replicator.DEFAULT_DONT_REPLICATE),
                   help='Space-separated list of fields not to replicate '
                        '(default: %(default)s).')
    p.add_argument('-m', '--metaonly', action='store_true',
                   help='Only replicate metadata, not image data.')
    p.add_argument('-l', '--logfile', help='Path of a file to log to.')
    p.add_argument('-s', '--syslog', action='store_true',
                   help='Log to syslog instead of a file.')
    p.add_argument('-t', '--token',
                   help='Authentication token for both glances (unless '
                        'a side has its own token below).')
    p.add_argument('-S', '--sourcetoken',
                   help='Authentication token for the source glance.')
    p.add_argument('-T', '--targettoken',
                   help='Authentication token for the target glance.')
    p.add_argument('-v', '--verbose', action='store_true',
                   help='Print more progress information.')
    p.add_argument('-q', '--quiet', action='store_true',
                   help='Print no progress lines.')
    sub = p.add_subparsers(dest='command', metavar='COMMAND')
    for name, (summary, args) in COMMANDS.items():
        c = sub.add_parser(name, help=summary, description=summary)
        for arg in args:
            c.add_argument(arg)
    h = sub.add_parser('help', help='Output help for one of the commands.')
    h.add_argument('topic', nargs='?', choices=sorted(COMMANDS))
    return p


def _logging(args) -> None:
    level = logging.DEBUG if args.debug else (
        logging.INFO if args.verbose else logging.WARNING)
    handler: logging.Handler
    if args.syslog:
        handler = logging.handlers.SysLogHandler(address='/dev/log')
    elif args.logfile:
        handler = logging.FileHandler(args.logfile)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        '%(asctime)s %(levelname)s %(name)s %(message)s'))
    logging.basicConfig(level=level, handlers=[handler])


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command in (None, 'help'):
        topic = getattr(args, 'topic', None)
        if topic:
            p.parse_args([topic, '--help'])
        p.print_help()
        return 0 if args.command == 'help' else 2
    _logging(args)
    dont = args.dontreplicate.split()

    def service(server: str, own: str | None) -> replicator.ImageService:
        return replicator.ImageService(server, own or args.token)

    def progress(total: int) -> replicator.Progress:
        return replicator.Progress(total, verbose=not args.quiet)

    try:
        if args.command == 'size':
            count, total = replicator.size(service(args.server,
                                                   args.sourcetoken))
            print('Total size is %d bytes (%s) across %d images'
                  % (total, replicator.human_size(total), count))
        elif args.command == 'compare':
            findings = replicator.compare(
                service(args.fromserver, args.sourcetoken),
                service(args.toserver, args.targettoken), dont)
            for line in findings:
                print(line)
            return 1 if findings else 0
        elif args.command == 'livecopy':
            counts = replicator.livecopy(
                service(args.fromserver, args.sourcetoken),
                service(args.toserver, args.targettoken), dont,
                args.metaonly, args.chunksize, progress)
            print('Images: %s' % replicator.describe(counts))
        elif args.command == 'dump':
            n = replicator.dump(service(args.server, args.sourcetoken),
                                args.path, args.metaonly, args.chunksize,
                                progress)
            print('Dumped %d images to %s' % (n, args.path))
        elif args.command == 'load':
            counts = replicator.load(
                args.path, service(args.server, args.targettoken), dont,
                args.metaonly, args.chunksize, progress)
            print('Images: %s' % replicator.describe(counts))
    except (replicator.ReplicationError, OSError, ValueError) as exc:
        print('glance-replicator %s: %s' % (args.command, exc),
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
