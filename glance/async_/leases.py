"""Owners and leases of long operations on images.

An upload, a stage, an import or a location import is owned by the API
process running it (its *holder*: host, pid and a random boot id).  The
holder records a lease on the image before it changes anything and drops
it when done; a heartbeat keeps every lease of the process alive with one
small UPDATE of the process's row per ``lease_heartbeat_interval`` (not
one per image).
A lease whose holder has not beaten for ``lease_timeout`` seconds belongs
to a dead process: any node may take it over and undo the work
(:mod:`glance.async_.recovery`).

The heartbeat runs in a daemon thread (a green thread under eventlet) and
also inline, from the data loops (:func:`beat_if_due`), so a transfer that
never yields to the hub still keeps its lease.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
import socket
import threading
import time
import uuid
from typing import Callable, Iterable, Iterator

from oslo_config import cfg

from glance.common import exception
from glance.db.sqlalchemy import leases as db
from glance.domain.image import utcnow

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

lease_opts = [
    cfg.IntOpt('lease_timeout', default=45, min=2,
               help='Seconds without a heartbeat after which the API '
                    'process running an upload, stage or import is '
                    'considered dead, and any glance-api process sharing '
                    'the database undoes its work (the image becomes '
                    'queued again, or importable again).  Must be well '
                    'above lease_heartbeat_interval; the clocks of the '
                    'nodes must agree to within a fraction of it.'),
    cfg.IntOpt('lease_heartbeat_interval', default=10, min=1,
               help='Seconds between two heartbeats of an API process '
                    '(one UPDATE of its row in lease_holders), and between '
                    'two looks for operations whose process died.'),
]
CONF.register_opts(lease_opts)

#: operations that take a lease
UPLOAD, STAGE, IMPORT = 'upload', 'stage', 'import'
#: a location added by POST /v2/images/{id}/locations, until its
#: location_import task has hashed it (glance.services.location_import)
LOCATION = 'location'
#: an import posted to the jobboard (:mod:`glance.async_.jobs`): its
#: holder may die while the job waits or moves to another worker
JOB = 'job'
#: a legacy import task (POST /v2/tasks) while it runs: recorded under
#: the task's id, as its image does not exist yet while the source is
#: downloaded into ``[task] work_dir``
TASK = 'task'
#: a legacy import task posted to the jobboard: as ``job``, its holder may
#: die while the job waits or moves to another worker
TASK_JOB = 'task-job'
#: the operations of leases kept by jobs on the board
JOBS = (JOB, TASK_JOB)
#: the operation of a lease taken to undo another: ``recovery`` or
#: ``recovery:OPERATION`` (the dead lease's operation, for whoever must
#: take over should the recovering process die too)
RECOVERY = 'recovery'


@dataclasses.dataclass
class Lease:
    """One image's lease: what runs on it, for whom, and since when."""

    image_id: str
    operation: str
    holder_id: str
    task_id: str | None = None
    stores: list[str | None] = dataclasses.field(default_factory=list)
    created_at: datetime.datetime | None = None
    #: the holder's last heartbeat (None: the holder's row is gone)
    heartbeat_at: datetime.datetime | None = None

    @property
    def recovering(self) -> bool:
        """Whether this lease is held to undo another operation."""
        return self.operation.split(':')[0] == RECOVERY

    @property
    def undoes(self) -> str:
        """The operation whose work is to be undone when it expires."""
        return self.operation.split(':')[-1]

    @property
    def alive(self) -> bool:
        """Whether the holder beat within ``lease_timeout`` (this process
        is alive by definition)."""
        if self.holder_id == holder_id():
            return True
        return self.heartbeat_at is not None and \
            self.heartbeat_at >= utcnow() - datetime.timedelta(
                seconds=CONF.lease_timeout)


def _stores_text(stores: Iterable[str | None]) -> str:
    return ','.join(s or '' for s in stores)


def _from_row(row: dict) -> Lease:
    stores = row['stores']
    return Lease(image_id=row['image_id'], operation=row['operation'],
                 holder_id=row['holder_id'], task_id=row['task_id'],
                 stores=[s or None for s in stores.split(',')]
                 if stores is not None else [],
                 created_at=row['created_at'],
                 heartbeat_at=row['heartbeat_at'])


