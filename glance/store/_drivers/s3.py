"""The s3 store: image bytes as objects in an S3 bucket (boto3).

Any S3 service works: Amazon's, Ceph's radosgw, Swift's s3api.  The
location is ``s3://<host>/<bucket>/<image id>`` (``s3+https`` for an https
host); the access and secret keys stay in the backend's configuration and
never enter a location.

Images up to ``s3_store_large_object_size`` go up in one PUT, spooled
through a temporary file (the request is signed over its body, so the body
must be re-readable, and an image is never held in memory).  Larger
images, and images of unknown size that turn out larger, go up as a
multipart upload of ``s3_store_large_object_chunk_size`` parts,
``s3_store_thread_pools`` at a time; any failure aborts the multipart
upload, so no parts are left behind.
"""
from __future__ import annotations

import concurrent.futures
import itertools
import logging
import tempfile
import threading
import urllib.parse
from typing import Any, Iterable, Iterator

import boto3
import botocore.config
import botocore.exceptions
from oslo_config import cfg

from glance.store import driver, exceptions
from glance.store import location as loc_mod
from glance.store._drivers import pieces

LOG = logging.getLogger(__name__)

#: bytes read back from the spool file at a time
SPOOL_READ = 1024 * 1024
MiB = 1024 * 1024

_OPTS = [
    cfg.StrOpt('s3_store_host',
               help='The S3 endpoint, e.g. https://s3.amazonaws.com or '
                    'http://radosgw:8080 (http:// is assumed without a '
                    'scheme).'),
    cfg.StrOpt('s3_store_region_name', default='',
               help='Region of the endpoint (empty: us-east-1 / the '
                    'default of the service).'),
    cfg.StrOpt('s3_store_access_key', secret=True,
               help='Access key.'),
    cfg.StrOpt('s3_store_secret_key', secret=True,
               help='Secret key.'),
    cfg.StrOpt('s3_store_bucket',
               help='Bucket image objects are written to.'),
    cfg.BoolOpt('s3_store_create_bucket_on_put', default=False,
                help='Create the bucket when it is missing; otherwise a '
                     'missing bucket is a configuration error.'),
    cfg.StrOpt('s3_store_bucket_url_format', default='auto',
               choices=['auto', 'path', 'virtual'],
               help='How the bucket is addressed: in the path '
                    '(http://host/bucket/key), as a virtual host '
                    '(http://bucket.host/key), or as botocore decides.'),
    cfg.IntOpt('s3_store_large_object_size', default=100, min=1,
               help='Images larger than this many MiB go up as multipart '
                    'uploads.'),
    cfg.IntOpt('s3_store_large_object_chunk_size', default=10, min=5,
               help='Size in MiB of one part of a multipart upload (S3 '
                    'requires at least 5).'),
    cfg.IntOpt('s3_store_thread_pools', default=10, min=1,
               help='Parts of one multipart upload sent at the same time.'),
    cfg.StrOpt('s3_store_cacert',
               help='CA bundle to verify an https endpoint with.'),
]


