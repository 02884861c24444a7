"""Notifier layer: tell the world, through oslo.messaging.

Notifications are best effort: a broker that is down is logged and never
fails or delays the API call.  Which event each call sends is one table.
"""
from __future__ import annotations

import logging
import socket
from typing import Iterator

from oslo_config import cfg
import oslo_messaging

from glance.common import timeutils
from glance.domain import image_fields
from glance.domain.image import Image, utcnow
from glance.domain.metadef import Item, Kind
from glance.domain.proxy import Proxy
from glance.domain.transfer import Download, Upload

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

notifier_opts = [
    cfg.ListOpt('disabled_notifications', default=[],
                help='Events not to send: names ("image.create") or '
                     'prefixes ("image.member").'),
]
CONF.register_opts(notifier_opts)

_NOTIFIER = None


def image_payload(image: Image) -> dict:
    """The image as notifications describe it."""
    return {
        **image_fields.column_values(image),
        'is_public': image.visibility == 'public',
        'properties': dict(image.extra_properties),
        'tags': sorted(image.tags),
        'deleted': image.status == 'deleted',
        'deleted_at': timeutils.isotime(utcnow()) if image.status == 'deleted'
        else None,
    }


def send_retry() -> int:
    """Connection retries for one notification (0: try once).

    oslo.messaging's default, -1, retries for ever: with the broker down
    every API call that sends an event would hang.  Glance answers the
    caller first, so an unbounded setting is read as "try once"; an
    operator who wants retries sets a positive count and accepts that a
    dead broker delays calls by that many retry intervals.
    """
    try:
        configured = CONF.oslo_messaging_notifications.retry
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        # oslo.messaging registers its options when the transport is built
        configured = -1
    return configured if configured >= 0 else 0


def get_notifier() -> oslo_messaging.Notifier:
    """The process's notifier, built on first use (after any fork)."""
    global _NOTIFIER
    if _NOTIFIER is None:
        transport = oslo_messaging.get_notification_transport(CONF)
        _NOTIFIER = oslo_messaging.Notifier(
            transport, publisher_id='image.%s' % socket.gethostname(),
            retry=send_retry())
    return _NOTIFIER


def reset() -> None:
    """Forget the notifier so the next event rebuilds it from CONF."""
    global _NOTIFIER
    _NOTIFIER = None


def _enabled(event: str) -> bool:
    for item in CONF.disabled_notifications:
        if event == item or event.startswith(item + '.'):
            return False
    return True


def send(context, event: str, payload: dict, priority: str = 'info') -> None:
    """Emit one notification; failures are logged, never raised.

    The context goes as the object: oslo.messaging sends its redacted copy
    (no token) and drops a plain dict altogether.
    """
    if not _enabled(event):
        return
    try:
        getattr(get_notifier(), priority)(context, event, payload)
    except Exception as exc:  # noqa: BLE001 - notifications are best effort
        LOG.warning('Could not send notification %s: %s', event, exc)


class ImageRepo(Proxy):
    """Sends the image.* events after the layer below has done the work."""

    def add(self, image: Image) -> Image:
        image = self.base.add(image)
        send(self.context, 'image.create', image_payload(image))
        return image

    def save(self, image: Image, from_state: str | None = None) -> Image:
        image = self.base.save(image, from_state)
        send(self.context, 'image.update', image_payload(image))
        return image

    def remove(self, image: Image) -> Image:
        image = self.base.remove(image)
        send(self.context, 'image.delete', image_payload(image))
        return image

    # Location changes are image updates to whoever listens.
    def set_locations(self, image: Image, locations: list[dict]) -> Image:
        return self._updated(self.base.set_locations(image, locations))

    def add_location(self, image: Image, url: str,
                     validation_data: dict | None) -> Image:
        return self._updated(self.base.add_location(image, url,
                                                    validation_data))

    def verify_location(self, image: Image) -> Image:
        return self._updated(self.base.verify_location(image))

    def delete_from_store(self, image: Image, store_id: str) -> Image:
        return self._updated(self.base.delete_from_store(image, store_id))

    def _updated(self, image: Image) -> Image:
        send(self.context, 'image.update', image_payload(image))
        return image

    def begin_upload(self, image: Image) -> Image:
        image = self.base.begin_upload(image)
        send(self.context, 'image.prepare', image_payload(image))
        return image

    def finish_upload(self, image: Image, upload: Upload) -> Image:
        image = self.base.finish_upload(image, upload)
        payload = image_payload(image)
        send(self.context, 'image.upload', payload)
        send(self.context, 'image.activate', payload)
        return image

    def abort_upload(self, image: Image, upload: Upload | None,
                     error: BaseException) -> Image:
        image = self.base.abort_upload(image, upload, error)
        send(self.context, 'image.upload',
             'Image %s upload failed: %s' % (image.image_id, error), 'error')
        return image

    def read_data(self, image: Image, download: Download) -> Download:
        download = self.base.read_data(image, download)
        if download.data is not None:
            download.data = self._counting(image, download, download.data)
        return download

    def _counting(self, image: Image, download: Download,
                  data: Iterator[bytes]) -> Iterator[bytes]:
        sent = 0
        try:
            for chunk in data:
                sent += len(chunk)
                yield chunk
        finally:
            payload = {
                'image_id': image.image_id, 'owner_id': image.owner,
                'receiver_tenant_id': download.receiver_project,
                'receiver_user_id': download.receiver_user,
                'destination_ip': download.destination_ip, 'bytes_sent': sent,
            }
            event_ok = sent == (download.size or 0)
            send(self.context, 'image.send', payload,
                 'info' if event_ok else 'error')

    def deactivate(self, image: Image) -> Image:
        return self._status_change(self.base.deactivate, image)

    def reactivate(self, image: Image) -> Image:
        return self._status_change(self.base.reactivate, image)

    def _status_change(self, call, image: Image) -> Image:
        """image.update when the status moved; a no-op is not news."""
        before = image.status
        image = call(image)
        if image.status != before:
            send(self.context, 'image.update', image_payload(image))
        return image


