"""Undoing the work of an upload, stage or import whose process died.

A process holding a lease (:mod:`glance.async_.leases`) that stops
heartbeating for ``lease_timeout`` seconds is dead; whoever notices first
takes its lease over and puts the image back where a client can carry on:

* ``saving`` (upload): back to ``queued``, partial data removed from the
  store it was going to.
* ``uploading`` whose stage never completed: back to ``queued``, the
  partial staged file removed.
* ``importing`` (or an import lock on an active image, copy-image): the
  lock released, the task marked ``failure``, data written to target
  stores removed, and the image ``uploading`` again when a whole stage is
  still there (glance-direct), else ``queued`` (or ``active`` as it was).
* a location import (POST /v2/images/{id}/locations) whose hashing never
  ended: the task marked ``failure`` and the image ``queued`` again
  without the location, its data, size and hashes, as a failed location
  import leaves it in the reference service
  (:mod:`glance.async_.location_recovery`).

The next upload, stage, import or delete of the image notices at once
(:func:`settle`); every API process also looks for dead leases after each
heartbeat (:func:`sweep`).  Image changes go through the repository chain
as any request's do, with an administrator's context.
"""
from __future__ import annotations

import datetime
import logging
import time

from oslo_config import cfg

from glance.async_ import leases, location_recovery, staging
from glance.common import exception
from glance.context import get_admin_context
from glance.domain.image import IMPORT_LOCK, Image, utcnow
from glance import gateway

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

STAGE_HOST = 'os_glance_stage_host'
IMPORTING = 'os_glance_importing_to_stores'
FAILED = 'os_glance_failed_import'
#: statuses an image has only while a long operation works on it
BUSY = ('saving', 'uploading', 'importing')
#: the sweep also forgets long-silent holders every this many ticks
_PURGE_EVERY = 360
#: and looks for images mid-operation without any lease every this many
_UNLEASED_EVERY = 6
_ticks = 0


def start() -> None:
    """Start this process's heartbeat and its periodic :func:`sweep`."""
    leases.start(on_tick=sweep)


def acquire(image_id: str, operation: str, task_id: str | None = None,
            stores: list[str | None] = ()) -> leases.Lease:
    """``leases.acquire``, first undoing a dead holder's leftover lease.

    Conflict while a live process holds the image.
    """
    try:
        return leases.acquire(image_id, operation, task_id, stores)
    except exception.Conflict:
        held = leases.find(image_id)
        if held is None:
            pass                # released meanwhile
        elif not held.alive:
            if not recover(held):
                raise
        elif not (held.recovering and _await_recovery(held)):
            raise
    return leases.acquire(image_id, operation, task_id, stores)


def _busy(image: Image) -> bool:
    return image.status in BUSY or bool(
        image.extra_properties.get(IMPORT_LOCK))


def settle(image: Image) -> bool:
    """Undo a dead operation on ``image`` before a request acts on it.

    True when something was undone (the caller reloads the image).  An
    operation whose holder is alive is left alone: the caller's own
    checks answer 409 for it.
    """
    if not _busy(image):
        return False
    lease = leases.find(image.image_id)
    if lease is None:
        return _recover_unleased(image)
    if not lease.alive:
        return recover(lease)
    if lease.recovering:
        return _await_recovery(lease)
    return False


def check_free(image: Image) -> None:
    """Conflict while a live process holds ``image`` (a location import
    verifying the data of a queued image, say): for the upload and the
    stage, which move the image on before they take their own lease.

    Only a queued image is checked: any other status is refused by the
    caller's own status transition, with the reference's message (which
    names the status).  A recovery that has just made the image queued
    again holds its lease for a moment more, to its end: that is waited
    for (at most a lease timeout), not refused."""
    if image.status != 'queued':
        return
    held = leases.find(image.image_id)
    if held is not None and held.alive and not (
            held.recovering and _await_recovery(held)):
        raise leases.busy(held)


#: seconds between two looks at a recovery another process runs
_AWAIT_STEP = 0.1


def _await_recovery(lease: leases.Lease) -> bool:
    """Wait (at most a lease timeout) for another process to finish
    undoing a dead operation on the image: it takes a few store and
    database calls, and the request then finds the image reusable."""
    deadline = time.monotonic() + CONF.lease_timeout
    while time.monotonic() < deadline:
        current = leases.find(lease.image_id)
        if current is None or not current.recovering:
            return True
        if not current.alive:
            return recover(current)
        time.sleep(_AWAIT_STEP)
    return True


