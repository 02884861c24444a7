"""What every import flow's atoms share: the image they pass each other
as plain data, and the atoms that open and close the task.

An import's atoms change one image step by step (its status, the formats
a plugin converts to, properties glance-download copies), but the image
is never passed between them as an object: each atom that ``requires``
the ``image`` receives the *changes* the atoms before it made (``Delta``,
plain JSON data), applies them to the image as stored now, and
``provides`` the changes it leaves behind.  So:

* the flow's state can be persisted (distributed mode): a worker that
  takes an interrupted import over starts the interrupted atom again with
  the image as the last finished atom left it;
* a user's change made meanwhile (a PATCH during a long fetch) is not
  overwritten: only what the atoms changed is laid on the image.
"""
from __future__ import annotations

import logging
from typing import Any

from taskflow import task as tf_task

from glance.common import exception
from glance import gateway

LOG = logging.getLogger(__name__)

#: the image fields import atoms may change in memory (not yet saved)
FIELDS = ('disk_format', 'container_format', 'size', 'virtual_size',
          'min_disk', 'min_ram', 'checksum', 'os_hash_algo', 'os_hash_value')

#: {'core': {field: value}, 'set': {prop: value}, 'removed': [prop]}
Delta = dict


def delta(image: Any) -> Delta:
    """What ``image`` holds that is not stored, as plain data."""
    changes = image.changes()
    return {'core': {f: v for f, v in changes.core.items() if f in FIELDS},
            'set': dict(changes.set_properties),
            'removed': sorted(changes.removed_properties)}


def load(context: Any, image_id: str, changes: Delta | None = None) -> Any:
    """The image as stored, with ``changes`` laid on it."""
    image = gateway.get_repo(context).get(image_id)
    if changes:
        for field, value in changes['core'].items():
            setattr(image, field, value)
        image.extra_properties.update(changes['set'])
        for key in changes['removed']:
            image.extra_properties.pop(key, None)
    return image


class Atom(tf_task.Task):
    """An atom of one import: built from the import's fixed inputs
    (``spec``: context, task and image ids, method, stores)."""

    def __init__(self, spec: Any, name: str, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.spec = spec

    def image(self, changes: Delta | None) -> Any:
        return load(self.spec.context, self.spec.image_id, changes)


class OnImage(Atom):
    """Runs a task written against the image *object* (the format check
    and the import plugins: ``execute(image)`` changing it in place) on
    the plain-data image the flow passes."""

    def __init__(self, inner: tf_task.Task, spec: Any):
        super().__init__(spec, inner.name, requires=['image'],
                         provides='image')
        self.inner = inner

    def execute(self, image: Delta) -> Delta:
        obj = self.image(image)
        self.inner.execute(image=obj)
        return delta(obj)

    def revert(self, *args: Any, **kwargs: Any) -> None:
        if type(self.inner).revert is tf_task.Task.revert:
            return
        try:
            kwargs['image'] = self.image(kwargs.get('image'))
        except exception.NotFound:
            return
        kwargs.pop('result', None)
        self.inner.revert(*args, **kwargs)


def failure_message(flow_failures: dict | None) -> str:
    """What failed, from a revert's ``flow_failures``."""
    return '; '.join(f.exception_str or f.exception_type_names[0]
                     for f in (flow_failures or {}).values()) or \
        'The import failed.'


class BeginTask(Atom):
    """Mark the task ``processing``; ``failure`` should the flow revert."""

    def __init__(self, spec: Any):
        super().__init__(spec, 'begin_task')

    def execute(self) -> None:
        tasks = gateway.get_internal_task_repo(self.spec.context)
        task = tasks.get(self.spec.task_id)
        if task.status == 'pending':
            tasks.run(task)
            task.begin_processing()
            tasks.save(task)

    def revert(self, *args: Any, **kwargs: Any) -> None:
        message = failure_message(kwargs.get('flow_failures'))
        tasks = gateway.get_internal_task_repo(self.spec.context)
        task = tasks.get(self.spec.task_id)
        if task.status in ('pending', 'processing'):
            task.fail(message)
            tasks.save(task)
        LOG.warning('Import task %s (image %s) failed: %s',
                    self.spec.task_id, self.spec.image_id, message)


class FinishTask(Atom):
    """Mark the task ``success``, with the image it filled."""

    def __init__(self, spec: Any, requires: list[str] | None = None):
        super().__init__(spec, 'finish_task', requires=requires)

    def execute(self, **kwargs: Any) -> None:
        image_id = self.spec.image_id or kwargs.get('image_id')
        tasks = gateway.get_internal_task_repo(self.spec.context)
        task = tasks.get(self.spec.task_id)   # with its progress message
        if task.status == 'processing':
            task.image_id = task.image_id or image_id
            task.succeed({'image_id': image_id})
            tasks.save(task)
        LOG.info('Import task %s (image %s) succeeded', self.spec.task_id,
                 image_id)
