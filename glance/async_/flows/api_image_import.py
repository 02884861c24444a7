"""The interoperable import flow (task type ``api_image_import``).

One taskflow flow per import::

    begin_task -> take_image -> stage_<method> -> inspect_staged
      -> [plugins] -> write_to_stores (unordered: one atom per store)
      -> complete_import -> finish_task

``take_image`` checks the lock and moves the image to ``importing``;
``stage_*`` brings the data into staging (glance-direct: already there;
web-download and glance-download: fetched; copy-image: read from a store
the image is in); each ``write_to_store_*`` writes the staged data to its
store (hashed on the way by the location layer); ``complete_import``
records what was written and releases the lock.  The atoms pass each other
only plain data (:mod:`glance.async_.flows.atoms`): the image's pending
changes as ``image``, and each store's result as ``written_<store>``, so
the same flow runs in-process and, persisted, on any ``glance-worker``.

Every atom reverts what it did, so a failed import leaves the image as it
was before (queued, or active for copy-image), no partial data in any
store or in staging, and ``os_glance_failed_import`` naming the stores
that failed.  An atom started again after a crash first removes what its
interrupted run left behind.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from oslo_config import cfg
from taskflow import engines
from taskflow.patterns import linear_flow, unordered_flow

from glance.async_ import (faults, format_check, glance_download, leases,
                           plugins, progress, recovery, staging, web)
from glance.async_.flows import atoms
from glance.common import exception
from glance.context import get_admin_context
from glance.domain import image as domain_image
from glance.domain.transfer import Download, Upload
from glance import gateway

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

LOCK = domain_image.IMPORT_LOCK
IMPORTING = 'os_glance_importing_to_stores'
FAILED = 'os_glance_failed_import'
STAGE_HOST = 'os_glance_stage_host'
#: the result fields of a store write that complete_import records
WRITTEN = ('size', 'checksum', 'os_hash_algo', 'os_hash_value',
           'virtual_size', 'location')


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
    #: the import's lease, taken when it was accepted; released by run()
    lease: leases.Lease | None = None

    @property
    def copying(self) -> bool:
        return self.method == 'copy-image'


def _release(image: Any, failed: list[str]) -> None:
    props = image.extra_properties
    props.pop(LOCK, None)
    props.pop(STAGE_HOST, None)
    props[IMPORTING] = ''
    props[FAILED] = ','.join(failed)


def _write_atom(store: str | None) -> str:
    return 'write_to_store_%s' % (store or 'default')


def _written(store: str | None) -> str:
    return 'written_%s' % (store or '')


class _TakeImage(atoms.Atom):
    """Check the lock is ours and move the image to ``importing``."""

    def __init__(self, spec: ImportSpec):
        super().__init__(spec, 'take_image', provides='image')

    def execute(self) -> atoms.Delta:
        spec = self.spec
        repo = gateway.get_repo(spec.context)
        image = repo.get(spec.image_id)
        if image.extra_properties.get(LOCK) != spec.task_id:
            raise exception.Conflict('Image %s is locked by another import'
                                     % spec.image_id)
        if not spec.copying and image.status != 'importing':
            image.set_status('importing')
            repo.save(image)
        return atoms.delta(image)

    def revert(self, *args: Any, **kwargs: Any) -> None:
        """Put the image back as it was and release the lock, naming the
        stores that failed (all of them when the data never got there)."""
        failures = kwargs.get('flow_failures') or {}
        failed = [s or '' for s in self.spec.stores
                  if _write_atom(s) in failures]
        put_back(self.spec, failed or [s for s in self.spec.stores if s])


def put_back(spec: ImportSpec, failed: list[str]) -> None:
    """The image as before the import, its lock released."""
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
    _release(image, failed)
    try:
        repo.save(image)
    except exception.GlanceException as exc:
        LOG.error('Image %s could not be reverted after a failed import: '
                  '%s', spec.image_id, exc)


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


def _plugins_may_convert(spec: ImportSpec) -> bool:
    """Whether import plugins run on this import (and may change the
    staged data before the store writes read it)."""
    return not spec.copying and bool(
        CONF.image_import_opts.image_import_plugins)


def _check_written(spec: ImportSpec, repo: Any, image: Any,
                   upload: Upload) -> None:
    """Conflict, with the store's copy removed, unless what a store write
    read from staging is what was staged (its size and hash, computed by
    the write, against the stage's record): the staged file is read once
    per store, not once more for the check."""
    record = leases.staged(spec.image_id)
    if record is not None and record['hash_algo'] != upload.os_hash_algo:
        check_staged(spec.image_id, whole=True)   # hashed otherwise
        return
    if record is not None and (upload.size, upload.os_hash_value) == (
            record['size'], record['hash_value']):
        return
    repo.discard_upload(image, Upload(data=(), store=upload.store,
                                      location=upload.location))
    raise exception.Conflict(
        'The staged data of image %s has changed since it was staged '
        '(%s bytes staged, %d read); stage it again.'
        % (spec.image_id, record['size'] if record else 'no', upload.size))


class _Stage(atoms.Atom):
    """Bring the data into staging (glance-direct has it there already)."""

    def __init__(self, spec: ImportSpec):
        super().__init__(spec, 'stage_%s' % spec.method, requires=['image'],
                         provides='image')

    def execute(self, image: atoms.Delta) -> atoms.Delta:
        spec = self.spec
        if spec.method == 'glance-direct':
            # The staged file's hash is compared with its record where the
            # file is read anyway, by the store writes, unless a plugin may
            # change the data first: then it is read once more here.
            check_staged(spec.image_id, whole=_plugins_may_convert(spec))
            return image
        obj = self.image(image)
        size = None
        if spec.method == 'web-download':
            data, size = web.fetch(spec.uri, spec.context)
        elif spec.method == 'glance-download':
            remote, data = glance_download.fetch(spec.context, spec.source)
            obj.extra_properties.update(
                glance_download.copied_properties(remote))
            for key in ('disk_format', 'container_format'):
                if remote.get(key):
                    setattr(obj, key, remote[key])
        else:
            repo = gateway.get_repo(spec.context)
            data, size = repo.read_data(obj, Download()).data, obj.size
        staging.write(spec.image_id, progress.copying(
            leases.beating(data), spec.context, spec.task_id, 'fetch', size),
            CONF.image_size_cap)
        return atoms.delta(obj)

    def revert(self, *args: Any, **kwargs: Any) -> None:
        staging.remove(self.spec.image_id)
        leases.forget_stage(self.spec.image_id)


class _WriteToStore(atoms.Atom):
    """Write the staged data to one store; its result names what was
    written there (or, for a store allowed to fail, why it did not)."""

    def __init__(self, spec: ImportSpec, store: str | None):
        super().__init__(spec, _write_atom(store), requires=['image'],
                         provides=_written(store))
        self.store = store

    def execute(self, image: atoms.Delta) -> dict:
        spec, store = self.spec, self.store
        repo = gateway.get_repo(spec.context)
        obj = self.image(image)
        # whatever an interrupted run of this atom left there
        repo.discard_partial(obj, [store])
        size = staging.size(spec.image_id)
        upload = Upload(data=progress.copying(
                            leases.beating(staging.read(spec.image_id)),
                            spec.context, spec.task_id,
                            'write:%s' % (store or ''), size),
                        expected_size=size, store=store,
                        source_file=staging.path_of(spec.image_id))
        try:
            repo.write_data(obj, upload)
        except Exception as exc:  # noqa: BLE001 - recorded, maybe fatal
            LOG.warning('Import of image %s to store %s failed: %s',
                        spec.image_id, store, exc)
            if spec.all_stores_must_succeed:
                raise
            return {'store': store, 'error': str(exc)}
        if spec.method == 'glance-direct' and not _plugins_may_convert(spec):
            _check_written(spec, repo, obj, upload)
        written = {f: getattr(upload, f) for f in WRITTEN}
        return dict(written, store=store)

    def revert(self, *args: Any, **kwargs: Any) -> None:
        """Remove this store's copy: the one written, or what a failed or
        interrupted write left (never data of the image's own
        locations)."""
        spec, result = self.spec, kwargs.get('result')
        repo = gateway.get_repo(spec.context)
        try:
            obj = self.image(kwargs.get('image'))
        except exception.NotFound:
            return
        if isinstance(result, dict) and result.get('location'):
            repo.discard_upload(obj, Upload(data=(), store=self.store,
                                            location=result['location']))
        else:
            repo.discard_partial(obj, [self.store])


class _Complete(atoms.Atom):
    """Record the stores' copies on the image, release the lock and
    remove the staged data."""

    def __init__(self, spec: ImportSpec):
        super().__init__(spec, 'complete_import',
                         requires=['image'] + [_written(s)
                                               for s in spec.stores])

    def execute(self, image: atoms.Delta, **written: dict) -> None:
        spec = self.spec
        obj = self.image(image)
        if not _completed(spec, obj):
            self._record(obj, written)
        staging.remove(spec.image_id)
        leases.forget_stage(spec.image_id)

    def _record(self, obj: Any, written: dict) -> None:
        spec = self.spec
        repo = gateway.get_repo(spec.context)
        results = [written[_written(s)] for s in spec.stores]
        kept = [r for r in results if r.get('location')]
        failed = [r['store'] or '' for r in results if 'error' in r]
        if not kept:
            raise exception.ServiceUnavailable(
                'Image %s could not be imported to any store'
                % spec.image_id)
        uploads = [Upload(data=(), store=r['store'],
                          **{f: r[f] for f in WRITTEN}) for r in kept]
        if not spec.copying:
            repo.finish_upload(obj, uploads.pop(0))
        obj.locations = obj.locations + [u.location for u in uploads]
        _release(obj, failed)
        repo.save(obj)
        faults.point('atom:complete_import:saved')  # (the crash tests')


def _completed(spec: ImportSpec, image: Any) -> bool:
    """Whether this atom already ran to the end (a worker that died just
    after it saved the image): the lock released and the data in every
    target store.  Another holder of the lock is a conflict."""
    if image.extra_properties.get(LOCK) == spec.task_id:
        return False
    wanted = {s for s in spec.stores if s}
    if image.status == 'active' and wanted <= set(image.stores):
        LOG.info('Image %s: import task %s had completed before its worker '
                 'stopped', spec.image_id, spec.task_id)
        return True
    raise exception.Conflict('Image %s is no longer locked by import task '
                             '%s' % (spec.image_id, spec.task_id))


def get_flow(spec: ImportSpec) -> linear_flow.Flow:
    """The flow for ``spec``; building it has no side effects."""
    flow = linear_flow.Flow('api_image_import').add(
        atoms.BeginTask(spec), _TakeImage(spec), _Stage(spec),
        atoms.OnImage(format_check.InspectStaged(spec), spec))
    if not spec.copying:
        # Plugins change the data or the image; a copy must stay the same.
        flow.add(*(atoms.OnImage(t, spec) for t in plugins.get_tasks(spec)))
    writes = unordered_flow.Flow('write_to_stores').add(
        *(_WriteToStore(spec, s) for s in spec.stores))
    return flow.add(writes, _Complete(spec), atoms.FinishTask(spec))


def run(spec: ImportSpec) -> None:
    """Run the import in this process; the flow records its outcome on
    the task.

    A failed import whose revert could not put the image back (the
    database away: the image still locked by the task, or not readable)
    keeps its lease, and this process's sweep undoes it once the database
    answers (``recovery.undo_later``)."""
    try:
        engines.run(get_flow(spec), engine=CONF.taskflow_executor.engine_mode)
    except Exception as exc:  # noqa: BLE001 - the task tells the user
        LOG.debug('Import of image %s (task %s) ended: %s', spec.image_id,
                  spec.task_id, exc)
        if spec.lease is not None and _left_locked(spec):
            recovery.undo_later(spec.lease)
            spec.lease = None       # kept until the sweep has undone it
    finally:
        if spec.lease is not None:
            leases.release(spec.lease)


def _left_locked(spec: ImportSpec) -> bool:
    """Whether the image is still locked by the failed import's task (or
    cannot be read to tell)."""
    try:
        image = gateway.get_repo(get_admin_context()).get(spec.image_id)
    except exception.NotFound:
        return False
    except Exception:  # noqa: BLE001 - e.g. the database is still away
        return True
    return image.extra_properties.get(LOCK) == spec.task_id


def undo_acceptance(spec: ImportSpec, message: str) -> None:
    """Put back an accepted import that will never run (it could not be
    handed to a worker): the image as before, the task failed."""
    put_back(spec, [s for s in spec.stores if s])
    tasks = gateway.get_internal_task_repo(spec.context)
    task = tasks.get(spec.task_id)
    task.fail(message)
    tasks.save(task)
