"""Outbound HTTP(S) requests that cannot be turned inward.

A URL names a host; the address actually connected to is what matters.
Checking the name and letting the HTTP library resolve it again at connect
time leaves a gap (DNS rebinding: the second answer differs from the
first), and numeric spellings such as ``2130706433`` or ``0x7f.1`` hide an
address from a text comparison.  So this module:

1. turns the host into addresses exactly once (a numeric host in any
   spelling ``inet_aton`` accepts is the address it spells; a name goes to
   the resolver, ``socket.getaddrinfo`` unless one is injected);
2. checks the scheme, the port and every address against a :class:`Policy`
   and refuses loopback, link-local, unspecified and multicast addresses
   (and their IPv4-mapped IPv6 forms) unless the policy's allowed hosts
   name the address or a network holding it;
3. connects to a checked address while the Host header, TLS SNI and
   certificate verification use the name from the URL;
4. follows redirects itself, checking every hop the same way.

It lives in glance.store because the http store driver needs it and the
store drivers import nothing else of glance; glance's fetcher builds its policy
from ``[import_filtering_opts]`` on top of it.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import socket
import urllib.parse
from typing import Callable, Iterable, Iterator

import urllib3

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: resolver(host, port) -> address strings; socket.getaddrinfo by default
Resolver = Callable[[str, int], list[str]]

REDIRECTS = (301, 302, 303, 307, 308)
#: headers that carry credentials: not sent on to another origin
SENSITIVE = ('authorization', 'x-auth-token', 'x-service-token', 'cookie',
             'proxy-authorization')
DEFAULT_PORTS = {'http': 80, 'https': 443}


class Refused(ValueError):
    """The URL, or an address its host resolves to, is not allowed."""


class FetchError(OSError):
    """The remote end could not be reached or stopped answering."""


@dataclasses.dataclass(frozen=True)
class Policy:
    """Where outbound requests may go.

    Empty ``allowed_*`` lists allow anything not disallowed.  Host entries
    are names, addresses (any spelling) or networks (``10.0.0.0/8``).
    """

    allowed_schemes: tuple[str, ...] = ('http', 'https')
    disallowed_schemes: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    disallowed_hosts: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = ()
    disallowed_ports: tuple[int, ...] = ()
    #: addresses/networks that may be loopback etc. without otherwise
    #: restricting hosts (``allowed_hosts`` entries count as well)
    inward_allowed: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Target:
    """A checked URL: what to connect to and what to call it."""

    url: str
    scheme: str
    host: str          # as written in the URL (Host header, SNI)
    port: int
    addresses: tuple[str, ...]   # checked, in the order to try them

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (empty when it does not)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(info[4][0] for info in infos))


def literal_address(host: str) -> Address | None:
    """The address a numeric host spells, in any spelling, else None.

    ``inet_aton`` reads the decimal (2130706433), octal (0177.0.0.1), hex
    (0x7f.1) and short (127.1) forms the way the C library's resolver
    does; the character check keeps it from accepting trailing junk.
    """
    host = host.strip('[]')
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and host[0].isdigit() and all(
            c in '0123456789abcdefxABCDEFX.' for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _standard(host: str) -> bool:
    """Whether a numeric host is written the usual way (dotted quad, or
    an IPv6 literal)."""
    try:
        ipaddress.ip_address(host.strip('[]'))
    except ValueError:
        return False
    return True


def canonical(addr: Address) -> Address:
    """An IPv4-mapped IPv6 address is the IPv4 address it maps."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


def special(addr: Address) -> str | None:
    """Why ``addr`` points inward (loopback, ...), or None."""
    addr = canonical(addr)
    if addr.is_loopback:
        return 'a loopback address'
    if addr.is_link_local:
        return 'a link-local address'
    if addr.is_unspecified or (isinstance(addr, ipaddress.IPv4Address)
                               and addr in _THIS_NETWORK):
        return 'an unspecified address'
    if addr.is_multicast:
        return 'a multicast address'
    return None


_THIS_NETWORK = ipaddress.ip_network('0.0.0.0/8')


