"""The progress of an import's copy: what is told, and how often."""
from __future__ import annotations

import pytest
from oslo_config import cfg

from glance.async_ import progress

CONF = cfg.CONF
MiB = progress.MiB


@pytest.fixture
def interval():
    def set_(seconds: int) -> None:
        CONF.set_override('progress_interval', seconds, group='task')
    yield set_
    CONF.clear_override('progress_interval', group='task')


def run(chunks, report) -> bytes:
    return b''.join(progress.Progress(report).counting(iter(chunks)))


def test_each_new_mib_is_told_once_with_no_interval(interval):
    interval(0)
    told = []
    # 3.5 MiB in uneven pieces: whole MiB reached inside and across chunks
    chunks = [b'a' * (MiB // 2)] * 3 + [b'b' * (2 * MiB)]
    data = run(chunks, told.append)
    assert data == b''.join(chunks)
    assert told == ['Copied 1 MiB', 'Copied 3 MiB']


def test_an_interval_spaces_the_messages(interval):
    interval(3600)
    told = []
    run([b'x' * MiB] * 5, told.append)
    assert told == ['Copied 1 MiB']


def test_less_than_a_mib_tells_nothing(interval):
    interval(0)
    told = []
    run([b'x' * (MiB - 1)], told.append)
    assert told == []


def test_a_failing_report_does_not_stop_the_copy(interval):
    interval(0)

    def broken(message: str) -> None:
        raise RuntimeError('database away')
    assert run([b'x' * MiB] * 3, broken) == b'x' * (3 * MiB)


def test_without_a_report_the_data_just_passes():
    assert run([b'ab', b'cd'], None) == b'abcd'
