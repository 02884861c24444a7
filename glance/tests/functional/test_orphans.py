"""Nothing orphaned: staged data follows its image across nodes, glance-api
sweeps its staging area at start-up, and ``glance-manage store orphans``
finds (and removes) file-store data and staged files no image references.

Two glance-api nodes share one SQLite database file and the file stores,
each with its own staging area, as in test_import_distributed.py.
"""
from __future__ import annotations

import os
import time
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer
from glance.tests.functional.test_import import _create, _stage, blob
from glance.tests.functional.test_import_distributed import _node

OLD = time.time() - 3 * 3600          # older than the default grace period


def staged(node: GlanceServer, name: str) -> str:
    return os.path.join(node.workdir, 'stores', 'os_glance_staging_store',
                        name)


def write(path: str, data: bytes = b'left over', mtime: float = OLD) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture(scope='module')
def nodes(tmp_path_factory):
    base = tmp_path_factory.mktemp('orphans')
    database = 'sqlite:///%s' % (base / 'shared.sqlite')
    one = _node(str(base / 'one'), database, str(base / 'stores')).start()
    two = _node(str(base / 'two'), database, str(base / 'stores'))
    two.start(sync_db=False)
    yield one, two
    two.stop()
    one.stop()


def _project_clients(nodes):
    project = 'orph-%s' % uuid.uuid4().hex[:8]
    return [Client(n.url, identity(project)) for n in nodes]


def test_delete_on_another_node_removes_the_staged_file(nodes):
    one, two = nodes
    on_one, on_two = _project_clients(nodes)
    image_id = _create(on_one)
    assert _stage(on_one, image_id, blob(5000, 'x')).status_code == 204
    assert os.path.exists(staged(one, image_id))

    assert on_two.delete('/v2/images/%s' % image_id).status_code == 204
    assert not os.path.exists(staged(one, image_id))
    assert on_two.get('/v2/images/%s' % image_id).status_code == 404
    assert 'Delete of image %s handed to %s' % (image_id, one.url) \
        in two.log()


def test_refusal_of_the_staging_node_is_the_answer(nodes):
    one, _two = nodes
    on_one, on_two = _project_clients(nodes)
    image_id = _create(on_one, protected=True)
    assert _stage(on_one, image_id, b'abc').status_code == 204
    r = on_two.delete('/v2/images/%s' % image_id,
                      headers={'Accept': 'application/json'})
    assert r.status_code == 403, r.text
    assert r.json()['message'].startswith(
        'Image %s is protected' % image_id), r.text
    assert os.path.exists(staged(one, image_id))
    shown = on_two.get('/v2/images/%s' % image_id).json()
    assert shown['status'] == 'uploading'
    r = on_one.patch('/v2/images/%s' % image_id,
                     [{'op': 'replace', 'path': '/protected', 'value': False}])
    assert r.status_code == 200, r.text
    assert on_two.delete('/v2/images/%s' % image_id).status_code == 204
    assert not os.path.exists(staged(one, image_id))


def test_staging_node_down_then_its_start_up_sweep(nodes):
    one, two = nodes
    on_one, on_two = _project_clients(nodes)
    gone = _create(on_one)
    assert _stage(on_one, gone, b'staged on one').status_code == 204
    waiting = _create(on_one)
    assert _stage(on_one, waiting, b'still wanted').status_code == 204
    queued = _create(on_one)
    # what a crash leaves: temporary files, a file of an image that was
    # never staged here, files of images that do not exist
    leftovers = [write(staged(one, gone + '.converted')),
                 write(staged(one, queued)),
                 write(staged(one, str(uuid.uuid4()))),
                 write(staged(one, str(uuid.uuid4()) + '.decompressed'),
                       mtime=time.time())]
    foreign = write(staged(one, 'not-an-image-file'))

    one.stop()
    r = on_two.delete('/v2/images/%s' % gone)
    assert r.status_code == 204, r.text
    assert on_two.get('/v2/images/%s' % gone).status_code == 404
    assert 'could not take the delete' in two.log()
    assert os.path.exists(staged(one, gone))

    one.start(sync_db=False)
    for path in [staged(one, gone)] + leftovers:
        assert not os.path.exists(path), path
    assert os.path.exists(staged(one, waiting))
    assert os.path.exists(foreign)
    log = one.log()
    assert 'Removed staged file %s of image %s' % (gone, gone) in log
    assert 'Removed staged file %s of image %s' % (queued, queued) in log
    # the image that still needs its data can be imported as ever
    assert on_two.delete('/v2/images/%s' % waiting).status_code == 204
    assert not os.path.exists(staged(one, waiting))


