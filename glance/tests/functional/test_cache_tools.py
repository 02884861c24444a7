"""glance-cache-prefetcher, -pruner and -cleaner run as processes, and two
glance-api nodes sharing one database with the centralized_db driver.

Effects are checked on disk, in the database and through GET /v2/cache.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import time

import pytest

from glance.tests.functional.conftest import Client
from glance.tests.functional.server import BIN, GlanceServer
from glance.tests.functional.test_cache import (active_image, cache_dir,
                                                cache_server)


def tool(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(BIN, 'glance-cache-' + name), *args],
                          capture_output=True, text=True, timeout=120)


def db_rows(server: GlanceServer, sql: str) -> list[tuple]:
    conn = sqlite3.connect(os.path.join(server.workdir, 'glance.sqlite'))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope='module')
def node(tmp_path_factory):
    """glance-api with the centralized_db driver (records in its DB)."""
    server = cache_server(str(tmp_path_factory.mktemp('node-a')),
                          driver='centralized_db').start()
    yield server
    server.stop()


def cached_ids(server: GlanceServer) -> list[str]:
    return [e['image_id'] for e in Client(server.url).get(
        '/v2/cache').json()['cached_images']]


def test_prefetcher_caches_the_queue(node):
    client = Client(node.url)
    image = active_image(client, b'p' * 5000)
    gone = active_image(client, b'g' * 10)
    for i in (image, gone):
        assert client.put('/v2/cache/%s' % i['id']).status_code == 202
    assert client.delete('/v2/images/%s' % gone['id']).status_code == 204

    result = tool('prefetcher', '--config-file', node.config)
    assert result.returncode == 0, result.stderr
    assert 'cached %s' % image['id'] in result.stdout
    assert 'dequeued %s' % gone['id'] in result.stdout

    with open(os.path.join(cache_dir(node), image['id']), 'rb') as f:
        assert f.read() == b'p' * 5000
    assert os.listdir(os.path.join(cache_dir(node), 'queue')) == []
    [(url, size, hits)] = db_rows(
        node, "SELECT n.node_reference_url, c.size, c.hits FROM "
        "cached_images c JOIN node_reference n USING (node_reference_id) "
        "WHERE c.image_id = '%s'" % image['id'])
    assert (url, size, hits) == ('http://%s' % os.path.basename(
        node.workdir), 5000, 0)
    state = Client(node.url).get('/v2/cache').json()
    assert image['id'] in [e['image_id'] for e in state['cached_images']]
    assert state['queued_images'] == []
    # served from the cache from now on
    os.unlink(os.path.join(node.workdir, 'images', image['id']))
    assert client.get('/v2/images/%s/file' % image['id']).content == \
        b'p' * 5000


def test_pruner_removes_least_recently_used_first(node, tmp_path):
    client = Client(node.url)
    client.delete('/v2/cache', headers={'x-image-cache-clear-target': 'both'})
    images = [active_image(client, bytes([65 + n]) * 1000) for n in range(3)]
    for image in images:
        client.get('/v2/images/%s/file' % image['id'])
        time.sleep(0.01)
    client.get('/v2/images/%s/file' % images[0]['id'])  # 0 is fresh again
    small = tmp_path / 'glance-cache.conf'
    small.write_text('[DEFAULT]\nimage_cache_max_size = 2000\n')

    result = tool('pruner', '--config-file', node.config,
                  '--config-file', str(small))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == 'pruned %s' % images[1]['id']
    assert 'cache holds 2000 bytes' in result.stdout
    assert set(cached_ids(node)) == {images[0]['id'], images[2]['id']}
    assert not os.path.exists(os.path.join(cache_dir(node), images[1]['id']))
    assert db_rows(node, "SELECT count(*) FROM cached_images WHERE "
                   "image_id = '%s'" % images[1]['id']) == [(0,)]


def test_cleaner_removes_invalid_and_stalled_files(node):
    base = cache_dir(node)
    for name in ('invalid/bad', 'incomplete/stalled', 'incomplete/busy'):
        with open(os.path.join(base, name), 'wb') as f:
            f.write(b'x')
    old = time.time() - 86400 - 60
    os.utime(os.path.join(base, 'incomplete/stalled'), (old, old))

    result = tool('cleaner', '--config-file', node.config)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(
        ['removed', 'removed', 'invalid/bad', 'incomplete/stalled'])
    assert os.listdir(os.path.join(base, 'invalid')) == []
    assert os.listdir(os.path.join(base, 'incomplete')) == ['busy']


@pytest.mark.parametrize('name', ['prefetcher', 'pruner', 'cleaner'])
def test_tools_help_and_errors(name, tmp_path):
    result = tool(name, '--help')
    assert result.returncode == 0
    assert 'usage: glance-cache-%s' % name in result.stdout
    assert 'image cache' in ' '.join(result.stdout.split())

    conf = tmp_path / 'empty.conf'
    conf.write_text('[DEFAULT]\n')
    result = tool(name, '--config-file', str(conf))
    assert result.returncode == 1
    assert 'glance-cache-%s: The image cache needs image_cache_dir' % name \
        in result.stderr

    conf.write_text('[DEFAULT]\nimage_cache_dir = %s\n' % tmp_path)
    result = tool(name, '--config-file', str(conf))
    assert result.returncode == 1
    assert 'needs worker_self_reference_url' in result.stderr

    result = tool(name, '--config-file', str(tmp_path / 'missing.conf'))
    assert result.returncode == 1
    assert 'missing.conf' in result.stderr


def test_api_refuses_to_start_without_image_cache_dir(tmp_path):
    server = GlanceServer(str(tmp_path), settings=[
        'paste_deploy.flavor=caching'])
    with pytest.raises(RuntimeError) as err:
        server.start()
    assert 'image_cache_dir' in str(err.value)


def test_two_nodes_sharing_a_database_see_each_others_records(
        tmp_path_factory):
    shared = tmp_path_factory.mktemp('shared')
    db = 'sqlite:///%s' % (shared / 'glance.sqlite')
    store = ['glance_store.filesystem_store_datadir=%s' % (shared / 'images')]
    nodes = []
    for name in ('node-1', 'node-2'):
        workdir = str(tmp_path_factory.mktemp(name))
        settings = ['paste_deploy.flavor=cachemanagement',
                    'cache_prefetcher_interval=0',
                    'image_cache_dir=%s' % os.path.join(workdir, 'cache'),
                    'image_cache_driver=centralized_db',
                    'worker_self_reference_url=http://%s:9292' % name,
                    *store]
        nodes.append(GlanceServer(workdir, database_url=db,
                                  settings=settings))
    try:
        for n in nodes:
            n.start()
        one, two = (Client(n.url) for n in nodes)
        image = active_image(one, b'shared' * 1000)
        only_one = active_image(one, b'one' * 100)
        assert one.get('/v2/images/%s/file' % image['id']).status_code == 200
        assert one.get('/v2/images/%s/file' % only_one['id']).content == \
            b'one' * 100
        assert two.get('/v2/images/%s/file' % image['id']).status_code == 200

        conn = sqlite3.connect(str(shared / 'glance.sqlite'))
        rows = conn.execute(
            'SELECT n.node_reference_url, c.image_id FROM cached_images c '
            'JOIN node_reference n USING (node_reference_id)').fetchall()
        assert sorted(rows) == sorted([
            ('http://node-1:9292', image['id']),
            ('http://node-1:9292', only_one['id']),
            ('http://node-2:9292', image['id'])])
        # GET /v2/cache/nodes/{id} (2.18) names every node holding it,
        # whichever node is asked
        for client in (one, two):
            r = client.get('/v2/cache/nodes/%s' % image['id'])
            assert r.status_code == 200, r.text
            assert r.json() == {'cached_nodes': ['http://node-1:9292',
                                                 'http://node-2:9292']}
            assert client.get('/v2/cache/nodes/%s' % only_one['id']).json() \
                == {'cached_nodes': ['http://node-1:9292']}
        # each node lists its own cache
        assert sorted(cached_ids(nodes[0])) == sorted([image['id'],
                                                       only_one['id']])
        assert cached_ids(nodes[1]) == [image['id']]
        # and clearing one leaves the other's records alone
        assert two.delete('/v2/cache').status_code == 204
        assert cached_ids(nodes[1]) == []
        rows = conn.execute(
            'SELECT n.node_reference_url, count(*) FROM cached_images c '
            'JOIN node_reference n USING (node_reference_id) '
            'GROUP BY n.node_reference_url').fetchall()
        conn.close()
        assert rows == [('http://node-1:9292', 2)]
    finally:
        for n in nodes:
            n.stop()


@pytest.mark.parametrize('database', ['postgresql', 'mysql'], indirect=True)
def test_centralized_db_driver_on_server_databases(database, tmp_path):
    """The records, hits and clearing on PostgreSQL and MariaDB too."""
    import sqlalchemy as sa
    workdir = str(tmp_path / 'glance')
    server = GlanceServer(workdir, database_url=database.url, settings=[
        'workers=2', 'paste_deploy.flavor=cachemanagement',
        'cache_prefetcher_interval=0',
        'image_cache_dir=%s' % os.path.join(workdir, 'cache'),
        'image_cache_driver=centralized_db',
        'worker_self_reference_url=http://db-node:9292']).start()
    try:
        client = Client(server.url)
        image = active_image(client, b'd' * 3000)
        for _ in range(3):
            assert client.get('/v2/images/%s/file' % image['id']).content \
                == b'd' * 3000
        [entry] = client.get('/v2/cache').json()['cached_images']
        assert (entry['image_id'], entry['size'], entry['hits']) == (
            image['id'], 3000, 2)
        eng = sa.create_engine(database.url)
        try:
            with eng.connect() as conn:
                rows = conn.execute(sa.text(
                    'SELECT n.node_reference_url, c.image_id, c.hits FROM '
                    'cached_images c JOIN node_reference n ON '
                    'n.node_reference_id = c.node_reference_id')).all()
            assert [tuple(r) for r in rows] == [
                ('http://db-node:9292', image['id'], 2)]
            assert client.get('/v2/cache/nodes/%s' % image['id']).json() \
                == {'cached_nodes': ['http://db-node:9292']}
            assert client.delete('/v2/cache').status_code == 204
            with eng.connect() as conn:
                assert conn.execute(sa.text(
                    'SELECT count(*) FROM cached_images')).scalar() == 0
        finally:
            eng.dispose()
    finally:
        server.stop()
