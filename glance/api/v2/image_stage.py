"""/v2/images/{image_id}/stage: put image data aside for a later import.

The image moves queued -> uploading before the first byte is read (so two
clients cannot stage at once) and the bytes stream into the staging area,
judged by the format inspector as they pass; the import call
(glance-direct) later moves them into the stores.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Iterable, Iterator

from oslo_config import cfg

from glance.api.v2.image_data import _body_chunks
from glance.async_ import leases, recovery, staging
from glance.async_.flows.api_image_import import STAGE_HOST
from glance.common import exception, format_inspector, wsgi
from glance import gateway

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class Deserializer:
    def stage(self, request: wsgi.Request) -> dict:
        if request.content_type != 'application/octet-stream':
            raise exception.UnsupportedMediaType(
                'Image data must be sent as application/octet-stream.')
        return {'data': _body_chunks(request, request.content_length)}


def _hashed(data: Iterable[bytes], hasher) -> Iterator[bytes]:
    """``data`` passed on, hashed and keeping the stage's lease alive."""
    for chunk in leases.beating(data):
        hasher.update(chunk)
        yield chunk


class Controller:
    def stage(self, request: wsgi.Request, image_id: str, data) -> None:
        """PUT /v2/images/{image_id}/stage -> 204, the image uploading.

        404 for an image the caller cannot see, 403 when it may not change
        it, 409 unless the image is queued, 413 over image_size_cap, 415
        for data the format inspection refuses (as an upload would: staged
        data is what qemu-img and the stores get next).  On failure the
        image is queued again and nothing stays staged.  The
        stage holds a lease while the data streams in; when the last byte
        is written its size and hash are recorded (only such a complete
        stage can be imported) and the lease ends.
        """
        repo = gateway.get_repo(request.context)
        image = repo.get(image_id)
        if recovery.settle(image):
            image = repo.get(image_id)
        repo.check_import(image, 'glance-direct')
        if image.status != 'queued':
            raise exception.InvalidImageStatus(
                'Image %s is %s; only a queued image can be staged.'
                % (image_id, image.status))
        image.set_status('uploading')
        if CONF.worker_self_reference_url:
            image.extra_properties[STAGE_HOST] = \
                CONF.worker_self_reference_url
        repo.save(image)
        self._stage(repo, image, data)

    @staticmethod
    def _stage(repo, image, data) -> None:
        """Receive the data under a lease; record it whole or undo."""
        image_id = image.image_id
        hasher = hashlib.new(CONF.hashing_algorithm)
        inspection = format_inspector.Inspection(
            image_id, image.disk_format, image.container_format)
        # Leased once the image is ours (uploading): a process dying
        # before this leaves an unleased stage, undone after a lease
        # timeout all the same.
        lease = None
        try:
            leases.forget_stage(image_id)
            lease = recovery.acquire(image_id, leases.STAGE)
            image.size = staging.write(
                image_id, inspection.feed(_hashed(data, hasher)),
                CONF.image_size_cap)
            inspection.judge()
            repo.save(image)
            leases.record_stage(lease, image.size, hasher.name,
                                hasher.hexdigest())
        except BaseException as exc:
            LOG.info('Staging data of image %s failed: %s', image_id, exc)
            staging.remove(image_id)
            leases.forget_stage(image_id)
            try:
                image = repo.get(image_id)
                image.set_status('queued')
                image.size = None
                image.extra_properties.pop(STAGE_HOST, None)
                repo.save(image)
            except exception.GlanceException as undo:
                LOG.error('Image %s could not be returned to queued after '
                          'a failed stage: %s', image_id, undo)
            raise
        finally:
            if lease is not None:
                leases.release(lease)


class Serializer:
    def stage(self, response, _result) -> None:
        response.status_int = 204


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