def _abandoned(image: Image) -> str | None:
    """The operation an unleased image was left in by a dead process, or
    None when the image is at rest or its operation may still be live
    (changed within a lease timeout: a live one is about to take or has
    just dropped its lease)."""
    if not _busy(image):
        return None
    lock = image.extra_properties.get(IMPORT_LOCK)
    if image.status == 'uploading' and not lock and \
            leases.staged(image.image_id):
        return None             # a completed stage, waiting for its import
    cutoff = utcnow() - datetime.timedelta(seconds=CONF.lease_timeout)
    if lock and not _task_running(lock):
        pass                    # the lock's task ended or never existed
    elif image.updated_at is not None and image.updated_at > cutoff:
        return None
    if lock or image.status == 'importing':
        return leases.IMPORT
    return leases.STAGE if image.status == 'uploading' else leases.UPLOAD


def _stage_before_leases(image: Image) -> bool:
    """Record a stage made before leases existed, if its file is here.

    A stage takes its lease before the first byte is written and records
    the data whole before letting go, so an unleased ``uploading`` image
    with a staged file and no record comes from before this version (an
    upgraded or adopted database).  It could be imported then, so it can
    now: its size and hash are recorded as found.
    """
    if image.status != 'uploading' or image.extra_properties.get(
            IMPORT_LOCK) or not staging.exists(image.image_id):
        return False
    size, value = staging.digest(image.image_id, CONF.hashing_algorithm)
    leases.record_stage(leases.Lease(image_id=image.image_id,
                                     operation=leases.STAGE,
                                     holder_id='(none)', task_id=None,
                                     stores=[]),
                        size, CONF.hashing_algorithm, value)
    LOG.info('Image %s: staged data from before leases (%d bytes) recorded '
             'as complete', image.image_id, size)
    return True


def _recover_unleased(image: Image) -> bool:
    """An image mid-operation with no lease: left by a process that died
    between two steps, or that predates leases."""
    operation = _abandoned(image)
    if operation is None:
        return False
    if operation == leases.STAGE and (not _stage_is_here(image) or
                                      _stage_before_leases(image)):
        # an unleased stage elsewhere is its own node's to judge
        return False
    lock = image.extra_properties.get(IMPORT_LOCK)
    # Judged again once ours: someone may have undone it and started anew
    # since the image was read.
    if not _undo_unleased(image.image_id, operation, lock,
                          lambda fresh: _abandoned(fresh) == operation,
                          STOPPED):
        # Another process is undoing it, or has just done so and let go
        # (the image read above is stale then): the caller reloads it.
        held = leases.find(image.image_id)
        if held is not None and held.recovering:
            _await_recovery(held)
    return True


def _undo_unleased(image_id: str, operation: str, task_id: str | None,
                   still, why: str) -> bool:
    """Undo ``operation`` on an image no lease covers, under a recovery
    lease of this process's, if ``still(image)`` holds for the image as
    loaded then; False when another process holds the image."""
    try:
        mine = leases.acquire(image_id, leases.RECOVERY)
    except exception.Conflict:
        return False
    try:
        _undo(leases.Lease(image_id=image_id, operation=operation,
                           holder_id='(none)', task_id=task_id, stores=[]),
              still, why)
    finally:
        leases.release(mine)
    return True


def _task_running(task_id: str) -> bool:
    try:
        task = gateway.get_internal_task_repo(get_admin_context()).get(
            task_id)
    except exception.NotFound:
        return False
    return task.status in ('pending', 'processing')


def recover(lease: leases.Lease) -> bool:
    """Take over the dead ``lease`` and undo its work; False when another
    process took it first."""
    if lease.operation in leases.JOBS and _job_queued(lease.task_id):
        return False
    mine = leases.take_over(lease)
    if mine is None:
        return False
    LOG.warning('%s %s: the %s held by %s stopped (no heartbeat for %d '
                's); undoing it',
                'Task' if lease.undoes in _TASK_OPS else 'Image',
                lease.image_id, lease.operation, lease.holder_id,
                CONF.lease_timeout)
    try:
        _undo(lease)
    finally:
        leases.release(mine)
    return True


def _job_queued(task_id: str | None) -> bool:
    """Whether the import job of ``task_id`` is still on the jobboard: a
    worker runs it or will, whoever held its lease last."""
    from glance.async_ import jobs
    return jobs.on_board(task_id)


#: the operations of a legacy import task's own lease (under its task id)
_TASK_OPS = (leases.TASK, leases.TASK_JOB)


#: why an import is undone, as its task's message says, unless told
STOPPED = ('The glance-api process running this import stopped before it '
           'finished; its partial data was removed and the image can be '
           'imported again.')


