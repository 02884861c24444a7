"""No acknowledged write is lost, on SQLite, PostgreSQL and MariaDB.

Many clients change one image at once: each adds its own property or tag,
or all add the same member, or one renames the image while an import
writes its data.  Every 200/201/204 must be a change that is still there
afterwards, and no call may answer 5xx.  The service runs as a real
glance-api with two workers (and, on PostgreSQL, as two API nodes sharing
the database).
"""
from __future__ import annotations

import collections
import concurrent.futures
import http.server
import os
import time
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer, \
    serving

#: concurrent clients
CLIENTS = 8
OWNER = identity('conc-owner', 'reader,member', 'owner')


class _SlowSource(http.server.BaseHTTPRequestHandler):
    """GET /slow/SIZE: SIZE bytes, 4 KiB every 50 ms."""

    protocol_version = 'HTTP/1.0'

    def log_message(self, *args):
        pass

    def do_GET(self):
        size = int(self.path.rsplit('/', 1)[-1])
        self.send_response(200)
        self.send_header('Content-Length', str(size))
        self.end_headers()
        for start in range(0, size, 4096):
            self.wfile.write(b's' * min(4096, size - start))
            self.wfile.flush()
            time.sleep(0.05)


@pytest.fixture(scope='module')
def web():
    with serving(_SlowSource) as url:
        yield int(url.rsplit(':', 1)[1])


def _server(workdir: str, database, web_port: int,
            stores: str) -> GlanceServer:
    return GlanceServer(workdir, database_url=database.url,
                        profile='reference', settings=[
                            'workers=2',
                            'import_filtering_opts.allowed_ports=[%d]'
                            % web_port,
                            'import_filtering_opts.allowed_hosts='
                            '[127.0.0.1]',
                            'task.work_dir=%s' % os.path.join(workdir,
                                                              'work')] + [
                            '%s.filesystem_store_datadir=%s'
                            % (store, os.path.join(stores, store))
                            for store in ('fast', 'cheap')])


@pytest.fixture
def nodes(database, tmp_path, web):
    """Two glance-api nodes on ``database``, with two workers each and the
    same image stores (each its own staging area)."""
    stores = str(tmp_path / 'stores')
    first = _server(str(tmp_path / 'a'), database, web, stores).start()
    second = None
    try:
        second = _server(str(tmp_path / 'b'), database, web, stores)
        second.start(sync_db=False)
        yield first, second
    finally:
        for node in (first, second):
            if node is not None:
                node.stop()


def _run_all(calls) -> collections.Counter:
    """Run the zero-argument ``calls`` on CLIENTS threads; count statuses."""
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        return collections.Counter(f.result() for f in [
            pool.submit(call) for call in calls])


def _no_5xx(statuses: collections.Counter, *logs: str) -> None:
    bad = {code: n for code, n in statuses.items() if code >= 500}
    assert not bad, (bad, [log[-3000:] for log in logs])


def test_concurrent_property_tag_and_member_writes_are_all_kept(nodes):
    first, second = nodes
    owner = [Client(node.url, OWNER) for node in (first, second)]
    image = owner[0].create(name='busy', disk_format='raw',
                            container_format='bare', visibility='shared')
    path = '/v2/images/%s' % image['id']

    def add_property(n: int):
        return lambda: owner[n % 2].patch(path, [
            {'op': 'add', 'path': '/p%03d' % n, 'value': str(n)}
        ]).status_code

    def add_tag(n: int):
        return lambda: owner[n % 2].put(
            '%s/tags/t%03d' % (path, n)).status_code

    statuses = _run_all([add_property(n) for n in range(120)] +
                        [add_tag(n) for n in range(100)])
    _no_5xx(statuses, first.log(), second.log())
    assert statuses == {200: 120, 204: 100}
    shown = owner[1].get(path).json()
    lost = [n for n in range(120) if shown.get('p%03d' % n) != str(n)]
    assert lost == []
    assert sorted(shown['tags']) == ['t%03d' % n for n in range(100)]

    # the same member added by many requests at once: one wins, the rest
    # are told it exists; the member can then be accepted and removed
    statuses = _run_all([
        lambda n=n: owner[n % 2].post(path + '/members',
                                      json={'member': 'conc-friend'}
                                      ).status_code
        for n in range(50)])
    _no_5xx(statuses, first.log(), second.log())
    assert statuses == {200: 1, 409: 49}
    friend = Client(first.url, identity('conc-friend', 'reader,member'))
    r = friend.put(path + '/members/conc-friend',
                   json={'status': 'accepted'})
    assert (r.status_code, r.json()['status']) == (200, 'accepted')
    members = owner[0].get(path + '/members').json()['members']
    assert [(m['member_id'], m['status']) for m in members] == \
        [('conc-friend', 'accepted')]
    assert owner[1].delete(path + '/members/conc-friend').status_code == 204
    assert owner[0].get(path + '/members').json()['members'] == []
    # and added again: the removed membership comes back, pending
    r = owner[0].post(path + '/members', json={'member': 'conc-friend'})
    assert (r.status_code, r.json()['status']) == (200, 'pending')


