"""The Store base class every driver implements."""
from __future__ import annotations

import dataclasses
import enum
import logging
import re
from typing import Any, Iterable, Iterator

from oslo_config import cfg

from glance.store import exceptions
from glance.store import location as loc_mod

LOG = logging.getLogger(__name__)


class Capability(enum.Flag):
    """What a store can do; the API and the layers ask before acting."""

    NONE = 0
    READ_ACCESS = enum.auto()
    READ_RANDOM = enum.auto()
    WRITE_ACCESS = enum.auto()
    DRIVER_REUSABLE = enum.auto()
    READ_WRITE = READ_ACCESS | WRITE_ACCESS
    RW_ACCESS = READ_ACCESS | READ_RANDOM | WRITE_ACCESS


#: how glance names what it writes: the image id, a UUID
_IMAGE_ID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                       r'[0-9a-f]{12}$')


def is_image_id(name: str) -> bool:
    """Whether ``name`` could be an image id glance wrote data under.

    Listings report only such names: anything else in a container, bucket
    or pool is not glance's, and an orphan sweep must never touch it.
    """
    return bool(_IMAGE_ID.match(name.lower()))


@dataclasses.dataclass(frozen=True)
class StoredData:
    """One piece of image data a store holds, as its listing finds it.

    ``kind`` says how a location can refer to it: ``image`` is what a
    location points at (``uri`` is the location the store would have
    written); ``segments`` are the pieces of a large object, referenced
    through their image; ``partial`` is an upload that never finished (an
    S3 multipart upload), which no location ever references.
    """

    image_id: str
    uri: str
    size: int | None
    #: seconds since the epoch of the last write, None when unknown
    modified: float | None
    kind: str = 'image'
    #: what else goes with it, for the operator (snapshots, upload id)
    detail: str = ''


class Store:
    """A configured backend: one instance per enabled backend id.

    ``conf_group`` is the section holding its options (``glance_store`` in a
    single-store setup, the backend id in a multi-store one).

    Instances serve every request at once, so nothing of a request is kept
    on them: ``context`` (the caller's request context, None for the
    service's own work) is an argument of each data call.  Drivers acting
    as the service ignore it; one acting as the caller (swift in
    multi-tenant mode) takes the token, project and service catalog from
    it.
    """

    #: URI schemes this driver reads and writes
    schemes: tuple[str, ...] = ()
    #: oslo.config options the driver reads, registered in ``conf_group``
    OPTIONS: list[cfg.Opt] = []
    capabilities: Capability = Capability.NONE
    #: whether the store decides who reads the data (then glance tells it
    #: through :meth:`set_acls`); False where glance reads as itself
    controls_access: bool = False

    def __init__(self, conf: cfg.ConfigOpts, backend: str, conf_group: str):
        self.conf = conf
        self.backend = backend
        self.conf_group = conf_group
        self.READ_CHUNKSIZE = 64 * 1024
        self.WRITE_CHUNKSIZE = 64 * 1024

    @property
    def opts(self):
        return getattr(self.conf, self.conf_group)

    def configure(self) -> None:
        """Read options and check the backend is usable.

        BadStoreConfiguration when it is not: the service refuses to start
        rather than fail on the first upload.
        """

    #: the driver's type as enabled_backends names it ("file", "http"...)
    TYPE: str = ''

    @property
    def description(self) -> str | None:
        """The operator's description of this backend, if any."""
        return getattr(self.opts, 'store_description', None)

    @property
    def weight(self) -> int:
        """Preference among backends holding the same image (higher first)."""
        return getattr(self.opts, 'weight', 0) or 0

    def properties(self) -> dict:
        """Driver settings an administrator may inspect (no secrets)."""
        return {}

    def is_capable(self, cap: Capability) -> bool:
        return (self.capabilities & cap) == cap

    def add(self, image_id: str, data: Iterable[bytes], size: int | None,
            context: Any = None) -> tuple[str, int, dict]:
        """Store the bytes; return (uri, bytes written, location metadata)."""
        raise exceptions.StoreAddDisabled()

    def add_file(self, image_id: str, data: Iterable[bytes],
                 size: int | None, path: str,
                 context: Any = None) -> tuple[str, int, dict]:
        """``add``, when ``data`` reads the local file ``path`` whole.

        ``data`` must still be consumed to the end (the layers above hash,
        inspect and meter it as it streams).  A driver that can keep the
        file itself (the filesystem driver, on the same file system)
        avoids writing the bytes a second time; the others store ``data``.
        """
        return self.add(image_id, data, size, context=context)

    def get(self, location: loc_mod.Location, offset: int = 0,
            chunk_size: int | None = None, length: int | None = None,
            context: Any = None) -> tuple[Iterator[bytes], int]:
        """Return (iterator over the bytes, number of bytes it yields)."""
        raise NotImplementedError

    def get_size(self, location: loc_mod.Location,
                 context: Any = None) -> int:
        raise NotImplementedError

    def owns(self, location: loc_mod.Location) -> bool:
        """Whether a location someone else names is this backend's to serve.

        Locations added through the API point at data glance did not write;
        a driver narrows this where a URI could reach more than its data
        (the filesystem driver: only files under its directories).
        """
        return location.scheme in self.schemes

    def check_deletable(self, location: loc_mod.Location,
                        context: Any = None) -> None:
        """Raise InUseByStore when the data is held outside glance.

        Asked before an image record goes, so that data a store would
        refuse to delete (an RBD snapshot with clones) answers 409 and
        leaves the image as it was, instead of outliving its record.
        Stores whose data nothing else can hold accept every delete.
        """

    def delete(self, location: loc_mod.Location,
               context: Any = None) -> None:
        raise NotImplementedError

    def discard(self, image_id: str, context: Any = None) -> list[str]:
        """Remove what an ``add`` of ``image_id`` that never returned left
        (its process was killed mid-write); the URIs removed.

        Only for data no location references: the caller checks.  By
        default every item :meth:`iter_image_data` lists for the image
        goes (a listing of the whole store: fine for the rare recovery;
        drivers that know where a write goes override it).  A multi-tenant
        store that cannot be listed leaves it to the operator's sweep.
        """
        removed = []
        try:
            items = [item for item in self.iter_image_data(context=context)
                     if item.image_id == image_id]
        except exceptions.GlanceStoreException as exc:
            LOG.warning('Store %s: partial data of image %s not looked for: '
                        '%s', self.backend, image_id, exc)
            return []
        for item in items:
            try:
                self.delete_stored(item, context=context)
            except exceptions.NotFound:
                continue
            removed.append(item.uri)
        return removed

    def set_acls(self, location: loc_mod.Location, public: bool = False,
                 read_tenants: list[str] | None = None,
                 context: Any = None) -> None:
        """Let ``read_tenants`` (or, when ``public``, everyone) read the
        data, for stores where access is the store's business.

        Nothing to do for stores the service reads as itself.
        """

    def iter_image_data(self, context: Any = None) -> Iterator[StoredData]:
        """Everything this store holds under an image id glance wrote.

        For finding data no image references any more (a crash between
        writing and recording it, a delete that failed): the caller
        compares the listing with the image records.  Stores glance never
        writes to (http) hold nothing of its own and list nothing.
        """
        return iter(())

    def delete_stored(self, item: StoredData, context: Any = None) -> None:
        """Remove what :meth:`iter_image_data` reported as ``item``.

        NotFound when it is already gone; InUseByStore when the store
        refuses (an RBD snapshot with clones).
        """
        self.delete(loc_mod.parse(item.uri, self.backend), context=context)
