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
"""
from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from oslo_config import cfg

from taskflow import engines
from taskflow import task as tf_task
from taskflow.patterns import linear_flow

from glance.async_ import executor, leases, progress, web
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
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                return
            yield chunk


class _ImportToFS(tf_task.Task):
    """Download the source into the work dir."""

    default_provides = 'local_path'

    def __init__(self, context: Any, task_id: str, task_input: dict):
        super().__init__(name='import_to_fs')
        self.context, self.task_id = context, task_id
        self.task_input = task_input

    def execute(self):
        work_dir = CONF.task.work_dir
        if not work_dir:
            raise exception.BadRequest(
                'Task %s of type import is not configured properly: '
                'missing [task] work_dir.' % self.task_id)
        os.makedirs(work_dir, exist_ok=True)
        path = work_path(self.task_id)
        _download(self.task_input['import_from'], path, self.context,
                  self.task_id)
        return path

    def revert(self, *args, **kwargs):
        _remove(work_path(self.task_id))


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

    def __init__(self, context: Any, task_input: dict):
        super().__init__(name='create_image')
        self.context, self.task_input = context, task_input

    def execute(self):
        props = dict(self.task_input['image_properties'])
        props.setdefault('disk_format',
                         self.task_input['import_from_format'])
        image = domain_image.new_image(props, self.context.owner)
        return gateway.get_repo(self.context).add(image).image_id


class _ImportData(tf_task.Task):
    def __init__(self, context: Any, task_id: str, task_input: dict):
        super().__init__(name='import_data')
        self.context, self.task_input = context, task_input
        self.task_id = task_id

    def execute(self, image_id, local_path):
        repo = gateway.get_repo(self.context)
        image = repo.get(image_id)
        upload = Upload(data=_read(local_path),
                        expected_size=os.path.getsize(local_path))
        try:
            # Should this process die, the upload is undone and the task
            # failed by whichever process notices (glance.async_.recovery).
            upload_service.upload(repo, image, upload, task_id=self.task_id)
        finally:
            _remove(local_path)


def get_flow(context: Any, task_id: str, task_input: dict
             ) -> linear_flow.Flow:
    """The legacy import flow; building it has no side effects."""
    spec = _Spec(context, task_id)
    return linear_flow.Flow('import').add(
        atoms.BeginTask(spec), _ImportToFS(context, task_id, task_input),
        _CreateImage(context, task_input),
        _ImportData(context, task_id, task_input),
        atoms.FinishTask(spec, requires=['image_id']))


class _Spec:
    """What the task atoms need of a legacy import."""

    def __init__(self, context: Any, task_id: str):
        self.context, self.task_id = context, task_id
        self.image_id = None        # created by the flow


def accept(context: Any, task: Any) -> None:
    """Record the new ``task`` and start it in the background.

    Its lease is taken before the task is recorded, so no task is ever
    pending without an owner; the run releases it.
    """
    lease = leases.acquire(task.task_id, leases.TASK, task_id=task.task_id)
    try:
        gateway.get_internal_task_repo(context).add(task)
    except BaseException:
        leases.release(lease)
        raise
    executor.submit(run, context, task.task_id, lease)


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
