"""Signature verification against real services: glance-api behind the
test Keystone, certificates in a real Barbican (glance/tests/functional/
barbican.py) found through the catalog with the user's own token.

Certificates and signatures are made here with ``cryptography``: RSA keys
signing with PSS padding, and ECC (SECP384R1) keys.  A valid signature
makes the image active; a wrong signature, an unknown certificate, an
expired certificate and an unsupported hash method each answer 400 on
upload and leave the image queued with nothing in the store, and fail a
glance-direct import, the image back to queued with nothing staged or
stored.
"""
from __future__ import annotations

import base64
import datetime
import os
import urllib.parse
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from glance.tests.functional import barbican as barbican_fixture
from glance.tests.functional.conftest import (Client, keystone_glance,
                                              unavailable)
# the loopback web server (fixture ``web``) that web-download fetches from
from glance.tests.functional.test_format_safety import SERVED, web  # noqa
from glance.tests.functional.test_import import _wait

OCTET = {'Content-Type': 'application/octet-stream'}
DATA = b'signed image data ' * 4096
PERSONA = 'alpha-member'


@pytest.fixture(scope='module')
def barbican(keystone, tmp_path_factory):
    """A Barbican in the session Keystone's catalog.  Under CI=true one
    that cannot be provided fails the tests; elsewhere they are skipped."""
    try:
        barb = barbican_fixture.provide(
            str(tmp_path_factory.mktemp('barbican')), keystone)
    except barbican_fixture.BarbicanUnavailable as exc:
        unavailable('Barbican', 'tools/barbican_venv.sh', exc)
    yield barb
    barb.stop()


@pytest.fixture(scope='module')
def srv(keystone, barbican, request, tmp_path_factory):
    web_port = urllib.parse.urlparse(request.getfixturevalue('web')).port
    workdir = str(tmp_path_factory.mktemp('glance-sig'))
    server = keystone_glance(keystone, workdir, barbican.glance_settings() + [
        'DEFAULT.node_staging_uri=file://%s' % os.path.join(workdir,
                                                            'staging'),
        # web-download from the loopback server of the tests
        'import_filtering_opts.allowed_hosts=[127.0.0.1]',
        'import_filtering_opts.allowed_ports=[%d]' % web_port])
    yield server
    server.stop()


@pytest.fixture
def user(keystone, srv) -> Client:
    return Client(srv.url, keystone.client_headers(PERSONA))


class Signer:
    """A key and its self-signed certificate, stored in Barbican."""

    def __init__(self, key, key_type: str, days: tuple[int, int] = (-1, 30)):
        self.key = key
        self.key_type = key_type
        now = datetime.datetime.now(datetime.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                             'glance signing test')])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days[0]))
            .not_valid_after(now + datetime.timedelta(days=days[1]))
            .sign(key, hashes.SHA256()))
        self.uuid: str | None = None

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def sign(self, data: bytes, hash_method=hashes.SHA256) -> str:
        """The base64 signature of ``data``, as img_signature holds it."""
        if isinstance(self.key, rsa.RSAPrivateKey):
            signature = self.key.sign(data, padding.PSS(
                mgf=padding.MGF1(hash_method()),
                salt_length=padding.PSS.MAX_LENGTH), hash_method())
        else:
            signature = self.key.sign(data, ec.ECDSA(hash_method()))
        return base64.b64encode(signature).decode()

    def properties(self, data: bytes, hash_name: str = 'SHA-256',
                   hash_method=hashes.SHA256) -> dict[str, str]:
        return {'img_signature': self.sign(data, hash_method),
                'img_signature_hash_method': hash_name,
                'img_signature_key_type': self.key_type,
                'img_signature_certificate_uuid': self.uuid}


def _stored(barbican, signer: Signer) -> Signer:
    signer.uuid = barbican.store_certificate(PERSONA, signer.pem())
    return signer


@pytest.fixture(scope='module')
def rsa_signer(barbican) -> Signer:
    return _stored(barbican, Signer(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        'RSA-PSS'))