# -- this process ---------------------------------------------------------
_LOCK = threading.Lock()
#: (pid, holder id) of this process; rebuilt after a fork
_IDENTITY: tuple[int, str] | None = None
_LAST_BEAT = 0.0
_THREAD_PID: int | None = None
#: this process's leases whose release failed, retried after each beat
_UNRELEASED: list[Lease] = []


def holder_id() -> str:
    """This process's holder id: ``host:pid:boot id``.

    The boot id is random per process start, so a pid the kernel reuses
    after a crash never inherits a dead process's leases.
    """
    global _IDENTITY
    pid = os.getpid()
    if _IDENTITY is None or _IDENTITY[0] != pid:
        with _LOCK:
            if _IDENTITY is None or _IDENTITY[0] != pid:
                _IDENTITY = (pid, '%s:%d:%s' % (socket.gethostname(), pid,
                                                uuid.uuid4().hex[:12]))
    return _IDENTITY[1]


def beat() -> None:
    """Mark this process alive now (one UPDATE)."""
    global _LAST_BEAT
    _LAST_BEAT = time.monotonic()
    db.heartbeat(holder_id(), socket.gethostname(), os.getpid())


def beat_if_due() -> None:
    """Beat if the interval has passed: cheap enough to call per chunk."""
    if time.monotonic() - _LAST_BEAT >= CONF.lease_heartbeat_interval:
        try:
            beat()
        except Exception as exc:  # noqa: BLE001 - the thread retries
            LOG.warning('Lease heartbeat of %s failed: %s', holder_id(),
                        exc)