def _undo(lease: leases.Lease, still=None, why: str = STOPPED) -> None:
    """Undo ``lease``'s operation; ``still(image)`` (if given) must hold
    for the image as loaded now; ``why`` is the message of the task that
    fails with it."""
    context = get_admin_context()
    if lease.undoes in _TASK_OPS:
        _undo_task(context, lease)
        return
    repo = gateway.get_repo(context)
    if lease.undoes == leases.LOCATION:
        # No data of glance's making: the location's is the caller's.
        location_recovery.undo(context, repo, lease)
        return
    try:
        image = repo.get(lease.image_id)
    except exception.NotFound:
        # Deleted meanwhile: only data a dead writer left can remain.
        repo.discard_partial(Image(image_id=lease.image_id),
                             lease.stores or [None])
        leases.forget_stage(lease.image_id)
        return
    if still is not None and not still(image):
        return
    operation = lease.undoes
    if operation == leases.UPLOAD:
        _undo_upload(repo, image, lease, why)
    elif operation == leases.STAGE:
        _undo_stage(repo, image)
    elif operation in (leases.IMPORT, leases.JOB):
        _undo_import(context, repo, image, lease, why)


def _undo_upload(repo, image: Image, lease: leases.Lease, why: str) -> None:
    if lease.task_id and not _task_job_queued(lease.task_id):
        # a legacy import task's upload, which no worker will start again
        _fail_task(get_admin_context(), lease.task_id, why)
    repo.discard_partial(image, lease.stores or [None])
    if image.status != 'saving':
        return                  # finished (or undone) before the crash
    repo.abort_upload(image, None, RuntimeError(
        'the API process receiving the data stopped'))
    LOG.warning('Image %s: upload undone by %s; the image is queued '
                'again', image.image_id, lease.holder_id)


def _task_job_queued(task_id: str) -> bool:
    """Whether the legacy import task ``task_id`` is a job still on the
    board (distributed mode): a worker starts its upload again."""
    from glance.async_ import jobs
    return jobs.distributed() and _job_queued(task_id)


def _stage_is_here(image: Image) -> bool:
    """Whether this node can reach the image's staged file."""
    host = image.extra_properties.get(STAGE_HOST)
    return not host or host.rstrip('/') == (
        CONF.worker_self_reference_url or '').rstrip('/')


def _undo_stage(repo, image: Image) -> None:
    if leases.staged(image.image_id):
        return                  # the stage completed before the crash
    if _stage_is_here(image):
        staging.remove(image.image_id)
    else:
        LOG.warning('Image %s: the partial staged file is on %s; the '
                    'staging sweep there removes it', image.image_id,
                    image.extra_properties.get(STAGE_HOST))
    if image.status != 'uploading':
        return
    image.set_status('queued')
    image.size = None
    image.extra_properties.pop(STAGE_HOST, None)
    repo.save(image)
    LOG.warning('Image %s: stage by a stopped process undone; the image is '
                'queued again', image.image_id)


def _undo_task(context, lease: leases.Lease) -> None:
    """A legacy import task whose process died: failed, and its download
    removed if ``work_dir`` is here (else by its own node's sweep).  An
    image it had created stays queued, as after any failed import; one
    it was uploading to has a lease of its own.

    A task posted to the jobboard (``task-job``) gets here only once its
    job left the board without finishing it (:func:`recover` leaves it
    alone while the job is there, whoever held its lease last)."""
    from glance.async_.flows import legacy_import
    _fail_task(context, lease.task_id)
    legacy_import.sweep_work_dir(_task_running)


def _fail_task(context, task_id: str | None,
               why: str = STOPPED) -> str | None:
    """Mark ``task_id`` failed (``why``) if it still runs; its import
    method."""
    if not task_id:
        return None
    tasks = gateway.get_internal_task_repo(context)
    try:
        task = tasks.get(task_id)
    except exception.NotFound:
        return None
    try:
        method = task.task_input['import_req']['method']['name']
    except (TypeError, KeyError):
        method = None
    if task.status in ('pending', 'processing'):
        task.fail(why)
        tasks.save(task)
        LOG.warning('Image %s: import task %s failed: %s', task.image_id,
                    task_id, why)
    return method


def _undo_import(context, repo, image: Image, lease: leases.Lease,
                 why: str) -> None:
    lock = image.extra_properties.get(IMPORT_LOCK)
    task_id = lease.task_id or lock
    method = _fail_task(context, task_id, why)
    repo.discard_partial(image, lease.stores or [None])
    if method not in (None, 'glance-direct') and _stage_is_here(image):
        staging.remove(image.image_id)          # a fetch cut short
    if lock != task_id:
        return              # the import never took the image, or lost it
    props = image.extra_properties
    props.pop(IMPORT_LOCK, None)
    failed = [s for s in lease.stores if s]
    props[IMPORTING] = ''
    props[FAILED] = ','.join(failed)
    if image.status == 'importing':
        if leases.staged(image.image_id) and (
                not _stage_is_here(image) or staging.exists(image.image_id)):
            # The stage is whole and still there: import it again.  (Not a
            # transition of the state machine: this undoes one.)
            image.status = 'uploading'
        else:
            props.pop(STAGE_HOST, None)
            image.set_status('queued')
            image.size = image.virtual_size = image.checksum = None
            image.os_hash_algo = image.os_hash_value = None
    repo.save(image)
    LOG.warning('Image %s: import task %s undone by %s; the image is %s '
                'and can be imported again', image.image_id, task_id,
                lease.holder_id, image.status)


