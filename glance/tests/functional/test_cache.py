"""The image cache in the data path: hits, misses, verification, policy.

Each server runs the cachemanagement flavor with its own cache directory;
what the cache holds is checked on disk and through GET /v2/cache.
"""
from __future__ import annotations

import hashlib
import os
import socket
import time

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer

DATA = os.urandom(3 * 1024 * 1024 + 17)


def cache_server(workdir: str, flavor: str = 'cachemanagement',
                 driver: str = 'sqlite', extra=()) -> GlanceServer:
    # the queue stays as it is unless a test asks for the prefetcher
    # glance-api runs itself
    settings = ['paste_deploy.flavor=%s' % flavor,
                'image_cache_dir=%s' % os.path.join(workdir, 'cache'),
                'image_cache_driver=%s' % driver,
                'cache_prefetcher_interval=0', *extra]
    if driver == 'centralized_db':
        settings.append('worker_self_reference_url=http://%s' %
                        os.path.basename(workdir))
    return GlanceServer(workdir, settings=settings)


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    server = cache_server(str(tmp_path_factory.mktemp('cache'))).start()
    yield server
    server.stop()


def trusted_cache_server(workdir: str, **kw) -> GlanceServer:
    """A cache server whose callers are who their X-* headers say
    (the trusted-auth+cachemanagement flavor)."""
    extra = ['oslo_policy.enforce_new_defaults=True',
             'oslo_policy.enforce_scope=True', *kw.pop('extra', ())]
    return cache_server(workdir, flavor='trusted-auth+cachemanagement',
                        extra=extra, **kw)


@pytest.fixture(scope='module')
def keystone_srv(tmp_path_factory):
    server = trusted_cache_server(
        str(tmp_path_factory.mktemp('cache-ks'))).start()
    yield server
    server.stop()


def cache_dir(server: GlanceServer) -> str:
    return os.path.join(server.workdir, 'cache')


def store_file(server: GlanceServer, image_id: str) -> str:
    return os.path.join(server.workdir, 'images', image_id)


def active_image(client: Client, data: bytes = DATA, **body) -> dict:
    image = client.create(disk_format='raw', container_format='bare', **body)
    r = client.upload(image['id'], data)
    assert r.status_code == 204, r.text
    return client.get('/v2/images/%s' % image['id']).json()


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, 'timed out'
        time.sleep(0.05)


# --- hit and miss ----------------------------------------------------------

def test_miss_fills_the_cache_and_the_next_download_is_a_hit(srv):
    client = Client(srv.url)
    image = active_image(client)
    path = os.path.join(cache_dir(srv), image['id'])
    assert not os.path.exists(path)

    r = client.get('/v2/images/%s/file' % image['id'])
    assert r.status_code == 200 and r.content == DATA
    with open(path, 'rb') as f:
        assert hashlib.md5(f.read()).hexdigest() == image['checksum']
    assert os.listdir(os.path.join(cache_dir(srv), 'incomplete')) == []

    # With the store's copy gone, only the cache can answer (by sendfile).
    os.unlink(store_file(srv, image['id']))
    before = srv.bytes_written()
    r = client.get('/v2/images/%s/file' % image['id'])
    assert r.status_code == 200 and r.content == DATA
    assert srv.bytes_written() - before >= len(DATA) - 64 * 1024
    assert r.headers['Content-MD5'] == image['checksum']
    r = client.get('/v2/images/%s/file' % image['id'],
                   headers={'Range': 'bytes=10-19'})
    assert r.status_code == 206 and r.content == DATA[10:20]
    assert r.headers['Content-Range'] == 'bytes 10-19/%d' % len(DATA)

    [entry] = [e for e in client.get('/v2/cache').json()['cached_images']
               if e['image_id'] == image['id']]
    assert entry['size'] == len(DATA) and entry['hits'] == 2


def test_range_download_does_not_fill_the_cache(srv):
    client = Client(srv.url)
    image = active_image(client)
    r = client.get('/v2/images/%s/file' % image['id'],
                   headers={'Range': 'bytes=0-99'})
    assert r.status_code == 206 and r.content == DATA[:100]
    assert not os.path.exists(os.path.join(cache_dir(srv), image['id']))


def test_changed_cached_file_is_not_served(srv):
    client = Client(srv.url)
    image = active_image(client)
    assert client.get('/v2/images/%s/file' % image['id']).content == DATA
    path = os.path.join(cache_dir(srv), image['id'])
    with open(path, 'r+b') as f:       # same size, other bytes
        f.write(b'\0' * 4096)

    r = client.get('/v2/images/%s/file' % image['id'])
    assert r.status_code == 200 and r.content == DATA
    invalid = os.path.join(cache_dir(srv), 'invalid', image['id'])
    with open(invalid, 'rb') as f:
        assert f.read(4096) == b'\0' * 4096
    # That download was a miss, and it put a good copy back.
    with open(path, 'rb') as f:
        assert f.read() == DATA