@pytest.fixture(scope='module')
def ecc_signer(barbican) -> Signer:
    return _stored(barbican, Signer(ec.generate_private_key(ec.SECP384R1()),
                                    'ECC_SECP384R1'))


@pytest.fixture(scope='module')
def expired_signer(barbican) -> Signer:
    return _stored(barbican, Signer(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        'RSA-PSS', days=(-30, -1)))


def _create(client: Client, props: dict) -> str:
    return client.create(name='signed', disk_format='raw',
                         container_format='bare', **props)['id']


def _store_files(srv) -> list[str]:
    path = os.path.join(srv.workdir, 'images')
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def _staged_files(srv) -> list[str]:
    path = os.path.join(srv.workdir, 'staging')
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def _assert_refused_upload(client: Client, srv, props: dict,
                           reason: str) -> None:
    image_id = _create(client, props)
    r = client.upload(image_id, DATA)
    assert r.status_code == 400, r.text
    assert 'Signature verification failed' in r.text
    assert reason in r.text
    image = client.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'queued'
    assert image['checksum'] is None and image['size'] is None
    assert not any(name.startswith(image_id) for name in _store_files(srv))
    assert client.get('/v2/images/%s/file' % image_id).status_code == 204


def _glance_direct(client: Client, props: dict) -> tuple[str, dict, dict]:
    image_id = _create(client, props)
    r = client.put('/v2/images/%s/stage' % image_id, data=DATA,
                   headers=OCTET)
    assert r.status_code == 204, r.text
    r = client.post('/v2/images/%s/import' % image_id,
                    json={'method': {'name': 'glance-direct'}})
    assert r.status_code == 202, r.text
    return (image_id,) + _wait(client, image_id)


# --- valid signatures --------------------------------------------------------

@pytest.mark.parametrize('signer', ['rsa_signer', 'ecc_signer'])
def test_valid_signature_upload_is_active(request, user, srv, signer):
    signer = request.getfixturevalue(signer)
    image_id = _create(user, signer.properties(DATA))
    r = user.upload(image_id, DATA)
    assert r.status_code == 204, r.text
    image = user.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'active'
    assert image['img_signature_certificate_uuid'] == signer.uuid
    assert user.get('/v2/images/%s/file' % image_id).content == DATA


def test_valid_signature_sha512(user, rsa_signer):
    props = rsa_signer.properties(DATA, 'SHA-512', hashes.SHA512)
    image_id = _create(user, props)
    assert user.upload(image_id, DATA).status_code == 204
    assert user.get('/v2/images/%s' % image_id).json()['status'] == 'active'


def test_valid_signature_glance_direct_is_active(user, srv, ecc_signer):
    image_id, image, task = _glance_direct(user, ecc_signer.properties(DATA))
    assert task['status'] == 'success', task['message']
    assert image['status'] == 'active'
    assert user.get('/v2/images/%s/file' % image_id).content == DATA
    assert image_id not in _staged_files(srv)


def test_unsigned_and_partly_signed_images_are_not_verified(user, rsa_signer):
    """As the reference does: all four properties ask for verification;
    fewer (here a signature naming no certificate) verify nothing."""
    props = rsa_signer.properties(b'other data')
    del props['img_signature_certificate_uuid']
    for extra in ({}, props):
        image_id = _create(user, extra)
        assert user.upload(image_id, DATA).status_code == 204
        assert user.get('/v2/images/%s' % image_id).json()['status'] == \
            'active'


# --- refusals on upload ------------------------------------------------------

def test_wrong_signature_upload_400(user, srv, rsa_signer):
    _assert_refused_upload(user, srv, rsa_signer.properties(b'not the data'),
                           'does not match the image data')


def test_wrong_signature_ecc_upload_400(user, srv, ecc_signer):
    _assert_refused_upload(user, srv, ecc_signer.properties(DATA + b'!'),
                           'does not match the image data')


def test_unknown_certificate_upload_400(user, srv, rsa_signer):
    props = rsa_signer.properties(DATA)
    props['img_signature_certificate_uuid'] = str(uuid.uuid4())
    _assert_refused_upload(user, srv, props,
                           props['img_signature_certificate_uuid'])


