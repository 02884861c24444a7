"""The rbd store: image bytes as RADOS block device images in a Ceph pool.

Each image becomes an RBD image named after the image id, with a
protected snapshot ``snap``: Nova and Cinder clone their disks from that
snapshot (copy-on-write), which is why an image is never written in place
once stored.  The location is ``rbd://<fsid>/<pool>/<image>/<snapshot>``;
the cluster's fsid lets a consumer check it reaches the same cluster.
Locations of the old form ``rbd://<image>`` (no snapshot, the configured
pool) are still read and deleted.

librados and librbd come from the distribution (Debian's python3-rados and
python3-rbd); they are imported when a backend is configured, so glance
runs without them until an rbd backend is enabled.  A connection is made
per operation and never shared across fork(): glance-api forks its workers
after the stores are configured, and librados threads do not survive that.
"""
from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import math
import urllib.parse
from typing import Any, Iterable, Iterator

from oslo_config import cfg

from glance.store import driver, exceptions
from glance.store import location as loc_mod
from glance.store._drivers import pieces

LOG = logging.getLogger(__name__)
MiB = 1024 * 1024
SNAPSHOT = 'snap'

_OPTS = [
    cfg.StrOpt('rbd_store_pool', default='images',
               help='RADOS pool new images are written to.'),
    cfg.StrOpt('rbd_store_user',
               help='Ceph client id to connect as (without "client."); '
                    'unset: librados\' default (admin).'),
    cfg.StrOpt('rbd_store_ceph_conf', default='/etc/ceph/ceph.conf',
               help='Ceph configuration file (monitors, keyring); empty: '
                    'librados\' default search path.'),
    cfg.IntOpt('rbd_store_chunk_size', default=8, min=1,
               help='Size in MiB of the RADOS objects an image is striped '
                    'over, and of one write; a power of two.'),
    cfg.IntOpt('rados_connect_timeout', default=0, min=0,
               help='Seconds to wait for the cluster when connecting; 0: '
                    'librados\' default (client_mount_timeout).'),
    cfg.BoolOpt('rbd_thin_provisioning', default=False,
                help='Do not write chunks that are all zeros: the image '
                     'stays sparse there.'),
]


def _libs():
    """(rados, rbd) modules, or BadStoreConfiguration naming the package."""
    try:
        import rados
        import rbd
    except ImportError as exc:
        raise exceptions.BadStoreConfiguration(
            store_name='rbd',
            reason='the Ceph Python bindings are not importable (%s); '
                   'install python3-rados and python3-rbd (`make test-deps` '
                   'links them into the virtualenv)' % exc)
    return rados, rbd


