"""GET /v2/images/{id}/file?prefer=store1,store2: the stores to read from
first (the store preference of the 2026.1 API reference).

The image is in both file stores of the reference profile (fast, cheap);
the copy in ``cheap`` is then overwritten with other bytes of the same
size, so the bytes of a download show which store answered it.
"""
from __future__ import annotations

import os
import time

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer

DATA = b'fast-and-cheap' * 4096
OTHER = bytes(len(DATA))


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    server = GlanceServer(str(tmp_path_factory.mktemp('prefer')),
                          profile='reference').start()
    yield server
    server.stop()


@pytest.fixture(scope='module')
def image(srv):
    """An image in fast and cheap whose copy in cheap differs."""
    client = Client(srv.url, identity('prefer-p', 'reader,member'))
    image = client.create(disk_format='raw', container_format='bare')
    r = client.put('/v2/images/%s/file' % image['id'], data=DATA,
                   headers={'Content-Type': 'application/octet-stream'})
    assert r.status_code == 204, r.text
    admin = Client(srv.url, identity('prefer-p', 'admin,member,reader'))
    r = admin.post('/v2/images/%s/import' % image['id'], json={
        'method': {'name': 'copy-image'}, 'stores': ['cheap']})
    assert r.status_code == 202, r.text
    deadline = time.time() + 60
    while client.get('/v2/images/%s' % image['id']).json()[
            'stores'] != 'fast,cheap':
        assert time.time() < deadline, 'copy-image did not finish'
        time.sleep(0.1)
    with open(os.path.join(srv.workdir, 'stores', 'cheap', image['id']),
              'r+b') as f:
        f.write(OTHER)
    return client, image['id']


def download(client: Client, image_id: str, query: str = '') -> bytes:
    r = client.get('/v2/images/%s/file%s' % (image_id, query))
    assert r.status_code == 200, r.text
    return r.content


def test_without_prefer_the_first_location_answers(image):
    client, image_id = image
    assert download(client, image_id) == DATA


@pytest.mark.parametrize('query,data', [
    ('?prefer=cheap', OTHER),
    ('?prefer=cheap,fast', OTHER),
    ('?prefer=fast,cheap', DATA),
    ('?prefer=%20cheap%20', OTHER),             # spaces around a name
    ('?prefer=nowhere,cheap', OTHER),           # an unknown store is skipped
    ('?prefer=nowhere', DATA),                  # ... and falls back to all
    ('?prefer=', DATA),
    ('?prefer=fast&prefer=cheap', DATA),        # repeated: in their order
])
def test_prefer_orders_the_stores_tried(image, query, data):
    client, image_id = image
    assert download(client, image_id, query) == data


def test_a_preferred_store_without_the_data_falls_back(srv, image):
    client, image_id = image
    os.rename(os.path.join(srv.workdir, 'stores', 'cheap', image_id),
              os.path.join(srv.workdir, 'stores', 'cheap', 'moved'))
    try:
        assert download(client, image_id, '?prefer=cheap') == DATA
    finally:
        os.rename(os.path.join(srv.workdir, 'stores', 'cheap', 'moved'),
                  os.path.join(srv.workdir, 'stores', 'cheap', image_id))
