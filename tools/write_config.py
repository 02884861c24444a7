#!/usr/bin/env python3
"""Write a working glance-api configuration directory.

Used by ``make run`` (embedded default: SQLite + file store, no Keystone),
by the functional tests and by tools/replay.sh, so that all three start the
service the same way.

    python tools/write_config.py DIR [--port 9292]
        [--profile default|reference|run] [--database URL]
        [--set SECTION.OPTION=VALUE ...]
"""
from __future__ import annotations

import argparse
import configparser
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ETC = os.path.join(os.path.dirname(HERE), 'etc')


def build(directory: str, port: int = 9292, profile: str = 'default',
          database: str | None = None, overrides: list[str] = ()) -> str:
    """Create ``directory`` with glance-api.conf and its companions."""
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str
    conf['DEFAULT'] = {
        'bind_host': '127.0.0.1', 'bind_port': str(port), 'workers': '1',
        'log_file': os.path.join(directory, 'glance-api.log'),
    }
    conf['database'] = {'connection': database or 'sqlite:///%s' %
                        os.path.join(directory, 'glance.sqlite')}
    conf['paste_deploy'] = {'config_file': os.path.join(
        directory, 'glance-api-paste.ini')}
    conf['oslo_messaging_notifications'] = {'driver': 'noop'}
    if profile == 'reference':
        # The configuration ../shared/reference/ was recorded with.
        conf['paste_deploy']['flavor'] = 'trusted-auth'
        conf['DEFAULT'].update({
            'enabled_backends': 'fast:file, cheap:file',
            'enabled_import_methods':
                '[glance-direct,web-download,copy-image]',
            'show_image_direct_url': 'False',
            'show_multiple_locations': 'False',
        })
        conf['glance_store'] = {'default_backend': 'fast'}
        for store in ('fast', 'cheap', 'os_glance_staging_store',
                      'os_glance_tasks_store'):
            # 64 KiB: the upstream default the recording was made with
            # (ours is 1 MiB, see the filesystem-chunk-size release note)
            conf[store] = {'filesystem_store_datadir':
                           os.path.join(directory, 'stores', store),
                           'filesystem_store_chunk_size': '65536'}
        conf['oslo_policy'] = {'enforce_new_defaults': 'True',
                               'enforce_scope': 'True'}
        conf['import_filtering_opts'] = {
            'allowed_schemes': '[http,https]',
            'allowed_hosts': '[127.0.0.1]',
            'allowed_ports': '[80,443,18980]'}
    elif profile == 'run':
        # `make run`: one file store, configured as the multi-store setup
        # every client call expects (``glance stores-info`` included), and
        # the log on the terminal as well as in the file.
        conf['DEFAULT'].update({'enabled_backends': 'local:file',
                                'use_stderr': 'True'})
        conf['glance_store'] = {'default_backend': 'local'}
        for store, sub in (('local', 'images'),
                           ('os_glance_staging_store', 'staging'),
                           ('os_glance_tasks_store', 'tasks')):
            conf[store] = {'filesystem_store_datadir':
                           os.path.join(directory, sub)}
        conf['local']['store_description'] = 'Files under %s' % directory
    else:
        conf['glance_store'] = {
            'stores': 'file', 'default_store': 'file',
            'filesystem_store_datadir': os.path.join(directory, 'images')}
    for item in overrides:
        key, _, value = item.partition('=')
        section, _, option = key.rpartition('.')
        section = section or 'DEFAULT'
        if section != 'DEFAULT' and not conf.has_section(section):
            conf.add_section(section)
        conf[section][option] = value
    path = os.path.join(directory, 'glance-api.conf')
    with open(path, 'w') as f:
        conf.write(f)
    for name in ('glance-api-paste.ini', 'schema-image.json'):
        shutil.copy(os.path.join(ETC, name), os.path.join(directory, name))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('directory')
    parser.add_argument('--port', type=int, default=9292)
    parser.add_argument('--profile', default='default',
                        choices=['default', 'reference', 'run'])
    parser.add_argument('--database')
    parser.add_argument('--set', action='append', default=[],
                        metavar='SECTION.OPTION=VALUE')
    args = parser.parse_args()
    print(build(args.directory, args.port, args.profile, args.database,
                args.set))


if __name__ == '__main__':
    main()
