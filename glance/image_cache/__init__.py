"""The local image cache of a glance-api node.

Layout under ``image_cache_dir``::

    <image_id>             verified image files, served instead of the store
    incomplete/<image_id>  a file being written, locked by its writer
                           (discarded on any failure; taken over when
                           its writer died)
    invalid/<image_id>     files whose checksum did not match the image
    queue/<image_id>       images queued for glance-cache-prefetcher

A file enters the cache only after its md5 and multihash matched the
image's.  Its record (driver) keeps the file's stamp (size, mtime, inode)
at that moment; a file whose stamp changed since is hashed again before it
is served, and moved to invalid/ when it no longer matches.
"""
from __future__ import annotations

import fcntl
import logging
import os
import time
from typing import Callable, Iterable, Iterator

from oslo_config import cfg

import glance.common.config  # noqa: F401 - worker_self_reference_url
from glance.image_cache import drivers
from glance.store import hashing
from glance.store.regions import FileChunks

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

cache_opts = [
    cfg.StrOpt('image_cache_dir',
               help='Directory of the local image cache.  Required by the '
                    'caching and cachemanagement paste flavors and by the '
                    'glance-cache-* tools (same value everywhere).'),
    cfg.IntOpt('image_cache_max_size', default=10 * 1024 ** 3, min=0,
               help='Bytes the cache may hold before glance-cache-pruner '
                    'removes the least recently used images.  The API may '
                    'exceed it between two pruner runs.'),
    cfg.IntOpt('image_cache_stall_time', default=86400, min=0,
               help='Seconds after which glance-cache-cleaner removes an '
                    'incomplete cache file nobody writes to any more.'),
    cfg.StrOpt('image_cache_driver', default='centralized_db',
               choices=[('centralized_db', 'records in the glance database, '
                         'per node (worker_self_reference_url)'),
                        ('sqlite', 'records in a SQLite file under '
                         'image_cache_dir')],
               help='Where the records of cached images are kept.'),
    cfg.StrOpt('image_cache_sqlite_db', default='cache.db',
               help='SQLite file of the sqlite cache driver, relative to '
                    'image_cache_dir unless absolute.'),
]
CONF.register_opts(cache_opts)

#: bytes read from a cached file at a time
READ_CHUNK = 64 * 1024
SUBDIRS = ('incomplete', 'invalid', 'queue')


def _own(fd: int, path: str | None = None) -> bool:
    """Take the fill lock on an incomplete file; False if a live fill holds
    it.  The lock is the file's owner and its lease at once: it lasts as
    long as the writing process, and dies with it.  With ``path``, also
    False when the file opened is no longer the one there (a fill that
    finished moved it into the cache meanwhile)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    if path is not None:
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
    return True


def _in_use(path: str) -> bool:
    """Whether a live fill holds the lock of the incomplete file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        if not _own(fd):
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class CacheNotConfigured(Exception):
    """The cache is asked for, but image_cache_dir is not set."""


def _stamp(path: str) -> str:
    st = os.stat(path)
    return '%d:%d:%d' % (st.st_size, st.st_mtime_ns, st.st_ino)


def _digests(image) -> hashing.Digests:
    """md5, and the image's multihash algorithm when it has a hash: what a
    cached copy is checked against (inline: a copy is committed as soon as
    its last byte is hashed)."""
    algo = image.os_hash_algo if image.os_hash_value else None
    return hashing.Digests(algo, parallel=False)


def _matches(image, digests: hashing.Digests) -> bool:
    """Whether the bytes ``digests`` saw are ``image``'s data."""
    return digests.size == image.size and \
        (not image.checksum or digests.checksum == image.checksum) and \
        (digests.hash_value is None
         or digests.hash_value == image.os_hash_value)


def cacheable(image) -> bool:
    """Whether ``image``'s data may enter the cache: active, and with a
    size and a checksum to verify the copy against."""
    return image.status == 'active' and bool(image.size) and \
        bool(image.checksum or image.os_hash_value)


