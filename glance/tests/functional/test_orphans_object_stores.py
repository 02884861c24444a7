"""``glance-manage store orphans`` on swift (objects, SLO manifests and
their segments, segments a killed upload left without a manifest), s3
(objects, unfinished multipart uploads) and rbd (images and their
snapshots), against the session's one-node Swift and Ceph on loopback.

Orphans are made the ways crashes make them: data written straight into
the store under an image id no record knows, and an image record marked
deleted in the database while its data stayed (a delete that died between
the two).  Every check of what is left looks in the store directly.
"""
from __future__ import annotations

import os
import sqlite3
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer
from glance.tests.unit.test_s3_store import keys as s3_keys
from glance.tests.unit.test_s3_store import s3_client
from glance.tests.unit.test_s3_store import uploads as s3_uploads

MiB = 1024 * 1024
DATA = b'orphan sweep data ' * 5000          # 90000 bytes


def _upload(client: Client, store: str, data: bytes = DATA) -> str:
    image = client.create(disk_format='raw', container_format='bare')
    r = client.put('/v2/images/%s/file' % image['id'], data=data,
                   headers={'Content-Type': 'application/octet-stream',
                            'X-Image-Meta-Store': store})
    assert r.status_code == 204, r.text
    return image['id']


def _forget(server: GlanceServer, image_id: str) -> None:
    """The record is deleted, the data stays: a delete that died half-way."""
    conn = sqlite3.connect(os.path.join(server.workdir, 'glance.sqlite'))
    with conn:
        conn.execute("UPDATE images SET deleted = 1, status = 'deleted' "
                     "WHERE id = ?", (image_id,))
        conn.execute('UPDATE image_locations SET deleted = 1 WHERE '
                     'image_id = ?', (image_id,))
    conn.close()


def _lines(result) -> list[tuple[str, ...]]:
    """(outcome, store, image id, kind) of each orphan the command told."""
    return sorted(tuple(line.split('\t')[:4])
                  for line in result.stdout.splitlines()
                  if line.count('\t') >= 6)


def _sweep(server: GlanceServer, store: str, *args: str):
    result = server.manage('store', 'orphans', '--store', store,
                           '--grace-period', '0', *args)
    assert result.returncode == 0, result.stderr + result.stdout
    return result


# ------------------------------------------------------------ swift and s3
@pytest.fixture(scope='module')
def names():
    tag = uuid.uuid4().hex[:8]
    return {'container': 'orph-%s' % tag, 'bucket': 'orph-s3-%s' % tag}


@pytest.fixture(scope='module')
def objsrv(tmp_path_factory, swift, names):
    server = GlanceServer(
        str(tmp_path_factory.mktemp('orphans-obj')), profile='reference',
        settings=[
            'DEFAULT.enabled_backends=fast:file, obj:swift, s3:s3',
            'obj.swift_store_auth_address=%s' % swift.auth_url,
            'obj.swift_store_user=test:tester',
            'obj.swift_store_key=testing',
            'obj.swift_store_container=%s' % names['container'],
            'obj.swift_store_create_container_on_put=True',
            'obj.swift_store_large_object_size=1',
            'obj.swift_store_large_object_chunk_size=1',
            's3.s3_store_host=%s' % swift.url,
            's3.s3_store_access_key=test:tester',
            's3.s3_store_secret_key=testing',
            's3.s3_store_bucket=%s' % names['bucket'],
            's3.s3_store_create_bucket_on_put=True',
            's3.s3_store_bucket_url_format=path',
        ])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def alice(objsrv) -> Client:
    return Client(objsrv.url, identity('orph-%s' % uuid.uuid4().hex[:8]))


def test_swift_orphans(objsrv, swift, names, alice):
    container = names['container']
    segments = container + '_segments'
    kept = _upload(alice, 'obj', os.urandom(2 * MiB + 5))     # an SLO
    lost_slo = _upload(alice, 'obj', os.urandom(MiB + 7))
    _forget(objsrv, lost_slo)
    plain, headless = str(uuid.uuid4()), str(uuid.uuid4())
    for path in ('/%s/%s' % (container, plain), '/%s/keep-me' % container,
                 '/%s/%s/00001' % (segments, headless),
                 '/%s/%s/00002' % (segments, headless)):
        assert swift.request('PUT', path, data=b'left').status_code == 201

    result = _sweep(objsrv, 'obj', '--dry-run')
    assert _lines(result) == sorted([
        ('would remove', 'obj', plain, 'image'),
        ('would remove', 'obj', lost_slo, 'image'),
        ('would remove', 'obj', lost_slo, 'segments'),
        ('would remove', 'obj', headless, 'segments')])
    assert plain in swift.listing(container)

    result = _sweep(objsrv, 'obj')
    outcomes = {(line[2], line[3]): line[0] for line in _lines(result)}
    assert outcomes[(plain, 'image')] == 'removed'
    assert outcomes[(headless, 'segments')] == 'removed'
    # the manifest's delete took its segments along
    assert outcomes[(lost_slo, 'image')] == 'removed'
    assert outcomes[(lost_slo, 'segments')] in ('removed', 'already gone')
    assert sorted(swift.listing(container)) == sorted([kept, 'keep-me'])
    assert {s.split('/')[0] for s in swift.listing(segments)} == {kept}
    assert _lines(_sweep(objsrv, 'obj')) == []
    assert alice.get('/v2/images/%s' % kept).json()['status'] == 'active'


