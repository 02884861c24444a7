"""What a disk image really is, and whether it is safe to keep.

Every byte stream the service stores (an upload, staged or fetched import
data, a copy, a converted image, data at an added location) goes through an
``Inspection``: oslo.utils' format inspector runs every known format's
parser over the bytes as they stream by, keeping only the few regions each
needs, so inspecting costs no extra read and no memory to speak of.  When
the stream ends the inspection is judged:

- the format is detected from the content, never taken from the image;
- the detected format must be the one the image declares
  (``[image_format] require_image_format_match``), with the allowances a
  declared format needs (a raw disk may carry a partition table, a
  bootable ISO also looks like a partitioned disk);
- the detected format's safety checks must pass: a qcow2 with a backing
  file or an external data file would make a hypervisor or qemu-img read
  files of the host; a VMDK may only be of the ``vmdk_allowed_types``;
- the virtual size comes from the detected format's header.

Data that fails is refused with ``ImageUnsafe`` (415), the answer the API
gives to an upload; import tasks fail with its message.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Iterable, Iterator

from oslo_config import cfg
from oslo_utils.imageutils import format_inspector as oslo_inspector

from glance.common import exception

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

safety_opts = [
    cfg.BoolOpt('require_image_format_match', default=True,
                help='Refuse image data whose format, detected from its '
                     'content, is not the disk_format the image declares '
                     '(raw, ami, ari and aki accept a raw disk with or '
                     'without a partition table; iso accepts a bootable '
                     'ISO that also carries a partition table).  Turning '
                     'this off still refuses data that fails the safety '
                     'checks of the format it really is.'),
    cfg.ListOpt('vmdk_allowed_types',
                default=['streamOptimized', 'monolithicSparse'],
                help='VMDK createTypes accepted.  Only the single-file '
                     'types are safe: the others name extents in other '
                     'files, which qemu-img and hypervisors would read '
                     'from the host.  An empty list refuses every VMDK.'),
    cfg.BoolOpt('gpt_safety_checks_nonfatal', default=True,
                help='Only log (instead of refusing) data detected as a '
                     'partitioned disk (GPT or MBR) whose partition table '
                     'fails the safety checks.  Such tables are common in '
                     'legitimate raw images and harmless to a hypervisor, '
                     'which reads them as plain data.'),
]
CONF.register_opts(safety_opts, group='image_format')

#: declared disk_format -> detected formats it accepts (others: itself)
ACCEPTED = {
    'raw': {'raw', 'gpt'},
    'ami': {'raw', 'gpt'},
    'ari': {'raw', 'gpt'},
    'aki': {'raw', 'gpt'},
    # no inspector knows ploop; it must not look like another format
    'ploop': {'raw'},
}

#: container formats whose data is an archive holding the disk: the
#: declared disk_format describes what is inside, not the bytes seen
ARCHIVES = ('compressed', 'ova', 'docker')

#: safety check name -> what it means, for the refusal message
_REASONS = {
    'backing_file': 'it has a backing file',
    'data_file': 'it has an external data file',
    'unknown_features': 'it uses qcow2 features that cannot be checked',
    'descriptor': 'its VMDK descriptor is refused',
    'footer': 'its VMDK footer is invalid',
    'mbr': 'its partition table is invalid',
    'banned': 'this format is not allowed',
    'passphrase': 'it is encrypted',
    'version': 'its version is not supported',
}


def _reason(check: str, failure: Exception) -> str:
    """A failed safety check in words; the inspector's own detail where
    ours says less."""
    name = check.replace('inner_', '')
    if name in ('backing_file', 'data_file'):
        return _REASONS[name]
    return '%s (%s)' % (_REASONS.get(name, name), failure)


@dataclasses.dataclass
class Verdict:
    """What inspected data turned out to be."""

    #: the format detected from the content (oslo's names: raw, qcow2,
    #: vmdk, vhd, vhdx, vdi, iso, gpt, qed, luks)
    format: str
    #: bytes the guest sees, None when unknown
    virtual_size: int | None


class Inspection:
    """One stream of image data, watched as it flows and judged at its end.

    ``feed`` passes the chunks on unchanged; ``judge`` (once the consumer
    has read everything) answers with a ``Verdict`` or raises
    ``ImageUnsafe``.
    """

    def __init__(self, image_id: str | None, disk_format: str | None,
                 container_format: str | None = None):
        self.image_id = image_id
        self.disk_format = disk_format
        self.container_format = container_format
        self._wrapper: oslo_inspector.InspectWrapper | None = None
        self.size = 0

    def feed(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Yield every chunk unchanged, inspecting it on the way."""
        self._wrapper = oslo_inspector.InspectWrapper(iter(chunks))
        for chunk in self._wrapper:
            self.size += len(chunk)
            yield chunk

    def judge(self) -> Verdict:
        """The verdict on everything fed; ImageUnsafe when refused.

        Why refusing matters: the image's consumers (Nova, qemu-img in
        the conversion plugin) open the data as the format it really has,
        and some formats can make them read other files of the host.
        """
        wrapper = self._wrapper
        if wrapper is None:
            wrapper = oslo_inspector.InspectWrapper(iter(()))
            self._wrapper = wrapper
        # The consumer may stop once it has the announced size, before
        # the end of the stream was seen: the inspectors must know it ended.
        wrapper.close()
        found = self._detect(wrapper)
        name = str(found)
        self._check_match(name)
        self._check_safety(found, name)
        if name == 'vmdk':
            self._check_vmdk_type(found)
        if name == 'raw':
            virtual = self.size or None
        else:
            virtual = found.virtual_size or None
        return Verdict(format=name, virtual_size=virtual)

    def _refuse(self, reason: str) -> exception.ImageUnsafe:
        LOG.warning('Image %s: data refused (declared disk_format %s, '
                    'container_format %s): %s', self.image_id,
                    self.disk_format, self.container_format, reason)
        return exception.ImageUnsafe(reason=reason)

    def _detect(self, wrapper: oslo_inspector.InspectWrapper
                ) -> oslo_inspector.FileInspector:
        try:
            found = wrapper.format
        except oslo_inspector.ImageFormatError:
            matches = wrapper.formats or []
            names = sorted(str(m) for m in matches)
            # A bootable (hybrid) ISO starts with a partition table.
            if self.disk_format == 'iso' and names == ['gpt', 'iso']:
                return next(m for m in matches if str(m) == 'iso')
            raise self._refuse('its data matches several formats (%s)'
                               % ', '.join(names))
        if found is None:
            raise self._refuse('its format could not be determined')
        return found

    def _check_match(self, name: str) -> None:
        if not (CONF.image_format.require_image_format_match
                and self.disk_format
                and self.container_format not in ARCHIVES):
            return
        if name not in ACCEPTED.get(self.disk_format, {self.disk_format}):
            raise self._refuse('its data is %s but the image claims '
                               'disk_format %s' % (name, self.disk_format))

    def _check_safety(self, found: oslo_inspector.FileInspector,
                      name: str) -> None:
        try:
            found.safety_check()
        except oslo_inspector.SafetyCheckFailed as exc:
            reasons = '; '.join(
                _reason(check, failure)
                for check, failure in sorted(exc.failures.items()))
            if name == 'gpt' and \
                    CONF.image_format.gpt_safety_checks_nonfatal:
                LOG.warning('Image %s: partition table failed safety checks '
                            '(accepted, gpt_safety_checks_nonfatal): %s',
                            self.image_id, reasons)
                return
            raise self._refuse('%s: %s' % (name, reasons))
        except oslo_inspector.ImageFormatError as exc:
            raise self._refuse('its %s structure could not be checked: %s'
                               % (name, exc))

    def _check_vmdk_type(self, found: oslo_inspector.FileInspector) -> None:
        allowed = [t.lower() for t in CONF.image_format.vmdk_allowed_types]
        create_type = getattr(found, 'vmdktype', None)
        if create_type not in allowed:
            raise self._refuse(
                'VMDK createType %s is not allowed (allowed: %s)'
                % (create_type, ', '.join(
                    CONF.image_format.vmdk_allowed_types) or 'none'))


def inspect_file(path: str, image_id: str | None, disk_format: str | None,
                 container_format: str | None = None,
                 chunk_size: int = 1024 * 1024) -> Verdict:
    """Judge the data of a file (staged or converted import data).

    Reads the whole file: a VMDK's footer and a raw image's size are only
    known at its end.
    """
    inspection = Inspection(image_id, disk_format, container_format)

    def chunks() -> Iterator[bytes]:
        with open(path, 'rb') as f:
            while True:
                chunk = f.read(chunk_size)
                if not chunk:
                    return
                yield chunk

    for _chunk in inspection.feed(chunks()):
        pass
    return inspection.judge()


def check_image_file(path: str, image) -> Verdict:
    """``inspect_file`` for the data meant for ``image`` (anything with
    image_id, disk_format and container_format)."""
    return inspect_file(path, image.image_id, image.disk_format,
                        image.container_format)
