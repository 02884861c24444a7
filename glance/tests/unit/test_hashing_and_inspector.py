"""Streaming digests (glance_store.hashing): they see every byte once, in
order, and must give the same answer however the bytes are cut into chunks.
(The format inspection beside them is tested in test_format_safety.py.)
"""
from __future__ import annotations

import hashlib
import os

import pytest

from glance.store import hashing

BIG = os.urandom(3 * 1024 * 1024 + 11)


def _cut(data: bytes, sizes: list[int]):
    """``data`` in chunks of the given sizes, cycling; empty chunks too."""
    i = n = 0
    while i < len(data):
        size = sizes[n % len(sizes)]
        yield data[i:i + size]
        i += size
        n += 1


# -- digests ---------------------------------------------------------------

@pytest.mark.parametrize('sizes', [
    [1], [7, 0, 4096], [hashing.PARALLEL_MIN - 1, hashing.PARALLEL_MIN],
    [1024 * 1024], [3, 2 * 1024 * 1024]])
@pytest.mark.parametrize('algorithm', ['sha512', 'sha256'])
def test_digests_match_hashlib_whatever_the_chunks(sizes, algorithm):
    data = BIG if sizes != [1] else BIG[:20000]
    digests = hashing.Digests(algorithm)
    out = list(digests.feed(_cut(data, sizes)))
    assert b''.join(out) == data                 # passed through unchanged
    assert all(out)                              # empty chunks dropped
    assert digests.size == len(data)
    assert digests.algorithm == algorithm
    assert digests.checksum == hashlib.md5(data).hexdigest()
    assert digests.hash_value == hashlib.new(algorithm, data).hexdigest()


def test_parallel_and_inline_agree():
    chunks = list(_cut(BIG, [512 * 1024, 100, 256 * 1024]))
    inline = hashing.Digests('sha512', parallel=False)
    threaded = hashing.Digests('sha512', parallel=True)
    assert list(inline.feed(chunks)) == list(threaded.feed(chunks))
    assert (inline.checksum, inline.hash_value) == \
        (threaded.checksum, threaded.hash_value)


def test_digests_of_nothing():
    digests = hashing.Digests('sha512')
    assert list(digests.feed([])) == []
    assert digests.size == 0
    assert digests.checksum == hashlib.md5(b'').hexdigest()
    assert digests.hash_value == hashlib.sha512(b'').hexdigest()


class Boom(Exception):
    pass


def test_failure_in_the_source_propagates_and_settles_the_threads():
    seen = []

    def source():
        yield BIG[:1024 * 1024]
        raise Boom()

    digests = hashing.Digests('sha512')
    with pytest.raises(Boom):
        for chunk in digests.feed(source()):
            seen.append(chunk)
    # The chunk handed out was fully hashed before the error surfaced.
    assert digests.checksum == hashlib.md5(seen[0]).hexdigest()


def test_consumer_stopping_early_settles_the_threads():
    digests = hashing.Digests('sha512')
    feed = digests.feed(_cut(BIG, [1024 * 1024]))
    first = next(feed)
    feed.close()
    assert digests.checksum == hashlib.md5(first).hexdigest()


def test_unknown_algorithm_refused():
    with pytest.raises(ValueError):
        hashing.Digests('nosuchhash')
