"""What a ``glance-worker`` process runs: taskflow conductors claiming
import jobs (image imports and legacy import tasks) from the board
(:mod:`glance.async_.jobs`).

taskflow's own conductors do the claiming, the engine loading (from the
flow factory and atom states in persistence) and the consuming; this
module gives them a board on which

* a claim expires ``[jobboard] claim_timeout`` seconds after the worker
  stops renewing it (a keeper thread renews the claims of live jobs), so
  the jobs of a worker killed outright are claimed again by another;
* claiming a job also takes over the lease its details name (the job's
  owner is the worker), and a job whose import was meanwhile undone is
  dropped;
* consuming a job releases the lease and forgets the flow's persisted
  state.

SIGTERM stops the conductors: running flows are suspended at their next
atom and their jobs abandoned (claimed again elsewhere), and claims still
held after ``[worker] shutdown_timeout`` are released before the process
exits.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import inspect
import json
import logging
import threading
from typing import Any

from oslo_config import cfg
from taskflow import exceptions as tf_exc
from taskflow.types import timing

from glance.async_ import faults, jobs, leases

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

worker_opts = [
    cfg.IntOpt('conductors', default=1, min=1,
               help='Conductors per glance-worker process, each claiming '
                    'jobs from the board on its own.'),
    cfg.IntOpt('jobs_per_conductor', default=2, min=1,
               help='Imports one conductor runs at once (threads).  A '
                    'worker runs conductors x jobs_per_conductor imports '
                    'at most; size it by the cores and the network and '
                    'disk bandwidth of the host.'),
    cfg.StrOpt('conductor_type', default='nonblocking',
               choices=('nonblocking', 'blocking'),
               help='taskflow conductor kind: nonblocking (a thread pool of '
                    'jobs_per_conductor) or blocking (one job at a time).'),
    cfg.FloatOpt('poll_interval', default=0.1, min=0.01,
                 help='Seconds an idle conductor waits between two looks '
                      'at the board.  On a Redis board a posted import '
                      'wakes the idle conductors at once (announced on a '
                      'channel of the board); this is then only the '
                      'fallback, and on other boards the most a posted '
                      'import waits for an idle worker.'),
    cfg.IntOpt('shutdown_timeout', default=30, min=0,
               help='Seconds glance-worker waits on SIGTERM for running '
                    'imports to reach a safe point before it releases '
                    'their claims and exits (another worker resumes them).'),
]
CONF.register_opts(worker_opts, group='worker')


class ClaimingBoard:
    """A taskflow board whose claims expire and carry the import lease.

    Everything not overridden is the wrapped board's.
    """

    def __init__(self, board: Any):
        self._board = board
        self._held: dict[str, Any] = {}
        self._entities: list[Any] = []
        self._lock = threading.Lock()
        self._expiring = 'expiry' in inspect.signature(
            board.claim).parameters

    def __getattr__(self, name: str) -> Any:
        return getattr(self._board, name)

    def register_entity(self, entity: Any) -> None:
        """Announce the conductor (taskflow's Redis board does not: its
        presence is a key that expires with the claims)."""
        self._board.register_entity(entity)
        self._entities.append(entity)
        self._announce()

    def _announce(self, ttl: int | None = None) -> None:
        client = jobs.redis_client(self._board)
        if client is None:
            return
        for entity in self._entities:
            key = jobs.worker_key(self._board, entity.name)
            if ttl == 0:
                client.delete(key)
            else:
                client.set(key, json.dumps(entity.to_dict()),
                           ex=ttl or CONF.jobboard.claim_timeout)

    def claim(self, job: Any, who: str) -> None:
        """Claim ``job`` (expiring) and take its import's lease over."""
        if self._expiring:
            self._board.claim(job, who, expiry=CONF.jobboard.claim_timeout)
        else:                   # e.g. zookeeper: claims end with the session
            self._board.claim(job, who)
        details = job.details or {}
        try:
            lease = leases.adopt_job(jobs.lease_id(details),
                                     details.get('task_id'))
        except Exception as exc:  # noqa: BLE001 - e.g. the database is down
            self._board.abandon(job, who)
            raise tf_exc.JobFailure('Job %s: lease not taken over: %s'
                                    % (job.uuid, exc))
        if lease is None:
            LOG.warning('Job %s: %s is no longer waiting (undone or '
                        'finished meanwhile); dropping it', job.uuid,
                        jobs.describe(details))
            self._board.consume(job, who)
            _forget_book(job)
            raise tf_exc.UnclaimableJob('Job %s has no import any more'
                                        % job.uuid)
        LOG.info('Job %s claimed: %s', job.uuid, jobs.describe(details))
        with self._lock:
            self._held[job.uuid] = job

    def _done(self, job: Any, release_lease: bool) -> None:
        with self._lock:
            self._held.pop(job.uuid, None)
        _trim_heap()
        if release_lease:
            details = job.details or {}
            leases.release(leases.Lease(
                image_id=jobs.lease_id(details), operation=leases.JOB,
                holder_id=leases.holder_id()))

    def consume(self, job: Any, who: str) -> None:
        """The flow ended (imported or reverted): drop job, lease, state."""
        self._board.consume(job, who)
        self._done(job, release_lease=True)
        _forget_book(job)

    def abandon(self, job: Any, who: str) -> None:
        """Give the job back (suspended): the lease stays for the next
        worker to take over."""
        self._board.abandon(job, who)
        self._done(job, release_lease=False)

    def trash(self, job: Any, who: str) -> None:
        """The job cannot run (its flow cannot be loaded): drop it; the
        lease goes, so the recovery sweep undoes the import."""
        LOG.error('Job %s (task %s) could not be run and is discarded; the '
                  'import is undone by the recovery sweep', job.uuid,
                  (job.details or {}).get('task_id'))
        self._board.trash(job, who)
        self._done(job, release_lease=True)

    def renew(self) -> None:
        """Extend the claim of every job this board holds."""
        try:
            self._announce()
        except Exception as exc:  # noqa: BLE001 - retried next round
            LOG.warning('Worker presence not renewed: %s', exc)
        with self._lock:
            held = list(self._held.values())
        for job in held:
            try:
                job.extend_expiry(CONF.jobboard.claim_timeout)
            except Exception as exc:  # noqa: BLE001 - retried next round
                LOG.warning('Claim of job %s not renewed: %s', job.uuid, exc)

    def release_all(self, who: str) -> None:
        """Give every held job back at once (shutting down)."""
        with self._lock:
            held = list(self._held.values())
        for job in held:
            with contextlib.suppress(Exception):
                self.abandon(job, who)
        with contextlib.suppress(Exception):
            self._announce(ttl=0)


