"""Policy layer: may this caller do this to this image?

Rules are oslo.policy defaults from ``glance.policies`` (upstream names).
An image the caller may not read is reported as not found, as the Images
API reference requires, so its existence does not leak.
"""
from __future__ import annotations

from glance.common import exception
from glance.common import policy
from glance.domain.listing import ListQuery
from glance.domain.image import Image
from glance.domain.metadef import NAMESPACES, Item, Kind, NamespaceQuery
from glance.domain.proxy import Proxy
from glance.domain.transfer import Download
from glance.layers import location_stores


def image_target(context, image: Image, current: bool = False) -> dict:
    """The policy target of an image: its owner, visibility, our membership.

    Unless ``current``, owner and visibility are those the image was loaded
    with, so a caller cannot pass a check by proposing a new owner.
    """
    owner = image.owner if current or image.loaded_status is None \
        else image.loaded_owner
    visibility = image.visibility if current or image.loaded_status is None \
        else image.loaded_visibility
    member = context.project_id if image.member_status is not None else None
    return {'project_id': owner, 'owner': owner, 'member_id': member,
            'visibility': visibility, 'image_id': image.image_id}


class ImageRepo(Proxy):
    """Checks the rule of each image call before passing it down."""

    #: writes with no rule of their own, and why
    PASSES = {
        'write_data': 'the bytes of an upload begin_upload authorised',
        'finish_upload': 'the end of an upload begin_upload authorised',
        'abort_upload': 'undoes an upload begin_upload authorised',
        'discard_upload': 'removes data an authorised import wrote',
        'verify_location': 'hashes the location add_location authorised',
        'discard_partial': 'crash recovery by the service itself, of a '
                           'write its dead owner was authorised to make',
    }

    def _enforce(self, rule: str, target: dict, not_found: str | None = None):
        if not policy.check(self.context, rule, target):
            if not_found:
                raise exception.ImageNotFound(image_id=not_found)
            raise exception.Forbidden(
                'You are not authorized to complete %s action.' % rule)

    def _check_visibility(self, image: Image) -> None:
        """The rule of every visibility asked for, not only the final one:
        each operation of a PATCH is judged, as in the reference."""
        wanted = set(image.requested_visibilities)
        if image.visibility != image.loaded_visibility:
            wanted.add(image.visibility)
        target = image_target(self.context, image, current=True)
        for visibility, rule in (('public', 'publicize_image'),
                                 ('community', 'communitize_image')):
            if visibility in wanted:
                self._enforce(rule, target)

    def get(self, image_id: str) -> Image:
        image = self.base.get(image_id)
        self._enforce('get_image', image_target(self.context, image),
                      not_found=image_id)
        return image

    def list(self, query: ListQuery) -> list[Image]:
        self._enforce('get_images', {'project_id': self.context.project_id})
        return self.base.list(query)

    def add(self, image: Image) -> Image:
        target = image_target(self.context, image, current=True)
        self._enforce('add_image', target)
        self._check_visibility(image)
        return self.base.add(image)

    def _check_save(self, image: Image) -> None:
        self._enforce('modify_image', image_target(self.context, image))
        if image.owner != image.loaded_owner:
            # Giving an image away needs the right to own it there too.
            self._enforce('add_image',
                          image_target(self.context, image, current=True))
        self._check_visibility(image)

    def save(self, image: Image, from_state: str | None = None) -> Image:
        self._check_save(image)
        return self.base.save(image, from_state)

    def set_locations(self, image: Image, locations: list[dict]) -> Image:
        """A PATCH of /locations: the image's own rules, then adding takes
        ``set_image_location`` and removing ``delete_image_location``."""
        self._check_save(image)
        target = image_target(self.context, image)
        old = {loc['url'] for loc in image.locations}
        new = {loc['url'] for loc in locations}
        if new - old:
            self._enforce('set_image_location', target)
        if old - new:
            self._enforce('delete_image_location', target)
        return self.base.set_locations(image, locations)

    def add_location(self, image: Image, url: str,
                     validation_data: dict | None) -> Image:
        """``add_image_location``; a caller that is not a service (the
        default rule lets the owner's members in) may only point the image
        at data behind an http store."""
        target = image_target(self.context, image)
        self._enforce('add_image_location', target)
        if not policy.check(self.context, 'service_api', target):
            location_stores.check_end_user_location(url)
        return self.base.add_location(image, url, validation_data)

    def check_fetch_locations(self, image: Image) -> None:
        """Raise 403 unless the caller may list the image's locations."""
        self._enforce('fetch_image_location',
                      image_target(self.context, image))
        self.base.check_fetch_locations(image)

    def remove(self, image: Image) -> Image:
        self._enforce('delete_image', image_target(self.context, image))
        return self.base.remove(image)

    def begin_upload(self, image: Image) -> Image:
        self._enforce('upload_image', image_target(self.context, image))
        return self.base.begin_upload(image)

    def read_data(self, image: Image, download: Download) -> Download:
        target = image_target(self.context, image)
        self._enforce('download_image', target)
        if image.status == 'deactivated' and \
                not policy.check(self.context, 'context_is_admin', target):
            raise exception.Forbidden(
                'The requested image has been deactivated. Image data '
                'download is forbidden.')
        return self.base.read_data(image, download)

    def delete_from_store(self, image: Image, store_id: str) -> Image:
        self._enforce('delete_image_location',
                      image_target(self.context, image))
        return self.base.delete_from_store(image, store_id)

    def deactivate(self, image: Image) -> Image:
        self._enforce('deactivate', image_target(self.context, image))
        return self.base.deactivate(image)

    def reactivate(self, image: Image) -> Image:
        self._enforce('reactivate', image_target(self.context, image))
        return self.base.reactivate(image)

    def check_import(self, image: Image, method: str) -> None:
        """May the caller stage or import data into this image?

        copy-image touches only the data of an image that exists already,
        so it takes ``copy_image`` (admins by default); the other methods
        change the image as the owner does and take ``modify_image``.
        """
        rule = 'copy_image' if method == 'copy-image' else 'modify_image'
        self._enforce(rule, image_target(self.context, image))
        self.base.check_import(image, method)


