"""glance_store.regions: file bytes as chunks, or as regions to sendfile."""
from __future__ import annotations

import os

from glance.store import regions


def _file(tmp_path, data: bytes):
    path = tmp_path / 'image'
    path.write_bytes(data)
    return open(path, 'rb')


DATA = bytes(range(256)) * 40   # 10240 bytes


def test_chunks_read_the_asked_window(tmp_path):
    chunks = regions.FileChunks(_file(tmp_path, DATA), 100, 5000, 4096)
    got = list(chunks)
    assert [len(c) for c in got] == [4096, 904]
    assert b''.join(got) == DATA[100:5100]


def test_chunks_stop_early_when_the_file_is_shorter(tmp_path):
    f = _file(tmp_path, DATA)
    assert b''.join(regions.FileChunks(f, 10000, 5000, 4096)) == DATA[10000:]
    assert f.closed


def test_close_closes_the_file(tmp_path):
    f = _file(tmp_path, DATA)
    chunks = regions.FileChunks(f, 0, len(DATA), 1024)
    next(chunks)
    chunks.close()
    assert f.closed


def test_zero_copy_gives_one_region_for_what_is_left(tmp_path):
    f = _file(tmp_path, DATA)
    chunks = regions.FileChunks(f, 10, 9000, 4096)
    first = next(chunks)
    gen = regions.zero_copy(chunks)
    region = next(gen)
    assert isinstance(region, regions.FileRegion)
    assert (region.offset, len(region)) == (10 + 4096, 9000 - 4096)
    assert region.fileno() == f.fileno()
    head = region.read(100)
    assert first + head == DATA[10:10 + 4096 + 100]
    assert (region.offset, len(region)) == (10 + 4196, 9000 - 4196)
    rest = os.pread(region.fileno(), len(region), region.offset)
    assert first + head + rest == DATA[10:9010]
    assert not f.closed, 'the file stays open while the region is sent'
    assert list(gen) == []
    assert f.closed


def test_an_abandoned_region_closes_its_file(tmp_path):
    f = _file(tmp_path, DATA)
    gen = regions.zero_copy(regions.FileChunks(f, 0, len(DATA), 4096))
    next(gen)
    gen.close()
    assert f.closed


def test_region_read_stops_at_its_end(tmp_path):
    region = regions.FileRegion(_file(tmp_path, DATA), 10200, 40)
    assert region.read(1000) == DATA[10200:]
    assert len(region) == 0 and region.read(10) == b''


def test_other_data_is_left_alone():
    data = iter([b'a', b'b'])
    assert regions.zero_copy(data) is data
    listed = [b'x']
    assert regions.zero_copy(listed) is listed