def _libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return None


_LIBC = _libc()


def _trim_heap() -> None:
    """Give the heap pages a finished job freed back to the system.

    A job's flow, engine and persistence objects are freed when it ends,
    but glibc keeps the emptied arenas of the conductor threads mapped,
    so a worker's RSS would stay at its busiest; ``malloc_trim`` returns
    them (a no-op where the C library has no such call).
    """
    trim = getattr(_LIBC, 'malloc_trim', None)
    if trim is not None:
        trim(0)


def _forget_book(job: Any) -> None:
    """Remove the finished flow's persisted state."""
    try:
        jobs.forget_book(job.book_uuid)
    except Exception as exc:  # noqa: BLE001 - leftover rows are harmless
        LOG.warning('Flow state of job %s not removed: %s', job.uuid, exc)


class Wakeable(timing.Timeout):
    """A conductor's wait between two looks at the board, cut short when
    a job is announced (:func:`glance.async_.jobs.announce`).

    taskflow's conductors sleep ``wait_timeout`` whenever a look found
    nothing to claim, so a job posted to an idle worker waited half the
    poll interval on average (50 ms by default) before it was claimed.
    ``interrupt`` keeps its meaning (stop the conductor).
    """

    def __init__(self, value: float):
        super().__init__(value)
        self.wake = threading.Event()

    def interrupt(self) -> None:
        super().interrupt()
        self.wake.set()

    def wait(self) -> None:
        self.wake.wait(self.value)
        self.wake.clear()


