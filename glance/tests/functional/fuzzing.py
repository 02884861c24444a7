"""Building fuzzed requests for test_fuzz.py, and sending them.

Every request is built from a ``random.Random`` the caller seeds, so the
same seed gives the same bytes.  Requests are written on a raw socket (not
through an HTTP library) so that bytes no library would send (invalid UTF-8
in the path, raw control characters in headers) reach the server as
written.  Every address is on 127.0.0.1; URLs in bodies point at
127.0.0.1:1, where nothing listens.
"""
from __future__ import annotations

import http.client
import json
import random
import re
import socket
import uuid

PATCH_MEDIA = 'application/openstack-images-v2.1-json-patch'
DEAD_URL = 'http://127.0.0.1:1/fuzz'

# -- the pools requests are built from ---------------------------------------

JUNK_PATH_VALUES = [
    '00000000-0000-0000-0000-000000000000', str(uuid.UUID(int=1)), 'x',
    '%00', '%ff', '%ed%b3%bf', '%c3%28', '%e2%82', 'a' * 300, '..', '%2e%2e',
    '%20', '-1', '99999999999999999999999', 'null', '%F0%9F%98%80', '%25',
    "'", '%22', '%0d%0a', '%5c', 'OS::Glance::Image', 'file', '%u0041',
    '\xff\xfe', '\x01', 'caf\xe9', '1e400', '{}', '[]', ';', '%3B',
]
QUERY_KEYS = [
    'limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'size_min',
    'size_max', 'min_ram', 'min_disk', 'size', 'virtual_size', 'visibility',
    'member_status', 'os_hidden', 'protected', 'created_at', 'updated_at',
    'name', 'id', 'status', 'tag', 'container_format', 'disk_format',
    'owner', 'resource_types', 'resource_type', 'type', 'os_distro',
    'x\x00', '%ff', 'all_stores', 'store',
]
QUERY_VALUES = [
    '', '0', '-1', '1', '99999999999999999999999', '-99999999999999999999999',
    '9223372036854775808', '2147483648', '1e400', '1.5', 'nan', 'true',
    'maybe', '%00', '%ff', '%ed%b3%bf', 'in:', 'in:"a', 'in:a,"b"c',
    'gt:', 'gt:yesterday', 'lt:2024-13-45T99:99:99Z', 'eq:2024-01-01T00:00Z',
    'neq:', 'gt:0001-01-01T00:00:00%2B23:59', 'lt:9999-12-31T23:59:59-23:59',
    '9999-12-31T23:59:59.9999999999Z', 'name:asc,size:sideways', 'bogus',
    'created_at', 'desc', 'asc',
    'size:', ':asc', ',,,', 'x' * 2000, '\u00e9', '%C3%A9', 'public', 'all',
    'accepted', '00000000-0000-0000-0000-000000000000', '+', '%2B', '%',
]
CONTENT_TYPES = [
    None, 'application/json', PATCH_MEDIA,
    'application/openstack-images-v2.0-json-patch',
    'application/json-patch+json', 'application/octet-stream', 'text/plain',
    '', 'application/json; charset=latin-1', 'application/json; charset=x',
    'multipart/form-data; boundary=', 'application/x-www-form-urlencoded',
    '\xff/\xfe', 'application/json;;;', '*/*',
]
RANGES = [
    'bytes=0-0', 'bytes=0-', 'bytes=-1', 'bytes=-0', 'bytes=5-2',
    'bytes=0-99999999999999999999999999', 'bytes=99999999999999999999-',
    'bytes=-99999999999999999999', 'bytes=0-1,2-3', 'bytes=', 'bytes=a-b',
    'items=0-1', '', 'bytes 0-1/2', 'bytes=\xff-1', 'bytes=1-1-1',
]
CONTENT_RANGES = ['bytes 0-1/2', 'bytes 1-0/2', 'bytes 0-1/*',
                  'bytes 0-99999999999999999999/99999999999999999999',
                  'garbage', 'bytes */2']
ACCEPTS = ['application/json', 'text/html', '*/*', '',
           'application/vnd.openstack.images-v9.9', 'x/\xff', 'text/plain']
