"""Upload data cut to the sizes object stores want.

An upload arrives in whatever chunks the client sent; stores write it in
pieces of their own size: Swift segments and S3 parts of a fixed length,
RBD writes of whole objects.  :class:`Pieces` hands out bounded reads of
the data (the rest of a chunk waits for the next read), :func:`blocks`
gathers it into equal blocks.
"""
from __future__ import annotations

from typing import Iterable, Iterator


class Pieces:
    """The upload iterator, read in pieces of at most N bytes.

    ``count`` is what has been handed out so far; ``exhausted`` becomes
    true as soon as the data is known to end, which a read that filled its
    limit learns by looking one chunk ahead (so no empty piece need follow
    one that was exactly full).
    """

    def __init__(self, data: Iterable[bytes]):
        self._it = iter(data)
        self._left = b''
        self.count = 0
        self.exhausted = False

    def read(self, limit: int | None) -> Iterator[bytes]:
        """Yield up to ``limit`` bytes (all with None) of the data."""
        remaining = limit
        while remaining is None or remaining > 0:
            if self._left:
                chunk, self._left = self._left, b''
            else:
                try:
                    chunk = next(self._it)
                except StopIteration:
                    self.exhausted = True
                    return
                if not chunk:
                    continue
            if remaining is not None and len(chunk) > remaining:
                chunk, self._left = chunk[:remaining], chunk[remaining:]
            self.count += len(chunk)
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
        if not self._left:
            try:
                self._left = next(self._it)
            except StopIteration:
                self.exhausted = True


def blocks(data: Iterable[bytes], size: int) -> Iterator[bytes]:
    """``data`` as blocks of exactly ``size`` bytes, the last one shorter
    (none when there is no data)."""
    buf = bytearray()
    for chunk in data:
        if not buf and len(chunk) == size:
            yield bytes(chunk)          # already a block: no gathering
            continue
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)