def test_expired_certificate_upload_400(user, srv, expired_signer):
    _assert_refused_upload(user, srv, expired_signer.properties(DATA),
                           'is not valid now')


@pytest.mark.parametrize('hash_name', ['MD5', 'SHA-1', 'sha256'])
def test_unsupported_hash_method_upload_400(user, srv, rsa_signer,
                                            hash_name):
    props = rsa_signer.properties(DATA)
    props['img_signature_hash_method'] = hash_name
    _assert_refused_upload(user, srv, props,
                           'Invalid signature hash method: %s' % hash_name)


def test_wrong_hash_method_upload_400(user, srv, rsa_signer):
    """Signed with SHA-256, declared SHA-512: the signature fails."""
    props = rsa_signer.properties(DATA)
    props['img_signature_hash_method'] = 'SHA-512'
    _assert_refused_upload(user, srv, props, 'does not match the image data')


def test_key_type_not_the_certificates_400(user, srv, rsa_signer):
    props = rsa_signer.properties(DATA)
    props['img_signature_key_type'] = 'ECC_SECP384R1'
    _assert_refused_upload(user, srv, props, 'is not of key type')


def test_unknown_key_type_and_malformed_signature_400(user, srv, rsa_signer):
    props = rsa_signer.properties(DATA)
    props['img_signature_key_type'] = 'RSA-PKCS1'
    _assert_refused_upload(user, srv, props, 'Invalid signature key type')
    props = rsa_signer.properties(DATA)
    props['img_signature'] = 'not base64!'
    _assert_refused_upload(user, srv, props, 'base64')


def test_certificate_of_another_project_400(keystone, srv, rsa_signer):
    """The certificate is read with the uploader's own token: one stored by
    project alpha is not found for project beta."""
    beta = Client(srv.url, keystone.client_headers('beta-member'))
    _assert_refused_upload(beta, srv, rsa_signer.properties(DATA),
                           rsa_signer.uuid)


# --- refusals on import ------------------------------------------------------

@pytest.mark.parametrize('case', ['wrong', 'unknown', 'expired', 'hash'])
def test_glance_direct_refused_goes_back_to_queued(request, user, srv, case):
    signer = request.getfixturevalue(
        'expired_signer' if case == 'expired' else 'rsa_signer')
    props = signer.properties(DATA if case != 'wrong' else b'other')
    if case == 'unknown':
        props['img_signature_certificate_uuid'] = str(uuid.uuid4())
    if case == 'hash':
        props['img_signature_hash_method'] = 'SHA-1'
    image_id, image, task = _glance_direct(user, props)
    assert task['status'] == 'failure'
    assert 'Signature verification failed' in task['message']
    assert image['status'] == 'queued'
    assert image['checksum'] is None
    assert not any(name.startswith(image_id) for name in _store_files(srv))
    assert image_id not in _staged_files(srv)


@pytest.mark.parametrize('valid', [True, False])
def test_web_download_is_verified(request, user, srv, rsa_signer, valid):
    url = request.getfixturevalue('web')
    path = '/signed-%s' % uuid.uuid4().hex
    SERVED[path] = DATA
    props = rsa_signer.properties(DATA if valid else b'other data')
    image_id = _create(user, props)
    r = user.post('/v2/images/%s/import' % image_id, json={'method': {
        'name': 'web-download', 'uri': url + path}})
    assert r.status_code == 202, r.text
    image, task = _wait(user, image_id)
    if valid:
        assert task['status'] == 'success', task['message']
        assert image['status'] == 'active'
        assert user.get('/v2/images/%s/file' % image_id).content == DATA
        return
    assert task['status'] == 'failure'
    assert 'Signature verification failed: the signature does not match ' \
        'the image data' in task['message']
    assert image['status'] == 'queued'
    assert not any(name.startswith(image_id) for name in _store_files(srv))
    assert image_id not in _staged_files(srv)
