"""Location layer: where the bytes live.  The only importer of glance_store.

Uploads stream into a store while md5 and the multihash are computed;
downloads get their byte iterator here; deleting an image deletes its data
from every location.  An upload that fails for any reason leaves no data in
the store and no trace of itself on the image.
"""
from __future__ import annotations

import logging

from oslo_config import cfg

import glance_store
from glance_store import hashing
from glance.common import exception, format_inspector
from glance.domain.image import Image
from glance.domain.proxy import Proxy
from glance.domain.transfer import Download, Upload

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


def _store_error(exc: glance_store.GlanceStoreException) -> Exception:
    """The domain error (and so the HTTP answer) for a store failure."""
    if isinstance(exc, glance_store.StorageFull):
        return exception.StorageFull()
    if isinstance(exc, glance_store.StorageWriteDenied):
        return exception.ServiceUnavailable(
            'The image store refused the write; the operator must check its '
            'permissions.')
    if isinstance(exc, glance_store.UnknownStore):
        return exception.BadRequest(str(exc))
    if isinstance(exc, glance_store.Duplicate):
        return exception.Conflict(
            'The image store already holds data for this image.')
    if isinstance(exc, glance_store.NotFound):
        return exception.ImageDataNotFound()
    return exception.ServiceUnavailable(
        'The image store failed; try again later.')


def _resolve_range(download: Download, size: int | None) -> None:
    """Turn the byte range asked for into an offset and a length."""
    if download.byte_range is None or size is None:
        # Without a recorded size (a location added by hand) the whole
        # image is the only range that can be answered honestly.
        download.offset, download.length = 0, None
        return
    first, last = download.byte_range
    if first < 0:
        first, last = max(0, size + first), size - 1
    if first >= size:
        raise exception.RangeNotSatisfiable(
            'The requested range starts beyond the image, which has %d '
            'bytes.' % size)
    last = size - 1 if last is None else min(last, size - 1)
    download.offset, download.length = first, last - first + 1


def enabled_stores() -> tuple[list[str], bool]:
    """Ids of the stores users may name, and whether there are several."""
    registry = glance_store.backend.registry()
    return registry.user_stores(), registry.multi


def store_info(detail: bool = False) -> list[dict] | None:
    """The stores users may name, as /v2/info/stores shows them.

    None in a single-store setup, where the API has no store to offer.
    With ``detail`` each store also tells its type, weight and driver
    properties (for administrators).
    """
    registry = glance_store.backend.registry()
    if not registry.multi:
        return None
    out = []
    for store_id in registry.user_stores():
        store = registry.stores[store_id]
        info = {'id': store_id, 'description': store.description or ''}
        if store_id == registry.default:
            info['default'] = 'true'
        if detail:
            info.update(type=store.TYPE, weight=store.weight,
                        properties=store.properties())
        out.append(info)
    return out


def staging_directory() -> str | None:
    """The directory of the reserved staging store, None if not configured.

    Staged data is read and written as plain local files by the import
    code; only where they live is the store's business.
    """
    store = glance_store.backend.registry().stores.get(
        'os_glance_staging_store')
    datadirs = getattr(store, 'datadirs', None)
    return datadirs[0][0] if datadirs else None


def _target_store(requested: str | None) -> str | None:
    """The backend an upload goes to: the one asked for, else the default.

    Single-store deployments ignore the request, as the API reference says;
    the reserved internal stores are never a user's target.
    """
    users, multi = enabled_stores()
    if not multi or not requested:
        return None
    if requested not in users:
        raise exception.BadRequest('Store %s is not available for image '
                                   'data.' % requested)
    return requested


