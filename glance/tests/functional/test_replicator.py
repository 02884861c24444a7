"""glance-replicator between two (and three) real glance-api processes."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from glance.tests.functional.conftest import Client
from glance.tests.functional.server import GlanceServer

BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope='module')
def glances(tmp_path_factory):
    servers = [GlanceServer(str(tmp_path_factory.mktemp('glance%d' % n)))
               .start() for n in range(3)]
    yield servers
    for server in servers:
        server.stop()


def replicator(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(BIN, 'glance-replicator'), *args],
                          capture_output=True, text=True, timeout=120)


def hostport(server: GlanceServer) -> str:
    return '127.0.0.1:%d' % server.port


@pytest.fixture(scope='module')
def images(glances):
    """Three active images and a queued one on the first glance."""
    source = Client(glances[0].url)
    made = []
    for n in range(3):
        data = os.urandom(50000 + n)
        image = source.create(name='img%d' % n, disk_format='raw',
                              container_format='bare', visibility='public',
                              tags=['t%d' % n, 'common'], color='blue',
                              min_ram=n)
        assert source.upload(image['id'], data).status_code == 204
        made.append((image['id'], data))
    source.create(name='no-data')
    return made


def test_size(glances, images):
    r = replicator('size', hostport(glances[0]))
    assert r.returncode == 0, r.stderr
    total = sum(len(d) for _, d in images)
    assert 'Total size is %d bytes' % total in r.stdout
    assert 'across 3 images' in r.stdout


def test_livecopy_then_compare(glances, images):
    source, target = hostport(glances[0]), hostport(glances[1])
    r = replicator('compare', source, target)
    assert r.returncode == 1
    assert r.stdout.count('is missing from the target') == 3

    r = replicator('livecopy', source, target)
    assert r.returncode == 0, r.stderr
    assert 'Images: 3 created' in r.stdout
    assert '[3/3] created' in r.stderr          # the progress display
    client = Client(glances[1].url)
    for image_id, data in images:
        replica = client.get('/v2/images/%s' % image_id).json()
        assert replica['status'] == 'active'
        assert replica['checksum'] == hashlib.md5(data).hexdigest()
        assert replica['color'] == 'blue' and replica['visibility'] == \
            'public'
        assert client.get('/v2/images/%s/file' % image_id).content == data
    names = {i['name'] for i in client.get('/v2/images').json()['images']}
    assert 'no-data' not in names               # only active images go

    r = replicator('compare', source, target)
    assert (r.returncode, r.stdout) == (0, '')

    # a change on the source is found, then carried over
    image_id = images[0][0]
    Client(glances[0].url).patch('/v2/images/%s' % image_id, [
        {'op': 'replace', 'path': '/color', 'value': 'red'},
        {'op': 'add', 'path': '/size_class', 'value': 'small'}])
    r = replicator('compare', source, target)
    assert r.returncode == 1
    assert "color is 'red' on the source, 'blue' on the target" in r.stdout
    r = replicator('livecopy', source, target)
    assert 'Images: 2 unchanged, 1 updated' in r.stdout, r.stdout
    replica = client.get('/v2/images/%s' % image_id).json()
    assert (replica['color'], replica['size_class']) == ('red', 'small')
    assert replicator('compare', source, target).returncode == 0


def test_dump_and_load(glances, images, tmp_path):
    dumped = tmp_path / 'dump'
    r = replicator('dump', hostport(glances[0]), str(dumped))
    assert r.returncode == 0, r.stderr
    for image_id, data in images:
        assert (dumped / image_id).is_file()
        assert (dumped / (image_id + '.img')).read_bytes() == data
    assert not list(dumped.glob('*.part'))
    # a second dump fetches no data again
    r = replicator('dump', hostport(glances[0]), str(dumped))
    assert r.stderr.count('dumped metadata of') == 3

    r = replicator('load', str(dumped), hostport(glances[2]))
    assert r.returncode == 0, r.stderr
    assert 'Images: 3 created' in r.stdout
    client = Client(glances[2].url)
    for image_id, data in images:
        assert client.get('/v2/images/%s/file' % image_id).content == data
    assert replicator('compare', hostport(glances[0]),
                      hostport(glances[2])).returncode == 0


def test_metaonly(glances, images, tmp_path):
    target = GlanceServer(str(tmp_path / 'meta')).start()
    try:
        r = replicator('--metaonly', 'livecopy', hostport(glances[0]),
                       hostport(target))
        assert r.returncode == 0, r.stderr
        replica = Client(target.url).get('/v2/images/%s' % images[1][0])
        assert replica.json()['status'] == 'queued'
        # a later full run brings the data
        r = replicator('livecopy', hostport(glances[0]), hostport(target))
        assert r.returncode == 0, r.stderr
        replica = Client(target.url).get('/v2/images/%s' % images[1][0])
        assert replica.json()['status'] == 'active'
    finally:
        target.stop()


def test_dontreplicate(glances, images, tmp_path):
    target = GlanceServer(str(tmp_path / 'dont')).start()
    try:
        r = replicator('-D', 'color min_ram', 'livecopy',
                       hostport(glances[0]), hostport(target))
        assert r.returncode == 0, r.stderr
        replica = Client(target.url).get(
            '/v2/images/%s' % images[2][0]).json()
        assert 'color' not in replica and replica['min_ram'] == 0
    finally:
        target.stop()


def test_errors_are_clear(tmp_path):
    r = replicator('size', '127.0.0.1:1')
    assert r.returncode == 1
    assert 'cannot reach glance at http://127.0.0.1:1' in r.stderr
    r = replicator('load', str(tmp_path / 'nowhere'), '127.0.0.1:1')
    assert r.returncode == 1 and 'nowhere' in r.stderr
    r = replicator('copy', 'a', 'b')
    assert r.returncode == 2 and 'invalid choice' in r.stderr
    r = replicator('compare', 'only-one')
    assert r.returncode == 2
    assert replicator().returncode == 2
    r = replicator('help', 'dump')
    assert r.returncode == 0 and 'server' in r.stdout and 'path' in r.stdout
