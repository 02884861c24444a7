"""The image_conversion plugin: convert staged data with qemu-img.

``[image_conversion] output_format`` (raw by default) is the format every
imported image ends in.  The staged file is judged by the format inspector
(glance.common.format_inspector) before qemu-img opens it at all, then
``qemu-img info`` (under CPU and memory limits) must agree: data that is
unsafe or not what the image claims (a backing file, an external data
file, extents in other files, a detected format other than the image's
disk_format) is refused.  The converted file is judged again, as the
output format, before it replaces the staged data.
"""
from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
from typing import Any

from oslo_config import cfg
from taskflow import task as tf_task

from glance.async_ import staging
from glance.common import exception, format_inspector

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

conversion_opts = [
    cfg.StrOpt('output_format', default='raw',
               choices=('qcow2', 'raw', 'vmdk', 'vdi', 'vhdx'),
               deprecated_opts=[cfg.DeprecatedOpt(
                   'conversion_format', group='taskflow_executor')],
               help='Disk format imported images are converted to '
                    '(formerly [taskflow_executor] conversion_format).'),
]
CONF.register_opts(conversion_opts, group='image_conversion')

#: limits on qemu-img info: a crafted header must not exhaust the host
INFO_CPU_SECONDS = 30
INFO_ADDRESS_SPACE = 1 << 30
#: qemu-img's names for our disk formats where they differ
QEMU_NAMES = {'vhd': 'vpc'}


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_CPU,
                       (INFO_CPU_SECONDS, INFO_CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS,
                       (INFO_ADDRESS_SPACE, INFO_ADDRESS_SPACE))


def inspect(path: str) -> dict:
    """qemu-img's view of the file (format detected, not assumed)."""
    try:
        out = subprocess.run(
            ['qemu-img', 'info', '--output=json', path],
            capture_output=True, check=True, timeout=120,
            preexec_fn=_limits)
    except FileNotFoundError:
        raise exception.ServiceUnavailable('qemu-img is not installed.')
    except subprocess.SubprocessError as exc:
        raise exception.BadRequest('Image data could not be inspected: %s'
                                   % getattr(exc, 'stderr', exc))
    return json.loads(out.stdout)


def check_safe(info: dict, path: str, disk_format: str | None) -> str:
    """The detected format, or 400 when the data is unsafe or lies."""
    fmt = info.get('format')
    if info.get('backing-filename') or info.get('full-backing-filename'):
        raise exception.BadRequest('Images with a backing file are refused.')
    data = (info.get('format-specific') or {}).get('data') or {}
    if data.get('data-file'):
        raise exception.BadRequest('Images with an external data file are '
                                   'refused.')
    for extent in data.get('extents') or []:
        if os.path.realpath(extent.get('filename', path)) != \
                os.path.realpath(path):
            raise exception.BadRequest('Images with extents in other files '
                                       'are refused.')
    expected = QEMU_NAMES.get(disk_format, disk_format)
    if disk_format and fmt != expected:
        raise exception.BadRequest(
            'Image data is %s but the image claims disk_format %s.'
            % (fmt, disk_format))
    return fmt


class _Convert(tf_task.Task):
    def __init__(self, spec: Any):
        super().__init__(name='image_conversion_%s' % spec.task_id)
        self.spec = spec

    def execute(self, image):
        target = CONF.image_conversion.output_format
        path = staging.path_of(image.image_id)
        # Our inspector first: qemu-img info itself follows backing files.
        format_inspector.check_image_file(path, image)
        fmt = check_safe(inspect(path), path, image.disk_format)
        if fmt == QEMU_NAMES.get(target, target):
            return
        out = staging.path_of(image.image_id, '.converted')
        try:
            subprocess.run(
                ['qemu-img', 'convert', '-f', fmt, '-O',
                 QEMU_NAMES.get(target, target), path, out],
                capture_output=True, check=True)
            format_inspector.inspect_file(out, image.image_id, target)
            os.replace(out, path)
        except subprocess.CalledProcessError as exc:
            raise exception.BadRequest('Image %s could not be converted: '
                                       '%s' % (image.image_id, exc.stderr))
        finally:
            if os.path.exists(out):
                os.unlink(out)
        LOG.info('Image %s converted from %s to %s', image.image_id, fmt,
                 target)
        image.disk_format = target


def get_task(spec: Any) -> tf_task.Task:
    """The plugin's task for one import."""
    return _Convert(spec)
