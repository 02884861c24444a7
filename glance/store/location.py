"""Store locations: the URI that says where an image's bytes live."""
from __future__ import annotations

import dataclasses
import urllib.parse

from glance.store import exceptions


@dataclasses.dataclass(frozen=True)
class Location:
    """A parsed store URI plus the backend it belongs to."""

    uri: str
    store_id: str | None = None

    @property
    def scheme(self) -> str:
        return urllib.parse.urlsplit(self.uri).scheme

    @property
    def path(self) -> str:
        parts = urllib.parse.urlsplit(self.uri)
        if parts.scheme == 'file':
            return urllib.parse.unquote(parts.netloc + parts.path)
        return parts.path


def parse(uri: str, store_id: str | None = None) -> Location:
    """Validate a store URI; raise BadStoreUri when it has no scheme."""
    if not uri or '://' not in uri:
        raise exceptions.BadStoreUri(uri=uri)
    return Location(uri, store_id)
