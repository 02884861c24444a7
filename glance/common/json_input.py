"""Decoding of untrusted input (JSON bodies, query strings, path values)
into values every layer below can store without failing.

The database drivers, jsonschema and the JSON decoder each fail on some
input in their own way (OverflowError, UnicodeEncodeError, RecursionError,
"A string literal cannot contain NUL" on PostgreSQL), and each of those
would surface as a 500 deep below the API.  Refusing such input once, here,
at the door, gives the client a 400 that names what is wrong and where, and
keeps the storage code free of defensive checks.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from glance.common import exception

#: deepest nesting of arrays/objects a body may have; the deepest
#: legitimate body (a metadef namespace with object properties whose items
#: declare an enum) is about 7 levels deep
MAX_DEPTH = 32
#: the range of a signed 64-bit integer: the widest integer column
#: (BigInteger) and what every database driver can bind
INT_MIN = -2 ** 63
INT_MAX = 2 ** 63 - 1
#: characters no text column accepts on every backend: NUL (PostgreSQL
#: refuses it) and lone UTF-16 surrogates (not encodable as UTF-8)
_UNSTORABLE = re.compile('[\x00\ud800-\udfff]')


def _where(path: tuple) -> str:
    return '/' + '/'.join(str(p) for p in path) if path else 'the top level'


def check_text(value: str, what: str) -> str:
    """``value`` unchanged, or a 400 when it holds a character no database
    can store (NUL or a lone surrogate); ``what`` names it for the
    client."""
    m = _UNSTORABLE.search(value)
    if m is not None:
        raise exception.BadRequest(
            '%s holds the character U+%04X, which cannot be stored '
            '(NUL and lone UTF-16 surrogates are not allowed).'
            % (what, ord(m.group())))
    return value


def check_int(value: int, what: str) -> int:
    """``value`` unchanged, or a 400 when it does not fit 64 bits."""
    if not INT_MIN <= value <= INT_MAX:
        raise exception.BadRequest(
            '%s is out of range: integers must lie between %d and %d.'
            % (what, INT_MIN, INT_MAX))
    return value


def parse_int(raw: str, what: str) -> int:
    """The integer a query parameter spells; 400 if it is none or does
    not fit 64 bits (the database could not compare with it)."""
    try:
        value = int(raw)
    except ValueError:
        raise exception.InvalidParameterValue(
            value=raw[:64], param=what, extra_msg='an integer is required')
    return check_int(value, what)


def check_value(value: Any) -> Any:
    """``value`` (decoded JSON) unchanged, or a 400 naming the first part
    that is nested too deeply, a number out of range or unstorable text.

    Walks the value without recursion, so a deep value cannot exhaust the
    stack here either.
    """
    stack: list[tuple[Any, tuple]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            check_text(item, 'The value at %s' % _where(path))
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            check_int(item, 'The number at %s' % _where(path))
        elif isinstance(item, (dict, list)):
            if len(path) >= MAX_DEPTH:
                raise exception.BadRequest(
                    'The request body is nested more than %d levels deep.'
                    % MAX_DEPTH)
            if isinstance(item, dict):
                for key, member in item.items():
                    check_text(key, 'A key at %s' % _where(path))
                    stack.append((member, path + (key,)))
            else:
                stack.extend((member, path + (i,))
                             for i, member in enumerate(item))
    return value


def _finite(raw: str) -> float:
    number = float(raw)
    if not math.isfinite(number):
        raise ValueError('the number %s is out of range' % raw[:32])
    return number


def _no_constant(name: str) -> float:
    # NaN and Infinity are not JSON; Python's decoder would accept them.
    raise ValueError('%s is not a JSON value' % name)


def loads(raw: bytes) -> Any:
    """The JSON value of a request body; 400 for anything that is not
    valid, UTF-8 JSON every layer below can store (see :func:`check_value`).
    """
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        raise exception.BadRequest(
            'Malformed JSON in request body: it is not valid UTF-8.')
    try:
        value = json.loads(text, parse_float=_finite,
                           parse_constant=_no_constant)
    except RecursionError:
        raise exception.BadRequest(
            'Malformed JSON in request body: nested more than %d levels '
            'deep.' % MAX_DEPTH)
    except ValueError as exc:
        raise exception.BadRequest('Malformed JSON in request body: %s.'
                                   % str(exc)[:200])
    return check_value(value)
