"""HTTPS through the outbound fetcher: pinned to the checked address, yet
verified against the name in the URL.

The fetcher connects to the address it checked (never resolving again),
while SNI, the Host header and certificate verification use the URL's
host name.  A real TLS listener on loopback with a certificate made here
(by a test CA) shows each part: the server sees the name in SNI, a
certificate for another name or from an unknown CA is refused.
"""
from __future__ import annotations

import datetime
import http.server
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import pytest

from glance.store import outbound

POLICY = outbound.Policy(allowed_hosts=('127.0.0.1', 'images.test'))


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(subject: str, issuer: str, key, signer, ca: bool,
          dns: str | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                              critical=True))
    if dns:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope='module')
def ca(tmp_path_factory):
    """A test CA: (its key, its certificate, the path of its PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert('glance test CA', 'glance test CA', key, key, ca=True)
    path = tmp_path_factory.mktemp('ca') / 'ca.pem'
    path.write_bytes(_pem(cert))
    return key, cert, str(path)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = ('%s|%s' % (self.headers.get('Host'), self.path)).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _tls_server(tmp_path, ca, dns: str):
    """An HTTPS listener on 127.0.0.1 with a certificate for ``dns``; it
    records the SNI names its clients sent (``srv.sni``)."""
    ca_key, ca_cert, _ = ca
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert(dns, 'glance test CA', key, ca_key, ca=False, dns=dns)
    (tmp_path / 'srv.pem').write_bytes(_pem(cert) + _pem(ca_cert))
    (tmp_path / 'srv.key').write_bytes(_pem(key))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / 'srv.pem'),
                            str(tmp_path / 'srv.key'))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    srv.daemon_threads = True
    srv.sni = []
    context.sni_callback = lambda sock, name, ctx: srv.sni.append(name)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    return srv


@pytest.fixture
def tls(tmp_path, ca):
    servers = []

    def make(dns: str):
        servers.append(_tls_server(tmp_path, ca, dns))
        return servers[-1]
    yield make
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _resolver(calls: list):
    def resolve(host, port):
        calls.append(host)
        return ['127.0.0.1'] if host == 'images.test' else []
    return resolve


def test_https_is_pinned_and_verified_by_name(tls, ca):
    """One resolution; the connection goes to 127.0.0.1; SNI, Host and
    the certificate all say images.test."""
    srv = tls('images.test')
    port = srv.server_address[1]
    calls = []
    response = outbound.request(
        'https://images.test:%d/data' % port, POLICY,
        resolver=_resolver(calls), verify=ca[2])
    assert response.status == 200
    assert response.read() == b'images.test:%d|/data' % port
    assert calls == ['images.test']
    assert srv.sni == ['images.test']


def test_certificate_for_another_name_refused(tls, ca):
    """The checked address answers, but its certificate names another
    host: no data is read."""
    srv = tls('elsewhere.test')
    with pytest.raises(outbound.FetchError) as err:
        outbound.request('https://images.test:%d/data'
                         % srv.server_address[1], POLICY,
                         resolver=_resolver([]), verify=ca[2])
    assert 'images.test' in str(err.value) or 'match' in str(err.value)


def test_certificate_from_an_unknown_authority_refused(tls):
    """Verification is on by default (the system's CAs): a test CA's
    certificate is not trusted."""
    srv = tls('images.test')
    with pytest.raises(outbound.FetchError) as err:
        outbound.request('https://images.test:%d/data'
                         % srv.server_address[1], POLICY,
                         resolver=_resolver([]))
    assert 'certificate' in str(err.value).lower()


def test_verification_off_still_pins_the_address(tls):
    """verify=False (an operator's explicit choice for a store) skips the
    certificate check but still connects only to the checked address and
    sends the name as SNI."""
    srv = tls('elsewhere.test')
    port = srv.server_address[1]
    calls = []
    response = outbound.request('https://images.test:%d/x' % port, POLICY,
                                resolver=_resolver(calls), verify=False)
    assert response.status == 200
    assert calls == ['images.test']
    assert srv.sni == ['images.test']
