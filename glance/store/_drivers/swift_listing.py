"""What a single-tenant swift store holds: the listing behind orphan sweeps.

Image objects are ``<container>/<image id>``; the segments of large
objects are ``<container>_segments/<image id>/<number>``.  A large image
whose manifest was never written (an upload killed half-way) leaves only
segments, so segments are reported per image on their own, and removing
them deletes them one by one (an SLO manifest's delete removes its own
segments too, a DLO's does not).

Multi-tenant stores keep each image in its owner's account, which the
service's own credentials cannot list: they refuse.
"""
from __future__ import annotations

import datetime
import logging
import urllib.parse
from typing import TYPE_CHECKING, Any, Iterator

from glance.store import driver, exceptions

if TYPE_CHECKING:   # pragma: no cover - typing only
    from glance.store._drivers.swift import Store

LOG = logging.getLogger(__name__)
#: objects asked for per listing request
PAGE = 1000


def _when(value: str | None) -> float | None:
    """Seconds since the epoch of a listing's ``last_modified`` (UTC)."""
    if not value:
        return None
    try:
        stamp = datetime.datetime.fromisoformat(value.rstrip('Z'))
    except ValueError:
        return None
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def _objects(store: 'Store', creds, container: str,
             prefix: str = '') -> Iterator[dict]:
    """Every object of ``container`` (page by page); none if it is gone."""
    marker = ''
    while True:
        query = urllib.parse.urlencode({'format': 'json', 'limit': PAGE,
                                        'marker': marker,
                                        'prefix': prefix})
        try:
            r = store._request(creds, 'GET', '/%s?%s'
                               % (urllib.parse.quote(container), query))
        except exceptions.NotFound:
            return
        try:
            page = r.json() if r.status_code == 200 else []
        finally:
            r.close()
        if not page:
            return
        yield from page
        marker = page[-1]['name']


def _credentials(store: 'Store'):
    if store.multi_tenant:
        raise exceptions.BackendException(
            reason='store %s is multi-tenant: each image is in the account '
                   'of its owner, which glance cannot list' % store.backend)
    return store.references[store.reference]


def _segments_uri(store: 'Store', image_id: str) -> str:
    return 'swift+config://%s/%s/%s/' % (
        urllib.parse.quote(store.reference, safe=''),
        urllib.parse.quote(store.segments), urllib.parse.quote(image_id))


def iter_image_data(store: 'Store') -> Iterator[driver.StoredData]:
    """Image objects, then the segments of each image grouped."""
    creds = _credentials(store)
    for obj in _objects(store, creds, store.container):
        name = obj['name']
        if driver.is_image_id(name):
            yield driver.StoredData(name, store._uri(name), obj.get('bytes'),
                                    _when(obj.get('last_modified')))
    groups: dict[str, list[dict]] = {}
    for obj in _objects(store, creds, store.segments):
        image_id, _, rest = obj['name'].partition('/')
        if rest and driver.is_image_id(image_id):
            groups.setdefault(image_id, []).append(obj)
    for image_id, objs in groups.items():
        times = [t for t in (_when(o.get('last_modified')) for o in objs)
                 if t is not None]
        yield driver.StoredData(
            image_id, _segments_uri(store, image_id),
            sum(o.get('bytes') or 0 for o in objs),
            max(times) if times else None, kind='segments',
            detail='%d segments' % len(objs))


def delete_segments(store: 'Store', item: driver.StoredData,
                    context: Any = None) -> None:
    """Delete every segment of ``item``'s image; NotFound if none is left."""
    creds = _credentials(store)
    found = False
    for obj in list(_objects(store, creds, store.segments,
                             prefix=item.image_id + '/')):
        found = True
        store._request(creds, 'DELETE', '/%s/%s' % (
            urllib.parse.quote(store.segments),
            urllib.parse.quote(obj['name'], safe='/')), ok=(404,)).close()
    if not found:
        raise exceptions.NotFound(image=item.uri)


class Listing:
    """The listing half of the swift Store (mixed in before driver.Store)."""

    def iter_image_data(self, context: Any = None
                        ) -> Iterator[driver.StoredData]:
        """Image objects, then the segments of each image grouped."""
        return iter_image_data(self)

    def delete_stored(self, item: driver.StoredData,
                      context: Any = None) -> None:
        """Delete an image object (an SLO with its segments), or every
        segment of a group."""
        if item.kind == 'segments':
            delete_segments(self, item, context)
        else:
            super().delete_stored(item, context)
