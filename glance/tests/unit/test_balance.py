"""The table of open connections glance-api's workers share
(glance.common.balance): who counts as busier, and what a leaving or
ended worker counts for.  (That connections do end up spread over the
workers is test_server_process.py.)"""
from __future__ import annotations

import os

import pytest

from glance.common import balance


@pytest.fixture
def board():
    yield balance.Board(slots=4)
    balance.serve_as(None, None)


def test_a_worker_with_more_connections_than_another_is_busier(board):
    a, b = board.take(), board.take()
    assert not board.busier(a) and not board.busier(b)     # 0 and 0
    board.counts[a] = 2
    board.counts[b] = 1
    assert board.busier(a) and not board.busier(b)
    board.counts[b] = 2
    assert not board.busier(a)


def test_leaving_and_ended_workers_are_not_waited_for(board):
    a, b = board.take(), board.take()
    board.counts[a] = 3
    balance.serve_as(board, b)
    balance.leaving()                   # b stops accepting
    assert not board.busier(a)
    balance.closed()                    # its connections end: still out
    assert board.counts[b] == -1
    c = board.take()                    # a new worker takes part at 0
    assert board.busier(a)
    board.free(c)
    assert not board.busier(a)
    assert board.take() == c            # the slot is used again


def test_a_closed_connection_is_counted_down_to_zero(board):
    a = board.take()
    balance.serve_as(board, a)
    board.counts[a] = 1
    balance.closed()
    balance.closed()
    assert board.counts[a] == 0


def test_the_table_is_shared_with_forked_workers(board):
    a, b = board.take(), board.take()
    pid = os.fork()
    if pid == 0:
        board.counts[b] = 5                     # the worker's own slot
        os._exit(0)
    os.waitpid(pid, 0)
    assert board.counts[b] == 5 and board.busier(b) and not board.busier(a)


def test_no_free_slot_means_no_part(board):
    assert [board.take() for _ in range(5)] == [0, 1, 2, 3, None]
    balance.serve_as(board, None)
    balance.closed()                            # nothing to count
    assert list(board.counts) == [0, 0, 0, 0]