class TaskRepo(Proxy):
    """The tasks API rules: ``tasks_api_access`` and one rule per call."""

    PASSES = {'add': 'the tasks API asks check_add first; imports create '
                     'tasks for calls the image rules authorised',
              'save': 'a task changes only as its own import runs',
              'record_progress': 'written only by the task\'s own import'}

    def _enforce(self, rule: str) -> None:
        target = {'project_id': self.context.project_id}
        for name in ('tasks_api_access', rule):
            if not policy.check(self.context, name, target):
                raise exception.Forbidden(
                    'You are not authorized to complete %s action.' % name)

    def get(self, task_id: str):
        self._enforce('get_task')
        return self.base.get(task_id)

    def list(self, *args, **kwargs):
        self._enforce('get_tasks')
        return self.base.list(*args, **kwargs)

    def check_add(self) -> None:
        """Raise 403 unless the caller may create tasks."""
        self._enforce('add_task')


class MemberRepo(Proxy):
    """Who may see and change which membership of an image.

    The owner project (and the administrator) sees every membership; a
    member project sees only its own, and others' are reported as not
    found.  Only the member project itself accepts or rejects.
    """

    def __init__(self, base, context, image: Image):
        super().__init__(base, context)
        object.__setattr__(self, 'image', image)

    def _enforce(self, rule: str, member_id: str | None = None) -> None:
        target = image_target(self.context, self.image)
        if member_id is not None:
            target['member_id'] = member_id
        if not policy.check(self.context, rule, target):
            raise exception.Forbidden(
                'You are not authorized to complete %s action.' % rule)

    def _sees_all(self) -> bool:
        return self.image.owner == self.context.project_id or \
            policy.is_admin(self.context)

    def list(self, member_id: str | None = None):
        self._enforce('get_members')
        if not self._sees_all():
            member_id = self.context.project_id
        return self.base.list(member_id)

    def get(self, member_id: str):
        self._enforce('get_member')
        if not self._sees_all() and member_id != self.context.project_id:
            raise exception.NotFound('Member %s of image %s not found.'
                                     % (member_id, self.image.image_id))
        return self.base.get(member_id)

    def add(self, member):
        self._enforce('add_member')
        return self.base.add(member)

    def save(self, member):
        self._enforce('modify_member', member.member_id)
        return self.base.save(member)

    def remove(self, member):
        self._enforce('delete_member')
        return self.base.remove(member)