# ------------------------------------------------------ glance-manage orphans
@pytest.fixture(scope='module')
def single(tmp_path_factory):
    staging_dir = str(tmp_path_factory.mktemp('staging'))
    server = GlanceServer(str(tmp_path_factory.mktemp('orphans-file')),
                          settings=['DEFAULT.node_staging_uri=file://%s'
                                    % staging_dir])
    server.staging_dir = staging_dir
    server.start()
    yield server
    server.stop()


def _lines(result) -> dict[str, str]:
    """image id -> the line the command printed about it."""
    out = {}
    for line in result.stdout.splitlines():
        fields = line.split('\t')
        if len(fields) >= 7:
            out[fields[2]] = line
    return out


def test_orphan_command_on_the_file_store(single):
    client = Client(single.url)
    images = os.path.join(single.workdir, 'images')
    kept = client.create(disk_format='raw', container_format='bare')['id']
    assert client.upload(kept, b'kept data').status_code == 204
    os.utime(os.path.join(images, kept), (OLD, OLD))
    deleted = client.create()['id']
    assert client.delete('/v2/images/%s' % deleted).status_code == 204
    queued = client.create()['id']
    missing = str(uuid.uuid4())
    young = str(uuid.uuid4())
    orphans = {deleted: write(os.path.join(images, deleted)),
               queued: write(os.path.join(images, queued)),
               missing: write(os.path.join(images, missing))}
    write(os.path.join(images, young), mtime=time.time())
    write(os.path.join(images, 'README'))
    staged_orphan = str(uuid.uuid4())
    staged_file = write(os.path.join(single.staging_dir, staged_orphan))

    result = single.manage('store', 'orphans', '--dry-run')
    assert result.returncode == 0, result.stderr + result.stdout
    lines = _lines(result)
    assert set(lines) == set(orphans) | {staged_orphan}, result.stdout
    for image_id in orphans:
        assert lines[image_id].startswith('would remove\tfile\t')
    assert 'no image has this id' in lines[missing]
    assert 'its image is deleted' in lines[deleted]
    assert 'has no location in this store' in lines[queued]
    assert lines[staged_orphan].startswith('would remove\tstaging\t')
    assert 'nothing removed (--dry-run)' in result.stdout
    for path in list(orphans.values()) + [staged_file]:
        assert os.path.exists(path)

    result = single.manage('store', 'orphans')
    assert result.returncode == 0, result.stderr + result.stdout
    lines = _lines(result)
    assert set(lines) == set(orphans) | {staged_orphan}
    assert all(line.startswith('removed\t') for line in lines.values())
    for path in list(orphans.values()) + [staged_file]:
        assert not os.path.exists(path), path
    assert sorted(os.listdir(images)) == sorted([kept, young, 'README'])
    assert client.get('/v2/images/%s/file' % kept).content == b'kept data'
    # the command logs each removal (to the configured log file)
    assert 'Removed orphaned image data of image %s from store file' \
        % missing in single.log()

    # the grace period: only --grace-period 0 takes the young file
    result = single.manage('store', 'orphans', '--store', 'file')
    assert young not in _lines(result)
    result = single.manage('store', 'orphans', '--store', 'file',
                           '--grace-period', '0')
    assert _lines(result)[young].startswith('removed\tfile\t')
    assert sorted(os.listdir(images)) == sorted([kept, 'README'])


def test_orphan_command_bad_store(single):
    result = single.manage('store', 'orphans', '--store', 'nope',
                           '--dry-run')
    assert result.returncode == 1
    assert 'store nope not swept' in result.stderr
    result = single.manage('store', 'orphans', '--grace-period', '-1')
    assert result.returncode == 2
    assert 'not a number of seconds' in result.stderr
