"""The Images API 2.18 cache calls: clean, prune and the nodes of an image.

A glance-api with the cachemanagement flavor and the sqlite driver (and
one with the centralized_db driver for the nodes); the effects are checked
on disk and through GET /v2/cache.  The same calls on two nodes sharing a
database are in test_cache_tools.py, their policy rules with the others'
in test_cache.py.  Paths, status codes and bodies are those of the
reference's design of these calls (glance-specs 2025.1: "API for cleaning
and pruning cache", "New API to list nodes where Image is cached").
"""
from __future__ import annotations

import os
import sqlite3
import time

import pytest

from glance.tests.functional.conftest import Client
from glance.tests.functional.test_cache import (active_image, cache_dir,
                                                cache_server)

MISSING = '4a0d1ef6-2c5b-4a2e-9a0c-3a8f6f3a1c55'


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    server = cache_server(str(tmp_path_factory.mktemp('upkeep')), extra=[
        'image_cache_max_size=2500']).start()
    yield server
    server.stop()


def cached_ids(client: Client) -> list[str]:
    return [e['image_id'] for e in client.get('/v2/cache').json()[
        'cached_images']]


def test_clean_removes_invalid_and_stalled_files_only(srv):
    base = cache_dir(srv)
    for name in ('invalid/bad', 'incomplete/stalled', 'incomplete/fresh'):
        with open(os.path.join(base, name), 'wb') as f:
            f.write(b'x')
    old = time.time() - 86400 - 60      # beyond image_cache_stall_time
    os.utime(os.path.join(base, 'incomplete/stalled'), (old, old))
    client = Client(srv.url)
    image = active_image(client, b'c' * 100)
    client.get('/v2/images/%s/file' % image['id'])

    # the design's request body is an empty object
    r = client.post('/v2/cache/clean', json={})
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body['removed_files']) == ['incomplete/stalled',
                                             'invalid/bad']
    assert body['deleted_images'] == []
    assert os.listdir(os.path.join(base, 'invalid')) == []
    assert os.listdir(os.path.join(base, 'incomplete')) == ['fresh']
    # a good cached image is not touched
    assert image['id'] in cached_ids(client)
    os.unlink(os.path.join(base, 'incomplete/fresh'))


def test_prune_removes_least_recently_used_down_to_max_size(srv):
    client = Client(srv.url)
    client.delete('/v2/cache')
    images = [active_image(client, bytes([75 + n]) * 1000)
              for n in range(3)]
    for image in images:
        assert client.get('/v2/images/%s/file' % image['id']).status_code \
            == 200
        time.sleep(0.01)    # distinct last_accessed (ordering, no timing)
    client.get('/v2/images/%s/file' % images[0]['id'])  # 0 is fresh again
    assert sorted(cached_ids(client)) == sorted(i['id'] for i in images)

    # the reference's design: 200 {"total_files_pruned",
    # "total_bytes_pruned"}
    r = client.post('/v2/cache/prune')
    assert r.status_code == 200, r.text
    assert r.json() == {'total_files_pruned': 1, 'total_bytes_pruned': 1000}
    assert sorted(cached_ids(client)) == sorted([images[0]['id'],
                                                 images[2]['id']])
    assert not os.path.exists(os.path.join(cache_dir(srv), images[1]['id']))

    # under the limit already: nothing to do
    r = client.post('/v2/cache/prune')
    assert r.status_code == 200
    assert r.json() == {'total_files_pruned': 0, 'total_bytes_pruned': 0}


def test_prune_counts_the_copies_of_deleted_images(srv):
    client = Client(srv.url)
    client.delete('/v2/cache')
    image = active_image(client, b'd' * 700)
    assert client.get('/v2/images/%s/file' % image['id']).status_code == 200
    # deleted through another node: this node's copy is pruned
    db = sqlite3.connect(os.path.join(srv.workdir, 'glance.sqlite'))
    with db:
        db.execute("UPDATE images SET deleted=1, status='deleted' "
                   "WHERE id=?", (image['id'],))
    db.close()
    r = client.post('/v2/cache/prune')
    assert r.status_code == 200, r.text
    assert r.json() == {'total_files_pruned': 1, 'total_bytes_pruned': 700}
    assert cached_ids(client) == []


def test_nodes_needs_the_centralized_db_driver(srv):
    """The reference's design: 409 where the cache is not kept in the
    shared database (the sqlite driver knows only its own node)."""
    client = Client(srv.url)
    image = active_image(client, b'n' * 300)
    client.get('/v2/images/%s/file' % image['id'])
    r = client.get('/v2/cache/nodes/%s' % image['id'])
    assert r.status_code == 409, r.text
    assert 'centralized_db' in r.text


def test_nodes_names_the_nodes_caching_the_image(tmp_path):
    """200 {"cached_nodes": [reference URLs]}, as the reference's design
    of GET /v2/cache/nodes/{image_id} answers."""
    server = cache_server(str(tmp_path / 'upkeep-node'),
                          driver='centralized_db').start()
    try:
        client = Client(server.url)
        image = active_image(client, b'n' * 300)
        r = client.get('/v2/cache/nodes/%s' % image['id'])
        assert r.status_code == 200, r.text
        assert r.json() == {'cached_nodes': []}
        client.get('/v2/images/%s/file' % image['id'])
        assert client.get('/v2/cache/nodes/%s' % image['id']).json() == {
            'cached_nodes': ['http://upkeep-node']}
        assert client.delete('/v2/cache/%s' % image['id']).status_code == 204
        assert client.get('/v2/cache/nodes/%s' % image['id']).json() == {
            'cached_nodes': []}
        r = client.get('/v2/cache/nodes/%s' % MISSING)
        assert r.status_code == 404, r.text
    finally:
        server.stop()


def test_errors(srv):
    client = Client(srv.url)
    for path in ('/v2/cache/clean', '/v2/cache/prune'):
        r = client.get(path)
        assert r.status_code == 405
        assert r.headers['Allow'] == 'POST'
    r = client.post('/v2/cache/nodes/%s' % MISSING)
    assert r.status_code == 405 and r.headers['Allow'] == 'GET'
    # the literal paths do not hide the per-image calls of other images
    image = active_image(client, b'q' * 10)
    assert client.put('/v2/cache/%s' % image['id']).status_code == 202
    assert client.delete('/v2/cache/%s' % image['id']).status_code == 204


def test_absent_without_the_cache_filter(client):
    for method, path in (('POST', '/v2/cache/clean'),
                         ('POST', '/v2/cache/prune')):
        r = client.request(method, path)
        assert r.status_code == 404, (path, r.text)
        assert 'not supported' in r.text
    # the reference's design of the nodes call: 409 without caching
    r = client.get('/v2/cache/nodes/%s' % MISSING)
    assert r.status_code == 409, r.text
