"""Virtual size of disk images, read from their headers as the bytes stream by.

Only the first bytes are kept (enough for every header below), so inspecting
costs nothing on the data path.  A format whose header does not look as its
disk_format says gets no virtual size rather than a wrong one.
"""
from __future__ import annotations

import struct
from typing import Callable, Iterable, Iterator

#: bytes of the start of an image kept for inspection (an ISO's primary
#: volume descriptor ends at 34816)
HEADER_BYTES = 64 * 1024


def _qcow2(header: bytes) -> int | None:
    # magic, version, backing file offset/size, cluster bits, then size
    if len(header) >= 32 and header[:4] == b'QFI\xfb':
        return struct.unpack_from('>Q', header, 24)[0]
    return None


def _vdi(header: bytes) -> int | None:
    # VirtualBox: signature at 0x40, disk size at 0x170 (little-endian)
    if len(header) >= 0x178 and \
            struct.unpack_from('<I', header, 0x40)[0] == 0xbeda107f:
        return struct.unpack_from('<Q', header, 0x170)[0]
    return None


def _vhd(header: bytes) -> int | None:
    # Dynamic disks start with a copy of the footer: "conectix", current
    # size at offset 48 (big-endian).  Fixed disks only have it at the end.
    if len(header) >= 56 and header[:8] == b'conectix':
        return struct.unpack_from('>Q', header, 48)[0]
    return None


def _vmdk(header: bytes) -> int | None:
    # Sparse extent header: "KDMV", version, flags, capacity in sectors
    if len(header) >= 20 and header[:4] == b'KDMV':
        return struct.unpack_from('<Q', header, 12)[0] * 512
    return None


def _iso(header: bytes) -> int | None:
    # Primary volume descriptor in sector 16: type 1, "CD001"; the volume
    # space size (blocks) at +80 and the block size at +128, both stored
    # little-endian first.
    pvd = 16 * 2048
    if len(header) >= pvd + 132 and header[pvd:pvd + 6] == b'\x01CD001':
        blocks = struct.unpack_from('<I', header, pvd + 80)[0]
        block_size = struct.unpack_from('<H', header, pvd + 128)[0]
        return blocks * block_size
    return None


#: disk_format -> how to read its virtual size from the header
_READERS: dict[str, Callable[[bytes], int | None]] = {
    'qcow2': _qcow2, 'vdi': _vdi, 'vhd': _vhd, 'vmdk': _vmdk, 'iso': _iso,
}


class Inspector:
    """Collects the start of an image and derives its virtual size."""

    def __init__(self, disk_format: str | None):
        self.disk_format = disk_format
        self._head: list[bytes] = []
        self._head_len = 0
        self.size = 0

    def feed(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Yield every chunk unchanged, keeping the first HEADER_BYTES."""
        for chunk in chunks:
            if self._head_len < HEADER_BYTES:
                part = chunk[:HEADER_BYTES - self._head_len]
                self._head.append(bytes(part))
                self._head_len += len(part)
            self.size += len(chunk)
            yield chunk

    @property
    def header(self) -> bytes:
        """The first bytes seen (at most HEADER_BYTES)."""
        if len(self._head) > 1:
            self._head = [b''.join(self._head)]
        return self._head[0] if self._head else b''

    @property
    def virtual_size(self) -> int | None:
        """Bytes the guest sees, when the format tells; None otherwise.

        raw is its own size (unknown for an empty image, as upstream
        reports it); other formats say it in their header.
        """
        if self.disk_format == 'raw':
            return self.size or None
        reader = _READERS.get(self.disk_format or '')
        return reader(self.header) if reader else None
