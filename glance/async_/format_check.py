"""The import flows' format inspection of staged data.

Runs right after the data is staged (glance-direct, web-download,
glance-download, copy-image) and before any plugin: the conversion plugin
hands the file to qemu-img, which must never open data that would make it
read other files of the host.  Refused data fails the task with the
reason; the flow's reverts put the image back as it was (queued, or
untouched for copy-image) and remove the staged file.
"""
from __future__ import annotations

import logging
from typing import Any

from taskflow import task as tf_task

from glance.async_ import staging
from glance.common import format_inspector

LOG = logging.getLogger(__name__)


class InspectStaged(tf_task.Task):
    """Judge the staged file of the image being imported."""

    def __init__(self, spec: Any):
        super().__init__(name='inspect_staged_%s' % spec.task_id)
        self.spec = spec

    def execute(self, image) -> None:
        verdict = format_inspector.check_image_file(
            staging.path_of(image.image_id), image)
        LOG.info('Image %s: staged data is %s, accepted', image.image_id,
                 verdict.format)
