"""Fetching image data from http(s) URLs for web-download.

Every check lives in :mod:`glance.common.fetcher`: the URL and every
redirect pass ``[import_filtering_opts]`` (scheme, port and every address
the host resolves to, in whatever spelling it was written), and the
connection goes to the address that was checked.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator

from glance.common import exception, fetcher

LOG = logging.getLogger(__name__)

#: kept here for glance/opts.py, which lists the options under this name
filter_opts = fetcher.filter_opts
#: bytes read from the source at a time
CHUNK = 1024 * 1024


def check_uri(uri: str) -> None:
    """Raise 400 (FetchRefused) unless ``uri`` passes the import filter."""
    fetcher.check(uri)


def fetch(uri: str, context: Any = None
          ) -> tuple[Iterator[bytes], int | None]:
    """Open ``uri`` following checked redirects; (chunks, announced size).

    A refused URL or redirect raises FetchRefused; a source answering
    with an error status fails the import with its status in the message.
    """
    response = fetcher.open_url(uri, context=context)
    if response.status >= 400:
        response.close()
        raise exception.ServiceUnavailable(
            'Source %s answered %d' % (response.url, response.status))
    length = response.headers.get('Content-Length')
    size = int(length) if length and length.isdigit() else None
    return fetcher.chunks(response, CHUNK, size), size
