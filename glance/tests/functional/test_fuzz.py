"""A seeded fuzz test: no request, however malformed, gets a 5xx.

Every route of ``glance.api.v2.router.ROUTES`` (walked, so a new route is
fuzzed without touching this file), with the methods it lists and a few it
does not, is sent requests built from a fixed seed: path values that are
real ids or junk, query strings with huge numbers, invalid UTF-8, NUL and
broken operators, headers with bad Range / Content-Type values, and bodies
that are malformed JSON, JSON of the wrong types, too deep, with numbers no
database holds, with lone surrogates, or broken JSON-patch documents.  A
last test abuses the protocol itself over a raw socket.

Each test requires every answer to be below 500, the server to answer
correctly afterwards, and no ERROR line in its log.  The same seed builds
the same requests on every run; a failure lists the requests to replay.
How requests are built and sent (raw sockets, loopback only) is
``fuzzing.py``.
"""
from __future__ import annotations

import random
import re
import socket
import uuid

import pytest

from glance.api.v2 import router
from glance.tests.functional import fuzzing
from glance.tests.functional.conftest import Client
from glance.tests.functional.server import GlanceServer

SEED = 20261204
#: requests per (route, listed method); with the unlisted methods and the
#: protocol cases this makes about 4,000 requests (well under a minute)
PER_METHOD = 48
#: requests per route with a method it does not list
PER_ROUTE_OTHER = 4


class LogWatch:
    """New ERROR lines of the server's log since the last look."""

    def __init__(self, server):
        self.path = server.workdir + '/glance-api.log'
        self.offset = self._size()

    def _size(self) -> int:
        with open(self.path, 'rb') as f:
            return f.seek(0, 2)

    def errors(self) -> list[str]:
        with open(self.path, 'rb') as f:
            f.seek(self.offset)
            new = f.read().decode('utf-8', 'replace')
        self.offset += len(new.encode('utf-8', 'replace'))
        return [line for line in new.splitlines() if ' ERROR ' in line or
                ' CRITICAL ' in line or 'Traceback' in line]


def assert_healthy(server, client: Client) -> None:
    """The server still runs with its first worker and answers right."""
    assert server.proc.poll() is None, server.log()
    assert client.get('/v2/images?limit=1').status_code == 200
    image = client.create(name='after-fuzz', disk_format='raw',
                          container_format='bare')
    assert client.upload(image['id'], b'alive').status_code == 204
    r = client.get('/v2/images/%s/file' % image['id'])
    assert (r.status_code, r.content) == (200, b'alive')
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    assert 'died' not in server.log()


# -- what the fuzzed requests are about ---------------------------------------

def make_ids(client: Client, template: str, n: int) -> dict[str, str]:
    """Real values for the path parameters, fresh for each route, so that
    requests reach the code behind the lookups: an active shared image
    with a member and a tag (or a queued one for the data and import
    routes) and a namespace with one of everything."""
    queued = template.endswith(('/file', '/stage', '/import'))
    image = client.create(name='fuzz-%d' % n, disk_format='raw',
                          container_format='bare', visibility='shared',
                          tags=['fuzz-tag'])
    if not queued:
        assert client.upload(image['id'], b'fuzz data').status_code == 204
    r = client.post('/v2/images/%s/members' % image['id'],
                    json={'member': 'fuzz-member'})
    assert r.status_code == 200, r.text
    ns = 'Fuzz::NS%d' % n
    r = client.post('/v2/metadefs/namespaces', json={
        'namespace': ns, 'visibility': 'public',
        'properties': {'prop': {'title': 'P', 'type': 'string'}},
        'objects': [{'name': 'obj', 'properties': {
            'op': {'title': 'OP', 'type': 'integer'}}}],
        'tags': [{'name': 'tag'}],
        'resource_type_associations': [
            {'name': 'OS::Glance::Image', 'prefix': 'fz_'}]})
    assert r.status_code == 201, r.text
    return {'image_id': image['id'], 'member_id': 'fuzz-member',
            'tag': 'fuzz-tag', 'store_id': 'file',
            'task_id': str(uuid.uuid4()), 'namespace': ns,
            'object_name': 'obj', 'property_name': 'prop',
            'tag_name': 'tag', 'name': 'OS::Glance::Image'}


