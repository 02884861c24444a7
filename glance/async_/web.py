"""Fetching image data from http(s) URLs for web-download, safely.

Every URL, and every redirect target, passes ``[import_filtering_opts]``:
scheme, host and port against the allow/deny lists.  Host names are also
resolved and each address checked against the deny list, so a name cannot
smuggle in a forbidden address; numeric hosts that are not dotted IP
addresses (``http://2130706433/``) are refused outright.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import urllib.parse
from typing import Iterator

from oslo_config import cfg
import requests

from glance.common import exception

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
                     'disallowed).'),
    cfg.ListOpt('disallowed_hosts', bounds=True,
                item_type=cfg.types.String(quotes=True), default=[],
                help='Hosts (names or addresses) web-download must not '
                     'use; names are also checked after resolution.'),
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
#: bytes read from the source at a time
CHUNK = 1024 * 1024
#: seconds to wait for the source to connect or send
TIMEOUT = 60


def _refuse(uri: str, why: str) -> exception.BadRequest:
    return exception.BadRequest('URI %s is not allowed for web-download: '
                                '%s' % (uri, why))


def _addresses(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos})


def check_uri(uri: str) -> None:
    """Raise 400 unless ``uri`` passes the import filtering options."""
    allowed_schemes = CONF.import_filtering_opts.allowed_schemes
    disallowed_schemes = CONF.import_filtering_opts.disallowed_schemes
    allowed_hosts = CONF.import_filtering_opts.allowed_hosts
    disallowed_hosts = CONF.import_filtering_opts.disallowed_hosts
    allowed_ports = CONF.import_filtering_opts.allowed_ports
    disallowed_ports = CONF.import_filtering_opts.disallowed_ports
    try:
        parsed = urllib.parse.urlparse(uri)
        port = parsed.port
    except ValueError:
        raise _refuse(uri, 'it is not a valid URI')
    scheme, host = parsed.scheme.lower(), (parsed.hostname or '').lower()
    if not scheme or not host:
        raise _refuse(uri, 'it is not a valid URI')
    if scheme in disallowed_schemes or (
            allowed_schemes and scheme not in allowed_schemes):
        raise _refuse(uri, 'scheme %s' % scheme)
    if scheme not in ('http', 'https'):
        raise _refuse(uri, 'only http and https can be fetched')
    if host.replace('.', '').isdigit() or host.startswith('0x'):
        try:
            ipaddress.ip_address(host)
            dotted = host.count('.') == 3
        except ValueError:
            dotted = False
        if not dotted:
            raise _refuse(uri, 'encoded IP addresses are not accepted')
    if host in disallowed_hosts or (
            allowed_hosts and host not in allowed_hosts):
        raise _refuse(uri, 'host %s' % host)
    if disallowed_hosts:
        for addr in _addresses(host):
            if addr in disallowed_hosts:
                raise _refuse(uri, 'host %s resolves to %s' % (host, addr))
    if port is None:
        port = 443 if scheme == 'https' else 80
    if port in disallowed_ports or (
            allowed_ports and port not in allowed_ports):
        raise _refuse(uri, 'port %d' % port)


def fetch(uri: str) -> tuple[Iterator[bytes], int | None]:
    """Open ``uri`` following checked redirects; (chunks, announced size).

    A source answering with an error status fails the import with its
    status in the message.
    """
    session = requests.Session()
    for _ in range(MAX_REDIRECTS + 1):
        check_uri(uri)
        response = session.get(uri, stream=True, allow_redirects=False,
                               timeout=TIMEOUT)
        if response.is_redirect:
            target = response.headers.get('Location', '')
            response.close()
            uri = urllib.parse.urljoin(uri, target)
            continue
        if response.status_code >= 400:
            response.close()
            raise exception.ServiceUnavailable(
                'Source %s answered %d' % (uri, response.status_code))
        length = response.headers.get('Content-Length')
        size = int(length) if length and length.isdigit() else None
        return _chunks(response, size), size
    raise exception.BadRequest('Too many redirects from %s' % uri)


def _chunks(response: requests.Response, expected: int | None
            ) -> Iterator[bytes]:
    received = 0
    try:
        for chunk in response.iter_content(CHUNK):
            received += len(chunk)
            yield chunk
    except requests.RequestException as exc:
        raise exception.ServiceUnavailable('Source stopped sending: %s'
                                           % exc)
    finally:
        response.close()
    if expected is not None and received != expected:
        raise exception.ServiceUnavailable(
            'Source sent %d of %d bytes' % (received, expected))
