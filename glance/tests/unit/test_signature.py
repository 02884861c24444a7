"""Signature verification (glance.common.signature) without a key manager:
what is refused before the certificate is fetched, what an unreachable
key manager answers, and the streaming check itself with real keys.  The
whole path with a real Barbican is glance/tests/functional/
test_signature.py.
"""
from __future__ import annotations

import base64
import socket
import types

import pytest
from castellan import key_manager
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cursive import signature_utils
from oslo_config import cfg

from glance.common import exception, signature
from glance.context import RequestContext

DATA = b'image bytes ' * 1000


def _image(**props) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        image_id='6b1e0c4a-7d2f-4e8a-9c3b-1f5d7a9e2c40',
        extra_properties=props)


def _props(**changes) -> dict:
    props = {'img_signature': base64.b64encode(b'x' * 256).decode(),
             'img_signature_hash_method': 'SHA-256',
             'img_signature_key_type': 'RSA-PSS',
             'img_signature_certificate_uuid':
                 '0c5f6e1a-2b3d-4c7e-8f9a-1b2c3d4e5f60'}
    props.update(changes)
    return props


def _rsa_verifier(key, sig: bytes):
    return signature_utils.SignatureKeyType.lookup('RSA-PSS').create_verifier(
        sig, hashes.SHA256(), key.public_key())


def test_unsigned_image_streams_unchanged_and_checks_nothing():
    verification = signature.verification(None, _image(other='x'))
    assert verification.verifier is None
    assert b''.join(verification.feed([b'a', b'b'])) == b'ab'
    verification.check()


def test_some_signature_properties_verify_nothing(caplog):
    props = _props()
    del props['img_signature_key_type']
    verification = signature.verification(None, _image(**props))
    assert verification.verifier is None
    assert 'only some signature properties' in caplog.text


@pytest.mark.parametrize('changes, reason', [
    ({'img_signature': 'not base64!'}, 'not properly encoded using base64'),
    ({'img_signature_hash_method': 'MD5'},
     'Invalid signature hash method: MD5'),
    ({'img_signature_key_type': 'RSA'}, 'Invalid signature key type: RSA'),
])
def test_refused_before_any_key_manager_call(changes, reason):
    """No context at all: these fail before the certificate is asked for."""
    with pytest.raises(exception.SignatureVerificationFailed) as info:
        signature.verification(None, _image(**_props(**changes)))
    assert info.value.code == 400
    assert str(info.value).startswith('Signature verification failed: ')
    assert reason in str(info.value)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_unreachable_key_manager_is_400_not_500(initialised_conf):
    """Keystone (and so Barbican) unreachable: the certificate cannot be
    read, which fails the verification as the reference does."""
    port = _closed_port()
    key_manager.API(cfg.CONF)       # registers [barbican], as the first use
    cfg.CONF.set_override('auth_endpoint', 'http://127.0.0.1:%d/v3' % port,
                          group='barbican')
    try:
        context = RequestContext(auth_token='token', project_id='p')
        with pytest.raises(exception.SignatureVerificationFailed) as info:
            signature.verification(context, _image(**_props()))
    finally:
        cfg.CONF.clear_override('auth_endpoint', group='barbican')
    assert 'Unable to retrieve certificate with ID: ' \
        '0c5f6e1a-2b3d-4c7e-8f9a-1b2c3d4e5f60' in str(info.value)


def test_streaming_check_with_real_keys():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sig = key.sign(DATA, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                     salt_length=padding.PSS.MAX_LENGTH),
                   hashes.SHA256())
    chunks = [DATA[i:i + 777] for i in range(0, len(DATA), 777)]
    good = signature.Verification('img', _rsa_verifier(key, sig))
    assert b''.join(good.feed(chunks)) == DATA
    good.check()
    bad = signature.Verification('img', _rsa_verifier(key, sig))
    for _chunk in bad.feed(chunks[:-1]):
        pass
    with pytest.raises(exception.SignatureVerificationFailed) as info:
        bad.check()
    assert 'does not match the image data' in str(info.value)


def test_ecc_streaming_check():
    key = ec.generate_private_key(ec.SECP521R1())
    sig = key.sign(DATA, ec.ECDSA(hashes.SHA512()))
    verifier = signature_utils.SignatureKeyType.lookup(
        'ECC_SECP521R1').create_verifier(sig, hashes.SHA512(),
                                         key.public_key())
    verification = signature.Verification('img', verifier)
    assert b''.join(verification.feed([DATA])) == DATA
    verification.check()