def _listen(board: Any, timeouts: list[Wakeable],
            stop: threading.Event) -> None:
    """Wake every conductor of this process on each announced job, until
    ``stop``; a lost subscription is made again (meanwhile the conductors
    poll)."""
    client = jobs.redis_client(board)
    channel = jobs.posted_channel(board)
    while not stop.is_set():
        pubsub = None
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(channel)
            while not stop.is_set():
                if pubsub.get_message(timeout=1.0) is not None:
                    for timeout in timeouts:
                        timeout.wake.set()
        except Exception as exc:  # noqa: BLE001 - polling goes on meanwhile
            LOG.warning('Job announcements not received (%s); conductors '
                        'poll the board every %s s', exc,
                        CONF.worker.poll_interval)
            stop.wait(1.0)
        finally:
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    pubsub.close()


class Worker:
    """The conductors of one glance-worker process."""

    def __init__(self):
        self.name = leases.holder_id()
        self.boards: list[ClaimingBoard] = []
        self.conductors: list[Any] = []
        self.threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._released = threading.Event()

    def start(self) -> None:
        """Connect the boards and start the conductors and the keeper."""
        from taskflow.conductors import backends
        options = {}
        if CONF.worker.conductor_type == 'nonblocking':
            options['max_simultaneous_jobs'] = CONF.worker.jobs_per_conductor
        timeouts = []
        for n in range(CONF.worker.conductors):
            board = ClaimingBoard(jobs.open_board())
            timeouts.append(Wakeable(CONF.worker.poll_interval))
            conductor = backends.fetch(
                CONF.worker.conductor_type, '%s#%d' % (self.name, n), board,
                persistence=jobs.persistence(),
                engine=CONF.taskflow_executor.engine_mode,
                wait_timeout=timeouts[-1], **options)
            conductor.notifier.register(
                'compilation_start',
                lambda _event, details: faults.watch_atoms(
                    details['engine']))
            thread = threading.Thread(target=conductor.run,
                                      name='conductor-%d' % n, daemon=True)
            self.boards.append(board)
            self.conductors.append(conductor)
            self.threads.append(thread)
            thread.start()
        threading.Thread(target=self._keep, name='claim-keeper',
                         daemon=True).start()
        if jobs.redis_client(self.boards[0]) is not None:
            threading.Thread(target=_listen, name='job-announcements',
                             args=(self.boards[0], timeouts, self._stop),
                             daemon=True).start()
        LOG.info('glance-worker %s: %d %s conductor(s) on jobboard %s (%s)',
                 self.name, len(self.conductors), CONF.worker.conductor_type,
                 CONF.jobboard.board_name, CONF.jobboard.backend_url)

    def _keep(self) -> None:
        interval = max(1.0, CONF.jobboard.claim_timeout / 3.0)
        while not self._stop.wait(interval):
            for board in self.boards:
                board.renew()

    def stop(self) -> None:
        """Stop claiming, let running flows suspend, release the rest."""
        LOG.info('glance-worker %s stopping: no new jobs; running imports '
                 'are suspended at their next step', self.name)
        for conductor in self.conductors:
            conductor.stop()
        for conductor in self.conductors:
            conductor.wait(CONF.worker.shutdown_timeout)
        self._stop.set()
        for n, board in enumerate(self.boards):
            board.release_all('%s#%d' % (self.name, n))
            with contextlib.suppress(Exception):
                board.close()
        self._released.set()

    def wait(self) -> None:
        """Block until every conductor has ended, or :meth:`stop` gave
        their jobs back (a flow thread still inside an atom is left to
        die with the process)."""
        while any(t.is_alive() for t in self.threads) and \
                not self._released.is_set():
            self._released.wait(1.0)