KEYS = [
    'name', 'tags', 'min_ram', 'min_disk', 'visibility', 'protected',
    'os_hidden', 'container_format', 'disk_format', 'id', 'owner',
    'namespace', 'display_name', 'description', 'properties', 'objects',
    'resource_type_associations', 'type', 'title', 'input', 'member',
    'status', 'op', 'path', 'value', 'method', 'url', 'metadata', 'stores',
    'all_stores', 'all_stores_must_succeed', 'validation_data', 'prefix',
    'properties_target', 'required', 'enum', 'items', 'minimum', 'maximum',
    'default', 'import_from', 'image_properties', 'uri', 'locations',
    'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'self', 'schema',
    '', '\x00', '\ud800', 'k' * 300, 'x_custom',
]
STRINGS = [
    '', 'x', 'fuzz', 'a' * 256, 'b' * 70000, '\ud800', '\udcff', 'a\x00b',
    '\U0001f600', 'public', 'private', 'shared', 'community', 'accepted',
    'rejected', 'pending', 'import', 'raw', 'bare', 'qcow2', 'glance-direct',
    'web-download', 'copy-image', 'OS::Glance::Image', DEAD_URL,
    'file:///etc/passwd', 'string', 'integer', 'array', 'object', '/name',
    '/tags', '/min_ram', '/locations', '/locations/0', '/locations/-',
    '/x/y/z', '~', '/~1', 'add', 'replace', 'remove', 'move', 'copy', 'test',
    '00000000-0000-0000-0000-000000000000', 'sha512', '0' * 32,
]
NUMBERS = [0, -1, 1, 2 ** 31, 2 ** 63, -2 ** 63 - 1, 2 ** 70, 10 ** 30,
           0.5, -0.0, 1e300, '__HUGE_FLOAT__', '__NEG_HUGE_FLOAT__',
           '__BIG_INT__']
NUMBER_LITERALS = {'"__HUGE_FLOAT__"': '1e400',
                   '"__NEG_HUGE_FLOAT__"': '-1e400',
                   '"__BIG_INT__"': '9' * 5000}
MALFORMED = [
    b'', b'{', b'}', b'[', b'{"name": }', b'{"name": "x",}', b"{'a': 1}",
    b'NaN', b'Infinity', b'-Infinity', b'{"a": NaN}', b'nul', b'"x"', b'1',
    b'null', b'true', b'[]', b'{}', b'{"a": 1}{"b": 2}', b'\xef\xbb\xbf{}',
    b'\xff\xfe{}', b'{"name": "\xff"}', b'{"name": "\xed\xb3\xbf"}',
    b'{"a": "\\ud800"}', b'{"a": "\\u0000"}', b'{"a": "\\x"}', b'\x00' * 10,
    b'{"a": 1e400}', b'{"a": ' + b'9' * 5000 + b'}', b'[' * 100000,
    b'{"a":' * 5000 + b'1' + b'}' * 5000, b'[' * 900 + b']' * 900,
    b'[' * 33 + b']' * 33,
]


