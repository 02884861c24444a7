"""Delayed delete and glance-scrubber, as an operator runs them.

A real glance-api with ``delayed_delete = True`` takes the DELETE; the real
glance-scrubber console script (one run, ``--daemon``, ``--restore``) then
works on the same SQLite database and file store.  Effects are checked
where they land: the image and location rows, and the files in the store.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import pytest
import sqlalchemy as sa

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import BIN, GlanceServer

DATA = b'scrub me ' * 512


@pytest.fixture(scope='module')
def api(tmp_path_factory):
    srv = GlanceServer(str(tmp_path_factory.mktemp('scrubber')),
                       settings=['DEFAULT.delayed_delete=True']).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(api) -> Client:
    return Client(api.url)


class Scrubber:
    """Runs glance-scrubber with glance-api's configuration plus its own."""

    def __init__(self, api: GlanceServer):
        self.api = api
        self.log = os.path.join(api.workdir, 'scrubber.log')

    def config(self, **options) -> str:
        path = os.path.join(self.api.workdir,
                            'scrubber-%s.conf' % uuid.uuid4().hex[:8])
        options.setdefault('log_file', self.log)
        with open(path, 'w') as f:
            f.write('[DEFAULT]\n')
            for key, value in options.items():
                f.write('%s = %s\n' % (key, value))
        return path

    def argv(self, *args: str, **options) -> list[str]:
        return [os.path.join(BIN, 'glance-scrubber'), '--config-file',
                self.api.config, '--config-file', self.config(**options),
                *args]

    def run(self, *args: str, **options) -> subprocess.CompletedProcess:
        options.setdefault('scrub_time', 0)
        return subprocess.run(self.argv(*args, **options),
                              capture_output=True, text=True, timeout=120)

    def start(self, *args: str, **options) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args, **options),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                start_new_session=True)


@pytest.fixture
def scrubber(api) -> Scrubber:
    return Scrubber(api)


def _sql(api: GlanceServer, statement: str, **params) -> list:
    engine = sa.create_engine('sqlite:///%s' % os.path.join(
        api.workdir, 'glance.sqlite'))
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def image_row(api: GlanceServer, image_id: str) -> tuple:
    [row] = _sql(api, 'SELECT status, deleted FROM images WHERE id = :i',
                 i=image_id)
    return row[0], bool(row[1])


def location_rows(api: GlanceServer, image_id: str) -> list[tuple]:
    return [(r[0], bool(r[1])) for r in _sql(
        api, 'SELECT status, deleted FROM image_locations WHERE image_id = '
        ':i ORDER BY id', i=image_id)]


def stored(api: GlanceServer, image_id: str) -> str:
    return os.path.join(api.workdir, 'images', image_id)


def active_image(client: Client, **extra) -> str:
    image = client.create(name='doomed', disk_format='raw',
                          container_format='bare', **extra)
    assert client.upload(image['id'], DATA).status_code == 204
    return image['id']


def pending_image(client: Client, api: GlanceServer, **extra) -> str:
    image_id = active_image(client, **extra)
    assert client.delete('/v2/images/%s' % image_id).status_code == 204
    assert image_row(api, image_id) == ('pending_delete', True)
    return image_id


# --- glance-api under delayed_delete ---------------------------------------

def test_delete_leaves_data_and_a_pending_delete_row(client, api):
    image_id = active_image(client, tags=['t'], colour='blue')
    path = '/v2/images/%s' % image_id
    assert client.delete(path).status_code == 204
    # Gone for users at once...
    assert client.get(path).status_code == 404
    assert client.get(path + '/file').status_code == 404
    assert client.delete(path).status_code == 404
    r = client.get('/v2/images?limit=1000')
    assert image_id not in {i['id'] for i in r.json()['images']}
    # ...but the record and the data wait for the scrubber.
    assert image_row(api, image_id) == ('pending_delete', True)
    assert location_rows(api, image_id) == [('pending_delete', False)]
    with open(stored(api, image_id), 'rb') as f:
        assert f.read() == DATA


