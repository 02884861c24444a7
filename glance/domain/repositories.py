"""The repositories' interfaces: every operation the chain carries.

Each layer of the chain (``glance.gateway``) wraps the one below and
forwards what it does not define (``glance.domain.proxy``).  That makes a
layer short, but it also lets a layer forget an operation silently: a
write it should guard simply passes by.  These protocols name every
operation once.  The database repositories implement all of them, so each
call travels the whole chain; each guarding layer states, per write, that
it guards it (by defining the method) or why it need not (``PASSES``); and
``unguarded()`` is what the unit tests use to hold every layer to that.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:   # pragma: no cover - types only
    from glance.domain.image import Image
    from glance.domain.member import ImageMember
    from glance.domain.metadef import Item, Kind
    from glance.domain.task import Task
    from glance.domain.transfer import Download, Upload


class ImageRepository(Protocol):
    """Images of one request context, as every layer and the db see them."""

    # -- reads
    def get(self, image_id: str) -> Image:
        """The image, or ImageNotFound (also when the caller may not see
        it)."""

    def list(self, query: Any) -> list[Image]:
        """A page of the images the caller may see (a ListQuery)."""

    def storage_used(self, owner: str, exclude: str | None = None) -> int:
        """Bytes the owner's images hold (user_storage_quota)."""

    def check_import(self, image: Image, method: str) -> None:
        """Raise unless the caller may stage or import with ``method``."""

    def check_fetch_locations(self, image: Image) -> None:
        """Raise unless the caller may list the image's locations."""

    def read_data(self, image: Image, download: Download) -> Download:
        """Open the image's data for a download."""

    # -- writes
    def add(self, image: Image) -> Image:
        """Store a new image."""

    def save(self, image: Image, from_state: str | None = None) -> Image:
        """Store what the caller changed on ``image``."""

    def remove(self, image: Image) -> Image:
        """Delete the image (and its data, or leave it to the scrubber)."""

    def deactivate(self, image: Image) -> Image:
        """Withhold an active image's data."""

    def reactivate(self, image: Image) -> Image:
        """Serve a deactivated image's data again."""

    def set_locations(self, image: Image, locations: list[dict]) -> Image:
        """PATCH of /locations: the whole list of locations (and whatever
        else the same PATCH changed on ``image``)."""

    def add_location(self, image: Image, url: str,
                     validation_data: dict | None) -> Image:
        """POST /v2/images/{id}/locations."""

    def verify_location(self, image: Image) -> Image:
        """Hash the data at a queued image's location, then activate or
        kill the image."""

    def delete_from_store(self, image: Image, store_id: str) -> Image:
        """Remove the image's data from one store."""

    def begin_upload(self, image: Image) -> Image:
        """Data is about to arrive: queued -> saving."""

    def write_data(self, image: Image, upload: Upload) -> Upload:
        """Stream the upload's bytes into a store."""

    def finish_upload(self, image: Image, upload: Upload) -> Image:
        """Record what write_data stored: size, hashes, location, active."""

    def abort_upload(self, image: Image, upload: Upload | None,
                     error: BaseException) -> Image:
        """Undo a failed upload: its data removed, the image queued."""

    def discard_upload(self, image: Image, upload: Upload) -> Upload:
        """Delete data an import wrote but will not keep (image untouched)."""

    def discard_partial(self, image: Image,
                        stores: list[str | None]) -> list[str]:
        """Delete what a write killed with its process left in ``stores``
        (crash recovery, once the writer's lease ran out); the URIs gone."""


class MemberRepository(Protocol):
    """The memberships of one image."""

    def list(self, member_id: str | None = None) -> list[ImageMember]:
        """Every membership, or only ``member_id``'s."""

    def get(self, member_id: str) -> ImageMember:
        """One membership, or NotFound."""

    def count(self) -> int:
        """How many memberships the image has (image_member_quota)."""

    def add(self, member: ImageMember) -> ImageMember:
        """Share the image with a project; Duplicate if it already is."""

    def save(self, member: ImageMember) -> ImageMember:
        """Store the member's new status."""

    def remove(self, member: ImageMember) -> ImageMember:
        """Stop sharing the image with the project."""


