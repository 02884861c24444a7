"""glance-api over HTTP on each database backend, and under concurrent load.

The repository tests (unit/test_db_images.py) show each backend stores and
queries the same; these show the real service, with its workers, does too.
"""
from __future__ import annotations

import collections
import hashlib
import threading
import uuid

import pytest
import sqlalchemy as sa

from glance.tests.functional.conftest import Client
from glance.tests.functional.server import GlanceServer


@pytest.fixture
def server(database, tmp_path):
    """glance-api with two workers on ``database``."""
    srv = GlanceServer(str(tmp_path / 'glance'), database_url=database.url,
                       settings=['workers=2']).start()
    yield srv
    srv.stop()


def _rows(url: str, sql: str, **params) -> list:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return conn.execute(sa.text(sql), params).all()
    finally:
        eng.dispose()


@pytest.mark.parametrize('database', ['postgresql', 'mysql'], indirect=True)
def test_image_life_cycle(server, database):
    client = Client(server.url)
    image_id = str(uuid.uuid4())
    image = client.create(id=image_id, name='Debian \U0001f427',
                          disk_format='raw', container_format='bare',
                          tags=['Linux', 'linux'], os_distro='debian')
    assert (image['id'], image['status']) == (image_id, 'queued')
    assert sorted(image['tags']) == ['Linux', 'linux']
    other = client.create(name='other', disk_format='raw',
                          container_format='bare')

    data = b'0123456789abcdef' * 4096
    assert client.upload(image_id, data).status_code == 204
    r = client.get('/v2/images/%s/file' % image_id)
    assert r.status_code == 200 and r.content == data
    shown = client.get('/v2/images/%s' % image_id).json()
    assert (shown['status'], shown['size']) == ('active', len(data))
    assert shown['checksum'] == hashlib.md5(data).hexdigest()

    r = client.patch('/v2/images/%s' % image_id, [
        {'op': 'replace', 'path': '/name', 'value': 'Debian 12'},
        {'op': 'add', 'path': '/hw_disk_bus', 'value': 'virtio'},
        {'op': 'remove', 'path': '/os_distro'},
        {'op': 'replace', 'path': '/tags',
         'value': ['Linux', 'linux', 'stable']}])
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched['name'] == 'Debian 12'
    assert patched['hw_disk_bus'] == 'virtio'
    assert 'os_distro' not in patched
    assert sorted(patched['tags']) == ['Linux', 'linux', 'stable']

    listed = client.get('/v2/images?sort=name:asc').json()['images']
    assert [i['name'] for i in listed] == ['Debian 12', 'other']
    page = client.get('/v2/images?sort=name:asc&limit=1').json()
    assert [i['id'] for i in page['images']] == [image_id]
    rest = client.get(page['next']).json()['images']
    assert [i['id'] for i in rest] == [other['id']]
    tagged = client.get('/v2/images?tag=linux').json()['images']
    assert [i['id'] for i in tagged] == [image_id]

    assert client.delete('/v2/images/%s' % image_id).status_code == 204
    assert client.get('/v2/images/%s' % image_id).status_code == 404
    assert [i['id'] for i in client.get('/v2/images').json()['images']] == \
        [other['id']]
    # The row stays, soft-deleted, so the id cannot come back.
    assert _rows(database.url, 'SELECT status, deleted FROM images '
                 'WHERE id = :id', id=image_id) == [('deleted', True)]
    r = client.post('/v2/images', json={'id': image_id, 'name': 'again'})
    assert r.status_code == 409


#: concurrent clients, and images each of them creates
CLIENTS, IMAGES_EACH = 8, 30


def test_concurrent_clients_get_no_errors(server, database):
    """8 clients creating, changing and listing at once: zero errors.

    On SQLite this is the WAL + busy timeout + BEGIN IMMEDIATE combination
    at work across two worker processes; without BEGIN IMMEDIATE some
    writes fail at once with "database is locked".
    """
    errors: collections.Counter = collections.Counter()
    created: list[str] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        client = Client(server.url)
        for i in range(IMAGES_EACH):
            r = client.post('/v2/images', json={
                'name': 'c%d-%d' % (n, i), 'tags': ['t%d' % n],
                'prop': str(i)})
            if r.status_code != 201:
                with lock:
                    errors['create %d' % r.status_code] += 1
                continue
            image_id = r.json()['id']
            with lock:
                created.append(image_id)
            r = client.patch('/v2/images/%s' % image_id, [
                {'op': 'replace', 'path': '/name', 'value': 'd%d-%d' % (n, i)},
                {'op': 'add', 'path': '/extra', 'value': 'x'}])
            if r.status_code != 200:
                with lock:
                    errors['patch %d' % r.status_code] += 1
            r = client.get('/v2/images?limit=5&tag=t%d' % n)
            if r.status_code != 200:
                with lock:
                    errors['list %d' % r.status_code] += 1

    threads = [threading.Thread(target=work, args=(n,))
               for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == collections.Counter(), server.log()[-3000:]
    assert len(created) == CLIENTS * IMAGES_EACH
    count = _rows(database.url, "SELECT count(*) FROM images "
                  "WHERE name LIKE 'd%'")
    assert count == [(CLIENTS * IMAGES_EACH,)]
    props = _rows(database.url, "SELECT count(*) FROM image_properties "
                  "WHERE name = 'extra' AND deleted = :f", f=False)
    assert props == [(CLIENTS * IMAGES_EACH,)]
    assert ' ERROR ' not in server.log()
