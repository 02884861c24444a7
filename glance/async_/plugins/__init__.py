"""Import plugins (stevedore namespace ``glance.image_import.plugins``).

A plugin is a module whose ``get_task(spec)`` returns a taskflow task that
``requires`` the ``image`` being imported.  It runs after the data is
staged and before it is written to the stores, so it may rewrite the
staged file (``glance.async_.staging.path_of(image_id)``) and change the
image's fields; the store write that follows hashes the final data.  A
plugin that raises fails the import, which then reverts cleanly.
"""
from __future__ import annotations

import logging
from typing import Any

from oslo_config import cfg
from stevedore import named

CONF = cfg.CONF
LOG = logging.getLogger(__name__)
NAMESPACE = 'glance.image_import.plugins'

import_opts = [
    cfg.ListOpt('image_import_plugins', default=[],
                item_type=cfg.types.String(quotes=True), bounds=True,
                help='Plugins run, in this order, on every glance-direct '
                     'and web-download import (e.g. [inject_image_metadata,'
                     ' image_conversion]).'),
]
CONF.register_opts(import_opts, group='image_import_opts')


def get_tasks(spec: Any) -> list:
    """The enabled plugins' tasks for one import, in configured order."""
    names = CONF.image_import_opts.image_import_plugins
    if not names:
        return []
    manager = named.NamedExtensionManager(
        NAMESPACE, names=names, name_order=True, invoke_on_load=False,
        on_missing_entrypoints_callback=_missing)
    return [ext.plugin.get_task(spec) for ext in manager]


def _missing(names) -> None:
    LOG.error('Import plugins not found and skipped: %s',
              ', '.join(sorted(names)))