def test_an_image_without_data_is_deleted_at_once(client, api):
    image = client.create(name='empty')
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    assert image_row(api, image['id']) == ('deleted', True)


def test_a_deactivated_image_is_deleted_at_once(client, api):
    """Restore makes an image active: a deactivated one must not come back
    that way, so its data goes immediately."""
    image_id = active_image(client)
    r = client.post('/v2/images/%s/actions/deactivate' % image_id)
    assert r.status_code == 204
    assert client.delete('/v2/images/%s' % image_id).status_code == 204
    assert image_row(api, image_id) == ('deleted', True)
    assert location_rows(api, image_id) == [('deleted', True)]
    assert not os.path.exists(stored(api, image_id))


def test_a_protected_image_is_still_refused(client, api):
    image_id = active_image(client, protected=True)
    assert client.delete('/v2/images/%s' % image_id).status_code == 403
    assert image_row(api, image_id) == ('active', False)


# --- one run ---------------------------------------------------------------

def test_scrubber_removes_the_data_then_marks_deleted(client, api, scrubber):
    image_id = pending_image(client, api)
    r = scrubber.run()
    assert r.returncode == 0, r.stderr
    assert 'failed' in r.stdout and r.stderr == ''
    assert not os.path.exists(stored(api, image_id))
    assert image_row(api, image_id) == ('deleted', True)
    assert location_rows(api, image_id) == [('deleted', True)]
    with open(scrubber.log) as f:
        assert 'Scrubbed image %s' % image_id in f.read()
    # A second run finds nothing to do and changes nothing.
    r = scrubber.run()
    assert r.returncode == 0, r.stderr
    assert image_row(api, image_id) == ('deleted', True)
    # Its id stays used for ever.
    r = client.post('/v2/images', json={'id': image_id})
    assert r.status_code == 409


def test_scrub_time_in_the_future_keeps_the_data(client, api, scrubber):
    image_id = pending_image(client, api)
    r = scrubber.run(scrub_time=3600)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(stored(api, image_id))
    assert image_row(api, image_id) == ('pending_delete', True)
    assert location_rows(api, image_id) == [('pending_delete', False)]
    # Once old enough (here: when the wait is shorter) it goes.
    r = scrubber.run(scrub_time=0)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(stored(api, image_id))
    assert image_row(api, image_id) == ('deleted', True)


def test_scrub_time_counts_from_the_delete(client, api, scrubber):
    image_id = pending_image(client, api)
    _sql(api, "UPDATE images SET deleted_at = '2020-01-01 00:00:00' "
         "WHERE id = :i", i=image_id)
    r = scrubber.run(scrub_time=3600)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(stored(api, image_id))
    assert image_row(api, image_id) == ('deleted', True)


def test_many_images_with_a_pool(client, api, scrubber):
    ids = [pending_image(client, api) for _ in range(6)]
    r = scrubber.run(scrub_pool_size=3)
    assert r.returncode == 0, r.stderr
    for image_id in ids:
        assert not os.path.exists(stored(api, image_id))
        assert image_row(api, image_id) == ('deleted', True)


# --- crash safety ----------------------------------------------------------

def test_data_already_gone_counts_as_deleted(client, api, scrubber):
    image_id = pending_image(client, api)
    os.unlink(stored(api, image_id))
    r = scrubber.run()
    assert r.returncode == 0, r.stderr
    assert '1 already gone' in r.stdout
    assert image_row(api, image_id) == ('deleted', True)
    assert location_rows(api, image_id) == [('deleted', True)]
    with open(scrubber.log) as f:
        assert 'Data of image %s' % image_id in f.read()


