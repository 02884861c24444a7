"""Options for oslo-config-generator, listed from where they are declared.

Each list here is the module's own list object, so the sample shows exactly
what the code registers.  ``glance/tests/unit/test_generators.py`` imports
every module and fails when an option is registered or read without being
listed here (or by a library namespace in etc/oslo-config-generator/).
"""
from __future__ import annotations

import itertools

from oslo_config import cfg
from oslo_db import options as db_options

import glance.api.v2.image_data
import glance.async_.conductor
import glance.async_.executor
import glance.async_.glance_download
import glance.async_.jobs
import glance.async_.leases
import glance.async_.plugins
import glance.async_.plugins.image_conversion
import glance.async_.plugins.inject_image_metadata
import glance.async_.progress
import glance.async_.staging
import glance.common.config
import glance.common.fetcher
import glance.common.format_inspector
import glance.common.limits
import glance.common.property_protections
import glance.common.server_opts
import glance.domain.task
import glance.layers.location
import glance.image_cache
import glance.image_cache.prefetcher
import glance.layers.notifier
import glance.layers.quota
import glance.orphans
import glance.scrubber

OptList = list[tuple[str | None, list[cfg.Opt]]]


def list_api_opts() -> OptList:
    """Options of glance-api (namespace glance.api)."""
    return [
        (None, list(itertools.chain(
            glance.common.config.common_opts,
            glance.common.server_opts.bind_opts,
            glance.common.server_opts.socket_opts,
            glance.layers.quota.quota_opts,
            glance.layers.location.location_opts,
            glance.layers.notifier.notifier_opts,
            glance.api.v2.image_data.data_opts,
            glance.async_.staging.staging_opts,
            glance.async_.leases.lease_opts,
            glance.common.property_protections.opts,
            glance.common.limits.opts,
            glance.layers.location.delete_opts,
            glance.image_cache.cache_opts,
            glance.image_cache.prefetcher.prefetcher_opts))),
        ('import_filtering_opts', glance.common.fetcher.filter_opts),
        ('task', glance.domain.task.task_opts +
         glance.async_.progress.progress_opts),
        ('taskflow_executor', glance.async_.executor.executor_opts +
         glance.async_.jobs.mode_opts),
        ('jobboard', glance.async_.jobs.jobboard_opts),
        ('worker', glance.async_.conductor.worker_opts),
        ('image_import_opts', glance.async_.plugins.import_opts),
        ('glance_download_properties',
         glance.async_.glance_download.download_opts),
        ('image_conversion',
         glance.async_.plugins.image_conversion.conversion_opts),
        ('inject_metadata_properties',
         glance.async_.plugins.inject_image_metadata.inject_opts),
        ('image_format', list(itertools.chain(
            glance.common.config.image_format_opts,
            glance.common.format_inspector.safety_opts))),
        ('paste_deploy', glance.common.config.paste_deploy_opts),
    ]


def list_manage_opts() -> OptList:
    """Options of glance-manage (namespace glance.manage)."""
    return [(None, glance.orphans.orphan_opts),
            ('database', db_options.database_opts)]


def list_scrubber_opts() -> OptList:
    """Options of glance-scrubber (namespace glance.scrubber).

    ``daemon`` and ``restore`` are command-line options; they are listed so
    that the sample documents them, as upstream's does.
    """
    return [
        (None, list(itertools.chain(glance.scrubber.scrubber_opts,
                                    glance.scrubber.cli_opts))),
        ('database', db_options.database_opts),
    ]