def beating(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Pass ``chunks`` on, keeping this process's leases alive."""
    for chunk in chunks:
        beat_if_due()
        yield chunk


def start(on_tick: Callable[[], None] | None = None) -> None:
    """Start this process's heartbeat thread (once per process).

    ``on_tick`` runs after each heartbeat: the periodic look for
    operations whose holder died.
    """
    global _THREAD_PID
    if _THREAD_PID == os.getpid():
        return                  # the usual case: a cheap check per request
    with _LOCK:
        if _THREAD_PID == os.getpid():
            return
        _THREAD_PID = os.getpid()
    thread = threading.Thread(target=_run, args=(on_tick,),
                              name='glance-lease-heartbeat', daemon=True)
    thread.start()


def _run(on_tick: Callable[[], None] | None) -> None:
    while True:
        try:
            beat()
            _release_pending()
            if on_tick is not None:
                on_tick()
        except Exception as exc:  # noqa: BLE001 - never let the thread die
            LOG.warning('Lease heartbeat of %s failed: %s; retrying in %d '
                        's', holder_id(), exc, CONF.lease_heartbeat_interval)
        time.sleep(CONF.lease_heartbeat_interval)


# -- leases ---------------------------------------------------------------
def acquire(image_id: str, operation: str, task_id: str | None = None,
            stores: Iterable[str | None] = ()) -> Lease:
    """Hold ``image_id`` for ``operation``; Conflict if another holds it.

    The heartbeat is renewed first, so a lease is never recorded for a
    process that looks dead.
    """
    beat()
    stores = list(stores)
    try:
        row = db.acquire(image_id, operation, holder_id(), task_id,
                         _stores_text(stores) if stores else None)
    except exception.Conflict as exc:
        held = find(image_id)
        raise exc if held is None else busy(held)
    return _from_row(row)


#: a lease's operation, as a 409 names it
_WHAT = {UPLOAD: 'an upload', STAGE: 'a stage', IMPORT: 'an import',
         JOB: 'an import', LOCATION: 'the verification of its new location'}


def busy(lease: Lease) -> exception.Conflict:
    """The 409 for a request that finds ``lease`` on its image."""
    what = _WHAT.get(lease.undoes, 'another operation')
    if lease.recovering:
        what = 'undoing %s of a stopped process' % what
    return exception.Conflict('Image %s is busy: %s is in progress.'
                              % (lease.image_id, what))


def release(lease: Lease) -> None:
    """Drop the lease.  When that fails (the database is away) the
    heartbeat thread drops it as soon as it can: this process is alive,
    so the lease would never expire, and it would keep every other
    request off the image for as long as the process runs."""
    try:
        db.release(lease.image_id, lease.holder_id)
    except Exception as exc:  # noqa: BLE001 - e.g. the database is down
        LOG.error('Lease of %s on image %s could not be released: %s; '
                  'retried every %d s', lease.operation, lease.image_id,
                  exc, CONF.lease_heartbeat_interval)
        with _LOCK:
            _UNRELEASED.append(lease)


def _release_pending() -> None:
    """Retry the releases that failed (each failing again is kept)."""
    with _LOCK:
        pending = list(_UNRELEASED)
        del _UNRELEASED[:]
    for lease in pending:
        release(lease)


@contextlib.contextmanager
def hold(image_id: str, operation: str, task_id: str | None = None,
         stores: Iterable[str | None] = ()) -> Iterator[Lease]:
    """``acquire`` for the block, ``release`` after it, whatever happens."""
    lease = acquire(image_id, operation, task_id, stores)
    try:
        yield lease
    finally:
        release(lease)


def find(image_id: str) -> Lease | None:
    """The lease on ``image_id``, if any."""
    row = db.get(image_id)
    return None if row is None else _from_row(row)


def take_over(lease: Lease) -> Lease | None:
    """Make a dead holder's lease ours, to undo its work (its operation
    becomes ``recovery:OPERATION``); None when another process took it
    first."""
    operation = '%s:%s' % (RECOVERY, lease.undoes)
    if not db.take_over(lease.image_id, lease.holder_id, holder_id(),
                        operation):
        return None
    return dataclasses.replace(lease, holder_id=holder_id(),
                               operation=operation)


def hand_over(lease: Lease, to_holder: str, operation: str) -> Lease | None:
    """Move ``lease`` to ``to_holder`` (now doing ``operation``); None
    when the lease changed meanwhile."""
    if not db.take_over(lease.image_id, lease.holder_id, to_holder,
                        operation):
        return None
    return dataclasses.replace(lease, holder_id=to_holder,
                               operation=operation)


def adopt_job(lease_id: str, task_id: str) -> Lease | None:
    """Make the job lease (``job`` or ``task-job``) of ``task_id``, kept
    under ``lease_id`` (its image, or the task of a legacy import), this
    process's (a worker that claimed the job); None when there is no such
    lease any more (the import was undone or finished)."""
    lease = find(lease_id)
    if lease is None or lease.task_id != task_id or \
            lease.operation not in JOBS:
        return None
    beat()
    return hand_over(lease, holder_id(), lease.operation)


def expired() -> list[Lease]:
    """Leases whose holder died."""
    return [_from_row(r) for r in db.expired(_cutoff())]


def unleased() -> list[str]:
    """Ids of images mid-operation with no lease, unchanged for a lease
    timeout."""
    return db.unleased(_cutoff())


def _cutoff() -> datetime.datetime:
    return utcnow() - datetime.timedelta(seconds=CONF.lease_timeout)


def purge_holders() -> None:
    """Forget holders silent for a day that hold nothing."""
    db.purge_holders(utcnow() - datetime.timedelta(days=1))


# -- staged data ----------------------------------------------------------
def record_stage(lease: Lease, size: int, algo: str, value: str) -> None:
    """The stage held by ``lease`` is complete; its lease ends."""
    db.record_stage(lease.image_id, lease.holder_id, size, algo, value)


def staged(image_id: str) -> dict | None:
    """{'size', 'hash_algo', 'hash_value'} of a completed stage, or None."""
    return db.staged(image_id)


def forget_stage(image_id: str) -> None:
    """Staged data of ``image_id`` is gone or no longer complete."""
    try:
        db.forget_stage(image_id)
    except exception.GlanceException as exc:
        LOG.warning('Stage record of image %s not removed: %s', image_id,
                    exc)