def test_resumes_from_what_a_killed_run_left(client, api, scrubber):
    """The states a run killed between its steps leaves behind, made by
    hand in the database: each is finished by the next run."""
    claimed_kept = pending_image(client, api)      # killed before the delete
    claimed_gone = pending_image(client, api)      # killed after the delete
    finished = pending_image(client, api)          # killed before the image
    for image_id in (claimed_kept, claimed_gone):
        _sql(api, "UPDATE image_locations SET status = 'deleted' WHERE "
             "image_id = :i", i=image_id)
    os.unlink(stored(api, claimed_gone))
    os.unlink(stored(api, finished))
    _sql(api, "UPDATE image_locations SET status = 'deleted', deleted = 1 "
         "WHERE image_id = :i", i=finished)
    r = scrubber.run()
    assert r.returncode == 0, r.stderr
    for image_id in (claimed_kept, claimed_gone, finished):
        assert not os.path.exists(stored(api, image_id))
        assert image_row(api, image_id) == ('deleted', True)
        assert location_rows(api, image_id) == [('deleted', True)]


def test_killed_mid_run_then_rerun_finishes(client, api, scrubber):
    ids = [pending_image(client, api) for _ in range(25)]
    proc = scrubber.start(scrub_time=0, scrub_pool_size=2)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if any(not os.path.exists(stored(api, i)) for i in ids):
            break
        time.sleep(0.001)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # Killed as soon as the first file went: the run was far from done.
    left = [i for i in ids if image_row(api, i)[0] == 'pending_delete']
    assert left, 'the scrubber finished before it could be killed'
    r = scrubber.run()
    assert r.returncode == 0, r.stderr
    for image_id in ids:
        assert not os.path.exists(stored(api, image_id))
        assert image_row(api, image_id) == ('deleted', True)
        assert location_rows(api, image_id) == [('deleted', True)]


def test_a_store_failure_keeps_the_image_for_the_next_run(
        client, api, scrubber):
    image_id = pending_image(client, api)
    # A directory where the file was: the store cannot delete it.
    path = stored(api, image_id)
    os.unlink(path)
    os.mkdir(path)
    try:
        r = scrubber.run()
        assert r.returncode == 1
        assert 'could not be scrubbed' in r.stderr
        assert image_row(api, image_id) == ('pending_delete', True)
        assert location_rows(api, image_id) == [('deleted', False)]
        with open(scrubber.log) as f:
            assert 'Could not delete the data of image %s' % image_id \
                in f.read()
    finally:
        os.rmdir(path)
    r = scrubber.run()
    assert r.returncode == 0, r.stderr
    assert image_row(api, image_id) == ('deleted', True)
    assert location_rows(api, image_id) == [('deleted', True)]


# --- daemon ----------------------------------------------------------------

def test_daemon_scrubs_every_wakeup_time(client, api, scrubber):
    proc = scrubber.start('--daemon', scrub_time=0, wakeup_time=1)
    try:
        first = pending_image(client, api)
        second = None
        deadline = time.time() + 60
        while time.time() < deadline:
            if image_row(api, first)[0] == 'deleted':
                if second is None:
                    # A later delete is caught by a later run.
                    second = pending_image(client, api)
                elif image_row(api, second)[0] == 'deleted':
                    break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        for image_id in (first, second):
            assert image_row(api, image_id) == ('deleted', True)
            assert not os.path.exists(stored(api, image_id))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


# --- restore ---------------------------------------------------------------

def test_restore_brings_back_the_image_and_its_data(client, api, scrubber):
    image_id = pending_image(client, api, tags=['keep'], colour='red')
    r = scrubber.run('--restore', image_id)
    assert r.returncode == 0, r.stderr
    assert 'restored to active with 1 location' in r.stdout
    assert image_row(api, image_id) == ('active', False)
    assert location_rows(api, image_id) == [('active', False)]
    got = client.get('/v2/images/%s' % image_id).json()
    assert (got['status'], got['tags'], got['colour']) == \
        ('active', ['keep'], 'red')
    assert client.get('/v2/images/%s/file' % image_id).content == DATA
    # A restored image is an ordinary one: deleted again, scrubbed.
    assert client.delete('/v2/images/%s' % image_id).status_code == 204
    assert scrubber.run().returncode == 0
    assert image_row(api, image_id) == ('deleted', True)
    assert not os.path.exists(stored(api, image_id))


def test_restore_unknown_image(scrubber):
    missing = str(uuid.uuid4())
    r = scrubber.run('--restore', missing)
    assert r.returncode == 1
    assert r.stderr.strip() == 'glance-scrubber: no image with id %s' % \
        missing