#: a valid body per (route, method), which the fuzzer changes in one place
#: so that requests pass the first checks and reach deeper code;
#: ``{namespace}``-style strings are filled with the route's real ids
_PROPERTY = {'title': 'T', 'type': 'integer', 'minimum': 0, 'maximum': 9}
VALID_BODIES: dict[tuple[str, str], list] = {
    ('/v2/images', 'POST'): [{
        'name': 'fuzzed', 'disk_format': 'raw', 'container_format': 'bare',
        'tags': ['a', 'b'], 'min_ram': 1, 'min_disk': 2, 'x_prop': 'v',
        'visibility': 'shared', 'protected': False}],
    ('/v2/images/{image_id}', 'PATCH'): [[
        {'op': 'replace', 'path': '/name', 'value': 'n'},
        {'op': 'add', 'path': '/x_prop', 'value': 'v'},
        {'op': 'replace', 'path': '/tags', 'value': ['a']},
        {'op': 'replace', 'path': '/min_ram', 'value': 5}]],
    ('/v2/images/{image_id}/members', 'POST'): [{'member': 'fuzz-other'}],
    ('/v2/images/{image_id}/members/{member_id}', 'PUT'): [
        {'status': 'accepted'}],
    ('/v2/images/{image_id}/locations', 'POST'): [{
        'url': DEAD_URL, 'validation_data': {
            'os_hash_algo': 'sha512', 'os_hash_value': 'ab' * 64}}],
    ('/v2/images/{image_id}/import', 'POST'): [
        {'method': {'name': 'glance-direct'}},
        {'method': {'name': 'web-download', 'uri': DEAD_URL}},
        {'method': {'name': 'copy-image'}, 'stores': ['file'],
         'all_stores_must_succeed': False}],
    ('/v2/tasks', 'POST'): [{
        'type': 'import', 'input': {
            'import_from': DEAD_URL, 'import_from_format': 'raw',
            'image_properties': {'name': 'task-image',
                                 'disk_format': 'raw'}}}],
    ('/v2/metadefs/namespaces', 'POST'): [{
        'namespace': 'Fuzz::New', 'display_name': 'D', 'description': 'd',
        'visibility': 'public', 'protected': False,
        'properties': {'p': _PROPERTY},
        'objects': [{'name': 'o', 'required': ['p'],
                     'properties': {'p': _PROPERTY}}],
        'tags': [{'name': 't'}],
        'resource_type_associations': [
            {'name': 'OS::Glance::Image', 'prefix': 'p_'}]}],
    ('/v2/metadefs/namespaces/{namespace}', 'PUT'): [{
        'namespace': '{namespace}', 'description': 'd',
        'visibility': 'public'}],
    ('/v2/metadefs/namespaces/{namespace}/objects', 'POST'): [{
        'name': 'o2', 'description': 'd', 'required': [],
        'properties': {'p': _PROPERTY}}],
    ('/v2/metadefs/namespaces/{namespace}/objects/{object_name}', 'PUT'): [{
        'name': 'obj', 'description': 'd', 'properties': {'p': _PROPERTY}}],
    ('/v2/metadefs/namespaces/{namespace}/properties', 'POST'): [
        dict(_PROPERTY, name='p2', enum=[1, 2], default=1)],
    ('/v2/metadefs/namespaces/{namespace}/properties/{property_name}',
     'PUT'): [dict(_PROPERTY, name='prop')],
    ('/v2/metadefs/namespaces/{namespace}/tags', 'POST'): [
        {'tags': [{'name': 't1'}, {'name': 't2'}]}],
    ('/v2/metadefs/namespaces/{namespace}/tags/{tag_name}', 'PUT'): [
        {'name': 't3'}],
    ('/v2/metadefs/namespaces/{namespace}/resource_types', 'POST'): [
        {'name': 'OS::Nova::Flavor', 'prefix': 'p_',
         'properties_target': 'image'}],
}
#: what a mutation puts somewhere in a valid body
BAD_VALUES = ['\udcff', 'a\x00b', 2 ** 64, -2 ** 64, 2 ** 31, -1,
              '__HUGE_FLOAT__', '__BIG_INT__', None, True, [], {}, '',
              'x' * 300, 'y' * 70000, 1.5, ['\ud800'], {'\udcff': 1},
              DEAD_URL]


def pick(rng: random.Random, pool):
    """One item of ``pool``."""
    return pool[rng.randrange(len(pool))]


def _value(rng: random.Random, depth: int = 0):
    """A JSON value of any type, biased towards what breaks things."""
    kind = rng.randrange(10 if depth < 4 else 6)
    if kind < 3:
        return pick(rng, STRINGS)
    if kind < 5:
        return pick(rng, NUMBERS)
    if kind == 5:
        return pick(rng, [None, True, False])
    if kind < 8:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return _object(rng, depth + 1)


def _object(rng: random.Random, depth: int = 0) -> dict:
    return {pick(rng, KEYS): _value(rng, depth)
            for _ in range(rng.randrange(5))}


def _nest(depth: int):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


def _fill(value, ids: dict[str, str]):
    if isinstance(value, str):
        return re.sub(r'{(\w+)}', lambda m: ids.get(m.group(1), m.group(0)),
                      value)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