OTHER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS',
                 'TRACE', 'CONNECT', 'FOO', 'get', 'M-SEARCH']


@pytest.fixture(scope='module')
def fuzz(server):
    return Client(server.url), LogWatch(server)


@pytest.mark.parametrize('template', sorted(router.ROUTES))
def test_route_never_answers_5xx(server, fuzz, template):
    client, log = fuzz
    log.errors()
    rng = random.Random('%d:%s' % (SEED, template))
    ids = make_ids(client, template, sorted(router.ROUTES).index(template))
    plan = []
    for method in router.ROUTES[template]:
        plan += [method] * PER_METHOD
    others = [m for m in OTHER_METHODS if m not in router.ROUTES[template]]
    plan += [fuzzing.pick(rng, others) for _ in range(PER_ROUTE_OTHER)]
    failures = []
    for method in plan:
        data = fuzzing.build_request(rng, method, template, ids)
        status, body = fuzzing.exchange(server.port, data, method)
        if status is None or status >= 500:
            failures.append(fuzzing.describe(data, status, body))
    assert not failures, '%d of %d requests failed:\n%s' % (
        len(failures), len(plan), '\n'.join(failures[:15]))
    assert_healthy(server, client)
    assert log.errors() == []


# -- the protocol itself -----------------------------------------------------

def _is_http(response: bytes) -> bool:
    return re.match(rb'HTTP/1\.[01] [1-4]\d\d ', response) is not None


def test_protocol_abuse_never_answers_5xx(server, fuzz):
    """Whatever arrives on the socket gets a proper HTTP status line below
    500 (505 for an unsupported version), or the connection is closed."""
    client, log = fuzz
    log.errors()
    failures = []
    for data in fuzzing.protocol_cases(random.Random(SEED)):
        with socket.create_connection(('127.0.0.1', server.port),
                                      timeout=60) as sock:
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            received = b''
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            except OSError:
                pass
        if received and not (_is_http(received) or received.startswith(
                b'HTTP/1.1 505 HTTP Version Not Supported\r\n')):
            failures.append('%r -> %r' % (data[:200], received[:200]))
    assert not failures, '\n'.join(failures[:15])
    assert_healthy(server, client)
    assert log.errors() == []


# -- the database backends ----------------------------------------------------

#: requests per (route, method) on PostgreSQL and MariaDB, whose drivers
#: refuse what SQLite stores (too long, NUL, out of range)
PER_METHOD_BACKEND = 24


@pytest.mark.parametrize('database', ['postgresql', 'mysql'], indirect=True)
def test_writes_and_queries_never_answer_5xx_on(database, tmp_path):
    """The routes that store what they are sent (those with a valid body
    to start from) and the two lists with filters, on each server
    database."""
    srv = GlanceServer(str(tmp_path / 'glance'),
                       database_url=database.url).start()
    try:
        client, log = Client(srv.url), LogWatch(srv)
        routes = sorted({t for t, _m in fuzzing.VALID_BODIES} |
                        {'/v2/images', '/v2/metadefs/namespaces'})
        failures, sent = [], 0
        for n, template in enumerate(routes):
            rng = random.Random('%d:%s:%s' % (SEED, database.backend,
                                              template))
            ids = make_ids(client, template, n)
            for method in router.ROUTES[template]:
                if (template, method) not in fuzzing.VALID_BODIES and \
                        method != 'GET':
                    continue
                for _ in range(PER_METHOD_BACKEND):
                    data = fuzzing.build_request(rng, method, template, ids)
                    status, body = fuzzing.exchange(srv.port, data, method)
                    sent += 1
                    if status is None or status >= 500:
                        failures.append(fuzzing.describe(data, status, body))
        assert not failures, '%d of %d requests failed:\n%s' % (
            len(failures), sent, '\n'.join(failures[:15]))
        assert_healthy(srv, client)
        assert log.errors() == []
    finally:
        srv.stop()