def test_restore_refuses_an_image_not_pending_delete(client, api, scrubber):
    live = active_image(client)
    r = scrubber.run('--restore', live)
    assert r.returncode == 1
    assert 'is active, not pending_delete' in r.stderr
    gone = pending_image(client, api)
    assert scrubber.run().returncode == 0
    r = scrubber.run('--restore', gone)
    assert r.returncode == 1
    assert 'is deleted, not pending_delete' in r.stderr
    assert image_row(api, gone) == ('deleted', True)


def test_restore_refuses_once_scrubbing_began(client, api, scrubber):
    image_id = pending_image(client, api)
    _sql(api, "UPDATE image_locations SET status = 'deleted' WHERE "
         "image_id = :i", i=image_id)
    r = scrubber.run('--restore', image_id)
    assert r.returncode == 1
    assert 'begun removing its data' in r.stderr
    assert image_row(api, image_id) == ('pending_delete', True)


@pytest.mark.parametrize('args,message', [
    (('--restore', 'x', '--daemon'), 'cannot be used together'),
    (('--restore', ''), '--restore needs an image id'),
])
def test_usage_errors(client, api, scrubber, args, message):
    image_id = pending_image(client, api)
    r = scrubber.run(*args)
    assert r.returncode == 2
    assert message in r.stderr
    # Nothing was scrubbed by a refused command line.
    assert image_row(api, image_id) == ('pending_delete', True)
    assert os.path.exists(stored(api, image_id))


def test_help_describes_the_command(scrubber):
    r = subprocess.run([os.path.join(BIN, 'glance-scrubber'), '--help'],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for word in ('--daemon', '--restore IMAGE_ID', 'pending_delete',
                 'wakeup_time', 'scrub_time'):
        assert word in r.stdout, word


def test_purge_images_table_leaves_pending_delete_images(client, api):
    image_id = pending_image(client, api)
    _sql(api, "UPDATE images SET deleted_at = '2020-01-01 00:00:00' "
         "WHERE id = :i", i=image_id)
    r = api.manage('db', 'purge_images_table', '--age_in_days', '1',
                   '--max_rows', '-1')
    assert r.returncode == 0, r.stderr
    assert image_row(api, image_id) == ('pending_delete', True)
    assert location_rows(api, image_id) == [('pending_delete', False)]


# --- several stores --------------------------------------------------------

def test_data_in_two_stores_is_removed_from_both(tmp_path):
    """A copy-image'd image has a location in each store; the scrubber,
    reading the multi-store configuration, deletes both."""
    srv = GlanceServer(str(tmp_path), profile='reference',
                       settings=['DEFAULT.delayed_delete=True']).start()
    try:
        admin = Client(srv.url, identity('ops', 'admin,member,reader'))
        image_id = active_image(admin)
        r = admin.post('/v2/images/%s/import' % image_id,
                       json={'method': {'name': 'copy-image'},
                             'stores': ['cheap']})
        assert r.status_code == 202, r.text
        deadline = time.time() + 60
        while time.time() < deadline:
            image = admin.get('/v2/images/%s' % image_id).json()
            if 'os_glance_import_task' not in image and \
                    image.get('stores') == 'fast,cheap':
                break
            time.sleep(0.2)
        assert image['stores'] == 'fast,cheap'
        files = [os.path.join(srv.workdir, 'stores', store, image_id)
                 for store in ('fast', 'cheap')]
        assert admin.delete('/v2/images/%s' % image_id).status_code == 204
        assert location_rows(srv, image_id) == [('pending_delete', False)] * 2
        assert all(os.path.exists(f) for f in files)

        r = Scrubber(srv).run()
        assert r.returncode == 0, r.stderr
        assert '2 location(s) removed' in r.stdout
        assert not any(os.path.exists(f) for f in files)
        assert image_row(srv, image_id) == ('deleted', True)
        assert location_rows(srv, image_id) == [('deleted', True)] * 2
    finally:
        srv.stop()
