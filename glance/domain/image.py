"""The Image entity: fields, state machine, rules on its properties.

Nothing here knows about HTTP, SQL or stores.  The API validates shapes
against the JSON schema; this module guards meaning (which fields a caller
may set, which status may follow which).
"""
from __future__ import annotations

import dataclasses
import datetime
import operator
import uuid
from typing import Any

from glance.common import exception
from glance.domain import image_fields

#: status -> statuses it may move to
TRANSITIONS: dict[str, frozenset[str]] = {
    'queued': frozenset({'saving', 'uploading', 'importing', 'active',
                         'deleted', 'killed'}),
    'saving': frozenset({'active', 'killed', 'deleted', 'queued'}),
    'uploading': frozenset({'importing', 'queued', 'deleted', 'active'}),
    'importing': frozenset({'active', 'deleted', 'queued', 'killed'}),
    'active': frozenset({'pending_delete', 'deleted', 'deactivated'}),
    'killed': frozenset({'deleted'}),
    'pending_delete': frozenset({'deleted', 'active'}),
    'deleted': frozenset(),
    'deactivated': frozenset({'active', 'deleted'}),
}
STATUSES = tuple(TRANSITIONS)
VISIBILITIES = ('public', 'private', 'shared', 'community')

#: fields every image has (as the API names them); anything else is an
#: extra property stored as a string.  Declared in image_fields.
CORE_FIELDS = image_fields.NAMES
#: fields a caller may never set, only read
READONLY_FIELDS = image_fields.READONLY
#: fields that may be set on create but never changed afterwards
CREATE_ONLY_FIELDS = image_fields.CREATE_ONLY
#: property-name prefix the service keeps for itself
RESERVED_PREFIX = 'os_glance'
#: core fields stored as columns of the image row that a save may change
#: (id and the timestamps are the database's to write)
STORED_FIELDS = image_fields.STORED


def utcnow() -> datetime.datetime:
    """Naive UTC now, as stored in the database."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


#: the property naming the task that holds an image for an import: two
#: imports (copy-image too, which leaves the status alone) never run at once
IMPORT_LOCK = 'os_glance_import_task'


@dataclasses.dataclass(eq=False)
class Image:
    """An image record.  ``extra_properties`` hold every non-core property."""

    image_id: str
    status: str = 'queued'
    name: str | None = None
    visibility: str = 'shared'
    owner: str | None = None
    protected: bool = False
    os_hidden: bool = False
    min_disk: int = 0
    min_ram: int = 0
    container_format: str | None = None
    disk_format: str | None = None
    size: int | None = None
    virtual_size: int | None = None
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    created_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    updated_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    extra_properties: dict[str, str] = dataclasses.field(default_factory=dict)
    tags: set[str] = dataclasses.field(default_factory=set)
    locations: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    member_status: str | None = None
    #: the status this object was loaded in; the db layer saves only if the
    #: row still has it, so two racing writers cannot both move the image.
    loaded_status: str | None = None
    #: owner and visibility as loaded, so the policy layer judges a change
    #: against what the image was, not what the caller wants it to become
    loaded_owner: str | None = None
    loaded_visibility: str | None = None
    #: the import lock (IMPORT_LOCK property) as loaded: the db layer takes
    #: or releases the lock only if nobody changed it meanwhile
    loaded_lock: str | None = None
    #: every visibility the current request asked for, in any operation:
    #: the policy layer judges each one (a PATCH that makes an image public
    #: and private again still needs the right to publicize, as in the
    #: reference service); forgotten once saved
    requested_visibilities: set[str] = dataclasses.field(
        default_factory=set, repr=False)
    #: what the database held when this object was loaded or last saved
    #: (see :meth:`mark_persisted`); None for an image not stored yet
    persisted: Snapshot | None = dataclasses.field(default=None,
                                                   repr=False)

    def mark_persisted(self) -> None:
        """Record the current values as what the database holds.

        A later save writes only what differs from this record
        (:meth:`changes`), so two requests changing different things of the
        same image both keep their change.
        """
        self.persisted = Snapshot(
            core=_stored_values(self),
            properties=dict(self.extra_properties),
            tags=frozenset(self.tags),
            locations=[dict(loc) for loc in self.locations])
        self.loaded_status = self.status
        self.loaded_owner = self.owner
        self.loaded_visibility = self.visibility
        self.loaded_lock = self.extra_properties.get(IMPORT_LOCK)
        self.requested_visibilities = set()

    def changes(self) -> Changes:
        """What this object changed since it was loaded or last saved."""
        before = self.persisted
        if before is None:
            raise ValueError('image %s was never stored' % self.image_id)
        now = self.extra_properties
        return Changes(
            core={name: value for name, value, old in zip(
                STORED_FIELDS, _stored_values(self), before.core)
                if value != old},
            set_properties={k: v for k, v in now.items()
                            if before.properties.get(k, _ABSENT) != v},
            removed_properties=frozenset(
                k for k in before.properties if k not in now),
            added_tags=frozenset(self.tags - before.tags),
            removed_tags=frozenset(before.tags - self.tags),
            locations=None if self.locations == before.locations
            else [dict(loc) for loc in self.locations])

    def set_status(self, new_status: str) -> None:
        """Move to ``new_status`` if the state machine allows it."""
        if new_status == self.status:
            return
        if new_status not in TRANSITIONS.get(self.status, ()):
            raise exception.InvalidImageStatusTransition(
                cur_status=self.status, new_status=new_status)
        self.status = new_status

    @property
    def stores(self) -> list[str]:
        """Ids of the stores holding this image's data, in location order."""
        out = []
        for loc in self.locations:
            store = location_store(loc)
            if store and store not in out:
                out.append(store)
        return out

    def delete(self) -> None:
        """Refuse to delete protected images; otherwise mark deleted."""
        if self.protected:
            raise exception.ProtectedImageDelete(image_id=self.image_id)
        self.set_status('deleted')

    def deactivate(self) -> bool:
        """Withhold an active image's data; True if the status changed.

        Deactivating a deactivated image changes nothing, so a retried
        request is harmless.  Any other status has no data to withhold:
        the API reference answers that with 403.
        """
        return self._toggle('active', 'deactivated', 'deactivate')

    def reactivate(self) -> bool:
        """Serve a deactivated image's data again; True if it changed."""
        return self._toggle('deactivated', 'active', 'reactivate')

    def _toggle(self, source: str, goal: str, action: str) -> bool:
        if self.status == goal:
            return False
        if self.status != source:
            raise exception.Forbidden(
                "Not allowed to %s image in status '%s'"
                % (action, self.status))
        self.set_status(goal)
        return True


