"""What the image records say about data outside them: the questions of the
sweeps that remove orphaned data (store data, staged files, cache copies).

Each answer is read in short read-only transactions, a few hundred ids at
a time; none of them writes.  A sweep reads these *after* listing what it
found, so a record is never older than the data it is compared with.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Iterable, Iterator

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401 - sa.orm.aliased

from glance.db.sqlalchemy import models
from glance.db.sqlalchemy.engine import session_scope

_IMAGE = models.Image
_LOC = models.ImageLocation
_PROP = models.ImageProperty
#: ids asked about per query (well under every backend's bind limit)
CHUNK = 500
#: statuses of an image whose data is being written right now
IN_PROGRESS = ('saving', 'uploading', 'importing')
#: statuses of an image that needs its staged data
NEEDS_STAGED = ('uploading', 'importing')
#: the property an import holds an image with
IMPORT_LOCK = 'os_glance_import_task'


@dataclasses.dataclass(frozen=True)
class ImageState:
    """An image record as a sweep needs it."""

    status: str
    deleted: bool
    #: an import holds the image (``os_glance_import_task``): copy-image
    #: writes staged and store data of an image that stays active
    locked: bool = False

    @property
    def in_progress(self) -> bool:
        """Whether data of the image is being written right now."""
        return not self.deleted and (self.status in IN_PROGRESS
                                     or self.locked)


def _prop(name: str):
    """An outer-joinable live property ``name`` of the image."""
    alias = sa.orm.aliased(_PROP)
    return alias, sa.and_(alias.image_id == _IMAGE.id, alias.name == name,
                          alias.deleted == sa.false())


@dataclasses.dataclass(frozen=True)
class Reference:
    """A live location row of an image that keeps its data (a live image,
    or one pending_delete whose data is the scrubber's)."""

    image_id: str
    url: str
    #: the backend the location names, None where it names none
    store: str | None


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    ids = sorted(set(ids))
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def states(ids: Iterable[str]) -> dict[str, ImageState]:
    """Status and deleted flag of each of ``ids`` that has a record."""
    out: dict[str, ImageState] = {}
    lock, joined = _prop(IMPORT_LOCK)
    for chunk in _chunks(ids):
        with session_scope(readonly=True) as session:
            for image_id, status, deleted, task in session.execute(
                    sa.select(_IMAGE.id, _IMAGE.status, _IMAGE.deleted,
                              lock.value)
                    .outerjoin(lock, joined)
                    .where(_IMAGE.id.in_(chunk))):
                out[image_id] = ImageState(status, bool(deleted), bool(task))
    return out


def live_ids(ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` whose image exists and is not deleted (an image
    pending_delete is deleted: the API answers 404 for it)."""
    return {image_id for image_id, state in states(ids).items()
            if not state.deleted}


def references() -> Iterator[Reference]:
    """Every live location of every image that keeps its data.

    Streamed in batches: a location of any image may name the data a
    sweep looks at (one added through the locations API), so all of them
    are read, and the caller keeps only those it needs.
    """
    keeps = sa.or_(_IMAGE.deleted == sa.false(),
                   _IMAGE.status == 'pending_delete')
    query = (sa.select(_LOC.image_id, _LOC.value, _LOC.meta_data)
             .join(_IMAGE, _IMAGE.id == _LOC.image_id)
             .where(_LOC.deleted == sa.false(), keeps)
             .execution_options(yield_per=CHUNK))
    with session_scope(readonly=True) as session:
        for image_id, url, meta in session.execute(query):
            try:
                store = (json.loads(meta) or {}).get('store') \
                    if meta else None
            except (ValueError, AttributeError):
                store = None
            yield Reference(image_id, url, store)


def needing_staged(ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` whose image may still need its staged data: live,
    and uploading, importing, or held by an import (copy-image holds an
    active image while it stages).

    Which node the data was staged on is not asked: nodes may share a
    staging directory, and a file kept a little longer does no harm.
    """
    out: set[str] = set()
    lock, lock_joined = _prop(IMPORT_LOCK)
    for chunk in _chunks(ids):
        with session_scope(readonly=True) as session:
            rows = session.execute(
                sa.select(_IMAGE.id, _IMAGE.status, lock.value)
                .outerjoin(lock, lock_joined)
                .where(_IMAGE.id.in_(chunk),
                       _IMAGE.deleted == sa.false())).all()
        out.update(image_id for image_id, status, task in rows
                   if status in NEEDS_STAGED or task)
    return out