class Store(driver.Store):
    """Reads and writes ``s3://`` and ``s3+https://`` locations."""

    schemes = ('s3', 's3+http', 's3+https')
    TYPE = 's3'
    OPTIONS = _OPTS
    capabilities = (driver.Capability.RW_ACCESS |
                    driver.Capability.DRIVER_REUSABLE)

    def configure(self) -> None:
        opts = self.opts
        for name in ('s3_store_host', 's3_store_access_key',
                     's3_store_secret_key', 's3_store_bucket'):
            if not getattr(opts, name):
                raise exceptions.BadStoreConfiguration(
                    store_name=self.backend, reason='%s is required' % name)
        host = opts.s3_store_host
        if '://' not in host:
            host = 'http://' + host
        self.endpoint = host.rstrip('/')
        parts = urllib.parse.urlsplit(self.endpoint)
        self.scheme = 's3+https' if parts.scheme == 'https' else 's3'
        self.host = parts.netloc
        self.bucket = opts.s3_store_bucket
        self.large_size = opts.s3_store_large_object_size * MiB
        self.part_size = opts.s3_store_large_object_chunk_size * MiB
        self.threads = opts.s3_store_thread_pools
        self.create_bucket = opts.s3_store_create_bucket_on_put
        self._bucket_ready = False
        style = {'path': 'path', 'virtual': 'virtual'}.get(
            opts.s3_store_bucket_url_format, 'auto')
        config = botocore.config.Config(
            s3={'addressing_style': style},
            signature_version='s3v4',
            retries={'max_attempts': 3, 'mode': 'standard'},
            max_pool_connections=max(10, self.threads + 2),
            # Checksums only where S3 demands them: many S3 services (Swift's
            # s3api, older radosgw) do not understand the newer trailers.
            request_checksum_calculation='when_required',
            response_checksum_validation='when_required')
        self.client = boto3.session.Session().client(
            's3', endpoint_url=self.endpoint,
            region_name=opts.s3_store_region_name or 'us-east-1',
            aws_access_key_id=opts.s3_store_access_key,
            aws_secret_access_key=opts.s3_store_secret_key,
            verify=opts.s3_store_cacert or None, config=config)

    def properties(self) -> dict:
        """Endpoint, bucket and multipart settings (never the keys)."""
        return {'host': self.endpoint, 'bucket': self.bucket,
                'large_object_size': self.large_size,
                'large_object_chunk_size': self.part_size}

    # --- helpers ---------------------------------------------------------

    def _error(self, exc: Exception, what: str
               ) -> exceptions.GlanceStoreException:
        if isinstance(exc, botocore.exceptions.ClientError):
            code = exc.response.get('Error', {}).get('Code', '')
            status = exc.response.get('ResponseMetadata', {}).get(
                'HTTPStatusCode')
            if code in ('NoSuchKey', 'NotFound', '404') or status == 404:
                return exceptions.NotFound(image=what)
        return exceptions.BackendException(
            reason='S3 %s: %s' % (what, exc))

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as exc:
            if self._error(exc, self.bucket).__class__ is not \
                    exceptions.NotFound:
                raise self._error(exc, 'bucket %s' % self.bucket)
            if not self.create_bucket:
                raise exceptions.BadStoreConfiguration(
                    store_name=self.backend,
                    reason='bucket %s does not exist and s3_store_create_'
                           'bucket_on_put is False' % self.bucket)
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except botocore.exceptions.BotoCoreError as exc:
                raise self._error(exc, 'create bucket %s' % self.bucket)
            except botocore.exceptions.ClientError as exc:
                raise self._error(exc, 'create bucket %s' % self.bucket)
            LOG.info('Store %s: created bucket %s', self.backend,
                     self.bucket)
        except botocore.exceptions.BotoCoreError as exc:
            raise self._error(exc, 'bucket %s' % self.bucket)
        self._bucket_ready = True

    def _parse(self, location: loc_mod.Location) -> tuple[str, str]:
        """(bucket, key) of a location."""
        parts = urllib.parse.urlsplit(location.uri)
        path = parts.path.lstrip('/')
        bucket, _, key = path.partition('/')
        if not bucket or not key:
            raise exceptions.BadStoreUri(uri=location.uri)
        return urllib.parse.unquote(bucket), urllib.parse.unquote(key)

    def owns(self, location: loc_mod.Location) -> bool:
        """Only locations on this store's endpoint."""
        return location.scheme in self.schemes and \
            urllib.parse.urlsplit(location.uri).netloc.rpartition('@')[2] \
            == self.host

    # --- the data path ---------------------------------------------------

    def add(self, image_id: str, data: Iterable[bytes], size: int | None,
            context: Any = None) -> tuple[str, int, dict]:
        """Write the image in one PUT or as a multipart upload.

        The choice is made on ``size`` when it is known, else on how much
        data arrives before the threshold.  Nothing is left behind when the
        write fails.
        """
        self._ensure_bucket()
        key = image_id
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError as exc:
            if not isinstance(self._error(exc, key), exceptions.NotFound):
                raise self._error(exc, key)
        except botocore.exceptions.BotoCoreError as exc:
            raise self._error(exc, key)
        else:
            raise exceptions.Duplicate(image=self._uri(key))
        source = pieces.Pieces(data)
        if size is not None and size > self.large_size:
            written = self._multipart(key, source, None)
        else:
            spool = tempfile.TemporaryFile(prefix='glance-s3-')
            try:
                written = 0
                for chunk in source.read(self.large_size + 1):
                    spool.write(chunk)
                    written += len(chunk)
                if written > self.large_size:
                    written = self._multipart(key, source, spool)
                else:
                    spool.seek(0)
                    self._put(key, spool)
            finally:
                spool.close()
        LOG.debug('Store %s: wrote %d bytes to %s/%s', self.backend,
                  written, self.bucket, key)
        return self._uri(key), written, {}

    def _uri(self, key: str) -> str:
        return '%s://%s/%s/%s' % (self.scheme, self.host,
                                  urllib.parse.quote(self.bucket),
                                  urllib.parse.quote(key))

    def _put(self, key: str, body) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body,
                                   ContentType='application/octet-stream')
        except (botocore.exceptions.BotoCoreError,
                botocore.exceptions.ClientError) as exc:
            self._delete_quietly(key)
            raise self._error(exc, 'put %s' % key)
        except BaseException:
            self._delete_quietly(key)
            raise

    def _delete_quietly(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:  # noqa: BLE001 - already failing
            LOG.error('Store %s: could not remove %s after a failed upload:'
                      ' %s', self.backend, key, exc)

    def _multipart(self, key: str, source: pieces.Pieces, spool) -> int:
        """Upload as parts: first what the spool holds, then the rest."""
        try:
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key,
                ContentType='application/octet-stream')['UploadId']
        except (botocore.exceptions.BotoCoreError,
                botocore.exceptions.ClientError) as exc:
            raise self._error(exc, 'multipart upload of %s' % key)
        written = 0
        pool = concurrent.futures.ThreadPoolExecutor(self.threads)
        slots = threading.BoundedSemaphore(self.threads)
        futures: list[concurrent.futures.Future] = []
        try:
            number = 0
            for part in _parts(spool, source, self.part_size):
                number += 1
                written += len(part)
                slots.acquire()     # at most `threads` parts in memory
                futures.append(pool.submit(self._upload_part, key,
                                           upload_id, number, part, slots))
                # surface a failed part early instead of after all the data
                for f in futures:
                    if f.done() and f.exception() is not None:
                        raise f.exception()
            parts = [f.result() for f in futures]
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={'Parts': parts})
        except BaseException as exc:
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True)
            self._abort(key, upload_id)
            if isinstance(exc, (botocore.exceptions.BotoCoreError,
                                botocore.exceptions.ClientError)):
                raise self._error(exc, 'multipart upload of %s' % key)
            raise
        pool.shutdown(wait=True)
        return written

    def _upload_part(self, key: str, upload_id: str, number: int,
                     part: bytes, slots: threading.BoundedSemaphore) -> dict:
        try:
            r = self.client.upload_part(Bucket=self.bucket, Key=key,
                                        UploadId=upload_id,
                                        PartNumber=number, Body=part)
            return {'PartNumber': number, 'ETag': r['ETag']}
        finally:
            slots.release()

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                               UploadId=upload_id)
        except Exception as exc:  # noqa: BLE001 - already failing
            LOG.error('Store %s: could not abort the multipart upload %s '
                      'of %s: %s', self.backend, upload_id, key, exc)
        else:
            LOG.warning('Store %s: upload of %s failed; multipart upload '
                        'aborted', self.backend, key)

    def get(self, location: loc_mod.Location, offset: int = 0,
            chunk_size: int | None = None, length: int | None = None,
            context: Any = None) -> tuple[Iterator[bytes], int]:
        """Stream the object (a range of it with ``offset``/``length``)."""
        bucket, key = self._parse(location)
        offset = max(0, offset or 0)
        if length is not None and length <= 0:
            return iter(()), 0
        kw = {}
        if offset or length is not None:
            end = '' if length is None else str(offset + length - 1)
            kw['Range'] = 'bytes=%d-%s' % (offset, end)
        try:
            r = self.client.get_object(Bucket=bucket, Key=key, **kw)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get('Error', {}).get('Code') == \
                    'InvalidRange':
                return iter(()), 0
            raise self._error(exc, '%s/%s' % (bucket, key))
        except botocore.exceptions.BotoCoreError as exc:
            raise self._error(exc, '%s/%s' % (bucket, key))
        body = r['Body']
        return _Body(body, chunk_size or self.READ_CHUNKSIZE), \
            int(r['ContentLength'])

    def get_size(self, location: loc_mod.Location,
                 context: Any = None) -> int:
        bucket, key = self._parse(location)
        try:
            return int(self.client.head_object(
                Bucket=bucket, Key=key)['ContentLength'])
        except (botocore.exceptions.BotoCoreError,
                botocore.exceptions.ClientError) as exc:
            raise self._error(exc, '%s/%s' % (bucket, key))

    def delete(self, location: loc_mod.Location,
               context: Any = None) -> None:
        """Delete the object; NotFound when it was already gone."""
        self.get_size(location)         # S3 deletes answer 204 regardless
        bucket, key = self._parse(location)
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except (botocore.exceptions.BotoCoreError,
                botocore.exceptions.ClientError) as exc:
            raise self._error(exc, '%s/%s' % (bucket, key))

    # --- listing (orphan sweeps) ------------------------------------------

    def iter_image_data(self, context: Any = None
                        ) -> Iterator[driver.StoredData]:
        """Objects named by an image id, then unfinished multipart uploads
        (``partial``: parts S3 keeps, and bills, until they are aborted)."""
        try:
            pages = self.client.get_paginator('list_objects_v2').paginate(
                Bucket=self.bucket)
            for page in pages:
                for obj in page.get('Contents', ()):
                    if driver.is_image_id(obj['Key']):
                        yield driver.StoredData(
                            obj['Key'], self._uri(obj['Key']), obj['Size'],
                            obj['LastModified'].timestamp())
            pages = self.client.get_paginator(
                'list_multipart_uploads').paginate(Bucket=self.bucket)
            for page in pages:
                for up in page.get('Uploads', ()):
                    if driver.is_image_id(up['Key']):
                        yield driver.StoredData(
                            up['Key'], self._uri(up['Key']), None,
                            up['Initiated'].timestamp(), kind='partial',
                            detail='multipart upload %s' % up['UploadId'])
        except (botocore.exceptions.BotoCoreError,
                botocore.exceptions.ClientError) as exc:
            raise self._error(exc, 'listing of bucket %s' % self.bucket)

    def delete_stored(self, item: driver.StoredData,
                      context: Any = None) -> None:
        """Delete an object, or abort an unfinished multipart upload."""
        if item.kind != 'partial':
            return super().delete_stored(item, context)
        upload_id = item.detail.rpartition(' ')[2]
        try:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=item.image_id, UploadId=upload_id)
        except (botocore.exceptions.BotoCoreError,
                botocore.exceptions.ClientError) as exc:
            raise self._error(exc, 'multipart upload %s' % upload_id)


def _parts(spool, source: pieces.Pieces, size: int) -> Iterator[bytes]:
    """Parts of ``size`` bytes: the spooled start first, then the rest."""
    return pieces.blocks(itertools.chain(_spooled(spool), source.read(None)),
                         size)


def _spooled(spool) -> Iterator[bytes]:
    """What the spool file holds, from its start (nothing for None)."""
    if spool is None:
        return
    spool.seek(0)
    while block := spool.read(SPOOL_READ):
        yield block


class _Body:
    """Iterator over a get_object body that closes it when done."""

    def __init__(self, body, chunk_size: int):
        self._body = body
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._body.iter_chunks(self._chunk_size):
                yield chunk
        except botocore.exceptions.BotoCoreError as exc:
            raise exceptions.BackendException(reason='S3 read: %s' % exc)
        finally:
            self._body.close()

    def close(self) -> None:
        self._body.close()