def test_store_data_not_matching_the_checksum_is_not_cached(srv):
    client = Client(srv.url)
    image = active_image(client)
    with open(store_file(srv, image['id']), 'r+b') as f:
        f.write(b'corrupt!')
    client.get('/v2/images/%s/file' % image['id'])
    assert not os.path.exists(os.path.join(cache_dir(srv), image['id']))
    assert os.path.exists(os.path.join(cache_dir(srv), 'invalid',
                                       image['id']))
    assert image['id'] not in [e['image_id'] for e in client.get(
        '/v2/cache').json()['cached_images']]


def test_client_leaving_mid_download_leaves_no_cache_entry(srv):
    client = Client(srv.url)
    big = os.urandom(64 * 1024 * 1024)
    image = active_image(client, big)
    with socket.create_connection(('127.0.0.1', srv.port)) as sock:
        sock.sendall(('GET /v2/images/%s/file HTTP/1.1\r\nHost: x\r\n\r\n'
                      % image['id']).encode())
        assert b'200 OK' in sock.recv(65536)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        b'\x01\x00\x00\x00\x00\x00\x00\x00')
    incomplete = os.path.join(cache_dir(srv), 'incomplete')
    wait_for(lambda: os.listdir(incomplete) == [])
    assert not os.path.exists(os.path.join(cache_dir(srv), image['id']))
    assert image['id'] not in [e['image_id'] for e in client.get(
        '/v2/cache').json()['cached_images']]
    # and the next full download fills it
    assert client.get('/v2/images/%s/file' % image['id']).content == big
    assert os.path.exists(os.path.join(cache_dir(srv), image['id']))


# --- policy on cached data -------------------------------------------------

def test_cached_image_is_not_served_to_who_may_not_download(keystone_srv):
    owner = Client(keystone_srv.url, identity('p1'))
    admin = Client(keystone_srv.url, identity('p1', 'admin,member,reader'))
    image = active_image(owner)
    assert owner.get('/v2/images/%s/file' % image['id']).content == DATA
    assert os.path.exists(os.path.join(cache_dir(keystone_srv),
                                       image['id']))

    other = Client(keystone_srv.url, identity('p2'))
    assert other.get('/v2/images/%s/file' % image['id']).status_code == 404
    reader = Client(keystone_srv.url, identity('p1', 'reader'))
    assert reader.get('/v2/images/%s/file' % image['id']).status_code == 403

    r = admin.post('/v2/images/%s/actions/deactivate' % image['id'])
    assert r.status_code == 204, r.text
    assert owner.get('/v2/images/%s/file' % image['id']).status_code == 403
    assert admin.get('/v2/images/%s/file' % image['id']).content == DATA


# --- the cache API ---------------------------------------------------------

def test_cache_api_queue_list_delete_clear(srv):
    client = Client(srv.url)
    image = active_image(client, b'x' * 1000)
    r = client.put('/v2/cache/%s' % image['id'])
    assert r.status_code == 202, r.text
    assert os.path.exists(os.path.join(cache_dir(srv), 'queue', image['id']))
    assert image['id'] in client.get('/v2/cache').json()['queued_images']

    r = client.delete('/v2/cache/%s' % image['id'])
    assert r.status_code == 204
    assert image['id'] not in client.get('/v2/cache').json()['queued_images']

    client.get('/v2/images/%s/file' % image['id'])
    client.put('/v2/cache/%s' % active_image(client, b'y' * 10)['id'])
    r = client.delete('/v2/cache',
                      headers={'x-image-cache-clear-target': 'queue'})
    assert r.status_code == 204
    state = client.get('/v2/cache').json()
    assert state['queued_images'] == []
    assert image['id'] in [e['image_id'] for e in state['cached_images']]

    r = client.delete('/v2/cache',
                      headers={'x-image-cache-clear-target': 'cache'})
    assert r.status_code == 204
    assert client.get('/v2/cache').json()['cached_images'] == []
    assert not os.path.exists(os.path.join(cache_dir(srv), image['id']))


def test_cache_api_errors(srv):
    client = Client(srv.url)
    missing = '4a0d1ef6-2c5b-4a2e-9a0c-3a8f6f3a1c55'
    assert client.put('/v2/cache/%s' % missing).status_code == 404
    assert client.delete('/v2/cache/%s' % missing).status_code == 404
    queued = client.create(disk_format='raw', container_format='bare')
    r = client.put('/v2/cache/%s' % queued['id'])
    assert r.status_code == 400 and 'active' in r.text
    r = client.delete('/v2/cache',
                      headers={'x-image-cache-clear-target': 'everything'})
    assert r.status_code == 400 and 'x-image-cache-clear-target' in r.text
    r = client.post('/v2/cache')
    assert r.status_code == 405
    assert set(r.headers['Allow'].split(', ')) == {'GET', 'DELETE'}


