"""Quota layer: would this call exceed a configured limit?

Counts (properties, tags, locations) are checked whenever an image is
written; sizes are enforced on the byte stream itself, so an upload that
lies about its length, or sends none, still stops at the limit.
"""
from __future__ import annotations

import logging
from typing import Iterable, Iterator

from oslo_config import cfg
from oslo_utils import strutils

from glance.common import exception, limits
from glance.domain.image import RESERVED_PREFIX, Image
from glance.domain.proxy import Proxy
from glance.domain.transfer import Upload

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

quota_opts = [
    cfg.IntOpt('image_member_quota', default=128,
               help='Members an image may have; negative is unlimited.'),
    cfg.IntOpt('image_property_quota', default=128,
               help='Extra properties an image may have; negative is '
                    'unlimited.'),
    cfg.IntOpt('image_tag_quota', default=128,
               help='Tags an image may have; negative is unlimited.'),
    cfg.IntOpt('image_location_quota', default=10,
               help='Locations an image may have; negative is unlimited.'),
    cfg.StrOpt('user_storage_quota', default='0',
               help='Bytes a project may store across all its images, with '
                    'an optional B/KB/MB/GB/TB suffix; 0 is unlimited.'),
]
CONF.register_opts(quota_opts)


def _check_count(kind, attempted: int, maximum: int) -> None:
    if maximum >= 0 and attempted > maximum:
        raise kind(attempted=attempted, maximum=maximum)


def storage_quota() -> int:
    """user_storage_quota in bytes (0: unlimited); "10GB" means 10 GiB.

    A value that cannot be read refuses uploads (503) rather than letting
    them through unlimited; the log names the option to fix.
    """
    raw = CONF.user_storage_quota
    value = raw.strip().replace(' ', '')
    if value.isdigit():
        return int(value)
    if value[-2:-1].upper() in ('K', 'M', 'G', 'T'):
        # The units are binary: 1 KB is 1024 B.
        value = value[:-2] + value[-2].upper() + 'iB'
    try:
        return strutils.string_to_bytes(value, unit_system='IEC',
                                        return_int=True)
    except ValueError:
        LOG.error('user_storage_quota = %r is not a size (e.g. 10GB); '
                  'uploads are refused until it is fixed.', raw)
        raise exception.ServiceUnavailable(
            'The storage quota is misconfigured; uploads are unavailable.')


def capped(data: Iterable[bytes], limit: int, error: Exception
           ) -> Iterator[bytes]:
    """Pass ``data`` through, raising ``error`` once it exceeds ``limit``."""
    seen = 0
    for chunk in data:
        seen += len(chunk)
        if seen > limit:
            raise error
        yield chunk


class ImageRepo(Proxy):
    """Enforces the config quotas on every write."""

    #: writes that cannot take an image past a quota, and why
    PASSES = {
        'remove': 'frees what quotas count',
        'deactivate': 'counts nothing new',
        'reactivate': 'counts nothing new',
        'add_location': 'one location on an image that has none',
        'verify_location': 'changes hashes and status only',
        'delete_from_store': 'frees a location',
        'finish_upload': 'write_data capped the bytes as they came',
        'abort_upload': 'frees what the upload held',
        'discard_upload': 'frees what an import wrote',
        'discard_partial': 'frees what a killed write left',
    }

    def _check_counts(self, image: Image) -> None:
        # The service's own os_glance_* properties (an import's lock and
        # progress) are not the user's to count: an image just under the
        # quota can still be imported into.
        _check_count(exception.ImagePropertyLimitExceeded,
                     sum(not k.startswith(RESERVED_PREFIX)
                         for k in image.extra_properties),
                     CONF.image_property_quota)
        _check_count(exception.ImageTagLimitExceeded, len(image.tags),
                     CONF.image_tag_quota)
        _check_count(exception.ImageLocationLimitExceeded,
                     len(image.locations), CONF.image_location_quota)

    def add(self, image: Image) -> Image:
        self._check_counts(image)
        limits.enforce(image.owner, image_count_total=1)
        return self.base.add(image)

    def save(self, image: Image, from_state: str | None = None) -> Image:
        self._check_counts(image)
        if image.status != image.loaded_status:
            if image.status == 'uploading':         # staging starts
                limits.enforce(image.owner, image_stage_total=0,
                               image_count_uploading=1)
            elif image.status == 'importing' and \
                    image.loaded_status == 'queued':  # web-download etc.
                limits.enforce(image.owner, image_size_total=0,
                               image_count_uploading=1)
        return self.base.save(image, from_state)

    def set_locations(self, image: Image, locations: list[dict]) -> Image:
        self._check_counts(image)       # the same PATCH may change the rest
        _check_count(exception.ImageLocationLimitExceeded, len(locations),
                     CONF.image_location_quota)
        return self.base.set_locations(image, locations)

    def begin_upload(self, image: Image) -> Image:
        # The size is not known yet: a project already at its limit may
        # not start another upload.
        limits.enforce(image.owner, image_size_total=0,
                       image_count_uploading=1)
        return self.base.begin_upload(image)

    def write_data(self, image: Image, upload: Upload) -> Upload:
        limit = CONF.image_size_cap
        error: Exception = exception.ImageSizeLimitExceeded()
        quota = storage_quota()
        if quota > 0 and image.owner:
            # An image's own data counts only when this write adds a copy
            # of it (copy-image); a first upload replaces what it had.
            remaining = max(0, quota - self.base.storage_used(
                image.owner,
                exclude=None if image.locations else image.image_id))
            if remaining < limit:
                limit = remaining
                error = exception.StorageQuotaFull(
                    image_size=upload.expected_size or 'uploaded',
                    remaining=remaining)
            if remaining == 0 and upload.expected_size is None:
                # as the reference: data of unknown size is refused when
                # nothing remains; a declared 0 bytes still fits
                raise error
        if upload.expected_size is not None and upload.expected_size > limit:
            raise error
        upload.data = capped(upload.data, limit, error)
        return self.base.write_data(image, upload)


class MemberRepo(Proxy):
    """image_member_quota: how many projects one image may be shared with."""

    PASSES = {'save': 'a status change counts nothing',
              'remove': 'frees a membership'}

    def add(self, member):
        _check_count(exception.ImageMemberLimitExceeded,
                     self.base.count() + 1, CONF.image_member_quota)
        return self.base.add(member)
