"""The filesystem store: image bytes as files in one or more directories."""
from __future__ import annotations

import errno
import json
import logging
import os
import urllib.parse
from typing import Iterable, Iterator

from oslo_config import cfg

from glance_store import driver
from glance_store import exceptions
from glance_store import location as loc_mod

LOG = logging.getLogger(__name__)

_OPTS = [
    cfg.StrOpt('filesystem_store_datadir',
               default='/var/lib/glance/images',
               help='Directory where image files are written.'),
    cfg.MultiStrOpt('filesystem_store_datadirs',
                    help='Several directories as "PATH:PRIORITY"; new images '
                         'go to the highest priority directory with the most '
                         'free space.'),
    cfg.StrOpt('filesystem_store_metadata_file',
               help='JSON file whose content (an object, or a list of objects '
                    'with "id" and "mountpoint") becomes location metadata.'),
    cfg.IntOpt('filesystem_store_file_perm', default=0,
               help='Octal-as-decimal permissions for image files '
                    '(e.g. 640); 0 keeps the umask default.'),
    cfg.IntOpt('filesystem_store_chunk_size', default=64 * 1024, min=1,
               help='Bytes read from an image file at a time.'),
]


class Store(driver.Store):
    """Reads and writes ``file://`` locations."""

    schemes = ('file', 'filesystem')
    OPTIONS = _OPTS
    capabilities = (driver.Capability.RW_ACCESS |
                    driver.Capability.DRIVER_REUSABLE)

    def configure(self) -> None:
        opts = self.opts
        self.chunk_size = opts.filesystem_store_chunk_size
        self.READ_CHUNKSIZE = self.WRITE_CHUNKSIZE = self.chunk_size
        self.datadirs = self._datadirs(opts)
        for path, _prio in self.datadirs:
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as exc:
                raise exceptions.BadStoreConfiguration(
                    store_name=self.backend,
                    reason='cannot create directory %s: %s' % (path, exc))
            if not os.access(path, os.W_OK | os.X_OK):
                raise exceptions.BadStoreConfiguration(
                    store_name=self.backend,
                    reason='directory %s is not writable' % path)
        self.metadata = self._load_metadata(opts.filesystem_store_metadata_file)

    def _datadirs(self, opts) -> list[tuple[str, int]]:
        if opts.filesystem_store_datadirs:
            out = []
            for item in opts.filesystem_store_datadirs:
                path, _, prio = item.rpartition(':')
                if not path or not prio.strip().isdigit():
                    path, prio = item, '0'
                out.append((os.path.abspath(path.strip()), int(prio)))
            return out
        if not opts.filesystem_store_datadir:
            raise exceptions.BadStoreConfiguration(
                store_name=self.backend,
                reason='filesystem_store_datadir is not set')
        return [(os.path.abspath(opts.filesystem_store_datadir), 0)]

    def _load_metadata(self, path: str | None) -> dict:
        if not path:
            return {}
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise exceptions.BadStoreConfiguration(
                store_name=self.backend,
                reason='metadata file %s unusable: %s' % (path, exc))
        if isinstance(data, dict):
            return data
        for entry in data:
            if not isinstance(entry, dict) or not {'id', 'mountpoint'} <= set(entry):
                raise exceptions.BadStoreConfiguration(
                    store_name=self.backend,
                    reason='metadata list entries need id and mountpoint')
        return {'_mounts': data}

    def _choose_dir(self, size: int | None) -> str:
        best_prio = max(p for _, p in self.datadirs)
        candidates = [d for d, p in self.datadirs if p == best_prio]
        free = {d: _free_bytes(d) for d in candidates}
        chosen = max(candidates, key=lambda d: free[d])
        if size and free[chosen] < size:
            raise exceptions.StorageFull()
        return chosen

    def _location_metadata(self, path: str) -> dict:
        mounts = self.metadata.get('_mounts')
        if mounts is None:
            return dict(self.metadata)
        for entry in mounts:
            if path.startswith(entry['mountpoint']):
                return dict(entry)
        return {}

    def add(self, image_id: str, data: Iterable[bytes], size: int | None,
            ) -> tuple[str, int, dict]:
        directory = self._choose_dir(size)
        path = os.path.join(directory, image_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            raise exceptions.Duplicate(image=path)
        written = 0
        try:
            with os.fdopen(fd, 'wb', buffering=0) as f:
                for chunk in data:
                    f.write(chunk)
                    written += len(chunk)
            if self.opts.filesystem_store_file_perm > 0:
                os.chmod(path, int(str(self.opts.filesystem_store_file_perm), 8))
        except OSError as exc:
            _remove_quietly(path)
            if exc.errno == errno.ENOSPC:
                raise exceptions.StorageFull()
            if exc.errno == errno.EACCES:
                raise exceptions.StorageWriteDenied()
            raise
        except BaseException:
            # Any failure (client gone, size cap, quota) leaves no partial file.
            _remove_quietly(path)
            raise
        uri = 'file://' + urllib.parse.quote(path)
        return uri, written, self._location_metadata(path)

    def _path(self, location: loc_mod.Location) -> str:
        path = location.path
        if not os.path.isfile(path):
            raise exceptions.NotFound(image=path)
        return path

    def get(self, location: loc_mod.Location, offset: int = 0,
            chunk_size: int | None = None, length: int | None = None,
            ) -> tuple[Iterator[bytes], int]:
        path = self._path(location)
        total = os.path.getsize(path)
        remaining = max(0, total - offset) if length is None else \
            max(0, min(length, total - offset))
        return _read_file(path, offset, remaining,
                          chunk_size or self.chunk_size), remaining

    def get_size(self, location: loc_mod.Location) -> int:
        return os.path.getsize(self._path(location))

    def delete(self, location: loc_mod.Location) -> None:
        path = location.path
        try:
            os.unlink(path)
        except FileNotFoundError:
            raise exceptions.NotFound(image=path)
        except PermissionError:
            raise exceptions.StorageWriteDenied()


def _read_file(path: str, offset: int, remaining: int,
               chunk_size: int) -> Iterator[bytes]:
    with open(path, 'rb') as f:
        if offset:
            f.seek(offset)
        while remaining > 0:
            chunk = f.read(min(chunk_size, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def _free_bytes(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
