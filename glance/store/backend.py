"""Store loading and the registry of configured backends.

This is the one adapter that reads ``enabled_backends``.  A single-store
configuration (``[glance_store] stores/default_store``) becomes a registry
with one backend, so everything above sees only the multi-store shape.
Drivers load by stevedore from the ``glance.store.drivers`` namespace.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Iterator

from oslo_config import cfg
from stevedore import driver as sv_driver

from glance.store import driver as driver_mod
from glance.store import exceptions
from glance.store import location as loc_mod

LOG = logging.getLogger(__name__)
NAMESPACE = 'glance.store.drivers'
#: backends glance uses internally; filesystem stores configured in their
#: own sections and never offered to users as upload targets
RESERVED_STORES = ('os_glance_staging_store', 'os_glance_tasks_store')

_store_opts = [
    cfg.ListOpt('stores', default=['file'],
                help='Single-store mode: the drivers that may be used.'),
    cfg.StrOpt('default_store', default='file',
               help='Single-store mode: the driver new image data goes to.'),
    cfg.StrOpt('default_backend',
               help='Multi-store mode: the backend id new image data goes '
                    'to when the request names none.'),
]
_backend_opts = [
    cfg.DictOpt('enabled_backends',
                help='Multi-store mode: "id:type" pairs, e.g. '
                     '"fast:file, cheap:file". Each id has its own section.'),
]
_description_opt = cfg.StrOpt('store_description',
                              help='What this backend is, shown to users.')
_weight_opt = cfg.IntOpt('weight', default=0,
                         help='Preference of this backend when an image is '
                              'held in several (higher is read first).')


class Registry:
    """The configured backends by id, and which one is the default."""

    def __init__(self, stores: dict[str, driver_mod.Store], default: str,
                 multi: bool):
        self.stores = stores
        self.default = default
        self.multi = multi

    def get(self, store_id: str | None) -> driver_mod.Store:
        store_id = store_id or self.default
        try:
            return self.stores[store_id]
        except KeyError:
            raise exceptions.UnknownStore(store=store_id)

    def for_uri(self, uri: str, store_id: str | None = None
                ) -> tuple[driver_mod.Store, loc_mod.Location]:
        """The store that reads ``uri`` (the named one, else by scheme)."""
        location = loc_mod.parse(uri, store_id)
        if store_id and store_id in self.stores:
            return self.stores[store_id], location
        for store in self.stores.values():
            if location.scheme in store.schemes:
                return store, location
        raise exceptions.UnknownScheme(scheme=location.scheme)

    def owner_of(self, uri: str) -> tuple[str, driver_mod.Store,
                                          loc_mod.Location]:
        """(id, store, location) of the user store that may serve ``uri``.

        BadStoreUri when the URI is malformed or no such store would serve
        it (a file outside every file store, say); UnknownScheme when no
        store speaks its scheme at all.
        """
        location = loc_mod.parse(uri, None)
        schemed = [(sid, store) for sid, store in self.stores.items()
                   if sid not in RESERVED_STORES
                   and location.scheme in store.schemes]
        if not schemed:
            raise exceptions.UnknownScheme(scheme=location.scheme)
        for sid, store in schemed:
            if store.owns(location):
                return sid, store, location
        raise exceptions.BadStoreUri('%s is not in any configured store'
                                     % uri)

    def user_stores(self) -> list[str]:
        """Backends users may name (not the reserved internal ones)."""
        return [s for s in self.stores if s not in RESERVED_STORES]

    def writable(self, store_id: str) -> bool:
        """Whether the backend takes new data (an http store only reads)."""
        return self.stores[store_id].is_capable(
            driver_mod.Capability.WRITE_ACCESS)


_REGISTRY: Registry | None = None


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the options that choose and configure backends."""
    conf.register_opts(_store_opts, group='glance_store')
    conf.register_opts(_backend_opts)


#: optional drivers whose libraries come with an extra of the same name
#: (setup.cfg [options.extras_require]); rbd's come from the distribution
EXTRAS = ('s3',)


def _reraise(manager, entry_point, exc: Exception) -> None:
    # stevedore only logs a driver that fails to import and then reports
    # "no driver": raise the import error itself, which names the module
    raise exc


def _driver_class(store_type: str):
    try:
        mgr = sv_driver.DriverManager(NAMESPACE, store_type,
                                      invoke_on_load=False,
                                      on_load_failure_callback=_reraise)
    except ImportError as exc:
        hint = (' (pip install "glance[%s]")' % store_type
                if store_type in EXTRAS else '')
        raise exceptions.BadStoreConfiguration(
            store_name=store_type, reason='the %s driver cannot be '
            'imported: %s%s' % (store_type, exc, hint))
    except Exception as exc:  # stevedore raises NoMatches and friends
        raise exceptions.BadStoreConfiguration(
            store_name=store_type, reason='no driver named %r in %s: %s'
            % (store_type, NAMESPACE, exc))
    return mgr.driver


def _make(conf: cfg.ConfigOpts, backend: str, store_type: str,
          group: str) -> driver_mod.Store:
    cls = _driver_class(store_type)
    conf.register_opts(cls.OPTIONS, group=group)
    if group != 'glance_store':
        conf.register_opt(_description_opt, group=group)
        conf.register_opt(_weight_opt, group=group)
    store = cls(conf, backend, group)
    store.configure()
    return store


