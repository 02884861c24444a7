"""Options for oslo-config-generator, listed from where they are declared."""
from __future__ import annotations

import itertools

from oslo_db import options as db_options

import glance.api.v2.image_data
import glance.common.config
import glance.common.server
import glance.layers.notifier
import glance.layers.quota


def list_api_opts():
    """Options of glance-api (namespace glance.api)."""
    return [
        (None, list(itertools.chain(
            glance.common.config.common_opts,
            glance.common.server.bind_opts,
            glance.common.server.socket_opts,
            glance.layers.quota.quota_opts,
            glance.layers.notifier.notifier_opts,
            glance.api.v2.image_data.data_opts))),
        ('image_format', glance.common.config.image_format_opts),
        ('paste_deploy', glance.common.config.paste_deploy_opts),
    ]


def list_manage_opts():
    """Options of glance-manage (namespace glance.manage)."""
    return [('database', db_options.database_opts)]
