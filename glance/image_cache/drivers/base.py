"""What a cache driver keeps: one record per image cached on this node.

A driver only stores records; the files themselves are the business of
:class:`glance.image_cache.ImageCache`.  Every method speaks for the node
it runs on (``worker_self_reference_url`` for the shared-database driver).
"""
from __future__ import annotations

import dataclasses
import time

from oslo_config import cfg

CONF = cfg.CONF


@dataclasses.dataclass
class Entry:
    """The record of one cached image file."""

    image_id: str
    size: int
    hits: int = 0
    #: seconds since the epoch (as the cache API reports them)
    last_accessed: float = dataclasses.field(default_factory=time.time)
    last_modified: float = dataclasses.field(default_factory=time.time)
    #: md5 of the cached file, verified against the image when written
    checksum: str | None = None
    #: "size:mtime_ns:inode" of the file when it was verified; a file whose
    #: stamp differs was changed since and is verified again before use
    stamp: str | None = None

    def as_api(self) -> dict:
        """The entry as GET /v2/cache lists it."""
        return {'image_id': self.image_id, 'hits': self.hits,
                'last_accessed': self.last_accessed,
                'last_modified': self.last_modified, 'size': self.size}


class Driver:
    """Records of the cached images of this node."""

    name = 'base'

    def get(self, image_id: str) -> Entry | None:
        """The record of ``image_id``, or None."""
        raise NotImplementedError

    def list(self) -> list[Entry]:
        """Every record, least recently accessed first."""
        raise NotImplementedError

    def put(self, entry: Entry) -> None:
        """Add or replace the record of ``entry.image_id``."""
        raise NotImplementedError

    def hit(self, image_id: str) -> None:
        """Count one serve of ``image_id`` and make it the most recent."""
        raise NotImplementedError

    def set_stamp(self, image_id: str, stamp: str) -> None:
        """Record that the file was verified again, with this stamp."""
        raise NotImplementedError

    def delete(self, image_id: str) -> bool:
        """Forget ``image_id``; whether there was a record."""
        raise NotImplementedError

    def delete_all(self) -> list[str]:
        """Forget every record; the image ids forgotten."""
        raise NotImplementedError

    def nodes(self, image_id: str) -> list[str]:
        """The reference URLs of the nodes holding ``image_id``.

        A driver that sees only this node answers for this node alone:
        its ``worker_self_reference_url`` when the image is cached here
        and the URL is set (a node without one cannot be named).
        """
        url = CONF.worker_self_reference_url
        return [url] if url and self.get(image_id) is not None else []
