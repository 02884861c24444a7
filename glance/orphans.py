"""Finding and removing data no image references: ``glance-manage store
orphans``.

Data becomes orphaned when a process dies between writing it and recording
it, when a delete could not reach a store, or by bugs.  The sweep lists
what each store holds under image ids (glance_store's
``iter_image_data``), then reads the image records, and calls an item an
orphan only when all of these hold:

* no live location of a live or pending_delete image names its URI;
* its image is not being written (saving, uploading, importing, or held
  by an import such as copy-image) and not pending_delete (that data is
  glance-scrubber's);
* its image is missing, deleted, or has no location in that store (a
  ``partial`` item, an unfinished S3 multipart upload, is never referenced
  by a location, so only the first two rules protect it);
* it is older than ``orphan_grace_period`` (an upload that has only just
  begun may not be recorded yet); data of unknown age is removed only
  with a grace period of 0.

The staging area of the node running the command is swept too: staged and
temporary files whose image no longer needs them (see
``glance.async_.staging.sweep``).
"""
from __future__ import annotations

import dataclasses
import logging
import time
import urllib.parse
from typing import Any

from oslo_config import cfg

from glance.async_ import staging
from glance.common import exception
from glance.db import image_refs
from glance.layers import location_orphans

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

orphan_opts = [
    cfg.IntOpt('orphan_grace_period', default=3600, min=0,
               help='Seconds data in a store or the staging area must be '
                    'old before `glance-manage store orphans` may call it '
                    'orphaned.  Protects uploads and stages in flight whose '
                    'image record does not name the data yet; keep it '
                    'longer than the longest upload.'),
]
CONF.register_opts(orphan_opts)

#: the name the staging area goes by in reports and in ``--store``
STAGING = 'staging'


@dataclasses.dataclass
class Orphan:
    """Data no image references, and what the sweep did with it."""

    store: str
    image_id: str
    uri: str
    size: int | None
    kind: str
    reason: str
    detail: str = ''
    #: 'would remove' (dry run), 'removed', 'already gone', or the failure
    outcome: str = ''
    #: the store's listing item (what removing it needs)
    item: Any = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass
class Report:
    """One sweep: the orphans found, and the stores that could not be
    swept (store id -> why)."""

    orphans: list[Orphan] = dataclasses.field(default_factory=list)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Whether anything could not be listed or removed."""
        return bool(self.errors) or any(
            o.outcome.startswith('failed') for o in self.orphans)


def _scheme(uri: str) -> str:
    return urllib.parse.urlsplit(uri).scheme


def _in_store(ref: image_refs.Reference, store_id: str,
              schemes: tuple[str, ...], multi: bool) -> bool:
    """Whether location ``ref`` may be data of ``store_id``: the store it
    names, or -- naming none, as single-store locations do -- any store
    speaking its scheme (when unsure, it counts: nothing is removed)."""
    if ref.store:
        return ref.store == store_id
    return _scheme(ref.url) in schemes or not multi


def _young(modified: float | None, now: float, grace: float) -> bool:
    """Whether data written at ``modified`` is within the grace period;
    data of unknown age always is, unless the operator set no grace."""
    if grace <= 0:
        return False
    return modified is None or now - modified < grace


def _reason(item: Any, state: image_refs.ImageState | None,
            in_store: bool) -> str | None:
    """Why ``item`` is orphaned, or None when something still needs it
    (the URI and age rules are checked by the caller)."""
    if state is not None and (state.status == 'pending_delete'
                              or state.in_progress):
        return None
    if state is None:
        return 'no image has this id'
    if state.deleted:
        return 'its image is deleted'
    if item.kind == 'partial':
        return 'an upload that never finished'
    if in_store:
        return None
    return 'its image (%s) has no location in this store' % state.status


def find(store_id: str, grace: float) -> list[Orphan]:
    """The orphans of one store (nothing is removed)."""
    schemes, multi = location_orphans.describe(store_id)
    items = list(location_orphans.stored_data(store_id))
    # Records are read after the listing: never older than the data.
    ids = {item.image_id for item in items}
    states = image_refs.states(ids)
    uris = {item.uri for item in items if item.kind == 'image'}
    named: set[str] = set()         # URIs some location names
    held: set[str] = set()          # ids with a location in this store
    for ref in image_refs.references():
        if ref.url in uris:
            named.add(ref.url)
        if ref.image_id in ids and _in_store(ref, store_id, schemes, multi):
            held.add(ref.image_id)
    now = time.time()
    found = []
    for item in items:
        # Only whole objects are named by locations: an unfinished upload
        # under the key of an active image is still an orphan.
        if (item.kind == 'image' and item.uri in named) or \
                _young(item.modified, now, grace):
            continue
        why = _reason(item, states.get(item.image_id),
                      item.image_id in held)
        if why:
            found.append(Orphan(store_id, item.image_id, item.uri, item.size,
                                item.kind, why, item.detail, item=item))
    return found


def _remove(orphan: Orphan) -> None:
    try:
        gone = location_orphans.remove(orphan.store, orphan.item)
    except exception.GlanceException as exc:
        orphan.outcome = 'failed: %s' % exc
        LOG.error('Orphaned data of image %s in store %s (%s) could not be '
                  'removed: %s', orphan.image_id, orphan.store, orphan.uri,
                  exc)
        return
    orphan.outcome = 'removed' if gone else 'already gone'
    if gone:
        LOG.info('Removed orphaned %s data of image %s from store %s (%s): '
                 '%s', orphan.kind, orphan.image_id, orphan.store,
                 orphan.uri, orphan.reason)


def _sweep_staging(report: Report, grace: float, dry_run: bool) -> None:
    removed = staging.sweep(image_refs.needing_staged, grace=grace,
                            dry_run=dry_run)
    for image_id, name in removed:
        report.orphans.append(Orphan(
            STAGING, image_id, 'file://' + urllib.parse.quote(
                staging.path_of(name)), None, 'staged',
            'its image no longer needs staged data',
            outcome='would remove' if dry_run else 'removed'))


def sweep(stores: list[str] | None = None, dry_run: bool = True,
          grace: float | None = None) -> Report:
    """Find (and unless ``dry_run`` remove) the orphans of ``stores``
    (default: every store holding image data, and this node's staging
    area, named ``staging``)."""
    grace = CONF.orphan_grace_period if grace is None else grace
    targets = stores or location_orphans.sweepable_stores() + [STAGING]
    report = Report()
    for store_id in targets:
        try:
            if store_id == STAGING:
                _sweep_staging(report, grace, dry_run)
                continue
            orphans = find(store_id, grace)
        except exception.GlanceException as exc:
            report.errors[store_id] = str(exc)
            LOG.error('Orphan sweep of store %s failed: %s', store_id, exc)
            continue
        for orphan in orphans:
            if dry_run:
                orphan.outcome = 'would remove'
            else:
                _remove(orphan)
            report.orphans.append(orphan)
    return report
