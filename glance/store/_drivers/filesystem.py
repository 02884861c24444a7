"""The filesystem store: image bytes as files in one or more directories.

Each image is one file named after the image id.  A write either completes
or leaves nothing behind: the file is created exclusively and removed again
whatever stops the write (a full disk, a client that went away, a quota
enforced by the iterator feeding us).
"""
from __future__ import annotations

import errno
import json
import logging
import os
import urllib.parse
from typing import Any, Iterable, Iterator

from oslo_config import cfg

from glance.store import driver
from glance.store import exceptions
from glance.store import location as loc_mod
from glance.store.regions import FileChunks

LOG = logging.getLogger(__name__)

_OPTS = [
    cfg.StrOpt('filesystem_store_datadir',
               default='/var/lib/glance/images',
               help='Directory where image files are written.'),
    cfg.MultiStrOpt('filesystem_store_datadirs',
                    help='Several directories as "PATH:PRIORITY" (the '
                         'priority defaults to 0); new images go to the '
                         'highest priority directory with the most free '
                         'space. Takes precedence over '
                         'filesystem_store_datadir.'),
    cfg.StrOpt('filesystem_store_metadata_file',
               help='JSON file whose content (an object, or a list of objects '
                    'with "id" and "mountpoint") becomes location metadata.'),
    cfg.IntOpt('filesystem_store_file_perm', default=0,
               help='Permissions of image files, written as octal digits '
                    '(e.g. 640); 0 keeps the umask default.'),
    cfg.IntOpt('filesystem_store_chunk_size', default=1024 * 1024, min=1,
               help='Bytes read from an image file at a time.  Each chunk '
                    'crosses the WSGI server on its own, so larger chunks '
                    'serve downloads faster (1 MiB keeps up with nginx '
                    'where 64 KiB reached about half its speed) at the '
                    'cost of that much memory per download.'),
    cfg.BoolOpt('filesystem_thin_provisioning', default=False,
                help='Leave holes (sparse files) where a written chunk is '
                     'all zeros instead of writing the zeros.'),
]


