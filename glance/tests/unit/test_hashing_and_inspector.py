"""Streaming digests (glance_store.hashing) and virtual-size inspection
(glance.common.format_inspector): both see every byte once, in order, and
must give the same answer however the bytes are cut into chunks.
"""
from __future__ import annotations

import hashlib
import os
import struct

import pytest

from glance.common import format_inspector
from glance_store import hashing

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


# -- format inspector ------------------------------------------------------

def qcow2_header(virtual_size: int) -> bytes:
    return struct.pack('>4sIQIIQ', b'QFI\xfb', 3, 0, 0, 16, virtual_size) + \
        bytes(72)


def vmdk_header(sectors: int) -> bytes:
    return b'KDMV' + struct.pack('<IIQ', 1, 3, sectors) + bytes(492)


def vhd_footer(size: int) -> bytes:
    head = b'conectix' + bytes(40) + struct.pack('>Q', size)
    return head + bytes(512 - len(head))


def vdi_header(size: int) -> bytes:
    head = bytearray(0x200)
    struct.pack_into('<I', head, 0x40, 0xbeda107f)
    struct.pack_into('<Q', head, 0x170, size)
    return bytes(head)


def iso_image(blocks: int, block_size: int = 2048) -> bytes:
    pvd = bytearray(2048)
    pvd[0:6] = b'\x01CD001'
    struct.pack_into('<I', pvd, 80, blocks)
    struct.pack_into('>I', pvd, 84, blocks)
    struct.pack_into('<H', pvd, 128, block_size)
    struct.pack_into('>H', pvd, 130, block_size)
    return bytes(16 * 2048) + bytes(pvd) + bytes(4096)


def _inspect(disk_format: str | None, data: bytes,
             sizes: list[int] = (65536,)) -> format_inspector.Inspector:
    inspector = format_inspector.Inspector(disk_format)
    out = b''.join(inspector.feed(_cut(data, list(sizes))))
    assert out == data
    return inspector


@pytest.mark.parametrize('disk_format, data, virtual_size', [
    ('qcow2', qcow2_header(10 << 30) + bytes(1000), 10 << 30),
    ('vmdk', vmdk_header(2048) + bytes(100), 2048 * 512),
    ('vhd', vhd_footer(5 << 20) + bytes(100), 5 << 20),
    ('vdi', vdi_header(7 << 20), 7 << 20),
    ('iso', iso_image(300), 300 * 2048),
    ('raw', b'x' * 12345, 12345),
])
@pytest.mark.parametrize('sizes', [[65536], [1], [5, 1000, 3]])
def test_virtual_size(disk_format, data, virtual_size, sizes):
    inspector = _inspect(disk_format, data, sizes)
    assert inspector.virtual_size == virtual_size
    assert inspector.size == len(data)


@pytest.mark.parametrize('disk_format, data', [
    ('qcow2', b'QFI'),                       # header cut short
    ('qcow2', b'not qcow2' * 10),
    ('vmdk', qcow2_header(1)),               # someone else's header
    ('vhd', b'x' * 600),
    ('vdi', b'x' * 600),
    ('iso', b'x' * 40000),
    ('ami', qcow2_header(1)),                # formats without a header
    ('ploop', b'x' * 100),
    (None, b'x' * 100),
    ('raw', b''),                            # empty raw: unknown, as upstream
])
def test_no_virtual_size_when_the_header_does_not_say(disk_format, data):
    assert _inspect(disk_format, data).virtual_size is None


def test_inspector_keeps_only_the_header():
    inspector = _inspect('raw', BIG, [1024 * 1024])
    assert len(inspector.header) == format_inspector.HEADER_BYTES
    assert inspector.header == BIG[:format_inspector.HEADER_BYTES]
    assert inspector.size == len(BIG)
