"""The one way glance reaches out over HTTP(S) to a place a user named.

web-download, the legacy import task and glance-download all fetch
through here.  The checks and the address pinning are
:mod:`glance_store.outbound`'s; this module adds what is glance's: the
``[import_filtering_opts]`` policy, glance's domain errors (a refused URL
is a 400, or a failed import task with the same message) and the request
id, passed on as ``X-OpenStack-Request-ID`` so the other end logs the
same global id.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator

from oslo_config import cfg
from oslo_context import context as oslo_context

from glance.common import exception
from glance.store import outbound

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

filter_opts = [
    cfg.ListOpt('allowed_schemes', bounds=True,
                item_type=cfg.types.String(quotes=True),
                default=['http', 'https'],
                help='URI schemes web-download may use (empty: any that '
                     'is not disallowed).'),
    cfg.ListOpt('disallowed_schemes', bounds=True,
                item_type=cfg.types.String(quotes=True), default=[],
                help='URI schemes web-download must not use.'),
    cfg.ListOpt('allowed_hosts', bounds=True,
                item_type=cfg.types.String(quotes=True), default=[],
                help='Hosts web-download may use (empty: any that is not '
                     'disallowed). Entries are names, addresses or '
                     'networks (10.0.0.0/8). Loopback, link-local, '
                     'unspecified and multicast addresses are only '
                     'fetched from when listed here as addresses or '
                     'networks.'),
    cfg.ListOpt('disallowed_hosts', bounds=True,
                item_type=cfg.types.String(quotes=True), default=[],
                help='Hosts (names, addresses or networks) web-download '
                     'must not use; every address a name resolves to is '
                     'checked too.'),
    cfg.ListOpt('allowed_ports', item_type=cfg.types.Integer(),
                bounds=True,
                default=[80, 443],
                help='Ports web-download may use (empty: any that is not '
                     'disallowed).'),
    cfg.ListOpt('disallowed_ports', item_type=cfg.types.Integer(),
                bounds=True,
                default=[],
                help='Ports web-download must not use.'),
]
CONF.register_opts(filter_opts, group='import_filtering_opts')

#: redirects followed before giving up
MAX_REDIRECTS = 10
#: seconds to wait for the remote end to connect or send
TIMEOUT = 60
REQUEST_ID_HEADER = 'X-OpenStack-Request-ID'


class FetchRefused(exception.BadRequest):
    """A URL (or a redirect, or an address its host resolves to) that
    ``[import_filtering_opts]`` does not allow."""


def import_policy() -> outbound.Policy:
    """``[import_filtering_opts]`` as a policy: for URLs users give."""
    schemes = CONF.import_filtering_opts.allowed_schemes
    no_schemes = CONF.import_filtering_opts.disallowed_schemes
    return outbound.Policy(
        allowed_schemes=tuple(s.lower() for s in schemes),
        disallowed_schemes=tuple(s.lower() for s in no_schemes),
        allowed_hosts=tuple(CONF.import_filtering_opts.allowed_hosts),
        disallowed_hosts=tuple(CONF.import_filtering_opts.disallowed_hosts),
        allowed_ports=tuple(CONF.import_filtering_opts.allowed_ports),
        disallowed_ports=tuple(CONF.import_filtering_opts.disallowed_ports))


def region_policy() -> outbound.Policy:
    """For another region's image endpoint (from the service catalog).

    Its port is the operator's choice (9292 usually), so the port and
    host lists do not apply; the inward-pointing addresses stay refused
    unless ``[import_filtering_opts] allowed_hosts`` lists them, and
    ``disallowed_hosts`` still applies.
    """
    return outbound.Policy(
        allowed_schemes=('http', 'https'),
        inward_allowed=tuple(CONF.import_filtering_opts.allowed_hosts),
        disallowed_hosts=tuple(CONF.import_filtering_opts.disallowed_hosts))


def _refused(uri: str, exc: Exception, what: str) -> FetchRefused:
    return FetchRefused('URI %s is not allowed for %s: %s'
                        % (uri, what, exc))


def check(uri: str, what: str = 'web-download',
          policy: outbound.Policy | None = None) -> outbound.Target:
    """Resolve and check ``uri`` now; :class:`FetchRefused` (400) if not.

    Used by the API to refuse a bad web-download before accepting it;
    the fetch itself checks again (the answer may change meanwhile).
    """
    try:
        return outbound.check(uri, policy or import_policy())
    except outbound.Refused as exc:
        raise _refused(uri, exc, what)


def request_id_headers(context: Any) -> dict[str, str]:
    """``X-OpenStack-Request-ID`` for a call made on behalf of ``context``
    (default: the current one): the global request id it came with, else
    its own."""
    if context is None:
        context = oslo_context.get_current()
    rid = getattr(context, 'global_request_id', None) or \
        getattr(context, 'request_id', None)
    return {REQUEST_ID_HEADER: rid} if rid else {}


def open_url(uri: str, *, context: Any = None, what: str = 'web-download',
             policy: outbound.Policy | None = None,
             headers: dict[str, str] | None = None,
             method: str = 'GET') -> outbound.Response:
    """Open ``uri`` through checked, pinned hops; the final answer.

    :class:`FetchRefused` for a refused URL or redirect,
    ServiceUnavailable when the remote end cannot be reached.  The caller
    closes the answer (or reads it to the end).
    """
    headers = dict(headers or {})
    headers.update(request_id_headers(context))
    try:
        return outbound.request(uri, policy or import_policy(), method,
                                headers=headers, timeout=TIMEOUT,
                                max_redirects=MAX_REDIRECTS)
    except outbound.Refused as exc:
        LOG.warning('Refused outbound %s of %s: %s', what, uri, exc)
        raise _refused(uri, exc, what)
    except outbound.FetchError as exc:
        raise exception.ServiceUnavailable(str(exc))


def chunks(response: outbound.Response, size: int,
           expected: int | None = None) -> Iterator[bytes]:
    """The body of ``response``; ServiceUnavailable if it stops early."""
    received = 0
    try:
        for chunk in response.iter_chunks(size):
            received += len(chunk)
            yield chunk
    except outbound.FetchError as exc:
        raise exception.ServiceUnavailable(str(exc))
    if expected is not None and received != expected:
        raise exception.ServiceUnavailable(
            'Source sent %d of %d bytes' % (received, expected))
