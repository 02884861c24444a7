"""Image bytes read from files, and the zero-copy form of them.

A store that keeps images in files (and glance's image cache) hands back
:class:`FileChunks`: iterated, it yields bytes like any other store's
data.  A consumer that can send a file's pages itself (glance-api's server
does, with ``os.sendfile``) asks :func:`zero_copy` for the same bytes as
:class:`FileRegion` objects instead: Python then never copies them, which
is what lets a download keep up with a web server serving the file.

Anything that is not such a consumer must iterate bytes; only the API asks
for regions, and only when its server said it can send them.
"""
from __future__ import annotations

import os
from typing import BinaryIO, Iterable, Iterator


class FileRegion:
    """``length`` bytes of an open file from ``offset``.

    ``len()`` is what is left to send, so code that counts bytes (the
    image.send notification) counts a region like a chunk of bytes.
    """

    def __init__(self, f: BinaryIO, offset: int, length: int):
        self.file = f
        self.offset = offset
        self.length = length

    def __len__(self) -> int:
        return self.length

    def fileno(self) -> int:
        return self.file.fileno()

    def advance(self, count: int) -> None:
        """``count`` bytes were sent from the start of the region."""
        self.offset += count
        self.length -= count

    def read(self, size: int) -> bytes:
        """Take (at most) ``size`` bytes from the start, as bytes."""
        data = os.pread(self.fileno(), min(size, self.length), self.offset)
        self.advance(len(data))
        return data


class FileChunks:
    """The bytes of an open file from ``offset``, ``remaining`` at most.

    An iterator with ``close()`` so that a download abandoned half-way
    closes its file at once rather than when garbage is collected.
    """

    def __init__(self, f: BinaryIO, offset: int, remaining: int,
                 chunk_size: int):
        self._file = f
        self._offset = offset
        self._remaining = remaining
        self._chunk_size = chunk_size

    def __iter__(self) -> 'FileChunks':
        return self

    def __next__(self) -> bytes:
        if self._remaining <= 0 or self._file.closed:
            self.close()
            raise StopIteration
        chunk = os.pread(self._file.fileno(),
                         min(self._chunk_size, self._remaining), self._offset)
        if not chunk:
            self.close()
            raise StopIteration
        self._offset += len(chunk)
        self._remaining -= len(chunk)
        return chunk

    def regions(self) -> Iterator[FileRegion]:
        """What is left, as one :class:`FileRegion`; closes the file when
        the consumer is done with it (or gives up)."""
        try:
            if self._remaining > 0 and not self._file.closed:
                region = FileRegion(self._file, self._offset, self._remaining)
                self._remaining = 0
                yield region
        finally:
            self.close()

    def close(self) -> None:
        self._file.close()


def zero_copy(data: Iterable[bytes]) -> Iterable:
    """``data`` as file regions when it comes from a file, else as is."""
    if isinstance(data, FileChunks):
        return data.regions()
    return data