class _Hosts:
    """A host list: names, addresses and networks."""

    def __init__(self, entries: Iterable[str]):
        self.names: set[str] = set()
        self.networks: list = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            addr = literal_address(entry)
            if addr is not None:
                addr = canonical(addr)
                self.networks.append(ipaddress.ip_network(addr))
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry,
                                                          strict=False))
            except ValueError:
                self.names.add(entry.rstrip('.'))
        self.empty = not (self.names or self.networks)

    def has_name(self, name: str) -> bool:
        return name in self.names

    def has_address(self, addr: Address) -> bool:
        addr = canonical(addr)
        return any(addr.version == net.version and addr in net
                   for net in self.networks)


def check(url: str, policy: Policy,
          resolver: Resolver = system_resolver) -> Target:
    """Resolve ``url``'s host once and check everything; a Target.

    Raises :class:`Refused` with a reason an operator can act on.
    """
    try:
        parsed = urllib.parse.urlsplit(url)
        port = parsed.port
    except ValueError:
        raise Refused('%s is not a valid URI' % url)
    scheme = parsed.scheme.lower()
    host = (parsed.hostname or '').lower()
    if not scheme:
        raise Refused('%s is not a valid URI' % url)
    if scheme in policy.disallowed_schemes or (
            policy.allowed_schemes and scheme not in policy.allowed_schemes):
        raise Refused('scheme %s is not allowed' % scheme)
    if not host:
        raise Refused('%s is not a valid URI' % url)
    if scheme not in DEFAULT_PORTS:
        raise Refused('only http and https can be fetched')
    port = DEFAULT_PORTS[scheme] if port is None else port
    if port in policy.disallowed_ports or (
            policy.allowed_ports and port not in policy.allowed_ports):
        raise Refused('port %d is not allowed' % port)
    allowed, disallowed = _Hosts(policy.allowed_hosts), \
        _Hosts(policy.disallowed_hosts)
    inward = _Hosts(policy.allowed_hosts + policy.inward_allowed)
    literal = literal_address(host)
    if literal is not None:
        addresses = [canonical(literal)]
        shown = host if host.strip('[]') == str(addresses[0]) else \
            '%s (%s)' % (host, addresses[0])
        why = special(addresses[0])
        if disallowed.has_address(addresses[0]):
            raise Refused('host %s is disallowed' % shown)
        if why and not inward.has_address(addresses[0]):
            raise Refused('host %s is %s (only fetched when allowed_hosts '
                          'lists the address)' % (shown, why))
        if not allowed.empty and not allowed.has_address(addresses[0]):
            raise Refused('host %s is not allowed' % shown)
        if not _standard(host):
            # as the reference service does: an address that passed the
            # lists but is written in decimal, octal, hex or short form is
            # refused all the same (nobody writes one that way by chance)
            raise Refused('host %s is written in an unusual form; write '
                          'the address as %s' % (host, addresses[0]))
    else:
        name = host.rstrip('.')
        if disallowed.has_name(name) or (
                not allowed.empty and not allowed.has_name(name)):
            raise Refused('host %s is not allowed' % host)
        addresses = []
        for text in resolver(name, port):
            try:
                addresses.append(canonical(ipaddress.ip_address(
                    text.split('%', 1)[0])))
            except ValueError:
                raise Refused('host %s resolves to %r, not an address'
                              % (host, text))
        if not addresses:
            raise Refused('host %s cannot be resolved' % host)
        for addr in addresses:
            if disallowed.has_address(addr):
                raise Refused('host %s resolves to %s, which is '
                              'disallowed' % (host, addr))
        for addr in addresses:
            why = special(addr)
            if why and not inward.has_address(addr):
                raise Refused('host %s resolves to %s, %s (only fetched '
                              'when allowed_hosts lists the address)'
                              % (host, addr, why))
    return Target(url=url, scheme=scheme, host=host, port=port,
                  addresses=tuple(dict.fromkeys(str(a) for a in addresses)))