#: what a string in a valid body may become: too long for any column,
#: or holding what no database stores
_STRETCHES = ('x' * 300, 'x' * 81, '\udcff', '\x00', '\ud800x')


def _slots(value) -> list[tuple[object, object]]:
    """(container, key or index) of every member of ``value``."""
    slots = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            slots += [(item, k) for k in item]
            stack.extend(item.values())
        elif isinstance(item, list):
            slots += [(item, i) for i in range(len(item))]
            stack.extend(item)
    return slots


def _mutate(rng: random.Random, value):
    """``value`` with one thing in it changed: a string stretched or
    poisoned, a member replaced by a bad value, added or removed, or a key
    renamed to something no database stores."""
    slots = _slots(value)
    if not slots:
        return pick(rng, BAD_VALUES)
    container, key = pick(rng, slots)
    member = container[key]
    roll = rng.random()
    if roll < 0.3 and isinstance(member, str):
        container[key] = member + pick(rng, _STRETCHES)
    elif roll < 0.45 and isinstance(container, dict):
        container[key + pick(rng, _STRETCHES)] = container.pop(key)
    elif roll < 0.55:
        if isinstance(container, dict):
            del container[key]
        else:
            container.pop(key)
    elif roll < 0.65:
        bad = pick(rng, BAD_VALUES)
        if isinstance(container, dict):
            container[pick(rng, KEYS)] = bad
        else:
            container.append(bad)
    else:
        container[key] = (pick(rng, BAD_VALUES) if rng.random() < 0.7
                          else _nest(rng.randrange(30, 40))
                          if rng.random() < 0.2 else _value(rng, 2))
    return value


def _patch_doc(rng: random.Random):
    ops = []
    for _ in range(rng.randrange(4)):
        op = {}
        for key in ('op', 'path', 'value', 'from'):
            if rng.random() < 0.8:
                op[key] = (pick(rng, STRINGS) if rng.random() < 0.7
                           else _value(rng, 2))
        ops.append(op if rng.random() < 0.9 else _value(rng, 2))
    return ops if rng.random() < 0.9 else _object(rng)


def _dump(value) -> bytes:
    text = json.dumps(value)        # lone surrogates come out as \udxxx
    for marker, literal in NUMBER_LITERALS.items():
        text = text.replace(marker, literal)
    return text.encode('utf-8')


def _data_route(template: str) -> bool:
    return template.endswith(('/file', '/stage'))


def _body(rng: random.Random, method: str, template: str,
          ids: dict[str, str], fuzzed: bool) -> bytes | None:
    valid = VALID_BODIES.get((template, method))
    if not fuzzed:
        if valid:
            return _dump(_fill(pick(rng, valid), ids))
        if _data_route(template) and method == 'PUT':
            return b'fuzz data'
        return None
    if valid and rng.random() < 0.6:
        body = _fill(json.loads(json.dumps(pick(rng, valid))), ids)
        return _dump(_mutate(rng, body))
    if method in ('GET', 'HEAD', 'DELETE', 'OPTIONS') and \
            rng.random() < 0.8:
        return None
    if _data_route(template) and rng.random() < 0.5:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    roll = rng.random()
    if roll < 0.25:
        return pick(rng, MALFORMED)
    if roll < 0.45 or method == 'PATCH':
        return _dump(_patch_doc(rng))
    return _dump(_object(rng) if rng.random() < 0.9 else _value(rng))


def _latin1(text: str) -> bytes:
    return text.encode('latin-1', 'replace')