#: (lease, why) of this process's operations that failed and could not
#: be undone then (the database was away): each sweep tries again.  An
#: entry is (lease, why, since): ``since`` is None for a lease recorded in
#: the database, else the image's updated_at when it was left unleased
_UNDO_LATER: list[tuple[leases.Lease, str, datetime.datetime | None]] = []
#: the message of an import task undone that way
UNREACHABLE = ('The import failed while the image database was unreachable; '
               'its partial data was removed and the image can be imported '
               'again.')


def undo_later(lease: leases.Lease, why: str = UNREACHABLE) -> None:
    """Keep ``lease`` on an operation that failed and whose own undo
    failed too, and let this process's sweep undo it (then drop it) once
    the database answers again.

    Released instead, the image would stay mid-operation (``saving``,
    say) for a lease timeout, until the look for unleased images finds
    it; kept and forgotten, for as long as this process lives, as a live
    holder's lease never expires.
    """
    LOG.error('Image %s: the failed %s could not be undone; this process '
              'retries every %d s', lease.image_id, lease.undoes,
              CONF.lease_heartbeat_interval)
    _UNDO_LATER.append((lease, why, None))


def undo_unleased_later(image: Image, operation: str) -> None:
    """:func:`undo_later` for an image this process moved on (to saving
    or uploading) for ``operation`` and could then neither lease nor put
    back: the database went away in between.

    Left alone, the image would stay mid-operation until it had not
    changed for a lease timeout (the look for unleased images).  The
    sweep undoes it as soon as the database answers, under a recovery
    lease, and only if the image has not changed since (another process
    may have undone it and started anew).
    """
    LOG.error('Image %s: the failed %s could not be undone, nor leased; '
              'this process retries every %d s', image.image_id, operation,
              CONF.lease_heartbeat_interval)
    _UNDO_LATER.append((leases.Lease(image_id=image.image_id,
                                     operation=operation, holder_id='(none)',
                                     task_id=None, stores=[]),
                        UNREACHABLE, image.updated_at))


def _undo_pending() -> None:
    """Undo what :func:`undo_later` was given; a failure is retried at
    the next sweep.

    Each is undone under a recovery lease: its own lease made one in an
    UPDATE that finds it only if it is still this process's, or (left
    unleased) a new one, and then only if the image has not changed.
    Should the database have been away longer than a lease timeout,
    another node may have undone the work already (and a new operation
    may have started on the image since).
    """
    for entry in list(_UNDO_LATER):
        lease, why, since = entry
        try:
            if since is not None:
                done = _undo_unleased(
                    lease.image_id, lease.operation, None,
                    lambda fresh, since=since: fresh.updated_at == since, why)
            else:
                mine = leases.hand_over(lease, lease.holder_id, '%s:%s' % (
                    leases.RECOVERY, lease.undoes))
                done = mine is not None
                if done:
                    _undo(mine, why=why)
                    leases.release(mine)
            if done:
                LOG.warning('Image %s: the failed %s is undone now that '
                            'the database answers again', lease.image_id,
                            lease.undoes)
        except Exception as exc:  # noqa: BLE001 - the next sweep retries
            LOG.error('Image %s: undoing the failed %s failed again: %s; '
                      'retried in %d s', lease.image_id, lease.undoes, exc,
                      CONF.lease_heartbeat_interval)
            continue
        _UNDO_LATER.remove(entry)


def sweep() -> None:
    """Undo every operation whose holder died (run after each heartbeat),
    and those of this process that could not be undone when they failed.

    Each is taken over before it is undone, so processes sweeping at the
    same time never undo the same thing twice.
    """
    global _ticks
    _undo_pending()
    for lease in leases.expired():
        try:
            recover(lease)
        except Exception as exc:  # noqa: BLE001 - next tick retries
            LOG.error('Image %s: undoing the %s of a stopped process '
                      'failed: %s; retried later', lease.image_id,
                      lease.operation, exc)
    _ticks += 1
    if _ticks % _UNLEASED_EVERY == 1:
        # A scan of the images table: less often than the lease look.
        from glance.async_.flows import legacy_import
        legacy_import.sweep_work_dir(_task_running)
        repo = gateway.get_repo(get_admin_context())
        for image_id in leases.unleased():
            try:
                settle(repo.get(image_id))
            except Exception as exc:  # noqa: BLE001 - next tick retries
                LOG.error('Image %s: undoing an abandoned operation '
                          'failed: %s; retried later', image_id, exc)
    if _ticks % _PURGE_EVERY == 0:
        leases.purge_holders()