def task_payload(task) -> dict:
    """A task as notifications describe it."""
    return {
        'id': task.task_id, 'type': task.type, 'status': task.status,
        'owner': task.owner, 'input': task.task_input,
        'result': task.result, 'message': task.message,
        'image_id': task.image_id, 'request_id': task.request_id,
        'user_id': task.user_id,
        'expires_at': timeutils.isotime(task.expires_at),
        'created_at': timeutils.isotime(task.created_at),
        'updated_at': timeutils.isotime(task.updated_at),
        'deleted': task.deleted,
        'deleted_at': timeutils.isotime(task.deleted_at),
    }


#: task status reached by a save -> the event that announces it
TASK_EVENTS = {'processing': 'task.processing', 'success': 'task.success',
               'failure': 'task.failure'}


class TaskRepo(Proxy):
    """Sends the task.* events: create, run, then one per new status."""

    def add(self, task):
        task = self.base.add(task)
        send(self.context, 'task.create', task_payload(task))
        return task

    def save(self, task):
        before = self.base.get(task.task_id).status
        task = self.base.save(task)
        if task.status != before and task.status in TASK_EVENTS:
            send(self.context, TASK_EVENTS[task.status],
                 task_payload(task),
                 'error' if task.status == 'failure' else 'info')
        return task

    def record_progress(self, task_id: str, result: dict,
                        message: str | None = None) -> bool:
        """Record the progress and announce it as ``task.progress``."""
        recorded = self.base.record_progress(task_id, result, message)
        if recorded:
            send(self.context, 'task.progress',
                 task_payload(self.base.get(task_id)))
        return recorded

    def run(self, task) -> None:
        """The executor is about to run ``task``."""
        send(self.context, 'task.run', task_payload(task))


def member_payload(member, deleted: bool = False) -> dict:
    """A membership as the image.member.* events describe it."""
    return {'image_id': member.image_id, 'member_id': member.member_id,
            'status': member.status,
            'created_at': timeutils.isotime(member.created_at),
            'updated_at': timeutils.isotime(member.updated_at),
            'deleted': deleted,
            'deleted_at': timeutils.isotime(utcnow()) if deleted else None}


class MemberRepo(Proxy):
    """Sends image.member.create / update / delete."""

    def add(self, member):
        member = self.base.add(member)
        send(self.context, 'image.member.create', member_payload(member))
        return member

    def save(self, member):
        member = self.base.save(member)
        send(self.context, 'image.member.update', member_payload(member))
        return member

    def remove(self, member):
        member = self.base.remove(member)
        send(self.context, 'image.member.delete',
             member_payload(member, deleted=True))
        return member


def item_payload(item: Item, deleted: bool = False) -> dict:
    """A namespace or one of its entries as the metadef_<kind>.* events
    describe it: its values, its name (and the namespace it is in), the
    name it was loaded with (kinds that can be renamed) and its timestamps
    (kinds that show them)."""
    kind = item.kind
    values = item.values if kind.fields is None else {
        f: item.values.get(f) for f in kind.fields}
    payload = {**values, kind.name_key: item.name}
    if item.namespace is not None:
        payload['namespace'] = item.namespace
    if kind.renamable:
        payload[kind.name_key + '_old'] = item.loaded_name
    if kind.timestamps:
        payload['created_at'] = timeutils.isotime(item.created_at)
        payload['updated_at'] = timeutils.isotime(item.updated_at)
    return {**payload, 'deleted': deleted,
            'deleted_at': timeutils.isotime(utcnow()) if deleted else None}


class MetadefRepo(Proxy):
    """Sends the event the kind names for each change (metadef_object.create,
    metadef_namespace.delete_tags...) once the rows are stored."""

    def _sent(self, kind: Kind, operation: str, item: Item, **extra
              ) -> Item:
        """``item`` after sending ``operation``'s event of ``kind``."""
        payload = item_payload(item, deleted=operation == 'remove')
        send(self.context, kind.event(operation), {**payload, **extra})
        return item

    def add_item(self, ns: Item | None, item: Item) -> Item:
        return self._sent(item.kind, 'add', self.base.add_item(ns, item))

    def add_items(self, kind: Kind, ns: Item, items: list[Item],
                  append: bool = True) -> list[Item]:
        return [self._sent(kind, 'add', item) for item in
                self.base.add_items(kind, ns, items, append)]

    def save_item(self, ns: Item | None, item: Item) -> Item:
        # the payload's <name>_old is the name before this save
        old = {item.kind.name_key + '_old': item.loaded_name}
        return self._sent(item.kind, 'save', self.base.save_item(ns, item),
                          **old)

    def remove_item(self, ns: Item | None, item: Item) -> Item:
        return self._sent(item.kind, 'remove',
                          self.base.remove_item(ns, item))

    def remove_all(self, kind: Kind, ns: Item) -> Item:
        return self._sent(kind, 'remove_all', self.base.remove_all(kind, ns))