def _headers(rng: random.Random, method: str, template: str,
             fuzzed: bool) -> list[tuple[bytes, bytes]]:
    headers = []
    content_type = (PATCH_MEDIA if method == 'PATCH' else
                    'application/octet-stream' if _data_route(template)
                    else 'application/json')
    if not fuzzed:
        return [(b'Content-Type', content_type.encode())]
    if rng.random() < 0.5:
        content_type = pick(rng, CONTENT_TYPES)
    if content_type is not None:
        headers.append((b'Content-Type', _latin1(content_type)))
    extra = [
        (b'Range', RANGES), (b'Content-Range', CONTENT_RANGES),
        (b'Accept', ACCEPTS),
        (b'X-Openstack-Append', ['true', 'false', '\xff', '']),
        (b'X-Image-Meta-Store', ['file', 'nope', '\xff', '']),
        (b'X-Openstack-Request-Id', ['req-' + 'x' * 300, 'req-\xff', '']),
        (b'X-Roles', ['admin', '\xff', '']),
        (b'X-Identity-Status', ['Confirmed', 'Invalid']),
        (b'X-Service-Catalog', ['[', '{}', '\xff']),
        (b'X-Forwarded-Proto', ['https', 'gopher', '\xff']),
        (b'Forwarded', ['for=;proto', 'proto=https;host="a', '=;=,,',
                        'host=\xff;proto=\xff']),
        (b'Origin', ['http://127.0.0.1', '\xff', 'null']),
        (b'Expect', ['100-continue', '999-nope']),
    ]
    for name, pool in extra:
        if rng.random() < 0.15:
            headers.append((name, _latin1(pick(rng, pool))))
    return headers


def _path(rng: random.Random, template: str, ids: dict[str, str],
          fuzzed: bool) -> str:
    def fill(m):
        real = ids.get(m.group(1))
        if real is not None and (not fuzzed or rng.random() < 0.5):
            return real
        return pick(rng, JUNK_PATH_VALUES)
    path = re.sub(r'{(\w+)}', fill, template)
    if fuzzed and rng.random() < 0.15:
        versions = ['/v2.0/', '/v2.99/', '/v2.9/', '/v2/']
        path = path.replace('/v2/', pick(rng, versions), 1)
    return path


def _query(rng: random.Random, fuzzed: bool) -> str:
    if not fuzzed:
        return ''
    parts = []
    for _ in range(rng.randrange(1, 4)):
        parts.append('%s=%s' % (pick(rng, QUERY_KEYS),
                                pick(rng, QUERY_VALUES)))
    return '?' + '&'.join(parts)


#: the part of a request that is fuzzed (the body twice as often)
FOCUS = ('path', 'query', 'headers', 'body', 'body', 'all')


def build_request(rng: random.Random, method: str, template: str,
                  ids: dict[str, str]) -> bytes:
    """The bytes of one fuzzed HTTP/1.1 request for ``template``.

    Most requests are valid but for one part (path, query, headers or
    body), so that they pass the other checks and reach the code behind
    them; the rest have every part fuzzed at once.
    """
    focus = pick(rng, FOCUS)
    fuzzed = {part: focus in (part, 'all') for part in FOCUS}
    target = _latin1(_path(rng, template, ids, fuzzed['path']) +
                     _query(rng, fuzzed['query']))
    target = target.replace(b' ', b'%20').replace(b'\r', b'%0d') \
        .replace(b'\n', b'%0a')
    lines = [b'%s %s HTTP/1.1' % (method.encode(), target),
             b'Host: 127.0.0.1', b'Connection: close']
    lines += [name + b': ' + value
              for name, value in _headers(rng, method, template,
                                          fuzzed['headers'])]
    body = _body(rng, method, template, ids, fuzzed['body'])
    if body is not None:
        lines.append(b'Content-Length: %d' % len(body))
    return b'\r\n'.join(lines) + b'\r\n\r\n' + (body or b'')


# -- talking to the server ---------------------------------------------------

def exchange(port: int, data: bytes, method: str = 'GET',
             timeout: float = 60) -> tuple[int | None, bytes]:
    """Send ``data`` on a fresh connection: (status, body), or (None, b'')
    when the server closed the connection without answering."""
    with socket.create_connection(('127.0.0.1', port),
                                  timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # it may have answered early and closed: read that
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
            return response.status, response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError,
                http.client.IncompleteRead):
            return None, b''


def describe(data: bytes, status, body: bytes) -> str:
    """A failed request and its answer, for an assertion message."""
    return '%s -> %s %r' % (data[:300], status, body[:300])


# -- the protocol itself -----------------------------------------------------