def namespace_target(namespace: Item) -> dict:
    """The policy target of a metadef namespace: its owner and
    visibility."""
    owner = namespace.values['owner']
    return {'project_id': owner, 'owner': owner, 'namespace': namespace.name,
            'visibility': namespace.values['visibility']}


class MetadefRepo(Proxy):
    """Who may read and change the metadata definitions catalog: the rule
    the kind declares for the operation, judged on the namespace the call
    is on (for a namespace itself, on that namespace).

    A namespace the caller may not read is reported as not found, like an
    image; once a namespace is visible, a refused call on its contents is
    a plain 403.  ``list_associations`` passes unchecked: they are shown
    inside namespaces the caller was already allowed to read.
    """

    def _enforce(self, rule: str, target: dict) -> None:
        if not policy.check(self.context, rule, target):
            raise exception.Forbidden(
                'You are not authorized to complete %s action.' % rule)

    def _on(self, kind: Kind, operation: str, namespace: Item) -> None:
        self._enforce(kind.rule(operation), namespace_target(namespace))

    def _may_read(self, namespace: Item) -> bool:
        return policy.check(self.context, NAMESPACES.rule('get'),
                            namespace_target(namespace))

    def list_namespaces(self, query: NamespaceQuery,
                        all_projects: bool = False) -> list[Item]:
        self._enforce(NAMESPACES.rule('list'),
                      {'project_id': self.context.project_id})
        return [ns for ns in self.base.list_namespaces(
                    query, all_projects=policy.is_admin(self.context))
                if self._may_read(ns)]

    def get_item(self, kind: Kind, ns: Item | None, name: str) -> Item:
        if ns is not None:
            self._on(kind, 'get', ns)
            return self.base.get_item(kind, ns, name)
        namespace = self.base.get_item(kind, ns, name)
        if not self._may_read(namespace):
            raise exception.NotFound(
                'Metadata definition namespace %s not found.' % name)
        return namespace

    def list_items(self, kind: Kind, ns: Item) -> list[Item]:
        self._on(kind, 'list', ns)
        return self.base.list_items(kind, ns)

    def add_item(self, ns: Item | None, item: Item) -> Item:
        self._on(item.kind, 'add', ns or item)
        return self.base.add_item(ns, item)

    def add_items(self, kind: Kind, ns: Item, items: list[Item],
                  append: bool = True) -> list[Item]:
        self._on(kind, 'add_many', ns)
        return self.base.add_items(kind, ns, items, append)

    def save_item(self, ns: Item | None, item: Item) -> Item:
        self._on(item.kind, 'save', ns or item)
        return self.base.save_item(ns, item)

    def remove_item(self, ns: Item | None, item: Item) -> Item:
        self._on(item.kind, 'remove', ns or item)
        return self.base.remove_item(ns, item)

    def remove_all(self, kind: Kind, ns: Item) -> Item:
        self._on(kind, 'remove_all', ns)
        return self.base.remove_all(kind, ns)

    def list_resource_types(self) -> list[Item]:
        self._enforce('list_metadef_resource_types',
                      {'project_id': self.context.project_id})
        return self.base.list_resource_types()
