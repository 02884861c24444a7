"""Image signature verification: data is stored only if its signature holds.

A user who signs an image sets four properties on it before sending the
data (the names cursive and the API reference use):

- ``img_signature``: the signature of the data, base64;
- ``img_signature_hash_method``: SHA-224, SHA-256, SHA-384 or SHA-512;
- ``img_signature_key_type``: RSA-PSS, DSA or ECC_<curve> (ECC_SECP384R1,
  ECC_SECP521R1);
- ``img_signature_certificate_uuid``: the id of the signing certificate
  (X.509) in the key manager.

When all four are present, every write of the image's data (upload, each
import method, copy-image) is verified while it streams into the store:
the certificate is fetched through castellan's key manager (``[key_manager]
backend``, Barbican by default) with the requesting user's token, before
the first byte is stored, and the signature is checked once the last one
has passed.  Any failure is ``SignatureVerificationFailed`` (400): an
upload answers it and the image stays queued, an import task fails with it;
the location layer removes whatever was stored.

As in the reference service, an image with only some of the properties is
not verified (a warning is logged).  Beyond cursive's own checks, a
certificate outside its validity period is refused: a signature made with
an expired certificate vouches for nothing.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Iterator

from castellan.common import exception as castellan_exception
from cryptography import exceptions as crypto_exception
from cursive import certificate_utils
from cursive import exception as cursive_exception
from cursive import signature_utils

from glance.common import exception

LOG = logging.getLogger(__name__)

#: the image properties that together ask for verification
PROPERTIES = (signature_utils.SIGNATURE, signature_utils.HASH_METHOD,
              signature_utils.KEY_TYPE, signature_utils.CERT_UUID)


class Verification:
    """One stream of image data checked against the image's signature.

    ``feed`` passes the chunks on unchanged; ``check`` (once the consumer
    has read everything) raises ``SignatureVerificationFailed`` unless the
    signature holds.  Without a verifier (an unsigned image) both do
    nothing.
    """

    def __init__(self, image_id: str, verifier: Any = None):
        self.image_id = image_id
        self.verifier = verifier

    def feed(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Yield every chunk unchanged, adding it to the signed digest."""
        if self.verifier is None:
            yield from chunks
            return
        for chunk in chunks:
            self.verifier.update(chunk)
            yield chunk

    def check(self) -> None:
        """Raise unless the signature matches everything fed."""
        if self.verifier is None:
            return
        try:
            self.verifier.verify()
        except crypto_exception.InvalidSignature:
            LOG.warning('Image %s: signature verification failed: the '
                        'signature does not match the data', self.image_id)
            raise exception.SignatureVerificationFailed(
                reason='the signature does not match the image data')
        LOG.info('Image %s: signature verified', self.image_id)


def verification(context, image) -> Verification:
    """The verification of a write of ``image``'s data.

    Fetches the certificate with the caller's ``context`` when the image
    is signed: an unknown, unreadable, expired or mismatched certificate,
    an unsupported hash method or key type, or a malformed signature fails
    here, before any data is stored.
    """
    props = image.extra_properties
    present = [name for name in PROPERTIES if name in props]
    if not present:
        return Verification(image.image_id)
    if len(present) < len(PROPERTIES):
        LOG.warning('Image %s has only some signature properties (%s); its '
                    'data is not verified: all of %s are needed',
                    image.image_id, ', '.join(present), ', '.join(PROPERTIES))
        return Verification(image.image_id)
    try:
        verifier = _verifier(context, props)
    except (cursive_exception.SignatureVerificationError,
            castellan_exception.CastellanException, ValueError) as exc:
        # cursive's errors carry the reason apart from their sentence.
        reason = str(getattr(exc, 'kwargs', {}).get('reason') or exc)
        LOG.warning('Image %s: signature verification failed: %s',
                    image.image_id, reason)
        raise exception.SignatureVerificationFailed(reason=reason)
    return Verification(image.image_id, verifier)


def _verifier(context, props: dict) -> Any:
    """cursive's verifier for the signature ``props`` describe.

    cursive's own steps, with a check of the certificate's validity period
    between fetching the certificate and taking its key.
    """
    signature = signature_utils.get_signature(props[signature_utils.SIGNATURE])
    hash_method = signature_utils.get_hash_method(
        props[signature_utils.HASH_METHOD])
    key_type = signature_utils.SignatureKeyType.lookup(
        props[signature_utils.KEY_TYPE])
    cert_uuid = props[signature_utils.CERT_UUID]
    certificate = signature_utils.get_certificate(context, cert_uuid)
    if not certificate_utils.is_within_valid_dates(certificate):
        raise cursive_exception.SignatureVerificationError(
            reason='certificate %s is not valid now (valid from %s to %s)'
            % (cert_uuid, certificate.not_valid_before_utc,
               certificate.not_valid_after_utc))
    public_key = certificate.public_key()
    if not isinstance(public_key, key_type.public_key_type):
        raise cursive_exception.SignatureVerificationError(
            reason='the key of certificate %s is not of key type %s'
            % (cert_uuid, key_type.name))
    verifier = key_type.create_verifier(signature, hash_method, public_key)
    if verifier is None:
        raise cursive_exception.SignatureVerificationError(
            reason='the signature is empty')
    return verifier