def test_s3_orphans(objsrv, swift, names, alice):
    bucket = names['bucket']
    kept = _upload(alice, 's3')
    lost = _upload(alice, 's3')
    _forget(objsrv, lost)
    plain, unfinished = str(uuid.uuid4()), str(uuid.uuid4())
    client = s3_client(swift)
    client.put_object(Bucket=bucket, Key=plain, Body=b'left')
    client.put_object(Bucket=bucket, Key='keep-me', Body=b'not glance')
    upload_ids = []
    # an upload nobody finished, one under the key of a live image too
    for key in (unfinished, kept):
        upload_ids.append(client.create_multipart_upload(
            Bucket=bucket, Key=key)['UploadId'])
        client.upload_part(Bucket=bucket, Key=key,
                           UploadId=upload_ids[-1], PartNumber=1,
                           Body=b'p' * 1024)

    result = _sweep(objsrv, 's3', '--dry-run')
    assert _lines(result) == sorted([
        ('would remove', 's3', plain, 'image'),
        ('would remove', 's3', lost, 'image'),
        ('would remove', 's3', unfinished, 'partial'),
        ('would remove', 's3', kept, 'partial')])
    for upload_id in upload_ids:
        assert 'multipart upload %s' % upload_id in result.stdout
    assert unfinished in s3_uploads(swift, bucket)

    result = _sweep(objsrv, 's3')
    assert {line[0] for line in _lines(result)} == {'removed'}
    assert sorted(s3_keys(swift, bucket)) == sorted([kept, 'keep-me'])
    assert s3_uploads(swift, bucket) == []
    assert alice.get('/v2/images/%s/file' % kept).content == DATA


# --------------------------------------------------------------------- rbd
@pytest.fixture(scope='module')
def rbdsrv(tmp_path_factory, ceph):
    server = GlanceServer(
        str(tmp_path_factory.mktemp('orphans-rbd')), profile='reference',
        settings=[
            'DEFAULT.enabled_backends=fast:file, ceph:rbd',
            'ceph.rbd_store_ceph_conf=%s' % ceph.conf,
            'ceph.rbd_store_user=glance',
            'ceph.rbd_store_pool=images',
            'ceph.rbd_store_chunk_size=1',
            'ceph.rados_connect_timeout=10',
        ])
    server.start()
    yield server
    server.stop()


def _rbd_image(ceph, name: str, snaps=()) -> None:
    """An RBD image made behind glance's back, with ``snaps`` (protected)."""
    import rbd
    cluster = ceph.connect()
    try:
        with cluster.open_ioctx('images') as ioctx:
            rbd.RBD().create(ioctx, name, MiB, old_format=False)
            with rbd.Image(ioctx, name) as image:
                image.write(b'left over', 0)
                for snap in snaps:
                    image.create_snap(snap)
                    image.protect_snap(snap)
    finally:
        cluster.shutdown()


def test_rbd_orphans(rbdsrv, ceph):
    alice = Client(rbdsrv.url, identity('orph-%s' % uuid.uuid4().hex[:8]))
    kept = _upload(alice, 'ceph')
    lost = _upload(alice, 'ceph')
    _forget(rbdsrv, lost)
    bare, snapped = str(uuid.uuid4()), str(uuid.uuid4())
    other = 'volume-%s' % uuid.uuid4().hex[:8]
    _rbd_image(ceph, bare)
    _rbd_image(ceph, snapped, snaps=('snap', 'extra'))
    _rbd_image(ceph, other, snaps=('snap',))

    # The pool is the session's: images of other modules' servers (whose
    # records live in other databases) may be there too.
    ours = {kept, lost, bare, snapped, other}
    result = _sweep(rbdsrv, 'ceph', '--dry-run')
    assert [line for line in _lines(result) if line[2] in ours] == sorted([
        ('would remove', 'ceph', bare, 'image'),
        ('would remove', 'ceph', lost, 'image'),
        ('would remove', 'ceph', snapped, 'image')])
    assert 'snapshots: snap, extra' in result.stdout
    assert snapped in ceph.images()

    result = _sweep(rbdsrv, 'ceph')
    assert {line[0] for line in _lines(result)} == {'removed'}
    left = ceph.images()
    for name in (bare, lost, snapped):
        assert name not in left
    assert kept in left and other in left
    assert ceph.snapshots(kept) == [('snap', True)]
    assert alice.get('/v2/images/%s/file' % kept).content == DATA