class Store(driver.Store):
    """Reads and writes ``file://`` locations."""

    schemes = ('file', 'filesystem')
    TYPE = 'file'
    OPTIONS = _OPTS
    capabilities = (driver.Capability.RW_ACCESS |
                    driver.Capability.DRIVER_REUSABLE)

    def properties(self) -> dict:
        """Where the data lives and how it is written."""
        return {'data_dir': self.datadirs[0][0], 'chunk_size': self.chunk_size,
                'thin_provisioning': self.thin}

    def configure(self) -> None:
        """Create the directories and load the metadata file, or refuse."""
        opts = self.opts
        self.chunk_size = opts.filesystem_store_chunk_size
        self.READ_CHUNKSIZE = self.WRITE_CHUNKSIZE = self.chunk_size
        self.thin = opts.filesystem_thin_provisioning
        perm = opts.filesystem_store_file_perm
        if perm < 0 or any(d not in '01234567' for d in str(perm)):
            self._bad('filesystem_store_file_perm must be octal digits, '
                      'e.g. 640; got %s' % perm)
        self.file_perm = int(str(perm), 8) if perm > 0 else 0
        self.datadirs = self._datadirs(opts)
        for path, _prio in self.datadirs:
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as exc:
                self._bad('cannot create directory %s: %s' % (path, exc))
            if not os.access(path, os.W_OK | os.X_OK):
                self._bad('directory %s is not writable' % path)
        self.metadata = self._load_metadata(
            opts.filesystem_store_metadata_file)

    def _bad(self, reason: str):
        raise exceptions.BadStoreConfiguration(store_name=self.backend,
                                               reason=reason)

    def _datadirs(self, opts) -> list[tuple[str, int]]:
        if not opts.filesystem_store_datadirs:
            if not opts.filesystem_store_datadir:
                self._bad('filesystem_store_datadir is not set')
            return [(os.path.abspath(opts.filesystem_store_datadir), 0)]
        out: dict[str, int] = {}
        for item in opts.filesystem_store_datadirs:
            path, prio = item.strip(), '0'
            if ':' in path:
                path, prio = path.rsplit(':', 1)
            try:
                priority = int(prio.strip())
            except ValueError:
                self._bad('invalid priority %r in filesystem_store_datadirs '
                          'entry %r' % (prio, item))
            path = os.path.abspath(path.strip())
            if path in out:
                self._bad('directory %s is listed twice in '
                          'filesystem_store_datadirs' % path)
            out[path] = priority
        return list(out.items())

    def _load_metadata(self, path: str | None) -> dict:
        if not path:
            return {}
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            self._bad('metadata file %s unusable: %s' % (path, exc))
        if isinstance(data, dict):
            return data
        if not isinstance(data, list):
            self._bad('metadata file %s must hold an object or a list of '
                      'objects' % path)
        for entry in data:
            if not isinstance(entry, dict) or \
                    not {'id', 'mountpoint'} <= set(entry):
                self._bad('metadata list entries need id and mountpoint')
        return {'_mounts': data}

    def _choose_dir(self, size: int | None) -> str:
        """The directory new data goes to.

        The highest priority wins; among equals, the one with the most free
        space, so that directories fill evenly.  A priority whose best
        directory cannot hold ``size`` bytes gives way to the next one.
        """
        usable = False
        for prio in sorted({p for _, p in self.datadirs}, reverse=True):
            free = {}
            for d, p in self.datadirs:
                if p == prio:
                    try:
                        free[d] = _free_bytes(d)
                    except OSError as exc:
                        LOG.error('Store %s: directory %s is unusable: %s',
                                  self.backend, d, exc)
            if not free:
                continue
            usable = True
            chosen = max(free, key=lambda d: free[d])
            if not size or free[chosen] >= size:
                return chosen
        if not usable:
            raise exceptions.BackendException(
                'Store %s has no usable directory' % self.backend)
        raise exceptions.StorageFull()

    def _location_metadata(self, path: str) -> dict:
        mounts = self.metadata.get('_mounts')
        if mounts is None:
            return dict(self.metadata)
        for entry in mounts:
            if path.startswith(entry['mountpoint']):
                return dict(entry)
        return {}

    def add(self, image_id: str, data: Iterable[bytes], size: int | None,
            context: Any = None) -> tuple[str, int, dict]:
        """Write ``data`` to a new file named after the image.

        Whatever stops the write (the disk, the client, a quota raising from
        inside ``data``) removes the partial file before the error goes on,
        so a failed upload never leaves bytes behind.
        """
        directory = self._choose_dir(size)
        path = os.path.join(directory, image_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            raise exceptions.Duplicate(image=path)
        except OSError as exc:
            raise _os_error(exc, path)
        try:
            try:
                written = _write_all(fd, data, self.thin)
            finally:
                os.close(fd)
            if self.file_perm:
                os.chmod(path, self.file_perm)
        except OSError as exc:
            _remove_quietly(path)
            raise _os_error(exc, path)
        except BaseException:
            _remove_quietly(path)
            raise
        LOG.debug('Wrote %d bytes to %s', written, path)
        uri = 'file://' + urllib.parse.quote(path)
        return uri, written, self._location_metadata(path)

    def add_file(self, image_id: str, data: Iterable[bytes],
                 size: int | None, path: str,
                 context: Any = None) -> tuple[str, int, dict]:
        """Keep the local file ``path`` (staged import data) as the image's
        file: ``data`` is read through to its end, so every byte is hashed,
        inspected and metered above, and the file is then hard-linked into
        the store instead of written a second time.

        Writing is most of what an import costs besides hashing.  The file
        must be on the store's file system and unchanged while it was read
        (same inode, size and modification time); with thin provisioning,
        or when the link is refused, the bytes are written as by ``add``.
        Staging never rewrites a file in place once it has another name
        (:func:`glance.async_.staging.write`).
        """
        directory = self._choose_dir(size)
        try:
            before = os.stat(path)
            same_fs = before.st_dev == os.stat(directory).st_dev
        except OSError:
            same_fs = False
        if self.thin or not same_fs:
            return self.add(image_id, data, size, context=context)
        target = os.path.join(directory, image_id)
        if os.path.lexists(target):
            raise exceptions.Duplicate(image=target)
        read = sum(len(chunk) for chunk in data)
        _check_unchanged(path, before, read)
        try:
            os.link(path, target)
        except FileExistsError:
            raise exceptions.Duplicate(image=target)
        except OSError as exc:
            LOG.info('Store %s: cannot link %s to %s (%s); copying it',
                     self.backend, path, target, exc.strerror or exc)
            uri, written, meta = self.add(
                image_id, FileChunks(open(path, 'rb'), 0, read,
                                     self.chunk_size), size, context=context)
            try:
                _check_unchanged(path, before, written)
            except exceptions.BackendException:
                _remove_quietly(target)
                raise
            return uri, written, meta
        try:
            if self.file_perm:
                os.chmod(target, self.file_perm)
        except OSError as exc:
            _remove_quietly(target)
            raise _os_error(exc, target)
        LOG.debug('Linked %s (%d bytes) to %s', path, read, target)
        return ('file://' + urllib.parse.quote(target), read,
                self._location_metadata(target))

    def _path(self, location: loc_mod.Location) -> str:
        path = location.path
        if not os.path.isfile(path):
            raise exceptions.NotFound(image=path)
        return path

    def get(self, location: loc_mod.Location, offset: int = 0,
            chunk_size: int | None = None, length: int | None = None,
            context: Any = None) -> tuple[Iterator[bytes], int]:
        """Iterator over ``length`` bytes from ``offset`` (default: all).

        The file is opened here, not when iteration starts, so a delete that
        races with a download cannot cut it short (the open file survives
        its unlink) and a missing file is a NotFound before any byte is sent.
        """
        try:
            f = open(location.path, 'rb')
        except (FileNotFoundError, IsADirectoryError):
            raise exceptions.NotFound(image=location.path)
        except OSError as exc:
            raise _os_error(exc, location.path)
        total = os.fstat(f.fileno()).st_size
        offset = max(0, offset)
        remaining = max(0, total - offset) if length is None else \
            max(0, min(length, total - offset))
        return FileChunks(f, offset, remaining,
                          chunk_size or self.chunk_size), remaining

    def owns(self, location: loc_mod.Location) -> bool:
        """Only files under this store's directories: a location may not
        expose any other file of the host (``file:///etc/passwd``)."""
        if location.scheme not in self.schemes:
            return False
        real = os.path.realpath(location.path)
        return any(real.startswith(os.path.realpath(d) + os.sep)
                   for d, _prio in self.datadirs)

    def get_size(self, location: loc_mod.Location,
                 context: Any = None) -> int:
        """Size of the file in bytes; NotFound when it is gone."""
        return os.path.getsize(self._path(location))

    def delete(self, location: loc_mod.Location,
               context: Any = None) -> None:
        """Remove the file; NotFound when it was already gone."""
        path = location.path
        try:
            os.unlink(path)
        except FileNotFoundError:
            raise exceptions.NotFound(image=path)
        except OSError as exc:
            raise _os_error(exc, path)

    def iter_image_data(self, context: Any = None
                        ) -> Iterator[driver.StoredData]:
        """The files named by an image id in every data directory."""
        for directory, _prio in self.datadirs:
            try:
                entries = list(os.scandir(directory))
            except FileNotFoundError:
                continue
            for entry in entries:
                if not driver.is_image_id(entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                yield driver.StoredData(
                    entry.name, 'file://' + urllib.parse.quote(entry.path),
                    st.st_size, st.st_mtime)

    def discard(self, image_id: str, context: Any = None) -> list[str]:
        """Remove the file a killed ``add`` of ``image_id`` left, in
        whichever directory it went to."""
        removed = []
        for directory, _prio in self.datadirs:
            path = os.path.join(directory, image_id)
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise _os_error(exc, path)
            removed.append('file://' + urllib.parse.quote(path))
        return removed


def _write_all(fd: int, data: Iterable[bytes], thin: bool) -> int:
    """Write every chunk of ``data`` to ``fd``; the number of bytes."""
    written = 0
    hole = False
    for chunk in data:
        if not chunk:
            continue
        if thin and chunk.count(0) == len(chunk):
            os.lseek(fd, len(chunk), os.SEEK_CUR)
            written += len(chunk)
            hole = True
            continue
        view = memoryview(chunk)
        while view:
            # os.write may write less than asked (a disk nearly full):
            # write the rest, or get the real error.
            view = view[os.write(fd, view):]
        written += len(chunk)
        hole = False
    if hole:
        # A trailing hole: give the file its full length.
        os.ftruncate(fd, written)
    return written


def _check_unchanged(path: str, before: os.stat_result, read: int) -> None:
    """BackendException unless ``path`` is still the file stat'ed as
    ``before`` and ``read`` bytes long: what was hashed is what is kept."""
    try:
        now = os.stat(path)
    except OSError as exc:
        raise _os_error(exc, path)
    if (now.st_ino, now.st_size, now.st_mtime_ns) != (
            before.st_ino, read, before.st_mtime_ns):
        raise exceptions.BackendException(
            '%s changed while it was being stored' % path)


def _os_error(exc: OSError, path: str) -> exceptions.GlanceStoreException:
    """The store error an operating-system error means to glance."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return exceptions.StorageFull()
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return exceptions.StorageWriteDenied()
    return exceptions.BackendException(
        'Filesystem store error on %s: %s' % (path, exc.strerror or exc))


def _free_bytes(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        LOG.error('Could not remove the partial file %s: %s; the operator '
                  'must remove it by hand.', path, exc)
