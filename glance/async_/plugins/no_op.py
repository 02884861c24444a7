"""The no_op import plugin: does nothing (to test the plugin path)."""
from __future__ import annotations

import logging
from typing import Any

from taskflow import task as tf_task

LOG = logging.getLogger(__name__)


class _NoOp(tf_task.Task):
    def __init__(self, spec: Any):
        super().__init__(name='no_op_%s' % spec.task_id)
        self.spec = spec

    def execute(self, image):
        LOG.debug('no_op plugin ran for image %s', image.image_id)


def get_task(spec: Any) -> tf_task.Task:
    """The plugin's task for one import."""
    return _NoOp(spec)
