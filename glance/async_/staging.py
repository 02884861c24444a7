"""The staging area: where image data waits between stage and import.

Staged data lives in the reserved filesystem store
``os_glance_staging_store`` (its directory) or, when
that store is not configured, under ``[DEFAULT] node_staging_uri``.  The
data is plain files named by image id: only this node's API workers read
them, and the import flow deletes them when it is done.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from typing import Callable, Iterable, Iterator

from oslo_config import cfg

from glance.common import exception
from glance.layers import location_stores

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

staging_opts = [
    cfg.StrOpt('node_staging_uri', default='file:///tmp/staging/',
               help='file:// URI of the directory staged image data goes '
                    'to when the os_glance_staging_store is not '
                    'configured.'),
]
CONF.register_opts(staging_opts)

#: bytes read from a staged file at a time
CHUNK = 1024 * 1024


def directory() -> str:
    """The staging directory, created on first use."""
    path = location_stores.staging_directory()
    if not path:
        uri = CONF.node_staging_uri
        path = uri[len('file://'):] if uri.startswith('file://') else uri
    os.makedirs(path, exist_ok=True)
    return path


def path_of(image_id: str, suffix: str = '') -> str:
    """Where the staged data of ``image_id`` is (or will be)."""
    return os.path.join(directory(), image_id + suffix)


def exists(image_id: str) -> bool:
    """Whether data is staged for ``image_id`` on this node."""
    return os.path.exists(path_of(image_id))


def _unshare(path: str) -> None:
    """Remove ``path`` if the file has another name too: an import may have
    linked it into a filesystem store (``Store.add_file``), and opening it
    for writing would rewrite that image's data in place."""
    try:
        if os.stat(path).st_nlink > 1:
            os.unlink(path)
    except FileNotFoundError:
        pass


def write(image_id: str, data: Iterable[bytes], limit: int,
          suffix: str = '') -> int:
    """Write ``data`` to the staging file; return the bytes written.

    More than ``limit`` bytes fails with 413; any failure removes the
    partial file so no staged data outlives its request.
    """
    path = path_of(image_id, suffix)
    written = 0
    _unshare(path)
    try:
        with open(path, 'wb') as f:
            for chunk in data:
                written += len(chunk)
                if written > limit:
                    raise exception.LimitExceeded(
                        'The image is larger than the %d bytes allowed.'
                        % limit)
                f.write(chunk)
    except BaseException:
        remove(image_id, suffix)
        raise
    return written


def read(image_id: str, suffix: str = '') -> Iterator[bytes]:
    """The staged bytes of ``image_id`` in chunks."""
    path = path_of(image_id, suffix)
    try:
        f = open(path, 'rb')
    except FileNotFoundError:
        raise exception.Conflict('No data is staged for image %s on this '
                                 'node.' % image_id)
    with f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                return
            yield chunk


def digest(image_id: str, algo: str,
           wrap: Callable[[Iterable[bytes]], Iterable[bytes]] = iter
           ) -> tuple[int, str]:
    """(bytes, hex ``algo`` hash) of the staged data of ``image_id``;
    ``wrap`` sees the chunks on the way (a lease heartbeat)."""
    hasher = hashlib.new(algo)
    total = 0
    for chunk in wrap(read(image_id)):
        hasher.update(chunk)
        total += len(chunk)
    return total, hasher.hexdigest()


def size(image_id: str, suffix: str = '') -> int:
    """Bytes staged for ``image_id``."""
    return os.path.getsize(path_of(image_id, suffix))


def remove(image_id: str, suffix: str = '') -> None:
    """Delete the staged data; a file already gone is fine."""
    try:
        os.unlink(path_of(image_id, suffix))
    except FileNotFoundError:
        pass
    except OSError as exc:
        LOG.error('Could not remove staged data of image %s: %s',
                  image_id, exc)


# --- the sweep: staged files no image needs any more -----------------------

#: length of an image id (a UUID) at the start of every staged file name
_ID_LEN = 36


def staged_files() -> Iterator[tuple[str, str, float]]:
    """(image id, file name, mtime) of every file of the staging area,
    temporary ones (``<id>.converted``...) included; names that do not
    start with an image id are not glance's and are not reported."""
    base = directory()
    for entry in os.scandir(base):
        image_id = entry.name[:_ID_LEN]
        if len(image_id) != _ID_LEN or image_id.count('-') != 4:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        yield image_id, entry.name, mtime


def sweep(needing: Callable[[set[str]], set[str]], grace: float = 0,
          dry_run: bool = False) -> list[tuple[str, str]]:
    """Remove the staged files whose image no longer needs them.

    ``needing`` answers which of the ids it is given still need staged
    data (uploading or importing); everything else goes: the image was
    deleted, is missing, or was imported or given up.  Files younger than
    ``grace`` seconds are kept (a stage may be starting in another
    process).  Returns (image id, file name) of what was removed, or would
    be with ``dry_run``.
    """
    files = list(staged_files())
    keep = needing({image_id for image_id, _n, _t in files})
    now = time.time()
    removed = []
    for image_id, name, mtime in files:
        if image_id in keep or now - mtime < grace:
            continue
        removed.append((image_id, name))
        if dry_run:
            continue
        try:
            os.unlink(os.path.join(directory(), name))
        except FileNotFoundError:
            continue
        except OSError as exc:
            LOG.error('Could not remove staged file %s of image %s: %s',
                      name, image_id, exc)
            removed.pop()
            continue
        LOG.info('Removed staged file %s of image %s: the image no longer '
                 'needs it (deleted, missing, or neither uploading nor '
                 'importing).', name, image_id)
    return removed


def sweep_at_startup() -> None:
    """Start-up: remove what a delete on another node, a crash or a node
    that was down left in this node's staging area.

    Runs before the workers start, when nothing of this node is staging
    yet.  A database that cannot be reached only postpones the sweep to
    the next start: glance-api starts all the same.
    """
    from glance.db import image_refs
    try:
        removed = sweep(image_refs.needing_staged)
    except Exception as exc:  # noqa: BLE001 - never blocks start-up
        LOG.warning('Staging area sweep skipped: %s', exc)
        return
    if removed:
        LOG.info('Staging area sweep removed %d file(s).', len(removed))
