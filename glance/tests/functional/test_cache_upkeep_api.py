"""The Images API 2.18 cache calls: clean, prune and the nodes of an image.

One glance-api with the cachemanagement flavor and the sqlite driver; the
effects are checked on disk and through GET /v2/cache.  The same calls on
two nodes sharing a database are in test_cache_tools.py, their policy
rules with the others' in test_cache.py.
"""
from __future__ import annotations

import os
import time

import pytest

from glance.tests.functional.conftest import Client
from glance.tests.functional.test_cache import (active_image, cache_dir,
                                                cache_server)

NODE_URL = 'http://upkeep-node:9292'
MISSING = '4a0d1ef6-2c5b-4a2e-9a0c-3a8f6f3a1c55'


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    server = cache_server(str(tmp_path_factory.mktemp('upkeep')), extra=[
        'image_cache_max_size=2500',
        'worker_self_reference_url=%s' % NODE_URL]).start()
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

    r = client.post('/v2/cache/clean')
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

    r = client.post('/v2/cache/prune')
    assert r.status_code == 200, r.text
    assert r.json() == {'deleted_images': [], 'pruned_images': [
        images[1]['id']], 'cache_size': 2000, 'max_size': 2500}
    assert sorted(cached_ids(client)) == sorted([images[0]['id'],
                                                 images[2]['id']])
    assert not os.path.exists(os.path.join(cache_dir(srv), images[1]['id']))

    # under the limit already: nothing to do
    r = client.post('/v2/cache/prune')
    assert r.status_code == 200
    assert r.json()['pruned_images'] == []


def test_nodes_names_this_node_while_it_caches_the_image(srv):
    client = Client(srv.url)
    image = active_image(client, b'n' * 300)
    r = client.get('/v2/cache/nodes/%s' % image['id'])
    assert r.status_code == 200, r.text
    assert r.json() == []
    client.get('/v2/images/%s/file' % image['id'])
    assert client.get('/v2/cache/nodes/%s' % image['id']).json() == [
        NODE_URL]
    assert client.delete('/v2/cache/%s' % image['id']).status_code == 204
    assert client.get('/v2/cache/nodes/%s' % image['id']).json() == []


def test_errors(srv):
    client = Client(srv.url)
    r = client.get('/v2/cache/nodes/%s' % MISSING)
    assert r.status_code == 404, r.text
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
                         ('POST', '/v2/cache/prune'),
                         ('GET', '/v2/cache/nodes/%s' % MISSING)):
        r = client.request(method, path)
        assert r.status_code == 404, (path, r.text)
        assert 'not supported' in r.text
