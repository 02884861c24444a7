"""Location layer: where the bytes live.  With location_access.py (read
access in stores that decide it) and location_stores.py (which stores
there are), the only importer of glance_store; location_validation.py
checks the hashes a caller gives with a new location.

Uploads stream into a store while md5 and the multihash are computed, the
format inspector (glance.common.format_inspector) judges the data and the
signature of a signed image is verified (glance.common.signature);
downloads get their byte iterator here; deleting an image deletes its data
from every location (or, with ``delayed_delete``, leaves it for
glance-scrubber).  An upload that fails for any reason leaves no data in the
store and no trace of itself on the image.
"""
from __future__ import annotations

import logging

from oslo_config import cfg

from glance import store as glance_store
from glance.store import hashing, regions
from glance.async_ import leases, staging
from glance.common import exception, format_inspector, signature
from glance.domain.image import Image, location_store
from glance.domain.proxy import Proxy
from glance.domain.transfer import Download, Upload
from glance.layers import (location_access, location_orphans, location_read,
                           location_stores)
from glance.layers import location_validation

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

location_opts = [
    cfg.BoolOpt('do_secure_hash', default=True,
                help='Compute the checksum and multihash of the data at a '
                     'location added through POST /v2/images/{id}/locations '
                     '(in the background; the image turns active once they '
                     'are known and match any validation_data given), '
                     'instead of trusting the caller.'),
]
CONF.register_opts(location_opts)

#: statuses in which locations may be added (the rest would let a caller
#: swap the data of an image being written, deactivated or deleted)
ADDABLE = ('queued', 'active')

delete_opts = [
    cfg.BoolOpt('delayed_delete', default=False,
                help='Leave the data of a deleted image in its stores for '
                     'glance-scrubber to remove later.  The image answers '
                     '404 at once and is kept in the database with status '
                     'pending_delete until the scrubber has removed its '
                     'data; until then an operator can bring it back with '
                     '`glance-scrubber --restore IMAGE_ID`.  Useful when '
                     'deleting data is slow (clients would time out) or '
                     'when accidental deletes must be recoverable.  Only '
                     'active images are kept this way: restoring makes an '
                     'image active, which must not happen to data an '
                     'administrator deactivated.'),
]
CONF.register_opts(delete_opts)

