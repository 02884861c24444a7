"""Objects that carry image data through the chain.

An upload or download is one object handed down every layer; each layer
adds its concern to it (quota caps the stream, location fills in the store
result or the byte iterator, notifier counts bytes) and passes it on.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Iterator


@dataclasses.dataclass
class Upload:
    """Bytes on their way into a store, and what storing them produced."""

    data: Iterable[bytes]
    #: size announced by the client (Content-Length), None when chunked
    expected_size: int | None = None
    #: backend id chosen by the client, None for the default
    store: str | None = None
    #: a local file ``data`` reads whole (staged import data): a store on
    #: its file system may keep the file instead of writing a copy
    source_file: str | None = None
    # Filled in by the location layer once the bytes are stored:
    size: int | None = None
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    virtual_size: int | None = None
    location: dict[str, Any] | None = None


@dataclasses.dataclass
class Download:
    """A read of an image's bytes, optionally a byte range of them."""

    #: (first byte, last byte or None) as the client asked; a negative
    #: first byte asks for that many bytes at the end.  None: everything.
    byte_range: tuple[int, int | None] | None = None
    #: set by the caller (the API) for the image.send notification
    receiver_project: str | None = None
    receiver_user: str | None = None
    destination_ip: str | None = None
    #: the node's image cache (glance.image_cache.ImageCache) when the
    #: paste pipeline has one: read from it, or fill it while streaming
    cache: Any = None
    #: set by the API when its server sends file regions itself
    #: (sendfile): ``data`` may then yield glance_store FileRegions
    zero_copy: bool = False
    #: store ids to read from first, in this order (``?prefer=``); the
    #: image's other locations follow
    prefer: list[str] = dataclasses.field(default_factory=list)
    # Filled in by the location layer:
    offset: int = 0
    length: int | None = None
    data: Iterator[bytes] | None = None
    #: number of bytes ``data`` will yield
    size: int | None = None
    #: total size of the image
    image_size: int | None = None

    @property
    def partial(self) -> bool:
        """Whether this is a range of the image (answered with 206)."""
        return self.byte_range is not None and self.length is not None
