"""Unified limits: per-project image limits kept in Keystone (oslo.limit).

With ``[DEFAULT] use_keystone_limits`` the limits registered in Keystone
for this service's endpoint (``[oslo_limit] endpoint_id``) are enforced:

- ``image_count_total``: images a project owns (checked on create);
- ``image_count_uploading``: images with data on its way in (checked when
  an upload, stage or import starts);
- ``image_size_total``: MiB of image data a project stores (checked when
  an upload starts: a project already at its limit may not add more);
- ``image_stage_total``: MiB of staged data waiting for import (checked
  when staging starts).

A project over a limit gets 413, as for the configuration quotas.

``oslo_limit.limit`` is imported when limits are first enforced: it
brings the whole OpenStack SDK (about 20 MB of every glance-api and
glance-worker process) that deployments without unified limits never use.
"""
from __future__ import annotations

import logging

from oslo_config import cfg
from oslo_limit import exception as limit_exc
from oslo_limit import opts as limit_opts

from glance.common import exception
from glance.db.sqlalchemy import usage as db_usage

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

opts = [
    cfg.BoolOpt('use_keystone_limits', default=False,
                help='Enforce the unified limits registered in Keystone '
                     '(image_size_total, image_stage_total, '
                     'image_count_total, image_count_uploading) for the '
                     'endpoint named in [oslo_limit] endpoint_id.'),
]
CONF.register_opts(opts)
limit_opts.register_opts(CONF)

RESOURCES = ('image_size_total', 'image_stage_total', 'image_count_total',
             'image_count_uploading')


def _usage(project_id: str, resource_names: list[str]) -> dict[str, int]:
    return db_usage.project_usage(project_id, list(resource_names))


def enabled() -> bool:
    return bool(CONF.use_keystone_limits)


def enforce(project_id: str | None, **deltas: int) -> None:
    """Refuse (413) if ``project_id`` plus ``deltas`` exceeds a limit.

    A delta of 0 refuses a project already above its limit, for calls whose
    eventual size is not known yet.
    """
    if not enabled() or not project_id:
        return
    from oslo_limit import limit
    try:
        limit.Enforcer(_usage).enforce(project_id, deltas)
    except limit_exc.ProjectOverLimit as exc:
        LOG.info('Project %s is over its limits: %s', project_id, exc)
        raise exception.LimitExceeded(
            'Project %s is over a limit: %s'
            % (project_id, '; '.join(
                '%s %d of %d' % (o.resource_name, o.current_usage + o.delta,
                                 o.limit) for o in exc.over_limit_info_list)))


def usage(project_id: str | None) -> dict[str, dict[str, int]]:
    """``{name: {"limit": n, "usage": n}}`` for /v2/info/usage ({} when
    unified limits are off)."""
    if not enabled() or not project_id:
        return {}
    from oslo_limit import limit
    found = limit.Enforcer(_usage).calculate_usage(project_id,
                                                   list(RESOURCES))
    return {name: {'limit': u.limit, 'usage': u.usage}
            for name, u in found.items()}
