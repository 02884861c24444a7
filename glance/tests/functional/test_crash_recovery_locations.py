"""glance-api killed (SIGKILL) while a location import hashes its data.

POST /v2/images/{id}/locations (API 2.17) records the location and starts
a ``location_import`` task that reads and hashes the data there.  The
data here comes from a slow web server (4 KiB every 100 ms), so the kill
lands mid-hash.  Then the same configuration starts again, or a second
glance-api sharing the database and stores takes over.  Either way the
task must end in ``failure`` and the image must be where a failed
location import leaves it in the reference service: ``queued``, without
the location, its size or hashes, with nothing left behind (no lease, no
data), so that the client simply adds the location again.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import serving
from glance.tests.functional.test_crash_recovery import (
    MIB, Cluster, _create, _Handler, _image, _kill, _wait_for, blob)

#: the data's size: some 25 s at the slow source's pace
SIZE = MIB


@pytest.fixture(scope='module')
def web():
    """The crash tests' web server: /slow/SIZE and /blob/SIZE/SEED."""
    with serving(_Handler) as url:
        yield url


@pytest.fixture
def cluster(tmp_path, web):
    port = int(web.rsplit(':', 1)[1])
    c = Cluster(str(tmp_path), port)
    # a web (http) store serves the locations; members may add those
    c.settings += ['DEFAULT.enabled_backends=fast:file, cheap:file, '
                   'web:http',
                   'web.http_store_allowed_hosts=127.0.0.1']
    yield c
    c.stop()


def _clients(srv) -> tuple[Client, Client]:
    """The image owner (a project member) and a service of its project
    (only services may list locations)."""
    return (Client(srv.url, identity('crash-loc', 'reader,member', 'alice')),
            Client(srv.url, identity('crash-loc', 'reader,member,service',
                                     'nova')))


def _task(client: Client, image_id: str) -> dict | None:
    tasks = client.get('/v2/images/%s/tasks' % image_id).json()['tasks']
    return tasks[0] if tasks else None


def _ended(client: Client, image_id: str) -> dict:
    def check():
        task = _task(client, image_id)
        return task if task and task['status'] in ('success',
                                                   'failure') else None
    return _wait_for('location import of %s to end' % image_id, check)


def _leases(cluster: Cluster) -> list[tuple]:
    db = sqlite3.connect(os.path.join(cluster.workdir, 'first',
                                      'glance.sqlite'))
    try:
        return db.execute('SELECT image_id, operation FROM image_leases'
                          ).fetchall()
    finally:
        db.close()


@pytest.mark.parametrize('how', ['restart', 'second'])
def test_killed_location_import_fails_and_withdraws_the_location(
        cluster, web, how):
    """Reference behaviour followed: a location import that does not
    complete ends its task in ``failure`` and reverts the image to
    ``queued``, the location removed and no hashes set (as Tempest's
    LocationImportTest checks after a failed verification); a process
    that dies mid-hash must end the same way, from whichever node
    notices."""
    first = cluster.start_first()
    owner, service = _clients(first)
    image_id = _create(owner)
    r = owner.post('/v2/images/%s/locations' % image_id,
                   json={'url': web + '/slow/%d' % SIZE})
    assert r.status_code == 202, r.text
    _wait_for('the hashing to start', lambda: (
        _task(owner, image_id) or {}).get('status') == 'processing')
    shown = _image(owner, image_id)
    assert shown['status'] == 'queued' and shown['size'] == SIZE
    assert [op for _, op in _leases(cluster)] == ['location']
    _kill(first)

    owner, service = _clients(cluster.start_next(how))
    task = _ended(owner, image_id)
    assert task['status'] == 'failure', \
        'the hashing finished before it could be killed'
    assert task['type'] == 'location_import'
    assert 'stopped' in task['message']
    image = _image(owner, image_id)
    assert image['status'] == 'queued'
    for field in ('size', 'virtual_size', 'checksum', 'os_hash_algo',
                  'os_hash_value'):
        assert image[field] is None, (field, image)
    assert 'stores' not in image
    r = service.get('/v2/images/%s/locations' % image_id)
    assert r.status_code == 200, r.text
    assert r.json() == []
    # nothing left behind: no lease, no data in any store or staging
    assert _leases(cluster) == []
    for store in ('fast', 'cheap', 'os_glance_staging_store'):
        assert cluster.files(store) == [], store
    assert owner.get('/v2/images/%s/file' % image_id).status_code == 204

    # The client adds the location again, and this time it is verified.
    data = blob(64 * 1024, 'again')
    r = owner.post('/v2/images/%s/locations' % image_id,
                   json={'url': web + '/blob/%d/again' % len(data)})
    assert r.status_code == 202, r.text
    task = _ended(owner, image_id)
    assert task['status'] == 'success', task
    image = _image(owner, image_id)
    assert image['status'] == 'active' and image['stores'] == 'web'
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    assert owner.get('/v2/images/%s/file' % image_id).content == data
    assert _leases(cluster) == []


def test_a_location_import_in_progress_holds_the_image(cluster, web):
    """While a location is being verified its image is busy: a second
    location, an upload or a stage is refused with 409, as for any image a
    long operation holds (the reference has the image ``importing`` then),
    and the verification ends as if nobody had asked."""
    srv = cluster.start_first()
    owner, _ = _clients(srv)
    image_id = _create(owner)
    size = 128 * 1024           # some 3 s at the slow source's pace
    r = owner.post('/v2/images/%s/locations' % image_id,
                   json={'url': web + '/slow/%d' % size})
    assert r.status_code == 202, r.text
    r = owner.post('/v2/images/%s/locations' % image_id,
                   json={'url': web + '/blob/%d/x' % size})
    assert r.status_code == 409, r.text
    assert 'verification of its new location' in r.text
    for what in ('file', 'stage'):
        r = owner.put('/v2/images/%s/%s' % (image_id, what), data=b'x' * 10,
                      headers={'Content-Type': 'application/octet-stream'})
        assert r.status_code == 409, (what, r.text)
        assert _image(owner, image_id)['status'] == 'queued'
    task = _ended(owner, image_id)
    assert task['status'] == 'success', task
    image = _image(owner, image_id)
    assert image['status'] == 'active' and image['size'] == size
    assert image['checksum'] == hashlib.md5(blob(size, 'web')).hexdigest()
    assert _leases(cluster) == []
