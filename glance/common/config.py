"""Configuration: the core options, command-line parsing and paste loading.

Options are declared beside the code that reads them; this module holds the
ones the API as a whole reads (limits, formats, what to show) and the
``[paste_deploy]`` group that chooses the pipeline.
"""
from __future__ import annotations

import logging
import os
import sysconfig

from oslo_config import cfg
from oslo_log import log
from oslo_policy import opts as policy_opts
from paste import deploy

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

paste_deploy_opts = [
    cfg.StrOpt('flavor',
               help='Paste pipeline flavor: the suffix of the pipeline '
                    'name in the paste file ("keystone" selects '
                    'glance-api-keystone). Empty means the unauthenticated '
                    'default pipeline.'),
    cfg.StrOpt('config_file',
               help='Paste configuration file; by default '
                    'glance-api-paste.ini found beside the first '
                    'configuration file, in /etc/glance or in the '
                    'etc/glance directory of the installation prefix '
                    '(the copy installed with the package). A relative '
                    'name is looked for in the same places.'),
]

common_opts = [
    cfg.IntOpt('image_size_cap', default=1099511627776, min=1,
               max=9223372036854775808,
               help='Largest image, in bytes, that may be uploaded.'),
    cfg.IntOpt('limit_param_default', default=25, min=1,
               help='Page size of image lists when the request names none.'),
    cfg.IntOpt('api_limit_max', default=1000, min=1,
               help='Largest page size a list request may ask for.'),
    cfg.BoolOpt('show_image_direct_url', default=False,
                help='Show the direct_url of the first location in image '
                     'records (reveals store internals).'),
    cfg.BoolOpt('show_multiple_locations', default=False,
                help='Show the locations list in image records.'),
    cfg.StrOpt('hashing_algorithm', default='sha512',
               help='hashlib algorithm for os_hash_value (multihash).'),
    cfg.StrOpt('public_endpoint',
               help='Public URL of this API, used in version documents '
                    'instead of the request host.'),
    cfg.ListOpt('enabled_import_methods',
                default=['glance-direct', 'web-download', 'copy-image'],
                bounds=True,
                item_type=cfg.types.String(quotes=True),
                help='Import methods offered to clients (advertised in the '
                     'OpenStack-image-import-methods header).'),
    cfg.StrOpt('worker_self_reference_url',
               help='URL at which other API workers reach this one.'),
]

image_format_opts = [
    cfg.ListOpt('container_formats',
                default=['ami', 'ari', 'aki', 'bare', 'ovf', 'ova',
                         'docker', 'compressed'],
                help='Container formats images may declare.'),
    cfg.ListOpt('disk_formats',
                default=['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw',
                         'qcow2', 'vdi', 'iso', 'ploop'],
                help='Disk formats images may declare.'),
]

CONF.register_opts(paste_deploy_opts, group='paste_deploy')
CONF.register_opts(common_opts)
CONF.register_opts(image_format_opts, group='image_format')
policy_opts.set_defaults(CONF)


def set_config_defaults(serves_http: bool = True) -> None:
    """Our defaults for library options (CORS headers, policy file name).

    A process serving no HTTP (glance-worker) leaves oslo.middleware
    unloaded: its package brings every middleware and jinja2 (8 MB).
    """
    if serves_http:
        _cors_defaults()
    policy_opts.set_defaults(CONF, policy_file='policy.yaml')
    # oslo.utils' format inspector logs data it cannot parse at ERROR;
    # that data is a client's upload, which glance refuses and logs
    # itself, so it is nothing for an operator to act on.  Operators can
    # still list the logger in default_log_levels.
    log.set_defaults(default_log_levels=log.get_default_log_levels() + [
        'oslo_utils.imageutils.format_inspector=CRITICAL'])


def _cors_defaults() -> None:
    from oslo_middleware import cors
    cors.set_defaults(
        allow_headers=['Content-MD5', 'X-Image-Meta-Checksum',
                       'X-Storage-Token', 'Accept-Encoding', 'X-Auth-Token',
                       'X-Identity-Status', 'X-Roles', 'X-Service-Catalog',
                       'X-User-Id', 'X-Tenant-Id', 'X-OpenStack-Request-ID'],
        expose_headers=['X-Image-Meta-Checksum', 'X-Auth-Token',
                        'X-Subject-Token', 'X-Service-Token',
                        'X-OpenStack-Request-ID'],
        allow_methods=['GET', 'PUT', 'POST', 'DELETE', 'PATCH'])


def parse_args(args: list[str] | None = None, default_config_files=None,
               prog: str | None = None, serves_http: bool = True) -> None:
    """Parse the command line and configuration files the OpenStack way."""
    set_config_defaults(serves_http)
    CONF(args=args, project='glance', prog=prog,
         default_config_files=default_config_files)


def config_dir() -> str | None:
    """Directory of the first configuration file (or --config-dir)."""
    if CONF.config_file:
        return os.path.dirname(os.path.abspath(CONF.config_file[0]))
    if CONF.config_dir:
        # oslo.config keeps every --config-dir given, in a list
        dirs = CONF.config_dir
        first = dirs if isinstance(dirs, str) else dirs[0]
        return os.path.abspath(first)
    return None


def installed_config_dir() -> str:
    """``<prefix>/etc/glance``: where pip installs the distribution's data
    files (setup.cfg ``[options.data_files]``) for this interpreter, e.g.
    ``<venv>/etc/glance``, or ``/usr/local/etc/glance`` for a system-wide
    install on Debian."""
    return os.path.join(sysconfig.get_path('data'), 'etc', 'glance')


def config_search_dirs() -> list[str]:
    """Where a companion file named without a directory is looked for,
    first match wins: beside the configuration file, /etc/glance (what the
    operator wrote), then the copies installed with the distribution (what
    it shipped), so an installation works before anything is copied."""
    dirs: list[str] = []
    for directory in (config_dir(), '/etc/glance', installed_config_dir()):
        if directory and directory not in dirs:
            dirs.append(directory)
    return dirs


def find_config_file(name: str) -> str | None:
    """Absolute path of ``name`` (a file or directory) in the first of
    ``config_search_dirs()`` that has it, or None."""
    for directory in config_search_dirs():
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return os.path.abspath(path)
    return None


def _paste_config_file(app_name: str) -> str:
    path = CONF.paste_deploy.config_file
    if path:
        if not os.path.isabs(path):
            path = find_config_file(path) or os.path.abspath(path)
    else:
        path = find_config_file('%s-paste.ini' % app_name)
    if not path or not os.path.exists(path):
        raise RuntimeError('Unable to locate paste config file for %s. '
                           'Set [paste_deploy] config_file.' % app_name)
    return path


def load_paste_app(app_name: str):
    """Build the WSGI application of ``app_name`` for the configured flavor."""
    flavor = CONF.paste_deploy.flavor
    pipeline = '%s-%s' % (app_name, flavor) if flavor else app_name
    conf_file = _paste_config_file(app_name)
    LOG.info('Pipeline %s from %s', pipeline, conf_file)
    try:
        return deploy.loadapp('config:%s' % conf_file, name=pipeline)
    except LookupError as exc:
        raise RuntimeError('Unable to load %s from %s: %s. Check '
                           '[paste_deploy] flavor.' % (pipeline, conf_file,
                                                       exc))
