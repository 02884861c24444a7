"""The location layer's view of the configured stores: which ones users
may name (discovery, /v2/info/stores, the target of an upload) and where
the reserved staging store keeps its files.
"""
from __future__ import annotations

from glance import store as glance_store
from glance.common import exception
from glance.common import fetcher
from glance.domain.image import location_store


def enabled_stores() -> tuple[list[str], bool]:
    """Ids of the stores users may name, and whether there are several."""
    registry = glance_store.backend.registry()
    return registry.user_stores(), registry.multi


def writable_stores() -> list[str]:
    """Ids of the user stores that take new data ("all stores" of an
    import: a read-only store such as http cannot be written to)."""
    registry = glance_store.backend.registry()
    return [s for s in registry.user_stores() if registry.writable(s)]


def store_info(detail: bool = False) -> list[dict] | None:
    """The stores users may name, as /v2/info/stores shows them.

    None in a single-store setup, where the API has no store to offer.
    With ``detail`` each store also tells its type, weight and driver
    properties (for administrators).
    """
    registry = glance_store.backend.registry()
    if not registry.multi:
        return None
    out = []
    for store_id in registry.user_stores():
        store = registry.stores[store_id]
        info = {'id': store_id, 'description': store.description or ''}
        if store_id == registry.default:
            info['default'] = 'true'
        if not registry.writable(store_id):
            info['read-only'] = 'true'
        if detail:
            info.update(type=store.TYPE, weight=store.weight,
                        properties=store.properties())
        out.append(info)
    return out


def staging_directory() -> str | None:
    """The directory of the reserved staging store, None if not configured.

    Staged data is read and written as plain local files by the import
    code; only where they live is the store's business.
    """
    store = glance_store.backend.registry().stores.get(
        'os_glance_staging_store')
    datadirs = getattr(store, 'datadirs', None)
    return datadirs[0][0] if datadirs else None


def target_store(requested: str | None) -> str | None:
    """The backend an upload goes to: the one asked for, else the default.

    Single-store deployments ignore the request, as the API reference says;
    the reserved internal stores are never a user's target.
    """
    users, multi = enabled_stores()
    if not multi or not requested:
        return None
    if requested not in users:
        raise exception.BadRequest('Store %s is not available for image '
                                   'data.' % requested)
    return requested


def preferred_first(locations: list[dict], prefer: list[str]) -> list[dict]:
    """``locations`` with those in the stores named by ``prefer`` first,
    in its order (a download's ``?prefer=``), then the others as they
    were.  A store named that holds no location is no error: the
    preference is a suggestion, and every location stays a fallback."""
    if not prefer:
        return locations
    rank = {store: n for n, store in reversed(list(enumerate(prefer)))}
    last = len(prefer)
    return sorted(locations,
                  key=lambda loc: rank.get(location_store(loc) or '', last))


def check_end_user_location(url: str) -> None:
    """May a caller that is not a service add ``url`` as a location?

    Only data behind an http store: a location in a store glance writes
    (a file store's directory, a bucket) could name another image's data
    and hand it to the caller.  Where no http store is configured the call
    is for services alone (403), as in the reference service; an URL no
    http store serves, or that ``[import_filtering_opts]`` refuses (as for
    web-download: the user chooses where glance connects), is a bad
    location (400).
    """
    registry = glance_store.backend.registry()
    if not any(store.TYPE == 'http' for store in registry.stores.values()):
        raise exception.Forbidden(
            'Only a service may add a location where no http store is '
            'configured.')
    try:
        _sid, store, _loc = registry.owner_of(url)
    except glance_store.GlanceStoreException as exc:
        raise exception.BadRequest('Invalid location %s: %s' % (url, exc))
    if store.TYPE != 'http':
        raise exception.BadRequest(
            'Invalid location %s: only a service may add a location that '
            'is not served by an http store.' % url)
    try:
        fetcher.check(url, what='an image location')
    except fetcher.FetchRefused as exc:
        # the reference's words, which clients (Tempest) look for
        raise exception.BadRequest('Location %s does not pass filtering: %s'
                                   % (url, exc))