def test_concurrent_removals_and_replacements_keep_the_rest(nodes):
    """Removing some properties and tags while others are replaced: what
    was not named by any request is untouched."""
    first, second = nodes
    owner = [Client(node.url, OWNER) for node in (first, second)]
    props = {'k%02d' % n: 'v' for n in range(40)}
    image = owner[0].create(name='mixed', tags=['x%02d' % n
                                                for n in range(40)],
                            **props)
    path = '/v2/images/%s' % image['id']
    calls = []
    for n in range(40):
        node = owner[n % 2]
        if n % 2:
            calls.append(lambda n=n, node=node: node.patch(path, [
                {'op': 'remove', 'path': '/k%02d' % n}]).status_code)
            calls.append(lambda n=n, node=node: node.delete(
                '%s/tags/x%02d' % (path, n)).status_code)
        else:
            calls.append(lambda n=n, node=node: node.patch(path, [
                {'op': 'replace', 'path': '/k%02d' % n,
                 'value': 'new'}]).status_code)
    statuses = _run_all(calls)
    _no_5xx(statuses, first.log(), second.log())
    assert statuses == {200: 40, 204: 20}
    shown = owner[0].get(path).json()
    assert {k: shown.get(k) for k in props} == {
        'k%02d' % n: (None if n % 2 else 'new') for n in range(40)}
    assert sorted(shown['tags']) == ['x%02d' % n for n in range(0, 40, 2)]


def test_same_property_written_at_once_ends_in_one_written_value(nodes):
    first, second = nodes
    owner = [Client(node.url, OWNER) for node in (first, second)]
    image = owner[0].create(name='contended')
    path = '/v2/images/%s' % image['id']
    statuses = _run_all([
        lambda n=n: owner[n % 2].patch(path, [
            {'op': 'add', 'path': '/same', 'value': 'v%d' % n}]).status_code
        for n in range(40)])
    _no_5xx(statuses, first.log(), second.log())
    assert statuses == {200: 40}
    assert owner[0].get(path).json()['same'] in {'v%d' % n
                                                 for n in range(40)}


def test_patch_during_an_import_survives_the_import(nodes, web):
    """The import writes only what it owns (status, size, checksums,
    locations, its os_glance_* properties): a rename and a new property
    made while it ran are still there when it is done."""
    first, second = nodes
    owner = Client(first.url, OWNER)
    other_node = Client(second.url, OWNER)
    image = owner.create(name='before', disk_format='raw',
                         container_format='bare')
    path = '/v2/images/%s' % image['id']
    size = 160 * 1024   # about two seconds from the slow source
    r = owner.post(path + '/import', json={'method': {
        'name': 'web-download',
        'uri': 'http://127.0.0.1:%d/slow/%d' % (web, size)}})
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 30
    while owner.get(path).json()['status'] != 'importing':
        assert time.monotonic() < deadline, 'import never started'
        time.sleep(0.05)
    r = other_node.patch(path, [
        {'op': 'replace', 'path': '/name', 'value': 'after'},
        {'op': 'add', 'path': '/during', 'value': 'import'}])
    assert r.status_code == 200, r.text
    assert owner.put(path + '/tags/mid-import').status_code == 204
    deadline = time.monotonic() + 60
    while (shown := owner.get(path).json())['status'] == 'importing':
        assert time.monotonic() < deadline, 'import never finished'
        time.sleep(0.1)
    assert (shown['status'], shown['size']) == ('active', size)
    assert (shown['name'], shown.get('during')) == ('after', 'import')
    assert shown['tags'] == ['mid-import']
    assert ' ERROR ' not in first.log() + second.log()


def test_image_ids_are_unique_under_concurrent_creates(nodes):
    """Creating the same id from many requests at once: exactly one 201."""
    first, second = nodes
    owner = [Client(node.url, OWNER) for node in (first, second)]
    image_id = str(uuid.uuid4())
    statuses = _run_all([
        lambda n=n: owner[n % 2].post('/v2/images', json={
            'id': image_id, 'name': 'n%d' % n}).status_code
        for n in range(24)])
    _no_5xx(statuses, first.log(), second.log())
    assert statuses == {201: 1, 409: 23}
