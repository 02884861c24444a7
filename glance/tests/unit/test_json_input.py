"""glance.common.json_input: what a request body may hold."""
from __future__ import annotations

import pytest

from glance.common import exception, json_input


@pytest.mark.parametrize('raw', [
    b'{"name": "x", "tags": ["a"], "min_ram": 1, "f": 1.5, "n": null}',
    b'[' * 31 + b']' * 31,
    b'{"v": 9223372036854775807, "w": -9223372036854775808}',
    '{"name": "\u00e9\U0001f600"}'.encode('utf-8'),
    b'{"name": "\\ud83d\\ude00"}',      # a surrogate pair is one character
])
def test_storable_bodies_decode(raw):
    json_input.loads(raw)


@pytest.mark.parametrize('raw,words', [
    (b'[' * 33 + b']' * 33, 'levels deep'),
    (b'[' * 100000, 'levels deep'),
    (b'{"a": 9223372036854775808}', 'out of range'),
    (b'{"a": [-9223372036854775809]}', 'out of range'),
    (b'{"a": 1e400}', 'out of range'),
    (b'{"a": NaN}', 'not a JSON value'),
    (b'{"a": -Infinity}', 'not a JSON value'),
    (b'{"a": "\\udcff"}', 'U+DCFF'),
    (b'{"\\ud800": 1}', 'A key at the top level'),
    (b'{"a": ["ok", "x\\u0000"]}', 'at /a/1'),
    (b'{"a": "\xff"}', 'UTF-8'),
    (b'{"a": 1', 'Malformed JSON'),
])
def test_unstorable_bodies_are_400(raw, words):
    with pytest.raises(exception.BadRequest) as err:
        json_input.loads(raw)
    assert err.value.code == 400
    assert words in str(err.value)


def test_query_integers_are_64_bit():
    assert json_input.parse_int('42', 'limit') == 42
    for raw in ('9223372036854775808', '-9223372036854775809'):
        with pytest.raises(exception.BadRequest, match='out of range'):
            json_input.parse_int(raw, 'size_min')
    with pytest.raises(exception.InvalidParameterValue,
                       match='integer is required'):
        json_input.parse_int('ten', 'size_min')