class ImageRepo(Proxy):
    """Moves image bytes between the API and glance_store."""

    def begin_upload(self, image: Image) -> Image:
        """Only an image waiting for data takes an upload; it is saving now.

        Checked here, below the policy layer, so a caller who may not upload
        learns that first, whatever the image's status.
        """
        if image.loaded_status not in (None, 'queued'):
            raise exception.InvalidImageStatus(
                'Image %s is %s; data can only be uploaded to a queued '
                'image.' % (image.image_id, image.loaded_status))
        if not (image.disk_format and image.container_format):
            # The API reference makes both formats a precondition of upload:
            # data without them could never be booted or converted.
            raise exception.BadRequest(
                'Image %s needs disk_format and container_format set before '
                'it can take data.' % image.image_id)
        if image.status == 'queued':
            image.set_status('saving')
        return self.base.begin_upload(image)

    def write_data(self, image: Image, upload: Upload) -> Upload:
        """Stream the bytes into the store, hashing and inspecting them."""
        store = _target_store(upload.store)
        digests = hashing.Digests(CONF.hashing_algorithm)
        inspector = format_inspector.Inspector(image.disk_format)
        try:
            uri, size, meta = glance_store.add_to_backend(
                store, image.image_id,
                inspector.feed(digests.feed(upload.data)),
                upload.expected_size)
        except glance_store.GlanceStoreException as exc:
            LOG.error('Storing data of image %s failed: %s',
                      image.image_id, exc)
            raise _store_error(exc)
        upload.size = size
        upload.checksum = digests.checksum
        upload.os_hash_algo = digests.algorithm
        upload.os_hash_value = digests.hash_value
        upload.virtual_size = inspector.virtual_size
        upload.location = {'url': uri, 'metadata': meta, 'status': 'active'}
        return self.base.write_data(image, upload)

    def finish_upload(self, image: Image, upload: Upload) -> Image:
        image.size = upload.size
        image.checksum = upload.checksum
        image.os_hash_algo = upload.os_hash_algo
        image.os_hash_value = upload.os_hash_value
        image.virtual_size = upload.virtual_size
        image.locations = image.locations + [upload.location]
        image.set_status('active')
        return self.base.finish_upload(image, upload)

    def abort_upload(self, image: Image, upload: Upload | None,
                     error: BaseException) -> Image:
        """Remove the stored data first, then undo what finish_upload set.

        The data goes even if the image can no longer be saved (deleted
        meanwhile, database down): bytes without a record are the leak an
        operator cannot see.
        """
        if upload is not None and upload.location is not None:
            self._delete_location(image, upload.location)
            image.locations = [loc for loc in image.locations
                               if loc.get('url') != upload.location['url']]
            upload.location = None
        image.size = image.checksum = image.virtual_size = None
        image.os_hash_algo = image.os_hash_value = None
        # finish_upload may have moved it further than what was persisted.
        image.status = image.loaded_status or image.status
        image.set_status('queued')
        return self.base.abort_upload(image, upload, error)

    def read_data(self, image: Image, download: Download) -> Download:
        """Open the image's data (the asked range of it) at a location.

        ImageDataNotFound when there is none, RangeNotSatisfiable for a
        range outside the image; locations are tried in order.
        """
        locations = [loc for loc in image.locations
                     if loc.get('status', 'active') == 'active']
        if not locations:
            raise exception.ImageDataNotFound()
        _resolve_range(download, image.size)
        if download.cache is not None and self._read_cached(image, download):
            return self.base.read_data(image, download)
        last_error: Exception | None = None
        for loc in locations:
            try:
                data, size = glance_store.get_from_backend(
                    loc['url'], offset=download.offset,
                    length=download.length,
                    store_id=(loc.get('metadata') or {}).get('store'))
            except glance_store.GlanceStoreException as exc:
                LOG.warning('Image %s: location %s unreadable: %s',
                            image.image_id, loc.get('url'), exc)
                last_error = exc
                continue
            if download.cache is not None and download.byte_range is None:
                data = self._tee(image, download.cache, data)
            download.data, download.size = data, size
            download.image_size = image.size
            return self.base.read_data(image, download)
        raise _store_error(last_error)

    @staticmethod
    def _read_cached(image: Image, download: Download) -> bool:
        """Fill ``download`` from the node's image cache; False on a miss.

        A broken cache (disk, its database) costs a store read, never the
        download.
        """
        try:
            hit = download.cache.open(image, download.offset, download.length)
        except Exception as exc:  # noqa: BLE001 - fall back to the store
            LOG.warning('Image %s: image cache unusable, reading the store: '
                        '%s', image.image_id, exc)
            return False
        if hit is None:
            return False
        download.data, download.size = hit
        download.image_size = image.size
        return True

    @staticmethod
    def _tee(image: Image, cache, data):
        """``data`` copied into the cache as it streams (whole reads)."""
        try:
            return cache.tee(image, data)
        except Exception as exc:  # noqa: BLE001 - serve uncached
            LOG.warning('Image %s: not cached: %s', image.image_id, exc)
            return data

    def remove(self, image: Image) -> Image:
        image = self.base.remove(image)
        for loc in image.locations:
            self._delete_location(image, loc)
        if image.loaded_status in ('uploading', 'importing'):
            # Staged data dies with its image (an import still running
            # fails when it next saves, and removes what it wrote).
            from glance.async_ import staging
            staging.remove(image.image_id)
        return image

    @staticmethod
    def _delete_location(image: Image, loc: dict) -> None:
        try:
            glance_store.delete_from_backend(
                loc['url'], store_id=(loc.get('metadata') or {}).get('store'))
        except glance_store.NotFound:
            LOG.info('Data of image %s was already gone from %s',
                     image.image_id, loc['url'])
        except glance_store.GlanceStoreException as exc:
            LOG.error('Could not delete data of image %s at %s: %s; the '
                      'operator must remove it by hand.', image.image_id,
                      loc['url'], exc)

    def delete_from_store(self, image: Image, store_id: str) -> Image:
        """Remove the copy of an active image's data held by ``store_id``.

        The record is saved without that location before the bytes go, so a
        failure in between leaves unreferenced data (logged for the
        operator), never a location pointing at nothing.  The checks and
        their order are the API reference's: an unknown store is a conflict,
        the last copy may not be removed, a store without a copy is 404.
        """
        registry = glance_store.backend.registry()
        if not registry.multi:
            raise exception.Forbidden('Image data can only be removed from '
                                      'a store when several are enabled.')
        if store_id not in registry.user_stores():
            raise exception.Conflict('Unknown store %s.' % store_id)
        if image.status != 'active':
            raise exception.Conflict('Image %s is %s; only data of an active '
                                     'image can be removed from a store.'
                                     % (image.image_id, image.status))
        if len(image.locations) <= 1:
            raise exception.Forbidden('Image %s has its data in one store '
                                      'only; it cannot be removed from it.'
                                      % image.image_id)
        gone = [loc for loc in image.locations
                if (loc.get('metadata') or {}).get('store') == store_id]
        if not gone:
            raise exception.NotFound('Image %s has no data in store %s.'
                                     % (image.image_id, store_id))
        image.locations = [loc for loc in image.locations
                           if loc not in gone]
        image = self.base.save(image)
        for loc in gone:
            self._delete_location(image, loc)
        LOG.info('Removed the data of image %s from store %s',
                 image.image_id, store_id)
        return image

    def discard_upload(self, image: Image, upload: Upload) -> Upload:
        """Delete data an import wrote but will not keep.

        Unlike abort_upload the image is left as it is: copy-image and a
        store that failed beside others must not touch the image's other
        data.  Nothing below has work to do, so the chain ends here.
        """
        if upload.location is not None:
            self._delete_location(image, upload.location)
            upload.location = None
        return upload