#: stands for "no such property" where None is a value
_ABSENT = object()
#: the STORED_FIELDS values of an image, as a tuple (one C call: every
#: image read takes a snapshot, a list of 1,000 images a thousand)
_stored_values = operator.attrgetter(*STORED_FIELDS)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """An image's stored values at one moment (see Image.mark_persisted)."""

    core: tuple    # values of STORED_FIELDS, in that order
    properties: dict[str, str]
    tags: frozenset[str]
    locations: list[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Changes:
    """The difference between an image object and what is stored.

    It names exactly what a request changed, so the database writes those
    columns and rows and nothing else: a property another request added
    meanwhile is not removed because this object never saw it.
    ``locations`` is the whole new list when it changed (their order is
    meaningful), None otherwise.
    """

    core: dict[str, Any] = dataclasses.field(default_factory=dict)
    set_properties: dict[str, str] = dataclasses.field(default_factory=dict)
    removed_properties: frozenset[str] = frozenset()
    added_tags: frozenset[str] = frozenset()
    removed_tags: frozenset[str] = frozenset()
    locations: list[dict[str, Any]] | None = None

    def __bool__(self) -> bool:
        return bool(self.core or self.set_properties or
                    self.removed_properties or self.added_tags or
                    self.removed_tags or self.locations is not None)


def check_settable(name: str, creating: bool) -> None:
    """Raise 403 if a caller may not set property ``name``."""
    if name in READONLY_FIELDS:
        raise exception.ReadonlyProperty(property=name)
    if not creating and name in CREATE_ONLY_FIELDS:
        raise exception.ReadonlyProperty(property=name)
    if name.startswith(RESERVED_PREFIX):
        raise exception.ReservedProperty(property=name)


def new_image(attrs: dict[str, Any], default_owner: str | None) -> Image:
    """Build a queued image from create-request attributes (API names).

    Attributes that are not core fields become extra properties, as the
    Images API stores any other key as a string property.
    """
    attrs = dict(attrs)
    image_id = attrs.pop('id', None)
    for key in attrs:
        check_settable(key, creating=True)
    if 'locations' in attrs:
        raise exception.Forbidden('Setting locations on create is not allowed')
    tags = set(attrs.pop('tags', None) or [])
    owner = attrs.pop('owner', default_owner)
    core = {k: v for k, v in attrs.items() if k in CORE_FIELDS}
    extra = {k: v for k, v in attrs.items() if k not in CORE_FIELDS}
    # An explicit null for these means "the default".
    for key in ('min_disk', 'min_ram', 'protected', 'os_hidden',
                'visibility'):
        if core.get(key, 0) is None:
            del core[key]
    now = utcnow()
    return Image(image_id=image_id or str(uuid.uuid4()), owner=owner,
                 created_at=now, updated_at=now, extra_properties=extra,
                 tags=tags, **core)


def check_values(values: dict[str, Any]) -> None:
    """Value rules the JSON schema does not express (400 when broken)."""
    for key, value in values.items():
        if len(key) > 255:
            raise exception.BadRequest(
                'Property names may be at most 255 characters long.')
        if key in ('min_ram', 'min_disk') and isinstance(value, int) \
                and value < 0:
            raise exception.BadRequest('%s must be >= 0' % key)


def location_store(loc: dict) -> str | None:
    """The backend a location records its data in (multi-store setups),
    None where it names none."""
    return (loc.get('metadata') or {}).get('store')
