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


def run(chunks, report, stage='fetch', total=None) -> bytes:
    """The copy's data; ``report`` gets each message told."""
    def sink(result, text):
        records.append(result['progress'])
        if text is not None:
            report(text)
    records = []
    data = b''.join(progress.metered(iter(chunks), sink, stage, total))
    run.records = records
    return data


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


def test_a_failing_sink_does_not_stop_the_copy(interval):
    interval(0)

    def broken(message: str) -> None:
        raise RuntimeError('database away')
    assert run([b'x' * MiB] * 3, broken) == b'x' * (3 * MiB)


def test_the_result_tells_start_end_stage_and_total(interval):
    """Machine-readable progress: recorded at the start and the end of a
    copy whatever the interval, with its stage and announced total."""
    interval(3600)
    run([b'x' * MiB] * 3, lambda text: None, 'write:fast', 3 * MiB)
    records = run.records
    assert records[0] == {'stage': 'write:fast', 'bytes_done': 0,
                          'bytes_total': 3 * MiB}
    assert records[-1] == {'stage': 'write:fast', 'bytes_done': 3 * MiB,
                           'bytes_total': 3 * MiB}
    # the first MiB's message is one record with its progress, no more
    assert [r['bytes_done'] for r in records] == [0, MiB, 3 * MiB]


def test_with_no_interval_every_chunk_is_recorded(interval):
    interval(0)
    run([b'ab', b'cd'], lambda text: None)
    assert [r['bytes_done'] for r in run.records] == [0, 2, 4, 4]