def create_stores(conf: cfg.ConfigOpts) -> Registry:
    """Instantiate and configure every backend; remember them process-wide."""
    global _REGISTRY
    register_opts(conf)
    stores: dict[str, driver_mod.Store] = {}
    backends = conf.enabled_backends
    if backends:
        for backend, store_type in backends.items():
            stores[backend] = _make(conf, backend, store_type.strip(), backend)
        configured = set(conf.list_all_sections())
        for reserved in RESERVED_STORES:
            # Internal filesystem stores exist when the operator gave them a
            # section (they are where staged and task data go).
            if reserved in configured:
                stores[reserved] = _make(conf, reserved, 'file', reserved)
        default = conf.glance_store.default_backend
        if not default or default not in stores:
            raise exceptions.BadStoreConfiguration(
                store_name='default_backend',
                reason='[glance_store] default_backend must name one of '
                       'enabled_backends (%s)' % ', '.join(backends))
        _REGISTRY = Registry(stores, default, multi=True)
    else:
        default = conf.glance_store.default_store
        for store_type in conf.glance_store.stores:
            store_type = store_type.strip()
            if store_type in stores:
                continue
            try:
                stores[store_type] = _make(conf, store_type, store_type,
                                           'glance_store')
            except exceptions.BadStoreConfiguration:
                if store_type == default:
                    raise
                LOG.warning('Store %s could not be configured and is '
                            'disabled', store_type)
        if default not in stores:
            raise exceptions.BadStoreConfiguration(
                store_name=default, reason='default_store is not enabled')
        _REGISTRY = Registry(stores, default, multi=False)
    LOG.info('Stores enabled: %s (default %s)', ', '.join(stores), default)
    return _REGISTRY


def registry() -> Registry:
    """The registry made by ``create_stores``."""
    if _REGISTRY is None:
        raise exceptions.BadStoreConfiguration(
            store_name='*', reason='create_stores() has not been called')
    return _REGISTRY


def list_stores() -> list[str]:
    """Ids of the backends users may name (the reserved ones left out)."""
    return registry().user_stores()


def get_store_from_store_identifier(store_id: str | None) -> driver_mod.Store:
    """The configured backend ``store_id`` (None: the default one)."""
    return registry().get(store_id)


def add_to_backend(store_id: str | None, image_id: str,
                   data: Iterable[bytes], size: int | None,
                   context: Any = None, source_file: str | None = None
                   ) -> tuple[str, int, dict]:
    """Write image data; return (uri, size, metadata incl. the store id).

    ``context`` is the caller's request context (see :class:`driver.Store`).
    ``source_file``: a local file ``data`` reads whole (staged import
    data), which the store may keep instead of a copy (``add_file``).
    """
    store = registry().get(store_id)
    if source_file is None:
        uri, written, meta = store.add(image_id, data, size, context=context)
    else:
        uri, written, meta = store.add_file(image_id, data, size,
                                            source_file, context=context)
    if registry().multi:
        meta = dict(meta, store=store.backend)
    return uri, written, meta


def get_from_backend(uri: str, offset: int = 0, length: int | None = None,
                     store_id: str | None = None, context: Any = None
                     ) -> tuple[Iterator[bytes], int]:
    """(byte iterator, number of bytes) of ``uri``, optionally a range."""
    store, location = registry().for_uri(uri, store_id)
    return store.get(location, offset=offset, length=length,
                     context=context)


def get_size_from_backend(uri: str, store_id: str | None = None,
                          context: Any = None) -> int:
    """Size in bytes of the data at ``uri``."""
    store, location = registry().for_uri(uri, store_id)
    return store.get_size(location, context=context)


def check_deletable(uri: str, store_id: str | None = None,
                    context: Any = None) -> None:
    """InUseByStore when the store would refuse to delete ``uri`` now."""
    store, location = registry().for_uri(uri, store_id)
    store.check_deletable(location, context=context)


def delete_from_backend(uri: str, store_id: str | None = None,
                        context: Any = None) -> None:
    """Delete the data at ``uri``; NotFound if it was already gone."""
    store, location = registry().for_uri(uri, store_id)
    store.delete(location, context=context)


def discard_from_backend(store_id: str | None, image_id: str,
                         context: Any = None) -> list[str]:
    """Remove data a killed write of ``image_id`` left in ``store_id``
    (see :meth:`driver.Store.discard`); the URIs removed."""
    return registry().get(store_id).discard(image_id, context=context)


def set_acls_for_image(uri: str, store_id: str | None = None,
                       public: bool = False,
                       read_tenants: list[str] | None = None,
                       context: Any = None) -> None:
    """Grant read access to the data at ``uri`` (see Store.set_acls)."""
    store, location = registry().for_uri(uri, store_id)
    store.set_acls(location, public=public, read_tenants=read_tenants,
                   context=context)


def iter_image_data(store_id: str | None = None, context: Any = None
                    ) -> Iterator[driver_mod.StoredData]:
    """What backend ``store_id`` holds under image ids (see
    :meth:`driver.Store.iter_image_data`)."""
    return registry().get(store_id).iter_image_data(context=context)


def delete_stored(item: driver_mod.StoredData, store_id: str | None = None,
                  context: Any = None) -> None:
    """Remove ``item`` of a listing from backend ``store_id``."""
    registry().get(store_id).delete_stored(item, context=context)


def list_opts():
    """Options for oslo-config-generator (namespace glance.store)."""
    from glance.store._drivers import filesystem, http, rbd, s3, swift
    return [('glance_store', _store_opts + filesystem._OPTS + http._OPTS +
             swift._OPTS + s3._OPTS + rbd._OPTS),
            ('DEFAULT', _backend_opts)]
