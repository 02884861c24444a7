"""Process start-up shared by glance-api and the WSGI entry point."""
from __future__ import annotations

import logging

from oslo_config import cfg
from oslo_log import log

import glance_store
from glance.common import config, policy
from glance.db.sqlalchemy import engine
from glance.schemas import image as image_schemas

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# Options read at start-up by the modules loaded lazily (API resources).
import glance.api.v2.image_data  # noqa: E402,F401
import glance.layers.notifier  # noqa: E402,F401
import glance.layers.quota  # noqa: E402,F401
import glance.common.server  # noqa: E402,F401

log.register_options(CONF)
glance_store.register_opts(CONF)


def prepare(argv: list[str] | None, prog: str,
            default_config_files: list[str] | None = None) -> None:
    """Parse configuration, set up logging, create the stores."""
    config.parse_args(argv, default_config_files=default_config_files,
                      prog=prog)
    log.setup(CONF, 'glance')
    glance_store.create_stores(CONF)
    image_schemas.image_schema()  # fail early on a broken schema-image.json


def reload() -> None:
    """SIGHUP: re-read files and forget what was built from them."""
    CONF.reload_config_files()
    CONF.mutate_config_files()
    policy.reset()
    image_schemas.reset_cache()
    engine.reset()
    glance_store.create_stores(CONF)
    LOG.info('Configuration reloaded')


def load_app():
    """The WSGI application of the configured paste flavor."""
    return config.load_paste_app('glance-api')
