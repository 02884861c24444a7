"""The http store: read-only access to image data at an http(s) URL.

Images whose location is a web server (added through the locations API,
or an operator's existing mirror) are read from it; nothing is ever
written or deleted there.  Redirects are followed up to a bound, the size
comes from a HEAD request, and a range read asks the server for just the
bytes wanted.

Every request goes through :mod:`glance.store.outbound`: the host is
resolved once, every hop is checked and the connection is pinned to the
checked address, so a location cannot make the service read from its own
loopback, link-local (cloud metadata), unspecified or multicast addresses
unless ``http_store_allowed_hosts`` lists them.
"""
from __future__ import annotations

from typing import Any, Iterator

from oslo_config import cfg

from glance.store import driver, exceptions
from glance.store import location as loc_mod
from glance.store import outbound

_OPTS = [
    cfg.IntOpt('http_store_max_redirects', default=5, min=0,
               help='Redirects followed when reading an http location.'),
    cfg.IntOpt('http_store_timeout', default=60, min=1,
               help='Seconds to wait for the web server to answer.'),
    cfg.StrOpt('https_ca_certificates_file',
               help='CA bundle to verify https servers with (default: the '
                    'system bundle).'),
    cfg.BoolOpt('https_insecure', default=False,
                help='Do not verify the certificate of https servers.'),
    cfg.ListOpt('http_store_allowed_hosts', default=[],
                help='Addresses or networks (127.0.0.1, 10.0.0.0/8) that '
                     'locations may point to although they are loopback, '
                     'link-local, unspecified or multicast addresses, '
                     'which are refused otherwise.'),
    cfg.ListOpt('http_store_disallowed_hosts', default=[],
                help='Names, addresses or networks locations must not '
                     'point to (checked against every resolved address).'),
]


class HttpChunks:
    """Iterator over a streamed response that closes it when done."""

    def __init__(self, response: outbound.Response, chunk_size: int):
        self.response = response
        self.chunks = response.iter_chunks(chunk_size)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.chunks
        except outbound.FetchError as exc:
            raise exceptions.BackendException(reason=str(exc))
        finally:
            self.response.close()

    def close(self) -> None:
        self.response.close()


class Store(driver.Store):
    """Reads ``http://`` and ``https://`` locations."""

    schemes = ('http', 'https')
    TYPE = 'http'
    OPTIONS = _OPTS
    capabilities = driver.Capability.READ_ACCESS | \
        driver.Capability.READ_RANDOM

    def configure(self) -> None:
        opts = self.opts
        self.max_redirects = opts.http_store_max_redirects
        self.timeout = opts.http_store_timeout
        self.verify = False if opts.https_insecure else (
            opts.https_ca_certificates_file or True)
        self.policy = outbound.Policy(
            inward_allowed=tuple(opts.http_store_allowed_hosts),
            disallowed_hosts=tuple(opts.http_store_disallowed_hosts))

    def properties(self) -> dict:
        return {'max_redirects': self.max_redirects,
                'timeout': self.timeout}

    def _request(self, method: str, uri: str,
                 headers: dict | None = None) -> outbound.Response:
        try:
            r = outbound.request(uri, self.policy, method, headers=headers,
                                 timeout=self.timeout, verify=self.verify,
                                 max_redirects=self.max_redirects)
        except outbound.Refused as exc:
            raise exceptions.BadStoreUri('%s: %s' % (uri, exc))
        except outbound.FetchError as exc:
            raise exceptions.BackendException(reason='%s: %s' % (uri, exc))
        if r.status in (404, 410):
            r.close()
            raise exceptions.NotFound(image=uri)
        if r.status >= 400:
            r.close()
            raise exceptions.BackendException(
                reason='%s answered %d' % (uri, r.status))
        return r

    def get_size(self, location: loc_mod.Location,
                 context: Any = None) -> int:
        """Content-Length of a HEAD request (0 when the server gives none)."""
        r = self._request('HEAD', location.uri)
        r.close()
        try:
            return int(r.headers.get('Content-Length', 0))
        except ValueError:
            return 0

    def get(self, location: loc_mod.Location, offset: int = 0,
            chunk_size: int | None = None, length: int | None = None,
            context: Any = None) -> tuple[Iterator[bytes], int]:
        """Stream the bytes; with ``offset``/``length`` as a Range read."""
        headers = {}
        if offset or length is not None:
            end = '' if length is None else str(offset + length - 1)
            headers['Range'] = 'bytes=%d-%s' % (offset, end)
        r = self._request('GET', location.uri, headers=headers)
        if headers and r.status != 206:
            r.close()
            raise exceptions.StoreRandomGetNotSupported(store=self.backend)
        try:
            size = int(r.headers.get('Content-Length', 0))
        except ValueError:
            size = 0
        return HttpChunks(r, chunk_size or self.READ_CHUNKSIZE), size

    def delete(self, location: loc_mod.Location,
               context: Any = None) -> None:
        """Nothing to do: data on a web server is not ours to delete."""