class ImageCache:
    """The cache directory of this node and the driver of its records."""

    def __init__(self) -> None:
        self.base = CONF.image_cache_dir
        if not self.base:
            raise CacheNotConfigured(
                'The image cache needs image_cache_dir set (in [DEFAULT] of '
                'glance-api.conf, and of glance-cache.conf for the tools).')
        for sub in ('',) + SUBDIRS:
            os.makedirs(os.path.join(self.base, sub), exist_ok=True)
        self.driver = drivers.load(CONF.image_cache_driver, self.base)

    # --- paths -----------------------------------------------------------

    def path(self, image_id: str, sub: str = '') -> str:
        if os.sep in image_id or image_id in ('', '.', '..'):
            raise ValueError('not an image id: %r' % image_id)
        return os.path.join(self.base, sub, image_id)

    def _move_invalid(self, image_id: str, source: str) -> None:
        try:
            os.replace(source, self.path(image_id, 'invalid'))
        except FileNotFoundError:
            pass

    @staticmethod
    def _unlink(path: str) -> bool:
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return False

    # --- serving ---------------------------------------------------------

    def _verify_file(self, image, path: str) -> bool:
        digests = _digests(image)
        with open(path, 'rb') as f:
            while chunk := f.read(READ_CHUNK):
                digests.update(chunk)
        return _matches(image, digests)

    def open(self, image, offset: int = 0, length: int | None = None
             ) -> tuple[Iterator[bytes], int] | None:
        """(bytes, their number) of the cached copy of ``image`` from
        ``offset``, or None when there is no usable copy."""
        if not cacheable(image):
            return None
        entry = self.driver.get(image.image_id)
        if entry is None:
            return None
        path = self.path(image.image_id)
        try:
            stamp = _stamp(path)
        except FileNotFoundError:
            LOG.warning('Cached file of image %s is gone; forgetting it.',
                        image.image_id)
            self.driver.delete(image.image_id)
            return None
        if stamp != entry.stamp:
            if not self._verify_file(image, path):
                LOG.warning('Cached file of image %s does not match the '
                            'image checksum; moved to invalid/ and served '
                            'from the store.', image.image_id)
                self.driver.delete(image.image_id)
                self._move_invalid(image.image_id, path)
                return None
            self.driver.set_stamp(image.image_id, stamp)
        f = open(path, 'rb')
        self.driver.hit(image.image_id)
        total = image.size - offset if length is None else length
        return FileChunks(f, offset, total, READ_CHUNK), total

    # --- filling ---------------------------------------------------------

    def tee(self, image, data: Iterable[bytes]) -> Iterable[bytes]:
        """``data`` (the whole image), copied into the cache as it passes.

        Returned unchanged when the image may not be cached, is cached
        already or is being cached by another request.
        """
        if not cacheable(image) or self.is_cached(image.image_id):
            return data
        partial = self.path(image.image_id, 'incomplete')
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as exc:
            LOG.warning('Image %s not cached: %s', image.image_id, exc)
            return data
        if not _own(fd, partial):
            os.close(fd)        # another request is caching it right now
            return data
        # Ours: anything in the file was left by a fill that died (the
        # kernel dropped its lock with it), so it starts again from zero.
        if os.fstat(fd).st_size:
            LOG.info('Image %s: the partial cache file of a fill that '
                     'stopped is discarded; filling it anew.',
                     image.image_id)
            os.ftruncate(fd, 0)
        return self._teeing(image, data, os.fdopen(fd, 'wb'), partial)

    def _teeing(self, image, data, out, partial: str) -> Iterator[bytes]:
        hashes = _digests(image)
        committed = False
        try:
            for chunk in data:
                if out is not None:
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        # A full cache disk must not fail the download.
                        LOG.warning('Image %s not cached: %s',
                                    image.image_id, exc)
                        out.close()
                        out = None
                        self._unlink(partial)
                    hashes.update(chunk)
                    if out is not None and hashes.size >= image.size:
                        out.close()
                        out = None
                        # Complete: commit before the last chunk goes
                        # out, so a client leaving now loses nothing.
                        committed = self._commit(image, partial, hashes)
                yield chunk
        finally:
            if out is not None:
                out.close()
            if not committed:
                if self._unlink(partial):
                    LOG.info('Image %s: partial cache file discarded '
                             '(download ended after %d of %d bytes).',
                             image.image_id, hashes.size, image.size)
            close = getattr(data, 'close', None)
            if close is not None:
                close()

    def _commit(self, image, partial: str,
                hashes: hashing.Digests) -> bool:
        if not _matches(image, hashes):
            LOG.warning('Image %s: data read from the store does not match '
                        'its checksum; the copy was moved to invalid/.',
                        image.image_id)
            self._move_invalid(image.image_id, partial)
            return True       # dealt with: nothing left to discard
        final = self.path(image.image_id)
        os.replace(partial, final)
        now = time.time()
        self.driver.put(drivers.Entry(
            image_id=image.image_id, size=hashes.size, hits=0,
            last_accessed=now, last_modified=now,
            checksum=hashes.checksum, stamp=_stamp(final)))
        LOG.info('Image %s cached (%d bytes).', image.image_id, hashes.size)
        return True

    def fill(self, image, data: Iterable[bytes]) -> bool:
        """Cache ``data`` (prefetching); whether the image is now cached."""
        for _chunk in self.tee(image, data):
            pass
        return self.is_cached(image.image_id)

    # --- records ---------------------------------------------------------

    def is_cached(self, image_id: str) -> bool:
        return self.driver.get(image_id) is not None and \
            os.path.exists(self.path(image_id))

    def cached(self) -> list[drivers.Entry]:
        """Records of the cached images, least recently used first."""
        return self.driver.list()

    def nodes(self, image_id: str) -> list[str]:
        """Reference URLs of the nodes caching ``image_id`` (every node
        sharing the database with centralized_db, this one otherwise)."""
        return self.driver.nodes(image_id)

    def total_size(self) -> int:
        return sum(e.size for e in self.driver.list())

    def delete(self, image_id: str) -> bool:
        """Remove ``image_id`` from the cache; whether it was there."""
        known = self.driver.delete(image_id)
        return self._unlink(self.path(image_id)) or known

    def delete_all(self) -> int:
        ids = self.driver.delete_all()
        for image_id in ids:
            self._unlink(self.path(image_id))
        return len(ids)

    # --- the prefetch queue ----------------------------------------------

    def queue(self, image_id: str) -> bool:
        """Queue ``image_id`` for prefetching; False if it is cached."""
        if self.is_cached(image_id):
            return False
        with open(self.path(image_id, 'queue'), 'a'):
            pass
        return True

    def queued(self) -> list[str]:
        """Queued image ids, oldest first."""
        qdir = os.path.join(self.base, 'queue')
        names = []
        for name in os.listdir(qdir):
            try:
                names.append((os.stat(os.path.join(qdir, name)).st_mtime,
                              name))
            except FileNotFoundError:
                continue
        return [name for _, name in sorted(names)]

    def dequeue(self, image_id: str) -> bool:
        return self._unlink(self.path(image_id, 'queue'))

    def delete_queue(self) -> int:
        return sum(self.dequeue(i) for i in self.queued())

    # --- maintenance -----------------------------------------------------

    def prune(self, max_size: int | None = None) -> list[str]:
        """Remove least recently used images until the cache holds at most
        ``max_size`` bytes (default image_cache_max_size)."""
        limit = CONF.image_cache_max_size if max_size is None else max_size
        entries = self.driver.list()
        total = sum(e.size for e in entries)
        removed = []
        for entry in entries:
            if total <= limit:
                break
            self.delete(entry.image_id)
            total -= entry.size
            removed.append(entry.image_id)
            LOG.info('Pruned image %s (%d bytes) from the cache.',
                     entry.image_id, entry.size)
        return removed

    def drop_deleted(self, live: Callable[[set[str]], set[str]]
                     ) -> list[str]:
        """Remove the copies of images that were deleted.

        ``live`` answers which of the ids it is given are images that
        still exist (glance.db.image_refs.live_ids).  The node that
        deletes an image drops its copy at once; every other node's copy
        goes here, at its next pruner or cleaner run.  Queued ids of
        deleted images are dequeued too.
        """
        cached = {e.image_id for e in self.driver.list()}
        queued = set(self.queued())
        alive = live(cached | queued)
        removed = []
        for image_id in sorted(cached - alive):
            if self.delete(image_id):
                removed.append(image_id)
                LOG.info('Removed image %s from the cache: the image was '
                         'deleted.', image_id)
        for image_id in sorted(queued - alive):
            self.dequeue(image_id)
        return removed

    def clean(self, stall_time: int | None = None) -> list[str]:
        """Remove invalid files, and incomplete ones untouched for
        ``stall_time`` seconds (default image_cache_stall_time)."""
        stall = CONF.image_cache_stall_time if stall_time is None \
            else stall_time
        removed = []
        for name in os.listdir(os.path.join(self.base, 'invalid')):
            if self._unlink(self.path(name, 'invalid')):
                removed.append('invalid/' + name)
        now = time.time()
        for name in os.listdir(os.path.join(self.base, 'incomplete')):
            path = self.path(name, 'incomplete')
            try:
                if now - os.stat(path).st_mtime < stall or _in_use(path):
                    continue
            except FileNotFoundError:
                continue
            if self._unlink(path):
                removed.append('incomplete/' + name)
        return removed
