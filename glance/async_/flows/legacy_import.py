"""The legacy ``import`` task: create an image and fill it from a URL.

Input is {import_from, import_from_format, image_properties}.  The source
passes the same ``[import_filtering_opts]`` checks as web-download and is
first downloaded into ``[task] work_dir`` (as upstream, a task without a
work_dir configured fails: there is nowhere to put the data); then it
takes the ordinary upload path (hashed and stored by the location layer).
A failure returns the new image to queued with no data.

The task holds a lease (``leases.TASK``, under the task's id) from its
creation to its end, so a glance-api that dies while it downloads leaves
a task that any node fails (:mod:`glance.async_.recovery`) and a work
file that the node owning ``work_dir`` removes (:func:`sweep_work_dir`).

In ``[taskflow_executor] mode = distributed`` the task is posted to the
jobboard instead (:func:`glance.async_.jobs.submit`) and a
``glance-worker`` runs this flow with its atom states persisted; the lease
becomes the job's (``leases.TASK_JOB``), which recovery leaves alone
while the job is on the board.  A worker that takes the job over from a
dead one starts the interrupted atom again, so each atom may run twice:
the download is simply made again (into this worker's ``work_dir``, also
when the dead worker had finished it on another host), and the image is
created under an id fixed at acceptance, found rather than made twice.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

from oslo_config import cfg

from taskflow import engines
from taskflow import task as tf_task
from taskflow.patterns import linear_flow

from glance.async_ import (executor, faults, jobs, leases, progress,
                           recovery, web)
from glance.async_.flows import atoms
from glance.common import exception
from glance.domain import image as domain_image
from glance.domain.transfer import Upload
from glance import gateway
from glance.services import upload as upload_service

CONF = cfg.CONF
LOG = logging.getLogger(__name__)
CHUNK = 1024 * 1024


def _download(uri: str, path: str, context: Any, task_id: str) -> int:
    """Fetch ``uri`` into ``path``; the bytes written (capped).  The task
    tells how far the copy got ("Copied N MiB", as api_image_import)."""
    data, size = web.fetch(uri)
    written = 0
    with open(path, 'wb') as f:
        for chunk in progress.copying(data, context, task_id, 'fetch',
                                      size):
            written += len(chunk)
            if written > CONF.image_size_cap:
                raise exception.LimitExceeded(
                    'The source is larger than image_size_cap.')
            f.write(chunk)
    return written


def _read(path: str):
    with open(path, 'rb') as f:
        first = True
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                return
            yield chunk
            if first:           # the crash tests' mid-upload stop
                faults.point('copy:upload')
                first = False


class _ImportToFS(tf_task.Task):
    """Download the source into the work dir."""

    default_provides = 'local_path'

    def __init__(self, context: Any, task_id: str, task_input: dict):
        super().__init__(name='import_to_fs')
        self.context, self.task_id = context, task_id
        self.task_input = task_input

    def execute(self):
        return _fetch(self.context, self.task_id, self.task_input)

    def revert(self, *args, **kwargs):
        _remove(work_path(self.task_id))


def _fetch(context: Any, task_id: str, task_input: dict) -> str:
    """Download the source into this node's work dir; the file's path."""
    work_dir = CONF.task.work_dir
    if not work_dir:
        raise exception.BadRequest(
            'Task %s of type import is not configured properly: '
            'missing [task] work_dir.' % task_id)
    os.makedirs(work_dir, exist_ok=True)
    path = work_path(task_id)
    _download(task_input['import_from'], path, context, task_id)
    return path


def work_path(task_id: str) -> str:
    """Where the source of task ``task_id`` is downloaded."""
    return os.path.join(CONF.task.work_dir or '', task_id)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def sweep_work_dir(running: Any) -> None:
    """Remove the downloads of tasks that no longer run here or anywhere
    (``running(task_id)`` is False): what a killed glance-api left in its
    own ``work_dir``, which no other node may see."""
    work_dir = CONF.task.work_dir
    if not work_dir or not os.path.isdir(work_dir):
        return
    for name in os.listdir(work_dir):
        try:
            uuid.UUID(name)
        except ValueError:
            continue                # not a task's download
        if not running(name):
            LOG.warning('Removing %s: the download of import task %s, '
                        'which no longer runs', work_path(name), name)
            _remove(work_path(name))


class _CreateImage(tf_task.Task):
    default_provides = 'image_id'

    def __init__(self, context: Any, task_input: dict,
                 image_id: str | None = None):
        super().__init__(name='create_image')
        self.context, self.task_input = context, task_input
        self.image_id = image_id

    def execute(self):
        props = dict(self.task_input['image_properties'])
        props.setdefault('disk_format',
                         self.task_input['import_from_format'])
        if self.image_id:
            props['id'] = self.image_id
        image = domain_image.new_image(props, self.context.owner)
        repo = gateway.get_repo(self.context)
        try:
            image_id = repo.add(image).image_id
            faults.point('legacy:image_created')    # (the crash tests')
            return image_id
        except exception.Duplicate:
            if not self.image_id:
                raise
            # Started again after a worker died: the image may be the one
            # this atom created then (queued, no data, the caller's).
            made = repo.get(self.image_id)
            if made.status != 'queued' or made.owner != image.owner:
                raise
            LOG.info('Image %s already created by this import task; '
                     'carrying on with it', self.image_id)
            return made.image_id


class _ImportData(tf_task.Task):
    def __init__(self, context: Any, task_id: str, task_input: dict,
                 resumable: bool = False):
        super().__init__(name='import_data')
        self.context, self.task_input = context, task_input
        self.task_id = task_id
        #: run by a worker, which may start this atom again after another
        #: worker died in it (or after it, before its end was recorded)
        self.resumable = resumable

    def execute(self, image_id, local_path):
        repo = gateway.get_repo(self.context)
        image = repo.get(image_id)
        if self.resumable:
            image, local_path = self._resume(repo, image, local_path)
            if image is None:
                return
        upload = Upload(data=_read(local_path),
                        expected_size=os.path.getsize(local_path))
        try:
            # Should this process die, the upload is undone and the task
            # failed by whichever process notices (glance.async_.recovery).
            upload_service.upload(repo, image, upload, task_id=self.task_id)
        finally:
            _remove(local_path)

    def _resume(self, repo: Any, image: Any, local_path: str):
        """(image, download) to upload where a dead worker left them; no
        image when the dead worker had finished the upload."""
        if image.status == 'saving':
            image = _await_dead_upload(repo, image, self.task_id)
        if image.status == 'active':
            return None, local_path     # uploaded before its worker died
        if not os.path.exists(local_path):
            # Downloaded by a worker that died since, on another host (or
            # its file swept): download again here.
            LOG.info('Import task %s: the download is not in this node\'s '
                     'work dir; downloading %s again', self.task_id,
                     self.task_input['import_from'])
            local_path = _fetch(self.context, self.task_id, self.task_input)
        return image, local_path


def _await_dead_upload(repo: Any, image: Any, task_id: str) -> Any:
    """The image once the upload a dead worker left on it is undone.

    Started again after a worker died mid-upload, this atom finds the
    image ``saving`` under the dead worker's lease: recovery undoes that
    once the lease has expired (without failing the task, whose job is
    still on the board), and the upload can then be made again.  A live
    holder's upload is waited for no longer than two lease timeouts (the
    upload then fails as it always did on a busy image).
    """
    deadline = time.monotonic() + 2 * CONF.lease_timeout
    LOG.info('Import task %s: image %s is still being saved by a stopped '
             'worker; waiting for its upload to be undone', task_id,
             image.image_id)
    while image.status == 'saving' and time.monotonic() < deadline:
        try:
            settled = recovery.settle(image)
        except Exception as exc:  # noqa: BLE001 - looked at again
            # (the database busy, another process mid-recovery...): the
            # next look, or the periodic sweep, undoes it
            LOG.info('Import task %s: undoing the stopped upload of image '
                     '%s failed for now: %s', task_id, image.image_id, exc)
            settled = False
        if not settled:
            time.sleep(1)
        image = repo.get(image.image_id)
    return image


def get_flow(context: Any, task_id: str, task_input: dict,
             image_id: str | None = None) -> linear_flow.Flow:
    """The legacy import flow; building it has no side effects.
    ``image_id``: the id to create the image with, given when a worker
    runs the flow, whose atoms must then be safe to start again (else
    the id ``image_properties`` gives, or a new one)."""
    spec = _Spec(context, task_id)
    return linear_flow.Flow('import').add(
        atoms.BeginTask(spec), _ImportToFS(context, task_id, task_input),
        _CreateImage(context, task_input, image_id),
        _ImportData(context, task_id, task_input,
                    resumable=image_id is not None),
        atoms.FinishTask(spec, requires=['image_id']))


class _Spec:
    """What the task atoms need of a legacy import."""

    def __init__(self, context: Any, task_id: str):
        self.context, self.task_id = context, task_id
        self.image_id = None        # created by the flow


def accept(context: Any, task: Any) -> None:
    """Record the new ``task`` and start it in the background, or post
    it to the jobboard (distributed mode).

    Its lease is taken before the task is recorded, so no task is ever
    pending without an owner; the run releases it (in distributed mode,
    the worker consuming the job).
    """
    lease = leases.acquire(task.task_id, leases.TASK, task_id=task.task_id)
    try:
        gateway.get_internal_task_repo(context).add(task)
    except BaseException:
        leases.release(lease)
        raise
    if not jobs.distributed():
        executor.submit(run, context, task.task_id, lease)
        return
    jobs.submit(job(context, task), lease, leases.TASK_JOB,
                lambda: _unaccept(context, task.task_id))


def job(context: Any, task: Any) -> jobs.Job:
    """The jobboard job of the legacy import ``task``: its flow's inputs
    as plain data, and the image's id fixed now (see ``_CreateImage``)."""
    image_id = task.task_input['image_properties'].get('id') or \
        str(uuid.uuid4())
    return jobs.Job(task_id=task.task_id, flow=jobs.LEGACY_IMPORT,
                    inputs={'context': context.to_dict(),
                            'task_id': task.task_id,
                            'task_input': task.task_input,
                            'image_id': image_id},
                    lease_id=task.task_id)


def _unaccept(context: Any, task_id: str) -> None:
    """Fail a task that could not be posted (the client is answered 503
    and never learns its id, but a task listing shows it)."""
    tasks = gateway.get_internal_task_repo(context)
    task = tasks.get(task_id)
    task.fail('The import could not be queued.')
    tasks.save(task)


def run(context: Any, task_id: str, lease: leases.Lease) -> None:
    """Run a legacy import task under ``lease``; the flow records its
    outcome."""
    try:
        task = gateway.get_internal_task_repo(context).get(task_id)
        engines.run(get_flow(context, task_id, task.task_input),
                    engine=CONF.taskflow_executor.engine_mode)
    except Exception as exc:  # noqa: BLE001 - the task tells the user
        LOG.debug('Import task %s ended: %s', task_id, exc)
    finally:
        leases.release(lease)
