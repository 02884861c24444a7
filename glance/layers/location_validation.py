"""The validation data a caller gives with a new location (API 2.17):
hashes it vouches for, checked for form here and against the data once it
is read (``verify_location`` in location.py)."""
from __future__ import annotations

import hashlib
import re

from glance.common import exception
from glance.domain.image import Image


def take(image: Image, data: dict | None) -> None:
    """Record hashes a caller vouches for; 400 if they cannot be right.

    Any fixed-size hashlib algorithm will do, not only the configured
    ``hashing_algorithm``: the data is then hashed with the caller's
    algorithm, as the reference service does (Tempest adds sha256 data
    to a sha512 cloud).
    """
    if not data:
        return
    algo, value = data['os_hash_algo'], data['os_hash_value']
    if algo not in VALIDATION_ALGORITHMS:
        raise exception.BadRequest(
            'validation_data os_hash_algo %s is not one of %s.'
            % (algo, ', '.join(sorted(VALIDATION_ALGORITHMS))))
    checksum = data.get('checksum')
    width = hashlib.new(algo).digest_size * 2
    if not re.fullmatch('[0-9a-f]{%d}' % width, value) or (
            checksum and not re.fullmatch('[0-9a-f]{32}', checksum)):
        raise exception.BadRequest('validation_data holds malformed hashes: '
                                   'an %s value has %d hex digits.'
                                   % (algo, width))
    if image.os_hash_value and (image.os_hash_algo, image.os_hash_value,
                                image.checksum) != (
            algo, value, checksum or image.checksum):
        raise exception.BadRequest('validation_data differs from the hashes '
                                   'the image already has.')
    image.checksum = checksum or image.checksum
    image.os_hash_algo, image.os_hash_value = algo, value


#: what validation_data may name as os_hash_algo (shake_* have no fixed
#: size, so their value could not be checked)
VALIDATION_ALGORITHMS = frozenset(
    a for a in hashlib.algorithms_guaranteed if not a.startswith('shake'))
