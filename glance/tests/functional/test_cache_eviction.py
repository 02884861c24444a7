"""Deleting an image empties the caches: the deleting node's at once, the
other nodes' at their next glance-cache-pruner or -cleaner run.

Two glance-api nodes share one SQLite database and one file store, each
with its own cache directory, with either cache driver.
"""
from __future__ import annotations

import os

import pytest

from glance.tests.functional.conftest import Client
from glance.tests.functional.server import GlanceServer
from glance.tests.functional.test_cache import active_image
from glance.tests.functional.test_cache_tools import cached_ids, tool


@pytest.fixture(params=['centralized_db', 'sqlite'])
def pair(request, tmp_path_factory):
    shared = tmp_path_factory.mktemp('evict-shared')
    db = 'sqlite:///%s' % (shared / 'glance.sqlite')
    nodes = []
    for name in ('evict-1', 'evict-2'):
        workdir = str(tmp_path_factory.mktemp(name))
        nodes.append(GlanceServer(workdir, database_url=db, settings=[
            'paste_deploy.flavor=cachemanagement',
            'cache_prefetcher_interval=0',
            'image_cache_dir=%s' % os.path.join(workdir, 'cache'),
            'image_cache_driver=%s' % request.param,
            'worker_self_reference_url=http://%s:9292' % name,
            'glance_store.filesystem_store_datadir=%s' % (shared / 'images'),
        ]))
    try:
        nodes[0].start()
        nodes[1].start(sync_db=False)
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def _cached_file(node: GlanceServer, image_id: str) -> str:
    return os.path.join(node.workdir, 'cache', image_id)


@pytest.mark.parametrize('run', ['pruner', 'cleaner'])
def test_deleted_image_leaves_every_cache(pair, run):
    one, two = pair
    c1, c2 = Client(one.url), Client(two.url)
    image = active_image(c1, b'cached twice' * 500)
    other = active_image(c1, b'stays cached' * 500)
    for client in (c1, c2):
        for i in (image, other):
            assert client.get('/v2/images/%s/file' % i['id']).status_code \
                == 200
    for node in pair:
        assert sorted(cached_ids(node)) == sorted([image['id'], other['id']])
    # queued for prefetching on the second node as well
    assert c2.delete('/v2/cache/%s' % other['id']).status_code == 204
    assert c2.put('/v2/cache/%s' % other['id']).status_code == 202

    assert c1.delete('/v2/images/%s' % image['id']).status_code == 204
    # the deleting node: at once
    assert cached_ids(one) == [other['id']]
    assert not os.path.exists(_cached_file(one, image['id']))
    assert 'Deleted image %s removed from the image cache' % image['id'] \
        in one.log()
    # the other node: until its next cache run
    assert image['id'] in cached_ids(two)
    assert os.path.exists(_cached_file(two, image['id']))

    result = tool(run, '--config-file', two.config)
    assert result.returncode == 0, result.stderr
    assert 'removed %s (image deleted)' % image['id'] in result.stdout
    assert cached_ids(two) == []
    assert not os.path.exists(_cached_file(two, image['id']))
    # live images stay, cached or queued
    state = c2.get('/v2/cache').json()
    assert state['queued_images'] == [other['id']]
    assert c1.get('/v2/images/%s/file' % other['id']).status_code == 200
    assert os.path.exists(_cached_file(one, other['id']))