class Response:
    """An answer being streamed; close() releases its connection."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, pool, url: str):
        self.raw, self._pool, self.url = raw, pool, url
        self.status = raw.status
        self.headers = raw.headers

    def iter_chunks(self, size: int) -> Iterator[bytes]:
        """The body in chunks of at most ``size`` bytes, then closed.

        Each chunk is what has arrived (``read1``), not ``size`` bytes
        waited for: a slow source's data moves on, and is counted, as it
        comes."""
        try:
            while True:
                chunk = self.raw.read1(size, decode_content=False)
                if not chunk:
                    break
                yield chunk
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError('%s stopped sending: %s' % (self.url, exc))
        finally:
            self.close()

    def read(self) -> bytes:
        """The whole (small) body, e.g. a JSON document."""
        try:
            return self.raw.read()
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError('%s stopped sending: %s' % (self.url, exc))
        finally:
            self.close()

    def close(self) -> None:
        self.raw.release_conn()
        self._pool.close()


def _pool(target: Target, address: str, timeout: float, verify):
    kw = dict(port=target.port, maxsize=1, retries=False,
              timeout=urllib3.Timeout(connect=timeout, read=timeout))
    if target.scheme == 'http':
        return urllib3.HTTPConnectionPool(address, **kw)
    # The URL's name goes in SNI even unverified: a server hosting several
    # names picks its certificate and site by it.
    kw['server_hostname'] = target.host
    if verify is False:
        kw.update(cert_reqs='CERT_NONE', assert_hostname=False)
    else:
        kw.update(cert_reqs='CERT_REQUIRED', assert_hostname=target.host)
        if isinstance(verify, str):
            kw['ca_certs'] = verify
    return urllib3.HTTPSConnectionPool(address, **kw)


def send(target: Target, method: str = 'GET',
         headers: dict[str, str] | None = None, body: bytes | None = None,
         timeout: float = 60, verify: bool | str = True) -> Response:
    """One request to a checked target, to the first address that answers.

    The connection goes to the checked address only; the URL's host is
    what the server sees (Host header, SNI, certificate name).
    """
    parsed = urllib.parse.urlsplit(target.url)
    path = parsed.path or '/'
    if parsed.query:
        path += '?' + parsed.query
    headers = dict(headers or {})
    default = DEFAULT_PORTS[target.scheme] == target.port
    host = '[%s]' % target.host if ':' in target.host else target.host
    headers['Host'] = host if default else '%s:%d' % (host, target.port)
    errors = []
    for address in target.addresses:
        pool = _pool(target, address, timeout, verify)
        try:
            raw = pool.urlopen(method, path, body=body, headers=headers,
                               redirect=False, retries=False,
                               preload_content=False, assert_same_host=False)
        except (urllib3.exceptions.NewConnectionError,
                urllib3.exceptions.ConnectTimeoutError) as exc:
            pool.close()
            errors.append('%s: %s' % (address, exc))
            continue
        except urllib3.exceptions.HTTPError as exc:
            pool.close()
            raise FetchError('%s: %s' % (target.url, exc))
        return Response(raw, pool, target.url)
    raise FetchError('%s is not reachable (%s)' % (target.url,
                                                   '; '.join(errors)))


def request(url: str, policy: Policy, method: str = 'GET',
            headers: dict[str, str] | None = None,
            body: bytes | None = None, timeout: float = 60,
            verify: bool | str = True, max_redirects: int = 10,
            resolver: Resolver = system_resolver) -> Response:
    """``method url`` with every hop checked and pinned; the final answer.

    Redirects are followed by hand, at most ``max_redirects``; credentials
    are not sent on to another origin.  :class:`Refused` for a URL or hop
    the policy refuses, :class:`FetchError` when nothing answers.
    """
    headers = dict(headers or {})
    target = check(url, policy, resolver)
    origin = target.origin
    for _hop in range(max_redirects + 1):
        response = send(target, method, headers, body, timeout, verify)
        location = response.headers.get('Location')
        if response.status not in REDIRECTS or not location:
            return response
        response.close()
        url = urllib.parse.urljoin(target.url, location)
        post_to_get = response.status in (301, 302) and method == 'POST'
        if response.status == 303 or post_to_get:
            method, body = 'GET', None
        try:
            target = check(url, policy, resolver)
        except Refused as exc:
            raise Refused('redirect to %s: %s' % (url, exc))
        if target.origin != origin:
            headers = {k: v for k, v in headers.items()
                       if k.lower() not in SENSITIVE}
    raise Refused('more than %d redirects from %s' % (max_redirects, url))