@pytest.mark.parametrize('method,path,rule', [
    ('GET', '/v2/cache', 'cache_list'),
    ('DELETE', '/v2/cache', 'cache_delete'),
    ('PUT', '/v2/cache/%s', 'cache_image'),
    ('DELETE', '/v2/cache/%s', 'cache_delete'),
    # Images API 2.18 (the reference's design names list_cached_nodes;
    # this node's sqlite driver then answers 409, see
    # test_cache_upkeep_api.py)
    ('GET', '/v2/cache/nodes/%s', 'list_cached_nodes'),
    ('POST', '/v2/cache/clean', 'cache_clean'),
    ('POST', '/v2/cache/prune', 'cache_prune')])
def test_cache_api_is_for_administrators(keystone_srv, method, path, rule):
    owner = Client(keystone_srv.url, identity('p1'))
    image = active_image(owner, b'z' * 100)
    if '%s' in path:
        path = path % image['id']
    r = owner.request(method, path)
    assert r.status_code == 403, r.text
    assert rule in r.text
    admin = Client(keystone_srv.url, identity('p1', 'admin,member,reader'))
    assert admin.request(method, path).status_code in (200, 202, 204, 409)


def test_cache_api_absent_without_the_cache_filter(client):
    r = client.get('/v2/cache')
    assert r.status_code == 404
    assert 'not supported' in r.text


def test_cached_download_sends_image_send(tmp_path):
    from glance.tests.functional.test_notifications import LogEvents
    server = cache_server(str(tmp_path), extra=[
        'oslo_messaging_notifications.driver=log']).start()
    try:
        client = Client(server.url)
        image = active_image(client, b's' * 5000)
        assert client.get('/v2/images/%s/file' % image['id']).status_code \
            == 200
        os.unlink(store_file(server, image['id']))
        assert client.get('/v2/images/%s/file' % image['id']).content == \
            b's' * 5000
        events = LogEvents(server)

        def sends():
            return [e['payload']['bytes_sent'] for e in events.all()
                    if e['event_type'] == 'image.send'
                    and e['payload']['image_id'] == image['id']]
        wait_for(lambda: len(sends()) == 2)
        assert sends() == [5000, 5000]
    finally:
        server.stop()


@pytest.mark.parametrize('driver', ['sqlite', 'centralized_db'])
def test_a_queued_image_is_cached_by_glance_api_itself(tmp_path, driver):
    """PUT /v2/cache/{id} starts the worker's prefetcher at once, as the
    reference does: the image is cached without glance-cache-prefetcher,
    and leaves the queue."""
    server = cache_server(str(tmp_path / driver), driver=driver, extra=[
        'cache_prefetcher_interval=300', 'workers=2']).start()
    try:
        client = Client(server.url)
        image = active_image(client, DATA)
        assert client.put('/v2/cache/%s' % image['id']).status_code == 202
        deadline = time.monotonic() + 60
        while True:
            state = client.get('/v2/cache').json()
            if [e['image_id'] for e in state['cached_images']] == \
                    [image['id']]:
                break
            assert time.monotonic() < deadline, (state, server.log()[-2000:])
            time.sleep(0.2)
        assert state['queued_images'] == []
        path = os.path.join(cache_dir(server), image['id'])
        with open(path, 'rb') as f:
            assert hashlib.md5(f.read()).hexdigest() == image['checksum']
    finally:
        server.stop()


def test_the_prefetcher_also_runs_every_interval(tmp_path):
    """An image in the queue that no PUT woke the prefetcher for (queued
    before a restart, or by another process of the node) is cached by the
    next periodic run, every cache_prefetcher_interval seconds."""
    server = cache_server(str(tmp_path), extra=[
        'cache_prefetcher_interval=1']).start()
    try:
        client = Client(server.url)
        image = active_image(client, b'i' * 7000)
        with open(os.path.join(cache_dir(server), 'queue', image['id']),
                  'a'):
            pass
        deadline = time.monotonic() + 60
        while True:
            state = client.get('/v2/cache').json()
            if state['queued_images'] == []:
                break
            assert time.monotonic() < deadline, (state,
                                                 server.log()[-2000:])
            time.sleep(0.2)
        assert [e['image_id'] for e in state['cached_images']] == [
            image['id']]
        with open(os.path.join(cache_dir(server), image['id']), 'rb') as f:
            assert f.read() == b'i' * 7000
    finally:
        server.stop()