class Store(driver.Store):
    """Reads and writes ``rbd://`` locations in one Ceph cluster."""

    schemes = ('rbd',)
    TYPE = 'rbd'
    OPTIONS = _OPTS
    capabilities = (driver.Capability.RW_ACCESS |
                    driver.Capability.DRIVER_REUSABLE)

    def configure(self) -> None:
        """Check the bindings and options; the cluster is reached later.

        Not connecting here keeps glance-api starting while Ceph is briefly
        away, the same as the other object stores.
        """
        self.rados, self.rbd = _libs()
        opts = self.opts
        chunk = opts.rbd_store_chunk_size * MiB
        if chunk & (chunk - 1):
            raise exceptions.BadStoreConfiguration(
                store_name=self.backend,
                reason='rbd_store_chunk_size must be a power of two (MiB)')
        self.chunk_size = chunk
        self.order = int(math.log2(chunk))
        self.pool = opts.rbd_store_pool
        self.user = opts.rbd_store_user or None
        self.conf_file = opts.rbd_store_ceph_conf or ''
        self.timeout = opts.rados_connect_timeout
        self.thin = opts.rbd_thin_provisioning
        self.READ_CHUNKSIZE = self.WRITE_CHUNKSIZE = chunk
        self._fsid: str | None = None

    def properties(self) -> dict:
        """Pool and chunking, as the filesystem store reports its own."""
        return {'pool': self.pool, 'chunk_size': self.chunk_size,
                'thin_provisioning': self.thin}

    # --- talking to Ceph ---------------------------------------------------

    @contextlib.contextmanager
    def _ioctx(self, pool: str) -> Iterator:
        """A connected cluster handle and an I/O context on ``pool``."""
        # Rados.connect() ignores its timeout argument; librados reads the
        # limit from its configuration instead.
        settings = ({'client_mount_timeout': str(self.timeout)}
                    if self.timeout else None)
        try:
            cluster = self.rados.Rados(conffile=self.conf_file,
                                       rados_id=self.user, conf=settings)
        except self.rados.Error as exc:
            raise exceptions.BadStoreConfiguration(
                store_name=self.backend, reason='ceph config %s: %s'
                % (self.conf_file, exc))
        try:
            try:
                cluster.connect()
                self._fsid = cluster.get_fsid()
                ioctx = cluster.open_ioctx(pool)
            except self.rados.ObjectNotFound:
                raise exceptions.BackendException(
                    reason='Ceph pool %s does not exist' % pool)
            except self.rados.Error as exc:
                raise exceptions.BackendException(
                    reason='cannot reach Ceph: %s' % exc)
            try:
                yield cluster, ioctx
            finally:
                ioctx.close()
        finally:
            cluster.shutdown()

    def _error(self, exc: Exception, what: str
               ) -> exceptions.GlanceStoreException:
        """The store exception for a librbd/librados one."""
        rbd = self.rbd
        if isinstance(exc, rbd.ImageNotFound):
            return exceptions.NotFound(image=what)
        if isinstance(exc, (rbd.NoSpace, rbd.DiskQuotaExceeded,
                            self.rados.NoSpace)) or \
                getattr(exc, 'errno', None) in (errno.ENOSPC, errno.EDQUOT):
            return exceptions.StorageFull()
        if isinstance(exc, (rbd.PermissionError, self.rados.PermissionError)):
            return exceptions.StorageWriteDenied()
        if isinstance(exc, (rbd.ImageBusy, rbd.ImageHasSnapshots)):
            return exceptions.InUseByStore(image=what)
        return exceptions.BackendException(reason='rbd %s: %s' % (what, exc))

    # --- locations ---------------------------------------------------------

    def _uri(self, fsid: str, pool: str, image: str) -> str:
        q = urllib.parse.quote
        return 'rbd://%s/%s/%s/%s' % (q(fsid, ''), q(pool, ''),
                                      q(image, ''), SNAPSHOT)

    def _parse(self, location: loc_mod.Location
               ) -> tuple[str | None, str, str, str | None]:
        """(fsid, pool, image, snapshot); the old form has neither fsid
        nor snapshot and lives in the configured pool."""
        prefix = 'rbd://'
        if not location.uri.startswith(prefix):
            raise exceptions.BadStoreUri(uri=location.uri)
        pieces = [urllib.parse.unquote(p)
                  for p in location.uri[len(prefix):].split('/')]
        if any(not p for p in pieces) or len(pieces) not in (1, 4):
            raise exceptions.BadStoreUri(uri=location.uri)
        if len(pieces) == 1:
            return None, self.pool, pieces[0], None
        return pieces[0], pieces[1], pieces[2], pieces[3]

    def owns(self, location: loc_mod.Location) -> bool:
        """Only locations on this cluster (by fsid) may be adopted."""
        if location.scheme not in self.schemes:
            return False
        try:
            fsid, pool, _name, _snap = self._parse(location)
            if fsid is None:
                return True
            if self._fsid is None:
                with self._ioctx(pool):
                    pass
        except exceptions.GlanceStoreException:
            return False
        return fsid == self._fsid

    # --- the data path ------------------------------------------------------

    def add(self, image_id: str, data: Iterable[bytes], size: int | None,
            context: Any = None) -> tuple[str, int, dict]:
        """Create the RBD image, fill it, snapshot and protect the snapshot.

        The image is created at ``size`` (0 when unknown) and grown as data
        comes, then trimmed to what arrived.  Whatever stops the write (the
        cluster, the client going away, a quota raising from ``data``)
        removes the image before the error goes on.
        """
        with self._ioctx(self.pool) as (cluster, ioctx):
            uri = self._uri(cluster.get_fsid(), self.pool, image_id)
            try:
                self.rbd.RBD().create(ioctx, image_id, size or 0,
                                      order=self.order, old_format=False)
            except self.rbd.ImageExists:
                raise exceptions.Duplicate(image=uri)
            except self.rbd.Error as exc:
                raise self._error(exc, image_id)
            try:
                with self.rbd.Image(ioctx, image_id) as image:
                    written = self._fill(image, data)
                    if image.size() != written:
                        image.resize(written)
                    image.create_snap(SNAPSHOT)
                    image.protect_snap(SNAPSHOT)
            except self.rbd.Error as exc:
                self._remove_quietly(ioctx, image_id)
                raise self._error(exc, image_id)
            except BaseException:
                self._remove_quietly(ioctx, image_id)
                raise
        LOG.debug('Store %s: wrote %d bytes to rbd image %s/%s',
                  self.backend, written, self.pool, image_id)
        return uri, written, {}

    def _fill(self, image, data: Iterable[bytes]) -> int:
        """Write ``data`` in chunk-sized writes; return the bytes written.

        Small request chunks are gathered first: each RBD write is a round
        trip to an OSD, and a chunk-aligned write fills whole objects.
        """
        offset = 0
        for block in pieces.blocks(data, self.chunk_size):
            offset = self._write(image, offset, block)
        return offset

    def _write(self, image, offset: int, block: bytes) -> int:
        end = offset + len(block)
        if end > image.size():
            image.resize(end)
        if not (self.thin and block == bytes(len(block))):
            # a new image reads as zeros where nothing was written
            image.write(block, offset)
        return end

    def _remove_quietly(self, ioctx, name: str) -> None:
        try:
            with self.rbd.Image(ioctx, name) as image:
                for snap in list(image.list_snaps()):
                    if image.is_protected_snap(snap['name']):
                        image.unprotect_snap(snap['name'])
                    image.remove_snap(snap['name'])
            self.rbd.RBD().remove(ioctx, name)
        except Exception as exc:  # noqa: BLE001 - already failing
            LOG.error('Store %s: could not remove rbd image %s/%s after a '
                      'failed upload: %s', self.backend, self.pool, name, exc)
        else:
            LOG.warning('Store %s: upload of %s failed; partial rbd image '
                        'removed', self.backend, name)

    def get(self, location: loc_mod.Location, offset: int = 0,
            chunk_size: int | None = None, length: int | None = None,
            context: Any = None) -> tuple[Iterator[bytes], int]:
        """Iterator over ``length`` bytes from ``offset`` (default: all).

        The image is opened (at its snapshot) before returning, so a
        missing image is a NotFound before any byte is sent; the iterator
        holds the connection until it is exhausted or closed.
        """
        _fsid, pool, name, snap = self._parse(location)
        stack = contextlib.ExitStack()
        try:
            _cluster, ioctx = stack.enter_context(self._ioctx(pool))
            image = stack.enter_context(self.rbd.Image(
                ioctx, name, snapshot=snap, read_only=True))
            total = image.size()
        except self.rbd.Error as exc:
            stack.close()
            raise self._error(exc, location.uri)
        except BaseException:
            stack.close()
            raise
        offset = max(0, offset or 0)
        remaining = max(0, total - offset) if length is None else \
            max(0, min(length, total - offset))
        return _Reader(self, image, stack, offset, remaining,
                       chunk_size or self.READ_CHUNKSIZE), remaining

    def get_size(self, location: loc_mod.Location,
                 context: Any = None) -> int:
        _fsid, pool, name, snap = self._parse(location)
        with self._ioctx(pool) as (_cluster, ioctx):
            try:
                with self.rbd.Image(ioctx, name, snapshot=snap,
                                    read_only=True) as image:
                    return image.size()
            except self.rbd.Error as exc:
                raise self._error(exc, location.uri)

    def check_deletable(self, location: loc_mod.Location,
                        context: Any = None) -> None:
        """InUseByStore when the snapshot has clones or a client has the
        image open; changes nothing (a missing image is left to delete)."""
        _fsid, pool, name, snap = self._parse(location)
        with self._ioctx(pool) as (_cluster, ioctx):
            try:
                with self.rbd.Image(ioctx, name, snapshot=snap,
                                    read_only=True) as image:
                    # a read-only open registers no watcher of its own
                    if list(image.watchers_list()) or \
                            (snap and list(image.list_children())):
                        raise exceptions.InUseByStore(image=location.uri)
            except self.rbd.ImageNotFound:
                return
            except self.rbd.Error as exc:
                raise self._error(exc, location.uri)

    def delete(self, location: loc_mod.Location,
               context: Any = None) -> None:
        """Unprotect and remove the snapshot, then remove the image.

        InUseByStore when the snapshot has clones (a Nova or Cinder disk
        made from it) or the image is open elsewhere: the data is then left
        as it was, protected snapshot included.
        """
        _fsid, pool, name, snap = self._parse(location)
        with self._ioctx(pool) as (_cluster, ioctx):
            try:
                if snap:
                    with self.rbd.Image(ioctx, name) as image:
                        if len(list(image.watchers_list())) > 1:
                            # mapped or open by a client besides us
                            raise exceptions.InUseByStore(image=location.uri)
                        self._drop_snapshot(image, snap)
                self.rbd.RBD().remove(ioctx, name)
            except self.rbd.Error as exc:
                raise self._error(exc, location.uri)
        LOG.debug('Store %s: removed rbd image %s/%s', self.backend, pool,
                  name)

    def _drop_snapshot(self, image, snap: str) -> None:
        try:
            if image.is_protected_snap(snap):
                image.unprotect_snap(snap)      # ImageBusy: it has clones
            image.remove_snap(snap)
        except self.rbd.ImageNotFound:
            pass                                # only the snapshot is gone

    # --- listing (orphan sweeps) ------------------------------------------

    def iter_image_data(self, context: Any = None
                        ) -> Iterator[driver.StoredData]:
        """The RBD images of the pool named by an image id, with their
        snapshots (removed along with the image)."""
        with self._ioctx(self.pool) as (cluster, ioctx):
            fsid = cluster.get_fsid()
            try:
                names = list(self.rbd.RBD().list(ioctx))
            except self.rbd.Error as exc:
                raise self._error(exc, 'listing of pool %s' % self.pool)
            found = []
            for name in names:
                if not driver.is_image_id(name):
                    continue
                try:
                    with self.rbd.Image(ioctx, name,
                                        read_only=True) as image:
                        size = image.size()
                        snaps = [s['name'] for s in image.list_snaps()]
                        created = image.create_timestamp().replace(
                            tzinfo=datetime.timezone.utc).timestamp()
                except self.rbd.ImageNotFound:
                    continue            # removed while we looked
                except self.rbd.Error as exc:
                    raise self._error(exc, name)
                found.append(driver.StoredData(
                    name, self._uri(fsid, self.pool, name), size, created,
                    detail='snapshots: %s' % (', '.join(snaps) or 'none')))
        yield from found

    def delete_stored(self, item: driver.StoredData,
                      context: Any = None) -> None:
        """Remove the image and every snapshot of it (not only ``snap``:
        an upload killed half-way may have left none, a hand-made one may
        have more); InUseByStore when one has clones or it is open."""
        _fsid, pool, name, _snap = self._parse(
            loc_mod.parse(item.uri, self.backend))
        with self._ioctx(pool) as (_cluster, ioctx):
            try:
                with self.rbd.Image(ioctx, name) as image:
                    if len(list(image.watchers_list())) > 1:
                        raise exceptions.InUseByStore(image=item.uri)
                    for snap in list(image.list_snaps()):
                        self._drop_snapshot(image, snap['name'])
                self.rbd.RBD().remove(ioctx, name)
            except self.rbd.Error as exc:
                raise self._error(exc, item.uri)


class _Reader:
    """Iterator over a range of an open RBD image; closes it when done."""

    def __init__(self, store: Store, image, stack: contextlib.ExitStack,
                 offset: int, length: int, chunk_size: int):
        self._store, self._image, self._stack = store, image, stack
        self._offset, self._left, self._chunk = offset, length, chunk_size

    def __iter__(self) -> Iterator[bytes]:
        try:
            while self._left > 0:
                n = min(self._chunk, self._left)
                try:
                    block = self._image.read(self._offset, n)
                except self._store.rbd.Error as exc:
                    raise self._store._error(exc, 'read')
                if not block:
                    break
                self._offset += len(block)
                self._left -= len(block)
                yield block
        finally:
            self.close()

    def close(self) -> None:
        self._stack.close()