def protocol_cases(rng: random.Random) -> list[bytes]:
    """Bytes that abuse HTTP itself: unparseable request lines, TLS on the
    plain port, bad header lines, lengths and chunking, bodies cut short,
    and random request lines."""
    tls_hello = bytes.fromhex('16030100a5010000a10303') + bytes(
        rng.randrange(256) for _ in range(160))
    fixed = [
        b'GET /v2/images HTTP/9.9\r\nHost: x\r\n\r\n',
        b'GET /v2/images HTTP/2.0\r\nHost: x\r\n\r\n',
        b'GET /v2/images HTTP/1.1.1\r\nHost: x\r\n\r\n',
        b'GET /v2/images HTTPS/1.1\r\nHost: x\r\n\r\n',
        b'GET /v2/images HTTP/01234567890.1\r\n\r\n',
        b'GET /v2/images FOO BAR HTTP/1.1\r\n\r\n',
        b'GET\r\n\r\n', b'\r\n\r\n', b' \r\n', tls_hello,
        b'\x00\x01\x02\x03\r\n\r\n', b'\xff' * 100 + b'\r\n\r\n',
        b'GET /v2/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n',
        b'GET /v2/images?\xff=\xfe HTTP/1.1\r\nHost: x\r\n\r\n',
        b'GET /v2/images HTTP/1.1\r\nHost: x\r\nX-A: \xff\xfe\r\n\r\n',
        b'GET /v2/images HTTP/1.1\r\nno colon here\r\n\r\n',
        b'GET /v2/images HTTP/1.1\r\n: empty name\r\n\r\n',
        b'GET /v2/images HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n',
        b'GET /v2/images HTTP/1.1\r\nX: ' + b'y' * 70000 + b'\r\n\r\n',
        b'GET /' + b'a' * 20000 + b' HTTP/1.1\r\n\r\n',
        b'GET /v2/images HTTP/1.1\r\n' + b'X-H: v\r\n' * 2000 + b'\r\n',
        b'POST /v2/images HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
        b'POST /v2/images HTTP/1.1\r\nContent-Length: abc\r\n\r\n',
        b'POST /v2/images HTTP/1.1\r\nContent-Length: 99999999999999999999'
        b'999\r\nContent-Type: application/json\r\n\r\n{}',
        b'POST /v2/images HTTP/1.1\r\nContent-Length: 2\r\n'
        b'Transfer-Encoding: chunked\r\n\r\n{}',
        b'POST /v2/images HTTP/1.1\r\nTransfer-Encoding: chunked\r\n'
        b'Content-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
        b'POST /v2/images HTTP/1.1\r\nTransfer-Encoding: chunked\r\n'
        b'Content-Type: application/json\r\n\r\n'
        b'ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n',
        b'POST /v2/images HTTP/1.1\r\nTransfer-Encoding: gzip\r\n'
        b'Content-Type: application/json\r\n\r\n{}',
        b'POST /v2/images HTTP/1.1\r\nContent-Type: application/json\r\n'
        b'Content-Length: 100\r\n\r\n{"name": "short"',
        b'PUT /v2/images/%s/file HTTP/1.1\r\nContent-Length: 100\r\n'
        b'Content-Type: application/octet-stream\r\n\r\nshort'
        % str(uuid.uuid4()).encode(),
        b'GET /v2/images HTTP/1.1\r\nExpect: 100-continue\r\n\r\n',
        b'GET /v2/images HTTP/1.1\r\nExpect: 999-nope\r\n\r\n',
    ]
    methods = [b'GET', b'POST', b'PUT', b'\x16\x03', b'G\x00T', b'',
               b'CONNECT', b'PRI']
    targets = [b'/v2/images', b'*', b'http://127.0.0.1/v2/images', b'',
               b'//v2//images', b'/v2/images#frag', b'\xff', b'/%']
    versions = [b'HTTP/1.1', b'HTTP/1.0', b'HTTP/0.9', b'', b'HTTP/1',
                b'http/1.1', b'HTTP/1.1 extra', b'HTTP/-1.1']
    cases = list(fixed)
    for _ in range(220):
        line = b' '.join(p for p in (pick(rng, methods),
                                     pick(rng, targets),
                                     pick(rng, versions)) if p)
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        cases.append(line + b'\r\n' + (junk if rng.random() < 0.3 else b'')
                     + b'\r\n\r\n')
    return cases
