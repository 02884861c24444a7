"""Hashing while streaming: the md5 checksum and the multihash in one pass."""
from __future__ import annotations

import hashlib
from typing import Iterable, Iterator


class Digests:
    """md5 + another hashlib algorithm, fed together as the bytes stream by."""

    def __init__(self, algorithm: str):
        self.algorithm = algorithm
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.multi = hashlib.new(algorithm)
        self.size = 0

    def feed(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Yield each chunk after hashing it and counting its bytes."""
        for chunk in chunks:
            if not chunk:
                continue
            self.size += len(chunk)
            self.md5.update(chunk)
            self.multi.update(chunk)
            yield chunk

    @property
    def checksum(self) -> str:
        return self.md5.hexdigest()

    @property
    def hash_value(self) -> str:
        return self.multi.hexdigest()
