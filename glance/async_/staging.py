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


def write(image_id: str, data: Iterable[bytes], limit: int,
          suffix: str = '') -> int:
    """Write ``data`` to the staging file; return the bytes written.

    More than ``limit`` bytes fails with 413; any failure removes the
    partial file so no staged data outlives its request.
    """
    path = path_of(image_id, suffix)
    written = 0
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
