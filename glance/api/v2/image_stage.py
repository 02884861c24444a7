"""/v2/images/{image_id}/stage: put image data aside for a later import.

The image moves queued -> uploading before the first byte is read (so two
clients cannot stage at once) and the bytes stream into the staging area,
judged by the format inspector as they pass; the import call
(glance-direct) later moves them into the stores.
"""
from __future__ import annotations

from oslo_config import cfg

from glance.api.v2.image_data import _body_chunks
from glance.async_ import recovery
from glance.async_.flows.api_image_import import STAGE_HOST
from glance.common import exception, wsgi
from glance import gateway
from glance.services import stage as stage_service

CONF = cfg.CONF


class Deserializer:
    def stage(self, request: wsgi.Request) -> dict:
        if request.content_type != 'application/octet-stream':
            raise exception.UnsupportedMediaType(
                'Image data must be sent as application/octet-stream.')
        return {'data': _body_chunks(request, request.content_length)}


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
        recovery.check_free(image)
        if image.status != 'queued':
            raise exception.InvalidImageStatus(
                'Image %s is %s; only a queued image can be staged.'
                % (image_id, image.status))
        image.set_status('uploading')
        if CONF.worker_self_reference_url:
            image.extra_properties[STAGE_HOST] = \
                CONF.worker_self_reference_url
        repo.save(image)
        stage_service.stage(repo, image, data)


class Serializer:
    def stage(self, response, _result) -> None:
        response.status_int = 204


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
