"""glance_store._drivers.pieces: upload data cut to a store's sizes."""
from __future__ import annotations

import pytest

from glance.store._drivers import pieces


@pytest.mark.parametrize('chunks', [
    [], [b''], [b'abcdefgh'], [b'ab', b'', b'cdefghij', b'k'], [b'a'] * 9,
])
def test_blocks_are_equal_but_the_last(chunks):
    data = b''.join(chunks)
    out = list(pieces.blocks(iter(chunks), 4))
    assert b''.join(out) == data
    assert all(len(b) == 4 for b in out[:-1])
    assert not out or 0 < len(out[-1]) <= 4


def test_reads_are_bounded_and_learn_the_end_early():
    source = pieces.Pieces([b'abc', b'', b'defg'])
    assert b''.join(source.read(4)) == b'abcd'
    assert (source.count, source.exhausted) == (4, False)
    assert b''.join(source.read(3)) == b'efg'
    assert (source.count, source.exhausted) == (7, True), \
        'a read that filled its limit looks one chunk ahead'
    assert b''.join(source.read(None)) == b''
