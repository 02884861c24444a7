"""The s3 store against Swift's s3api on loopback (tempauth credentials)."""
from __future__ import annotations

import os
import uuid

import boto3
import botocore.config
from oslo_config import cfg
import pytest

from glance.store import backend, exceptions
from glance.store import location as loc_mod

MiB = 1024 * 1024


def _data(n: int) -> bytes:
    block = os.urandom(4096)
    return (block * (n // len(block) + 1))[:n]


def _chunks(data: bytes, size: int = 256 * 1024):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def _registry(tmp_path, swift, bucket, **extra):
    lines = ['[DEFAULT]', 'enabled_backends = fast:file, s3:s3',
             '[glance_store]', 'default_backend = s3',
             '[fast]', 'filesystem_store_datadir = %s' % (tmp_path / 'fast'),
             '[s3]', 's3_store_host = %s' % swift.url,
             's3_store_access_key = test:tester',
             's3_store_secret_key = testing',
             's3_store_bucket = %s' % bucket,
             's3_store_create_bucket_on_put = True',
             's3_store_bucket_url_format = path',
             's3_store_large_object_size = 6',
             's3_store_large_object_chunk_size = 5',
             's3_store_thread_pools = 2']
    lines += ['%s = %s' % kv for kv in extra.items()]
    path = tmp_path / 'glance-api.conf'
    path.write_text('\n'.join(lines) + '\n')
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], project='glance-store-test',
         default_config_files=[])
    return backend.create_stores(conf)


def s3_client(swift):
    """A client of our own, to look at the bucket behind the store's back."""
    return boto3.session.Session().client(
        's3', endpoint_url=swift.url, region_name='us-east-1',
        aws_access_key_id='test:tester', aws_secret_access_key='testing',
        config=botocore.config.Config(
            s3={'addressing_style': 'path'},
            request_checksum_calculation='when_required',
            response_checksum_validation='when_required'))


def keys(swift, bucket) -> list[str]:
    """Keys in ``bucket`` ([] when there is no such bucket)."""
    client = s3_client(swift)
    try:
        r = client.list_objects_v2(Bucket=bucket)
    except client.exceptions.NoSuchBucket:
        return []
    return [o['Key'] for o in r.get('Contents', [])]


def uploads(swift, bucket) -> list[str]:
    r = s3_client(swift).list_multipart_uploads(Bucket=bucket)
    return [u['Key'] for u in r.get('Uploads', [])]


@pytest.fixture
def bucket():
    return 'glance-%s' % uuid.uuid4().hex[:8]


@pytest.fixture
def store(tmp_path, swift, bucket):
    saved = backend._REGISTRY
    yield _registry(tmp_path, swift, bucket).get('s3')
    backend._REGISTRY = saved


def _read(store, uri, **kw) -> bytes:
    chunks, size = store.get(loc_mod.parse(uri, 's3'), **kw)
    data = b''.join(chunks)
    assert len(data) == size
    return data


def test_loaded_by_stevedore(store, swift, bucket):
    assert store.TYPE == 's3'
    assert store.properties() == {'host': swift.url, 'bucket': bucket,
                                  'large_object_size': 6 * MiB,
                                  'large_object_chunk_size': 5 * MiB}


@pytest.mark.parametrize('known', [True, False])
def test_add_get_size_delete_small(store, swift, bucket, known):
    data = _data(300_000)
    uri, written, meta = store.add('img-small', _chunks(data),
                                   len(data) if known else None)
    assert uri == 's3://127.0.0.1:%d/%s/img-small' % (swift.ports['proxy'],
                                                      bucket)
    assert written == len(data) and meta == {}
    assert keys(swift, bucket) == ['img-small']
    # s3api keeps the object in the Swift container named like the bucket
    assert swift.listing(bucket) == ['img-small']
    assert _read(store, uri) == data
    assert store.get_size(loc_mod.parse(uri, 's3')) == len(data)
    store.delete(loc_mod.parse(uri, 's3'))
    assert keys(swift, bucket) == []
    with pytest.raises(exceptions.NotFound):
        store.delete(loc_mod.parse(uri, 's3'))
    with pytest.raises(exceptions.NotFound):
        store.get(loc_mod.parse(uri, 's3'))


