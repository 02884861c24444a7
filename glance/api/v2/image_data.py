"""/v2/images/{image_id}/file: upload (PUT) and download (GET) of image data.

Bytes stream in chunks in both directions; an image is never held in memory.
"""
from __future__ import annotations

import logging
import re
from typing import Iterator

from oslo_config import cfg

from glance.common import exception, wsgi
from glance.domain.transfer import Download, Upload
from glance import gateway

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

data_opts = [
    cfg.IntOpt('upload_chunk_size', default=1024 * 1024, min=4096,
               help='Bytes read from the client at a time while uploading.'),
]
CONF.register_opts(data_opts)

_RANGE = re.compile(r'^bytes=(\d*)-(\d*)$')
_CONTENT_RANGE = re.compile(r'^bytes (\d+)-(\d+)/(\d+|\*)$')


def _body_chunks(request: wsgi.Request, expected: int | None
                 ) -> Iterator[bytes]:
    """The request body in chunks; raises if the client stops short."""
    stream = request.body_file_raw
    size = CONF.upload_chunk_size
    received = 0
    while True:
        want = size if expected is None else min(size, expected - received)
        if want <= 0:
            break
        try:
            chunk = stream.read(want)
        except (IOError, OSError, ValueError) as exc:
            raise exception.UploadInterrupted(reason=str(exc) or
                                              'client disconnected')
        if not chunk:
            break
        received += len(chunk)
        yield chunk
    if expected is not None and received != expected:
        raise exception.UploadInterrupted(
            reason='received %d of %d bytes' % (received, expected))


def _parse_range(request: wsgi.Request) -> tuple[int, int | None] | None:
    """(first byte, last byte or None) asked for, or None for everything."""
    header = request.headers.get('Range')
    if header is not None:
        header = header.strip()
        if not header.startswith('bytes='):
            raise exception.RangeNotSatisfiable(
                'Only byte ranges are supported.')
        if ',' in header:
            raise exception.BadRequest('Only one byte range may be asked '
                                       'for.')
        m = _RANGE.match(header)
        if not m or (not m.group(1) and not m.group(2)):
            raise exception.RangeNotSatisfiable('Malformed Range header.')
        first, last = m.group(1), m.group(2)
        if not first:
            return -int(last), None            # suffix: the last N bytes
        if last and int(last) < int(first):
            raise exception.RangeNotSatisfiable('Malformed Range header.')
        return int(first), int(last) if last else None
    header = request.headers.get('Content-Range')
    if header is not None:
        m = _CONTENT_RANGE.match(header.strip())
        if not m or int(m.group(2)) < int(m.group(1)):
            raise exception.RangeNotSatisfiable(
                'Malformed Content-Range header.')
        return int(m.group(1)), int(m.group(2))
    return None


class Deserializer:
    def upload(self, request: wsgi.Request) -> dict:
        if request.content_type != 'application/octet-stream':
            raise exception.UnsupportedMediaType(
                'Image data must be sent as application/octet-stream.')
        expected = request.content_length
        return {'upload': Upload(data=_body_chunks(request, expected),
                                 expected_size=expected,
                                 store=request.headers.get(
                                     'X-Image-Meta-Store'))}

    def download(self, request: wsgi.Request) -> dict:
        return {'byte_range': _parse_range(request)}


class Controller:
    def upload(self, request: wsgi.Request, image_id: str, upload: Upload):
        """PUT /v2/images/{image_id}/file -> 204 once the image is active."""
        repo = gateway.get_repo(request.context)
        image = repo.get(image_id)
        if image.status != 'queued':
            raise exception.InvalidImageStatus(
                'Image %s is %s; data can only be uploaded to a queued '
                'image.' % (image_id, image.status))
        image.set_status('saving')
        image = repo.begin_upload(image)
        try:
            upload = repo.write_data(image, upload)
            repo.finish_upload(image, upload)
        except BaseException as exc:
            LOG.warning('Upload of image %s failed: %s', image_id, exc)
            try:
                repo.abort_upload(image, upload, exc)
            except exception.GlanceException as abort_exc:
                # Deleted or changed meanwhile: the data is gone already.
                LOG.warning('Image %s could not be returned to queued: %s',
                            image_id, abort_exc)
            if isinstance(exc, exception.Conflict):
                raise exception.Conflict(
                    'Image %s changed while its data was uploading; the '
                    'data was discarded.' % image_id)
            raise

    def download(self, request: wsgi.Request, image_id: str, byte_range):
        """GET /v2/images/{image_id}/file -> 200/206 and the bytes; 204 if none."""
        repo = gateway.get_repo(request.context)
        image = repo.get(image_id)
        if not image.locations or image.size is None:
            return None
        offset, length = 0, None
        if byte_range is not None:
            first, last = byte_range
            if first < 0:
                first = max(0, image.size + first)
                last = image.size - 1
            if first >= image.size:
                raise exception.RangeNotSatisfiable(
                    'The image has %d bytes.' % image.size)
            last = image.size - 1 if last is None else min(last,
                                                          image.size - 1)
            offset, length = first, last - first + 1
        download = Download(offset=offset, length=length,
                            receiver_project=request.context.project_id,
                            receiver_user=request.context.user_id,
                            destination_ip=request.remote_addr)
        download = repo.read_data(image, download)
        return image, download, byte_range is not None


class Serializer:
    def upload(self, response, _result) -> None:
        response.status_int = 204

    def download(self, response, result) -> None:
        if result is None:
            response.status_int = 204
            response.content_type = None
            return
        image, download, partial = result
        response.content_type = 'application/octet-stream'
        response.app_iter = download.data
        response.content_length = download.size
        if image.checksum:
            response.headers['Content-MD5'] = image.checksum
        if partial:
            response.status_int = 206
            last = download.offset + download.size - 1
            response.headers['Content-Range'] = 'bytes %d-%d/%d' % (
                download.offset, last, image.size)
        else:
            response.status_int = 200


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
