"""The import flow as a conductor runs it: rebuilt from plain data, its
state persisted atom by atom.

A conductor rebuilds an import's flow by calling :func:`import_flow` with
the inputs the API recorded (:func:`glance.async_.jobs.spec_details`).
The flow is the very one the in-process executor runs
(:func:`glance.async_.flows.api_image_import.get_flow`), between an atom
that marks the task ``processing`` (and ``failure`` when the flow
reverts) and one that marks it ``success``.

Persisted flows must pass only plain data between atoms, while the import
tasks hand each other the image they are changing.  Each atom is therefore
wrapped (:class:`_Durable`): the image it receives is loaded afresh and the
changes the atoms before it made are laid on it from their result, and the
image it leaves behind is returned as a plain snapshot of those fields.
So a worker that takes an interrupted import over starts the interrupted
atom again with the image as the last finished atom left it.

Two atoms are made safe to run twice here rather than in the flow module:
``import_to_stores`` first removes what an interrupted write left in its
target stores (never an existing location's data), and recognises an
import a dead worker completed just before it died.
"""
from __future__ import annotations

import logging
from typing import Any

from taskflow import task as tf_task
from taskflow.patterns import linear_flow

from glance.async_.flows import api_image_import as flows
from glance.common import exception
from glance import context as glance_context
from glance import gateway

LOG = logging.getLogger(__name__)

#: image fields the import atoms change in memory before the last one saves
FIELDS = ('disk_format', 'container_format', 'size', 'virtual_size',
          'min_disk', 'min_ram', 'checksum', 'os_hash_algo', 'os_hash_value')
#: the atom writing to the stores (see the module's docstring)
WRITE_ATOM = 'import_to_stores'


def snapshot(image: Any) -> dict:
    """What the atoms may have changed on ``image``, as plain data."""
    out = {f: getattr(image, f) for f in FIELDS}
    out['properties'] = dict(image.extra_properties)
    return out


def rehydrate(spec: flows.ImportSpec, snap: dict | None) -> Any:
    """The image as stored, with the changes of ``snap`` laid on it."""
    image = gateway.get_repo(spec.context).get(spec.image_id)
    if snap:
        for field in FIELDS:
            if getattr(image, field) != snap[field]:
                setattr(image, field, snap[field])
        props = image.extra_properties
        for key, value in snap['properties'].items():
            if props.get(key) != value:
                props[key] = value
    return image


class _Durable(tf_task.Task):
    """One atom of the import flow, taking and giving a snapshot."""

    def __init__(self, inner: tf_task.Task, spec: flows.ImportSpec):
        uses = 'image' in inner.requires
        gives = 'image' in inner.provides
        super().__init__(name=inner.name,
                         provides='image' if uses or gives else None,
                         requires=['image'] if uses else None)
        self.inner, self.spec = inner, spec

    def execute(self, **kwargs):
        spec = self.spec
        args = {}
        if 'image' in kwargs:
            image = args['image'] = rehydrate(spec, kwargs['image'])
            if self.name == WRITE_ATOM:
                if _completed(spec, image):
                    return snapshot(image)
                gateway.get_repo(spec.context).discard_partial(
                    image, spec.stores)
        result = self.inner.execute(**args)
        if 'image' in args:
            return snapshot(args['image'])
        return None if result is None else snapshot(result)

    def revert(self, *args, **kwargs):
        spec = self.spec
        snap = kwargs.get('image')
        if 'image' not in self.requires:
            return self.inner.revert(*args, **kwargs)
        try:
            image = rehydrate(spec, snap if isinstance(snap, dict) else None)
        except exception.NotFound:
            return None
        kwargs['image'] = image
        self.inner.revert(*args, **kwargs)
        if self.name == WRITE_ATOM:
            # an interrupted run's writes are not in inner.kept
            gateway.get_repo(spec.context).discard_partial(image,
                                                           spec.stores)


def _completed(spec: flows.ImportSpec, image: Any) -> bool:
    """Whether a worker that died finished this import before it could
    record so: the lock released and the data in every target store."""
    if image.extra_properties.get(flows.LOCK) == spec.task_id:
        return False
    held = set(image.stores()) if hasattr(image, 'stores') else set()
    wanted = {s for s in spec.stores if s}
    if image.status == 'active' and wanted <= held:
        LOG.info('Image %s: import task %s had completed before its worker '
                 'stopped', spec.image_id, spec.task_id)
        return True
    raise exception.Conflict('Image %s is no longer locked by import task '
                             '%s' % (spec.image_id, spec.task_id))


class _Begin(tf_task.Task):
    """Mark the task ``processing``; ``failure`` should the flow revert."""

    def __init__(self, spec: flows.ImportSpec):
        super().__init__(name='begin_task')
        self.spec = spec

    def execute(self):
        tasks = gateway.get_internal_task_repo(self.spec.context)
        task = tasks.get(self.spec.task_id)
        if task.status == 'pending':
            tasks.run(task)
            task.begin_processing()
            tasks.save(task)

    def revert(self, *args, **kwargs):
        failures = kwargs.get('flow_failures') or {}
        message = '; '.join(
            f.exception_str or f.exception_type_names[0]
            for f in failures.values()) or 'The import failed.'
        tasks = gateway.get_internal_task_repo(self.spec.context)
        task = tasks.get(self.spec.task_id)
        if task.status in ('pending', 'processing'):
            task.fail(message)
            tasks.save(task)
        LOG.warning('Import of image %s (task %s) failed: %s',
                    self.spec.image_id, self.spec.task_id, message)


class _Finish(tf_task.Task):
    """Mark the task ``success``."""

    def __init__(self, spec: flows.ImportSpec):
        super().__init__(name='finish_task')
        self.spec = spec

    def execute(self):
        tasks = gateway.get_internal_task_repo(self.spec.context)
        task = tasks.get(self.spec.task_id)
        if task.status == 'processing':
            task.succeed({'image_id': self.spec.image_id})
            tasks.save(task)
        LOG.info('Import of image %s (task %s) succeeded',
                 self.spec.image_id, self.spec.task_id)


def spec_from_details(spec: dict) -> flows.ImportSpec:
    """The ImportSpec :func:`glance.async_.jobs.spec_details` recorded."""
    values = dict(spec)
    ctx = values.pop('context')
    context = glance_context.RequestContext.from_dict(
        ctx, service_catalog=ctx.get('service_catalog'))
    return flows.ImportSpec(context=context, **values)


def import_flow(spec: dict) -> linear_flow.Flow:
    """The flow factory conductors call (see ``jobs.FLOW_FACTORY``)."""
    import_spec = spec_from_details(spec)
    import_spec.context.update_store()      # log lines carry its ids
    inner = flows.get_flow(import_spec)
    flow = linear_flow.Flow('api_image_import').add(_Begin(import_spec))
    for atom in inner:
        flow.add(_Durable(atom, import_spec))
    return flow.add(_Finish(import_spec))
