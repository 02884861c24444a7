"""Process start-up shared by glance-api and the WSGI entry point."""
from __future__ import annotations

import logging

from oslo_config import cfg
from oslo_log import log

from glance import store as glance_store
from glance.common import config, policy, property_protections
from glance.db.sqlalchemy import engine
from glance.schemas import image as image_schemas

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# Options read at start-up by the modules loaded lazily (API resources).
import glance.api.v2.image_data  # noqa: E402,F401
import glance.layers.notifier  # noqa: E402,F401
import glance.layers.quota  # noqa: E402,F401
import glance.common.server_opts  # noqa: E402,F401

log.register_options(CONF)
glance_store.register_opts(CONF)


def check_values() -> None:
    """Read every registered option once, so a bad value fails start-up.

    oslo.config checks a value from a file only when it is first read; an
    operator should hear about ``workers = -1`` when the service starts,
    not from the first request that happens to read it.
    """
    problems = []
    for name in sorted(CONF):
        try:
            value = CONF[name]
            if isinstance(value, cfg.ConfigOpts.GroupAttr):
                for opt in sorted(value):
                    try:
                        value[opt]
                    except (cfg.Error, ValueError) as exc:
                        problems.append('[%s] %s: %s' % (name, opt, exc))
        except (cfg.Error, ValueError) as exc:
            problems.append('[DEFAULT] %s: %s' % (name, exc))
    if problems:
        raise ValueError('invalid configuration: %s' % '; '.join(problems))


def prepare(argv: list[str] | None, prog: str,
            default_config_files: list[str] | None = None,
            serves_http: bool = True) -> None:
    """Parse configuration, set up logging, create the stores."""
    config.parse_args(argv, default_config_files=default_config_files,
                      prog=prog, serves_http=serves_http)
    check_values()
    log.setup(CONF, 'glance')
    glance_store.create_stores(CONF)
    image_schemas.image_schema()  # fail early on a broken schema-image.json
    property_protections.load()  # and on a property protection file


def reload() -> None:
    """SIGHUP: re-read files and forget what was built from them.

    Raises (and changes nothing the workers use) if a file cannot be read
    or holds a bad value, so the server keeps its running workers.
    """
    if not CONF.reload_config_files():
        raise RuntimeError('the configuration files could not be read')
    CONF.mutate_config_files()
    check_values()
    policy.reset()
    image_schemas.reset_cache()
    engine.reset()
    glance_store.create_stores(CONF)
    property_protections.load()
    LOG.info('Configuration reloaded')


def load_app():
    """The WSGI application of the configured paste flavor."""
    return config.load_paste_app('glance-api')
