"""The interoperable import flow (task type ``api_image_import``).

One linear taskflow flow per import: take the image (check the lock, move
it to ``importing``), bring the data into staging (glance-direct: already
there; web-download: fetched; copy-image: read from a store it is in),
write it to every target store (hashed on the way by the location layer),
then complete.  Each task reverts what it did, so a failed import leaves
the image as it was before (queued, or active for copy-image), no partial
data in any store or in staging, and ``os_glance_failed_import`` naming
the stores that failed.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from oslo_config import cfg
from taskflow import engines
from taskflow import task as tf_task
from taskflow.patterns import linear_flow

from glance.async_ import (format_check, glance_download, leases, plugins,
                           progress, staging, web)
from glance.common import exception
from glance.domain import image as domain_image
from glance.domain.transfer import Download, Upload
from glance import gateway

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

LOCK = domain_image.IMPORT_LOCK
IMPORTING = 'os_glance_importing_to_stores'
FAILED = 'os_glance_failed_import'
STAGE_HOST = 'os_glance_stage_host'


@dataclasses.dataclass
class ImportSpec:
    """Everything a flow needs, fixed when the import is accepted."""

    context: Any
    task_id: str
    image_id: str
    method: str
    stores: list[str | None]
    uri: str | None = None
    #: the import request's method object (glance-download's source)
    source: dict = dataclasses.field(default_factory=dict)
    all_stores_must_succeed: bool = True
    #: filled while running: stores that failed, uploads kept
    failed: list[str] = dataclasses.field(default_factory=list)
    #: the import's lease, taken when it was accepted; released by run()
    lease: leases.Lease | None = None
    #: tells the task how far each data copy has got (set by run())
    progress: progress.Progress = dataclasses.field(
        default_factory=progress.Progress)

    @property
    def copying(self) -> bool:
        return self.method == 'copy-image'


def _store_names(stores: list[str | None]) -> str:
    return ','.join(s for s in stores if s)


class _TakeImage(tf_task.Task):
    """Check the lock is ours and move the image to ``importing``."""

    default_provides = 'image'

    def __init__(self, spec: ImportSpec):
        super().__init__(name='take_image')
        self.spec = spec

    def execute(self):
        repo = gateway.get_repo(self.spec.context)
        image = repo.get(self.spec.image_id)
        if image.extra_properties.get(LOCK) != self.spec.task_id:
            raise exception.Conflict('Image %s is locked by another import'
                                     % self.spec.image_id)
        if not self.spec.copying:
            image.set_status('importing')
            repo.save(image)
        return image

    def revert(self, *args, **kwargs):
        """Put the image back as it was and release the lock."""
        spec = self.spec
        repo = gateway.get_repo(spec.context)
        try:
            image = repo.get(spec.image_id)
        except exception.NotFound:
            return
        if image.extra_properties.get(LOCK) not in (None, spec.task_id):
            return
        if not spec.copying and image.status in ('importing', 'uploading'):
            image.set_status('queued')
            image.size = image.virtual_size = image.checksum = None
            image.os_hash_algo = image.os_hash_value = None
        failed = spec.failed or [s for s in spec.stores if s]
        _release(image, failed)
        try:
            repo.save(image)
        except exception.GlanceException as exc:
            LOG.error('Image %s could not be reverted after a failed '
                      'import: %s', spec.image_id, exc)


def _release(image, failed: list[str]) -> None:
    props = image.extra_properties
    props.pop(LOCK, None)
    props.pop(STAGE_HOST, None)
    props[IMPORTING] = ''
    props[FAILED] = ','.join(failed)


def check_staged(image_id: str, whole: bool = False) -> None:
    """409 unless the staged data of ``image_id`` is what was staged.

    The stage must have completed (recorded with its size and hash when
    the last byte arrived) and the file must still have that size; with
    ``whole`` its hash is checked too (a full read, done by the flow, not
    while the client waits).
    """
    record = leases.staged(image_id)
    if record is None or not staging.exists(image_id):
        raise exception.Conflict(
            'The stage of image %s did not complete (or its data is gone); '
            'stage the data again before importing it.' % image_id)
    size, value = staging.digest(
        image_id, record['hash_algo'], leases.beating) if whole \
        else (staging.size(image_id), record['hash_value'])
    if (size, value) != (record['size'], record['hash_value']):
        raise exception.Conflict(
            'The staged data of image %s has changed since it was staged '
            '(%d bytes staged, %d found); stage it again.'
            % (image_id, record['size'], size))


class _Stage(tf_task.Task):
    """Bring the data into staging (glance-direct has it there already)."""

    def __init__(self, spec: ImportSpec):
        super().__init__(name='stage_%s' % spec.method)
        self.spec = spec

    def execute(self, image):
        spec = self.spec
        if spec.method == 'glance-direct':
            check_staged(spec.image_id, whole=True)
            return
        size = None
        if spec.method == 'web-download':
            data, size = web.fetch(spec.uri, spec.context)
        elif spec.method == 'glance-download':
            remote, data = glance_download.fetch(spec.context, spec.source)
            image.extra_properties.update(
                glance_download.copied_properties(remote))
            for key in ('disk_format', 'container_format'):
                if remote.get(key):
                    setattr(image, key, remote[key])
        else:
            repo = gateway.get_repo(spec.context)
            data, size = repo.read_data(image, Download()).data, image.size
        staging.write(spec.image_id, spec.progress.counting(progress.counting(
            leases.beating(data), spec, 'fetch', size)), CONF.image_size_cap)

    def revert(self, *args, **kwargs):
        staging.remove(self.spec.image_id)
        leases.forget_stage(self.spec.image_id)


class _ImportToStores(tf_task.Task):
    """Write the staged data to each target store, then complete."""

    def __init__(self, spec: ImportSpec):
        super().__init__(name='import_to_stores')
        self.spec = spec
        self.kept: list[Upload] = []

    def execute(self, image):
        spec = self.spec
        repo = gateway.get_repo(spec.context)
        size = staging.size(spec.image_id)
        for store in spec.stores:
            upload = Upload(data=spec.progress.counting(progress.counting(
                                leases.beating(staging.read(spec.image_id)),
                                spec, 'write:%s' % (store or ''), size)),
                            expected_size=size, store=store)
            try:
                self.kept.append(repo.write_data(image, upload))
            except Exception as exc:  # noqa: BLE001 - recorded, maybe fatal
                LOG.warning('Import of image %s to store %s failed: %s',
                            spec.image_id, store, exc)
                spec.failed.append(store or '')
                if spec.all_stores_must_succeed:
                    raise
        if not self.kept:
            raise exception.ServiceUnavailable(
                'Image %s could not be imported to any store'
                % spec.image_id)
        uploads = list(self.kept)
        if not spec.copying:
            repo.finish_upload(image, uploads.pop(0))
        image.locations = image.locations + [u.location for u in uploads]
        _release(image, spec.failed)
        repo.save(image)
        staging.remove(spec.image_id)
        leases.forget_stage(spec.image_id)

    def revert(self, image, *args, **kwargs):
        repo = gateway.get_repo(self.spec.context)
        for upload in self.kept:
            repo.discard_upload(image, upload)
        self.kept = []


def get_flow(spec: ImportSpec) -> linear_flow.Flow:
    """The flow for ``spec``; building it has no side effects."""
    flow = linear_flow.Flow('api_image_import').add(
        _TakeImage(spec), _Stage(spec), format_check.InspectStaged(spec))
    if not spec.copying:
        # Plugins change the data or the image; a copy must stay the same.
        flow.add(*plugins.get_tasks(spec))
    return flow.add(_ImportToStores(spec))


def run(spec: ImportSpec) -> None:
    """Run the import and record its outcome on the task."""
    try:
        _run(spec)
    finally:
        if spec.lease is not None:
            leases.release(spec.lease)


def _run(spec: ImportSpec) -> None:
    tasks = gateway.get_internal_task_repo(spec.context)
    task = tasks.get(spec.task_id)
    tasks.run(task)
    task.begin_processing()
    tasks.save(task)

    def tell(message: str) -> None:
        task.message = message
        tasks.save(task)
    spec.progress = progress.Progress(tell)
    try:
        engines.run(get_flow(spec),
                    engine=CONF.taskflow_executor.engine_mode)
    except Exception as exc:  # noqa: BLE001 - the task tells the user
        LOG.warning('Import of image %s (task %s) failed: %s',
                    spec.image_id, spec.task_id, exc)
        task.fail(str(exc) or exc.__class__.__name__)
    else:
        LOG.info('Import of image %s (task %s) succeeded', spec.image_id,
                 spec.task_id)
        task.succeed({'image_id': spec.image_id})
    tasks.save(task)


def undo_acceptance(spec: ImportSpec, message: str) -> None:
    """Put back an accepted import that will never run (it could not be
    handed to a worker): the image as before, the task failed."""
    _TakeImage(spec).revert()
    tasks = gateway.get_internal_task_repo(spec.context)
    task = tasks.get(spec.task_id)
    task.fail(message)
    tasks.save(task)
