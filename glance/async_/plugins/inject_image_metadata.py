"""The inject_image_metadata plugin: add operator-chosen properties.

``[inject_metadata_properties] inject`` is a dict of properties set on
every imported image, unless the importing user has one of
``ignore_user_roles`` (admins, by default, import as they like).
"""
from __future__ import annotations

from typing import Any

from oslo_config import cfg
from taskflow import task as tf_task

CONF = cfg.CONF

inject_opts = [
    cfg.ListOpt('ignore_user_roles', default=['admin'],
                help='Users with any of these roles get no injected '
                     'properties.'),
    cfg.DictOpt('inject', default={},
                help='Properties (key:value pairs) set on imported '
                     'images.'),
]
CONF.register_opts(inject_opts, group='inject_metadata_properties')


class _Inject(tf_task.Task):
    def __init__(self, spec: Any):
        super().__init__(name='inject_image_metadata_%s' % spec.task_id)
        self.spec = spec

    def execute(self, image):
        ignore = set(CONF.inject_metadata_properties.ignore_user_roles)
        roles = set(getattr(self.spec.context, 'roles', None) or [])
        if roles & ignore:
            return
        image.extra_properties.update(CONF.inject_metadata_properties.inject)


def get_task(spec: Any) -> tf_task.Task:
    """The plugin's task for one import."""
    return _Inject(spec)