@pytest.mark.parametrize('known', [True, False])
def test_multipart_above_the_threshold(store, swift, bucket, known):
    data = _data(12 * MiB + 777)
    uri, written, _ = store.add('img-large', _chunks(data),
                                len(data) if known else None)
    assert written == len(data)
    assert keys(swift, bucket) == ['img-large']
    # three parts, kept by s3api as segments
    assert len(swift.listing(bucket + '+segments')) == 3
    assert uploads(swift, bucket) == []
    assert _read(store, uri) == data
    assert _read(store, uri, offset=5 * MiB - 5, length=10) == \
        data[5 * MiB - 5:5 * MiB + 5]
    store.delete(loc_mod.parse(uri, 's3'))
    assert keys(swift, bucket) == []
    assert swift.listing(bucket + '+segments') == []


@pytest.mark.parametrize('offset, length', [(0, 10), (100, 1000),
                                            (299_990, None), (3, 0)])
def test_range_reads(store, offset, length):
    data = _data(300_000)
    uri, _, _ = store.add('img-range', _chunks(data), len(data))
    end = None if length is None else offset + length
    assert _read(store, uri, offset=offset, length=length) == \
        data[offset:end]


def test_duplicate_is_refused(store):
    store.add('img-dup', iter([b'x']), 1)
    with pytest.raises(exceptions.Duplicate):
        store.add('img-dup', iter([b'y']), 1)


def test_discard_removes_what_a_killed_write_left(store):
    """What a write whose process died left (here: data no image records)
    goes, so a new attempt is not refused as a duplicate."""
    image_id = str(uuid.uuid4())
    store.add(image_id, iter([b'partial']), 7)
    assert len(store.discard(image_id)) >= 1
    store.add(image_id, iter([b'again']), 5)
    assert store.discard(str(uuid.uuid4())) == []


class ClientGone(Exception):
    pass


def _failing(data: bytes, after: int):
    sent = 0
    for chunk in _chunks(data):
        if sent >= after:
            raise ClientGone()
        sent += len(chunk)
        yield chunk


@pytest.mark.parametrize('size, after', [(None, 11 * MiB),
                                         (16 * MiB, 11 * MiB),
                                         (None, 100_000)])
def test_failed_upload_leaves_nothing(store, swift, bucket, size, after):
    data = _data(16 * MiB)
    with pytest.raises(ClientGone):
        store.add('img-fail', _failing(data, after), size)
    assert keys(swift, bucket) == []
    assert uploads(swift, bucket) == []
    assert swift.listing(bucket + '+segments') == []
    uri, written, _ = store.add('img-fail', iter([b'abc']), 3)
    assert written == 3


def test_missing_bucket_without_create_is_an_error(tmp_path, swift):
    saved = backend._REGISTRY
    try:
        store = _registry(tmp_path, swift,
                          'absent-%s' % uuid.uuid4().hex[:6],
                          s3_store_create_bucket_on_put='False').get('s3')
        with pytest.raises(exceptions.BadStoreConfiguration):
            store.add('x', iter([b'x']), 1)
    finally:
        backend._REGISTRY = saved


def test_wrong_secret_is_a_backend_error(tmp_path, swift, bucket):
    saved = backend._REGISTRY
    try:
        store = _registry(tmp_path, swift, bucket,
                          s3_store_secret_key='wrong').get('s3')
        with pytest.raises(exceptions.BackendException):
            store.add('x', iter([b'x']), 1)
    finally:
        backend._REGISTRY = saved


def test_missing_options_are_refused(tmp_path, swift):
    saved = backend._REGISTRY
    try:
        with pytest.raises(exceptions.BadStoreConfiguration):
            _registry(tmp_path, swift, '')
    finally:
        backend._REGISTRY = saved
