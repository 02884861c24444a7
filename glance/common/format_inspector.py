"""Virtual size of disk images, read from their headers as the bytes stream by.

Only the first bytes are kept, so inspecting costs nothing on the data path.
"""
from __future__ import annotations

import struct
from typing import Iterable, Iterator

#: bytes of the header the formats below need
_HEADER = 512


class Inspector:
    """Collects the header of an image and derives its virtual size."""

    def __init__(self, disk_format: str | None):
        self.disk_format = disk_format
        self.header = b''
        self.size = 0

    def feed(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            if len(self.header) < _HEADER:
                self.header += chunk[:_HEADER - len(self.header)]
            self.size += len(chunk)
            yield chunk

    @property
    def virtual_size(self) -> int | None:
        """Bytes the guest sees, when the format tells; None otherwise."""
        if self.disk_format == 'qcow2' or self.header[:4] == b'QFI\xfb':
            if len(self.header) >= 32 and self.header[:4] == b'QFI\xfb':
                return struct.unpack('>Q', self.header[24:32])[0]
            return None
        if self.disk_format in ('raw', 'iso') and self.size:
            return self.size
        return None
