"""/v2/images/{image_id}/file: upload (PUT) and download (GET) of image data.

Bytes stream in chunks in both directions; an image is never held in memory.
"""
from __future__ import annotations

import re
from typing import Iterator

from oslo_config import cfg

from glance.api.middleware import cache as cache_filter
from glance.common import exception, wsgi
from glance.domain.transfer import Download, Upload
from glance import gateway
from glance.services import upload as upload_service

CONF = cfg.CONF

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
    """(first byte, last byte or None) asked for, or None for everything.

    Only the syntax is checked here; whether the range fits the image is
    decided below the policy layer, once the caller may see the image.
    Content-Range on a GET is accepted because old clients send it.
    """
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
            if int(last) == 0:
                raise exception.RangeNotSatisfiable(
                    'A range of the last 0 bytes is empty.')
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
        # ?prefer=store1,store2 (2026.1): stores to read from first
        prefer = ','.join(request.GET.getall('prefer'))
        return {'byte_range': _parse_range(request),
                'prefer': [s.strip() for s in prefer.split(',')
                           if s.strip()]}


class Controller:
    def upload(self, request: wsgi.Request, image_id: str, upload: Upload):
        """PUT /v2/images/{image_id}/file -> 204 once the image is active.

        403/404 when the caller may not upload, 409 unless the image is
        queued, 410 if it is deleted while the data streams in, 413 over a
        size limit or when the store is full, 503 when the store refuses.
        On any failure the image is back to queued with no data stored, so
        the client can simply try again.
        """
        repo = gateway.get_repo(request.context)
        upload_service.upload(repo, repo.get(image_id), upload)

    def download(self, request: wsgi.Request, image_id: str, byte_range,
                 prefer: list[str]):
        """GET /v2/images/{image_id}/file -> 200 and the bytes, 206 for a
        range, 204 when the image has no data.  ``?prefer=a,b``: read from
        the locations in store a, then b, then the others.

        403/404 when the caller may not download (checked before anything
        else), 416 for a range outside the image.
        """
        repo = gateway.get_repo(request.context)
        image = repo.get(image_id)
        environ = request.environ
        download = Download(byte_range=byte_range,
                            receiver_project=request.context.project_id,
                            receiver_user=request.context.user_id,
                            destination_ip=request.remote_addr,
                            cache=environ.get(cache_filter.ENVIRON_KEY),
                            zero_copy=wsgi.SENDFILE_KEY in environ,
                            prefer=prefer)
        try:
            download = repo.read_data(image, download)
        except exception.ImageDataNotFound:
            return None
        return image, download


class Serializer:
    def upload(self, response, _result) -> None:
        response.status_int = 204

    def download(self, response, result) -> None:
        if result is None:
            response.status_int = 204
            response.content_type = None
            return
        image, download = result
        response.content_type = 'application/octet-stream'
        response.app_iter = download.data
        response.content_length = download.size
        if image.checksum:
            response.headers['Content-MD5'] = image.checksum
        if download.partial:
            response.status_int = 206
            last = download.offset + download.size - 1
            response.headers['Content-Range'] = 'bytes %d-%d/%d' % (
                download.offset, last, image.size)
        else:
            response.status_int = 200


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller(), Deserializer(), Serializer())
