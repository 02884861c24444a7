"""Spreading connections over glance-api's worker processes.

Every worker accepts from the one listening socket, and the kernel gives
each new connection to whichever worker asks first.  Clients that keep
their connections open (Nova's, a load balancer's pool, a benchmark) then
stay wherever they landed, and one worker can end up with all of them
while the others idle: with two workers, a burst of 32 connections was
seen to land 32 to 0 as often as evenly, for half the throughput.

So the workers keep a table of their open connections in memory they all
share (made by the parent before it forks them), and a worker holding
more than the least busy worker that is still accepting lets the others
accept first: it looks again every :data:`STEP` seconds, and accepts once
it is no longer the busier or after :data:`DEFER` seconds in any case, so
a busy or stuck worker delays a connection by that much at most.  The
kernel's own answer,
one ``SO_REUSEPORT`` socket per worker, would let a second glance-api
start on a port that is already in use (see :func:`server.listen`).
"""
from __future__ import annotations

import ctypes
import mmap
import socket

import eventlet

#: seconds a busier worker leaves a new connection to the others, at most
DEFER = 0.02
#: seconds between its looks at the table meanwhile
STEP = 0.001
#: workers (of every generation alive at once) the table has room for;
#: one beyond that serves without taking part
SLOTS = 512
#: a slot whose worker does not accept (free, or a worker leaving)
_NOT_ACCEPTING = -1


class Board:
    """Open connections per worker, in memory shared with the processes
    forked after it was made.  The parent hands out and frees the slots;
    each worker writes only its own."""

    def __init__(self, slots: int = SLOTS):
        self._memory = mmap.mmap(-1, ctypes.sizeof(ctypes.c_int32) * slots)
        self.counts = (ctypes.c_int32 * slots).from_buffer(self._memory)
        for i in range(slots):
            self.counts[i] = _NOT_ACCEPTING
        self._used: set[int] = set()

    def take(self) -> int | None:
        """A free slot for a worker about to be forked (parent)."""
        free = next((i for i in range(len(self.counts))
                     if i not in self._used), None)
        if free is not None:
            self._used.add(free)
            self.counts[free] = 0
        return free

    def free(self, slot: int | None) -> None:
        """The worker of ``slot`` ended (parent)."""
        if slot is not None:
            self._used.discard(slot)
            self.counts[slot] = _NOT_ACCEPTING

    def busier(self, slot: int) -> bool:
        """Whether the worker of ``slot`` has more connections open than
        the least busy worker accepting."""
        mine = self.counts[slot]
        return any(0 <= n < mine for i, n in enumerate(self.counts)
                   if i != slot)


#: (board, slot) of this worker process, once it serves
_MINE: tuple[Board, int] | None = None


def serve_as(board: Board | None, slot: int | None) -> None:
    """This process is the worker of ``slot`` (in the child, after the
    fork); None when it takes no part."""
    global _MINE
    _MINE = (board, slot) if board is not None and slot is not None \
        else None


def leaving() -> None:
    """This worker accepts no more connections: the others stop leaving
    theirs to it."""
    if _MINE is not None:
        board, slot = _MINE
        board.counts[slot] = _NOT_ACCEPTING


def closed() -> None:
    """One of this worker's connections ended."""
    if _MINE is not None:
        board, slot = _MINE
        if board.counts[slot] > 0:
            board.counts[slot] -= 1


class Listener:
    """The listening socket as ``eventlet.wsgi.server`` uses it, accepting
    in turn with the other workers."""

    def __init__(self, sock: socket.socket):
        self._sock = sock

    def accept(self):
        if _MINE is not None:
            board, slot = _MINE
            for _ in range(int(DEFER / STEP)):
                if not board.busier(slot):
                    break
                eventlet.sleep(STEP)
        conn, address = self._sock.accept()
        if _MINE is not None and _MINE[0].counts[_MINE[1]] >= 0:
            _MINE[0].counts[_MINE[1]] += 1
        return conn, address

    def __getattr__(self, name: str):
        return getattr(self._sock, name)