#: statuses whose image keeps its data as pending_delete under
#: delayed_delete; restore returns an image to the first of them
DELAYED_DELETE_STATUSES = ('active',)


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
    if isinstance(exc, glance_store.Forbidden):
        return exception.Forbidden(
            'The image store refused access to the data with your '
            'credentials.')
    if isinstance(exc, glance_store.InUseByStore):
        return exception.Conflict(str(exc))
    return exception.ServiceUnavailable(
        'The image store failed; try again later.')


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
        """Stream the bytes into the store, hashing, inspecting and (for a
        signed image) verifying them.

        Data the inspection refuses (ImageUnsafe, 415) or whose signature
        fails (SignatureVerificationFailed, 400) is removed from the store
        before the error goes up; a signature that cannot be checked at
        all fails before anything is stored.
        """
        store = location_stores.target_store(upload.store)
        verification = signature.verification(self.context, image)
        digests = hashing.Digests(CONF.hashing_algorithm)
        inspection = format_inspector.Inspection(
            image.image_id, image.disk_format, image.container_format)
        try:
            uri, size, meta = glance_store.add_to_backend(
                store, image.image_id,
                verification.feed(inspection.feed(digests.feed(upload.data))),
                upload.expected_size, context=self.context,
                source_file=upload.source_file)
        except glance_store.GlanceStoreException as exc:
            LOG.error('Storing data of image %s failed: %s',
                      image.image_id, exc)
            raise _store_error(exc)
        try:
            verdict = inspection.judge()
            verification.check()
        except BaseException:
            # Refused (or unjudged) data never stays in a store: nothing
            # records it yet, so nobody else would ever remove it.
            self._delete_location(image, {'url': uri, 'metadata': meta})
            raise
        upload.size = size
        upload.checksum = digests.checksum
        upload.os_hash_algo = digests.algorithm
        upload.os_hash_value = digests.hash_value
        upload.virtual_size = verdict.virtual_size
        upload.location = {'url': uri, 'metadata': meta, 'status': 'active'}
        try:
            location_access.grant_readers(self.context, image,
                                          [upload.location])
        except Exception as exc:  # noqa: BLE001 - the data is stored
            # (the member list unreadable: the database gone); the owner
            # can repeat a change to the visibility or members.
            LOG.warning('Image %s: read access in the store not set: %s',
                        image.image_id, exc)
        return self.base.write_data(image, upload)

    def save(self, image: Image, from_state: str | None = None) -> Image:
        """Save; when the visibility changed, tell the stores that control
        who reads the data (swift in multi-tenant mode)."""
        changed = image.visibility != image.loaded_visibility
        image = self.base.save(image, from_state)
        if changed:
            location_access.grant_readers(self.context, image,
                                          active_locations(image))
        return image

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
        locations = location_stores.preferred_first(
            active_locations(image), download.prefer)
        if not locations or image.status not in ('active', 'deactivated'):
            # A queued image may already have a location whose data is
            # still being verified, a killed one data that failed it.
            raise exception.ImageDataNotFound()
        location_read.resolve_range(download, image.size)
        if download.cache is not None and \
                location_read.read_cached(image, download):
            return self._hand_over(image, download)
        last_error: Exception | None = None
        for loc in locations:
            try:
                data, size = glance_store.get_from_backend(
                    loc['url'], offset=download.offset,
                    length=download.length,
                    store_id=location_store(loc),
                    context=self.context)
            except glance_store.GlanceStoreException as exc:
                LOG.warning('Image %s: location %s unreadable: %s',
                            image.image_id, loc.get('url'), exc)
                last_error = exc
                continue
            if download.cache is not None and download.byte_range is None:
                data = location_read.tee(image, download.cache, data)
            download.data, download.size = data, size
            download.image_size = image.size
            return self._hand_over(image, download)
        raise _store_error(last_error)

    def _hand_over(self, image: Image, download: Download) -> Download:
        if download.zero_copy:
            download.data = regions.zero_copy(download.data)
        return self.base.read_data(image, download)

    def remove(self, image: Image) -> Image:
        """Delete the image's data now, or mark it for glance-scrubber.

        Under ``delayed_delete`` an active image with data is saved as
        pending_delete with its locations, and the bytes stay where they
        are: the scrubber deletes them once ``scrub_time`` has passed.
        """
        if self._delays_delete(image):
            image.status = image.loaded_status
            image.set_status('pending_delete')
            image.locations = [dict(loc, status='pending_delete')
                               for loc in image.locations]
            image = self.base.remove(image)
            LOG.info('Image %s is pending_delete: its data stays at %d '
                     'location(s) until glance-scrubber removes it (or '
                     '`glance-scrubber --restore %s` brings it back)',
                     image.image_id, len(image.locations), image.image_id)
            return image
        self._check_deletable(image, image.locations)
        image = self.base.remove(image)
        for loc in image.locations:
            self._delete_location(image, loc)
        if image.loaded_status in ('uploading', 'importing'):
            # Staged data dies with its image (an import still running
            # fails when it next saves, and removes what it wrote).
            staging.remove(image.image_id)
        return image

    @staticmethod
    def _delays_delete(image: Image) -> bool:
        """Whether deleting ``image`` leaves its data for the scrubber."""
        return bool(CONF.delayed_delete and image.locations
                    and image.loaded_status in DELAYED_DELETE_STATUSES)

    def _check_deletable(self, image: Image, locations: list[dict]) -> None:
        """Conflict when a store holds data it would refuse to delete.

        Asked before anything changes, so the image stays as it was (an RBD
        snapshot a Nova disk was cloned from cannot go).  A store that
        cannot answer is not in the way: the delete itself logs its error.
        """
        for loc in locations:
            try:
                glance_store.check_deletable(
                    loc['url'],
                    store_id=location_store(loc),
                    context=self.context)
            except glance_store.InUseByStore as exc:
                LOG.warning('Image %s: data at %s is in use in its store; '
                            'not deleted', image.image_id, loc['url'])
                raise exception.Conflict(
                    'Image %s could not be deleted because its data is in '
                    'use: %s' % (image.image_id, exc))
            except glance_store.GlanceStoreException:
                pass

    def _delete_location(self, image: Image, loc: dict) -> None:
        try:
            if location_orphans.delete_data(loc['url'], location_store(loc),
                                            self.context):
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
                if location_store(loc) == store_id]
        if not gone:
            raise exception.NotFound('Image %s has no data in store %s.'
                                     % (image.image_id, store_id))
        self._check_deletable(image, gone)
        image.locations = [loc for loc in image.locations
                           if loc not in gone]
        image = self.base.delete_from_store(image, store_id)
        for loc in gone:
            self._delete_location(image, loc)
        LOG.info('Removed the data of image %s from store %s',
                 image.image_id, store_id)
        return image

    def set_locations(self, image: Image, locations: list[dict]) -> Image:
        """PATCH of /locations: make ``locations`` the image's whole list.

        Added locations are checked against the stores (scheme, reachable,
        inside a store) before anything is saved; data of removed locations
        is deleted once the record no longer points at it.  A queued image
        that gains a location becomes active.
        """
        current = active_locations(image)
        urls = [loc['url'] for loc in locations]
        if len(set(urls)) != len(urls):
            raise exception.BadRequest('A location may appear only once.')
        known = {loc['url'] for loc in current}
        added = [loc for loc in locations if loc['url'] not in known]
        removed = [loc for loc in current if loc['url'] not in urls]
        if added and image.status not in ADDABLE:
            raise exception.Conflict(
                'Image %s is %s; locations can only be added to a queued or '
                'active image.' % (image.image_id, image.status))
        if removed and not locations and image.status == 'active':
            raise exception.Forbidden('Cannot remove the last location of '
                                      'active image %s.' % image.image_id)
        adopted = {loc['url']: self._adopt(image, loc) for loc in added}
        image.locations = [adopted.get(loc['url']) or
                           next(c for c in current if c['url'] == loc['url'])
                           for loc in locations]
        if image.status == 'queued' and image.locations:
            image.set_status('active')
        image = self.base.set_locations(image, locations)
        for loc in removed:
            self._delete_location(image, loc)
        return image

    def add_location(self, image: Image, url: str,
                     validation_data: dict | None) -> Image:
        """POST /v2/images/{id}/locations: the one location of a queued image.

        With ``do_secure_hash`` the image stays queued until
        ``verify_location`` has hashed the data; without it the caller's
        validation data (if any) is taken as it is and the image is active.
        """
        if image.status != 'queued':
            raise exception.Conflict(
                'Image %s is %s; a location can only be added to a queued '
                'image.' % (image.image_id, image.status))
        image.locations = [self._adopt(
            image, {'url': url, 'metadata': {},
                    'validation_data': validation_data})]
        if not CONF.do_secure_hash:
            image.set_status('active')
        return self.base.add_location(image, url, validation_data)

    def verify_location(self, image: Image) -> Image:
        """Hash the data at a queued image's location, then activate it.

        The data is hashed with the algorithm of the validation data given
        with the location, else with ``hashing_algorithm``.  Data that
        cannot be read, or whose hashes differ from the validation data,
        leaves the image queued without hashes (the location stays, as in
        the reference service) and raises Invalid; data that fails the
        format inspection kills the image: a consumer must never boot bytes
        nobody vouched for.
        """
        digests = hashing.Digests(image.os_hash_algo or
                                  CONF.hashing_algorithm)
        inspection = format_inspector.Inspection(
            image.image_id, image.disk_format, image.container_format)
        try:
            loc = active_locations(image)[0]
            data, _size = glance_store.get_from_backend(
                loc['url'], store_id=location_store(loc),
                context=self.context)
            # the task's lease stays alive however long the reading takes
            for _chunk in inspection.feed(digests.feed(
                    leases.beating(data))):
                pass
        except (IndexError, glance_store.GlanceStoreException) as exc:
            return self._refuse(image, 'could not be read: %s' % exc)
        try:
            image.virtual_size = inspection.judge().virtual_size
        except exception.ImageUnsafe as exc:
            return self._kill(image, str(exc))
        if image.os_hash_value and (
                image.os_hash_value != digests.hash_value
                or image.checksum not in (None, digests.checksum)):
            return self._refuse(image, 'does not match the validation data '
                                       'given')
        image.checksum = digests.checksum
        image.os_hash_algo = digests.algorithm
        image.os_hash_value = digests.hash_value
        image.size = digests.size
        image.set_status('active')
        LOG.info('Image %s: location hashed, image active', image.image_id)
        return self.base.verify_location(image)

    def _refuse(self, image: Image, why: str) -> Image:
        LOG.error('Image %s stays queued: the data at its location %s.',
                  image.image_id, why)
        image.checksum = image.os_hash_algo = image.os_hash_value = None
        self.base.verify_location(image)
        raise exception.Invalid('The data at the location of image %s %s; '
                                'the image stays queued.'
                                % (image.image_id, why))

    def _kill(self, image: Image, why: str) -> Image:
        LOG.error('Image %s is killed: %s.', image.image_id, why)
        image.set_status('killed')
        self.base.verify_location(image)
        raise exception.Invalid('Image %s is killed: %s.'
                                % (image.image_id, why))

    def _adopt(self, image: Image, loc: dict) -> dict:
        """A location from a caller, checked and recorded as ours.

        The URL must name data a configured store serves (never an arbitrary
        file of the host); its size must agree with the image's; validation
        data fills the hashes of an image that has none yet.
        """
        registry = glance_store.backend.registry()
        try:
            store_id, store, location = registry.owner_of(loc['url'])
            size = store.get_size(location, context=self.context)
        except glance_store.NotFound:
            raise exception.BadRequest('No data found at location %s.'
                                       % loc['url'])
        except glance_store.GlanceStoreException as exc:
            raise exception.BadRequest('Invalid location %s: %s'
                                       % (loc['url'], exc))
        if image.size is not None and image.size != size:
            raise exception.BadRequest(
                'The data at %s has %d bytes; image %s has %d.'
                % (loc['url'], size, image.image_id, image.size))
        image.size = size
        location_validation.take(image, loc.get('validation_data'))
        metadata = dict(loc.get('metadata') or {})
        if registry.multi:
            metadata['store'] = store_id
        return {'url': loc['url'], 'metadata': metadata, 'status': 'active'}

    def discard_upload(self, image: Image, upload: Upload) -> Upload:
        """Delete data an import wrote but will not keep.

        Unlike abort_upload the image is left as it is: copy-image and a
        store that failed beside others must not touch the image's other
        data.
        """
        if upload.location is not None:
            self._delete_location(image, upload.location)
            upload.location = None
        return self.base.discard_upload(image, upload)

    def discard_partial(self, image: Image,
                        stores: list[str | None]) -> list[str]:
        """Remove what a killed write of ``image`` left in ``stores``.

        Called by recovery once the writer's lease has expired, so the
        data belongs to nobody; a store where the image already has a
        location is skipped (its data is the image's own, never partial).
        """
        registry = glance_store.backend.registry()
        held = {location_store(loc) for loc in image.locations}
        removed: list[str] = []
        for store in dict.fromkeys(stores):
            try:
                backend = registry.get(store).backend
            except glance_store.GlanceStoreException as exc:
                LOG.warning('Image %s: store %s of a killed write is not '
                            'configured (%s); its partial data stays',
                            image.image_id, store, exc)
                continue
            if image.locations and (backend in held or None in held
                                    or not registry.multi):
                continue        # (None: a location naming no store)
            try:
                removed += glance_store.discard_from_backend(
                    store, image.image_id, context=self.context)
            except glance_store.GlanceStoreException as exc:
                LOG.error('Image %s: partial data of a killed write in '
                          'store %s could not be removed: %s; the operator '
                          'must remove it by hand', image.image_id, backend,
                          exc)
        for uri in removed:
            LOG.info('Image %s: removed partial data of a killed write at '
                     '%s', image.image_id, uri)
        return removed + self.base.discard_partial(image, stores)


class MemberRepo(Proxy):
    """Members of a shared image may read its data where the store
    controls access (swift multi-tenant): adding or removing one updates
    the read access of every location."""

    def __init__(self, base, context, image: Image):
        super().__init__(base, context)
        object.__setattr__(self, 'image', image)

    def add(self, member):
        member = self.base.add(member)
        location_access.grant_readers(self.context, self.image,
                                      active_locations(self.image))
        return member

    def remove(self, member):
        member = self.base.remove(member)
        location_access.grant_readers(self.context, self.image,
                                      active_locations(self.image))
        return member


def location_views(image: Image) -> list[dict]:
    """The readable locations as the API shows them: url and metadata."""
    return [{'url': loc['url'], 'metadata': loc.get('metadata') or {}}
            for loc in active_locations(image)]


def active_locations(image: Image) -> list[dict]:
    """The locations whose data is there to read (not pending delete)."""
    return [loc for loc in image.locations
            if loc.get('status', 'active') == 'active']