class TaskRepository(Protocol):
    """Tasks (imports) of one request context."""

    def get(self, task_id: str) -> Task:
        """The task, or NotFound."""

    def list(self, filters: dict[str, str], sort_key: str = 'created_at',
             sort_dir: str = 'desc', limit: int = 25,
             marker: str | None = None) -> list[Task]:
        """Tasks matching ``filters``, a page at a time."""

    def for_image(self, image_id: str) -> list[Task]:
        """An image's tasks the caller may see."""

    def add(self, task: Task) -> Task:
        """Store a new task."""

    def save(self, task: Task) -> Task:
        """Store the task's progress."""

    def record_progress(self, task_id: str, result: dict[str, Any],
                        message: str | None = None) -> bool:
        """Write how far a running task's copy got (its result, and its
        message when given) and nothing else; False once it is not
        running."""


class MetadefRepository(Protocol):
    """The metadata definitions catalog: namespaces and their entries,
    every kind (``glance.domain.metadef.KINDS``) through the same
    operations.  ``ns`` is the namespace the entry is in, loaded first
    (None when the entry is a namespace)."""

    def list_namespaces(self, query: Any,
                        all_projects: bool = False) -> list[Item]:
        """A page of the namespaces the caller may see."""

    def list_items(self, kind: Kind, ns: Item) -> list[Item]:
        """The namespace's entries of ``kind``."""

    def get_item(self, kind: Kind, ns: Item | None, name: str) -> Item:
        """One entry, or NotFound (a namespace also when the caller may
        not see it)."""

    def list_resource_types(self) -> list[Item]:
        """Every resource type a namespace was ever associated with."""

    def list_associations(self, namespaces: list[Item]
                          ) -> dict[str, list[Item]]:
        """The associations of namespaces the caller already loaded."""

    def add_item(self, ns: Item | None, item: Item) -> Item:
        """Store a new entry."""

    def add_items(self, kind: Kind, ns: Item | None, items: list[Item],
                  append: bool = True) -> list[Item]:
        """Store several entries at once (replacing the kind's entries
        unless ``append``)."""

    def save_item(self, ns: Item | None, item: Item) -> Item:
        """Store a changed (maybe renamed) entry."""

    def remove_item(self, ns: Item | None, item: Item) -> Item:
        """Delete one entry (a namespace with everything in it)."""

    def remove_all(self, kind: Kind, ns: Item) -> Item:
        """Delete every entry of ``kind`` in the namespace."""


#: operations that change something, per protocol
IMAGE_WRITES = frozenset({
    'add', 'save', 'remove', 'deactivate', 'reactivate', 'set_locations',
    'add_location', 'verify_location', 'delete_from_store', 'begin_upload',
    'write_data', 'finish_upload', 'abort_upload', 'discard_upload',
    'discard_partial'})
MEMBER_WRITES = frozenset({'add', 'save', 'remove'})
TASK_WRITES = frozenset({'add', 'save', 'record_progress'})
METADEF_WRITES = frozenset({
    'add_item', 'add_items', 'save_item', 'remove_item', 'remove_all'})


def operations(protocol: type) -> frozenset[str]:
    """The operations a protocol names."""
    return frozenset(name for name, value in vars(protocol).items()
                     if callable(value) and not name.startswith('_'))


def unguarded(layer: type, writes: frozenset[str]) -> frozenset[str]:
    """Writes ``layer`` neither defines nor names in its ``PASSES``.

    A guarding layer must have an answer for every write: its own method,
    or an entry ``{operation: why it needs no check here}`` in ``PASSES``.
    """
    passes = getattr(layer, 'PASSES', {})
    return frozenset(op for op in writes
                     if op not in passes and not _defines(layer, op))


def _defines(layer: type, name: str) -> bool:
    """Whether ``layer`` (not the Proxy base) defines ``name``."""
    from glance.domain.proxy import Proxy
    for klass in layer.__mro__:
        if klass is Proxy or klass is object:
            return False
        if name in vars(klass):
            return True
    return False
