"""The image_decompression plugin: unpack gzip or zip staged data.

The archive type is detected from the content (magic bytes), never from a
name; a zip must hold exactly one file.  Data that is not compressed is
left alone.  (LHA archives are not supported: no library is available.)
"""
from __future__ import annotations

import gzip
import logging
import os
import shutil
import zipfile
from typing import Any

from taskflow import task as tf_task

from glance.async_ import staging
from glance.common import exception

LOG = logging.getLogger(__name__)
GZIP_MAGIC = b'\x1f\x8b'
ZIP_MAGIC = b'PK\x03\x04'


def _unpack(path: str, out: str) -> None:
    with open(path, 'rb') as f:
        magic = f.read(4)
    if magic.startswith(GZIP_MAGIC):
        with gzip.open(path, 'rb') as src, open(out, 'wb') as dst:
            shutil.copyfileobj(src, dst, staging.CHUNK)
    elif magic == ZIP_MAGIC:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise exception.BadRequest(
                    'A zip archive to import must hold exactly one file, '
                    'not %d.' % len(members))
            with archive.open(members[0]) as src, open(out, 'wb') as dst:
                shutil.copyfileobj(src, dst, staging.CHUNK)
    else:
        return
    os.replace(out, path)


class _Decompress(tf_task.Task):
    def __init__(self, spec: Any):
        super().__init__(name='image_decompression_%s' % spec.task_id)
        self.spec = spec

    def execute(self, image):
        path = staging.path_of(image.image_id)
        out = staging.path_of(image.image_id, '.decompressed')
        try:
            _unpack(path, out)
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise exception.BadRequest('Image %s could not be '
                                       'decompressed: %s'
                                       % (image.image_id, exc))
        finally:
            if os.path.exists(out):
                os.unlink(out)
        if image.container_format == 'compressed':
            image.container_format = 'bare'


def get_task(spec: Any) -> tf_task.Task:
    """The plugin's task for one import."""
    return _Decompress(spec)
