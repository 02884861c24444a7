"""The rbd store against the session's one-node Ceph on loopback.

Every check of what was stored looks in the cluster directly (librbd), not
through the store.
"""
from __future__ import annotations

import os
import sys
import uuid

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


def _registry(tmp_path, ceph, **extra):
    options = {'rbd_store_ceph_conf': ceph.conf, 'rbd_store_user': 'glance',
               'rbd_store_pool': 'images', 'rbd_store_chunk_size': '1',
               'rados_connect_timeout': '10'}
    options.update(extra)
    lines = ['[DEFAULT]', 'enabled_backends = fast:file, ceph:rbd',
             '[glance_store]', 'default_backend = ceph',
             '[fast]', 'filesystem_store_datadir = %s' % (tmp_path / 'fast'),
             '[ceph]'] + ['%s = %s' % kv for kv in options.items()]
    path = tmp_path / 'glance-api.conf'
    path.write_text('\n'.join(lines) + '\n')
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], project='glance-store-test',
         default_config_files=[])
    return backend.create_stores(conf)


@pytest.fixture
def make_store(tmp_path, ceph):
    saved = backend._REGISTRY

    def make(**extra):
        return _registry(tmp_path, ceph, **extra).get('ceph')
    yield make
    backend._REGISTRY = saved


@pytest.fixture
def store(make_store):
    return make_store()


@pytest.fixture
def image_id():
    return str(uuid.uuid4())


def _loc(uri: str) -> loc_mod.Location:
    return loc_mod.parse(uri, 'ceph')


def _read(store, uri, **kw) -> bytes:
    chunks, size = store.get(_loc(uri), **kw)
    data = b''.join(chunks)
    assert len(data) == size
    return data


def _size_in_ceph(ceph, name: str) -> int:
    import rbd
    cluster = ceph.connect()
    try:
        with cluster.open_ioctx('images') as ioctx:
            with rbd.Image(ioctx, name, read_only=True) as image:
                return image.size()
    finally:
        cluster.shutdown()


def test_loaded_by_stevedore(store):
    assert store.TYPE == 'rbd'
    assert store.properties() == {'pool': 'images', 'chunk_size': MiB,
                                  'thin_provisioning': False}


@pytest.mark.parametrize('known', [True, False])
@pytest.mark.parametrize('length', [300_000, 2 * MiB + 12_345])
def test_add_get_size_delete(store, ceph, image_id, known, length):
    data = _data(length)
    uri, written, meta = store.add(image_id, _chunks(data),
                                   len(data) if known else None)
    assert uri == 'rbd://%s/images/%s/snap' % (ceph.fsid, image_id)
    assert written == len(data) and meta == {}
    assert image_id in ceph.images()
    # exactly the data's length, whether the size was known or grown to
    assert _size_in_ceph(ceph, image_id) == len(data)
    assert ceph.snapshots(image_id) == [('snap', True)]
    assert _read(store, uri) == data
    assert store.get_size(_loc(uri)) == len(data)
    store.delete(_loc(uri))
    assert image_id not in ceph.images()
    with pytest.raises(exceptions.NotFound):
        store.delete(_loc(uri))
    with pytest.raises(exceptions.NotFound):
        store.get(_loc(uri))
    with pytest.raises(exceptions.NotFound):
        store.get_size(_loc(uri))


def test_size_zero_given_is_grown(store, ceph, image_id):
    data = _data(MiB + 1)
    uri, written, _ = store.add(image_id, _chunks(data), 0)
    assert written == len(data) == _size_in_ceph(ceph, image_id)
    assert _read(store, uri) == data


def test_empty_image(store, ceph, image_id):
    uri, written, _ = store.add(image_id, iter([]), None)
    assert written == 0 and _read(store, uri) == b''
    store.delete(_loc(uri))


@pytest.mark.parametrize('offset, length', [(0, 10), (100, 1000),
                                            (MiB - 5, 10),
                                            (2 * MiB - 10, None), (3, 0),
                                            (5 * MiB, None)])
def test_range_reads(store, image_id, offset, length):
    data = _data(2 * MiB)
    uri, _, _ = store.add(image_id, _chunks(data), len(data))
    end = None if length is None else offset + length
    assert _read(store, uri, offset=offset, length=length) == \
        data[offset:end]
    # in small pieces too, as a WSGI server would send them
    chunks, _ = store.get(_loc(uri), offset=offset, length=length,
                          chunk_size=4096)
    assert all(len(c) <= 4096 for c in chunks)


def test_closing_a_download_early_releases_the_image(store, ceph, image_id):
    data = _data(3 * MiB)
    uri, _, _ = store.add(image_id, _chunks(data), len(data))
    chunks, _ = store.get(_loc(uri))
    assert next(iter(chunks)) == data[:MiB]
    chunks.close()
    store.delete(_loc(uri))        # nothing holds it any more
    assert image_id not in ceph.images()


def test_discard_removes_what_a_killed_write_left(store, ceph, image_id):
    """An image (with its snapshot) a write whose process died left goes,
    so a new attempt is not refused as a duplicate."""
    store.add(image_id, iter([b'partial']), 7)
    assert len(store.discard(image_id)) >= 1
    assert image_id not in ceph.images()
    store.add(image_id, iter([b'again']), 5)


def test_duplicate_is_refused(store, ceph, image_id):
    uri, _, _ = store.add(image_id, iter([b'x']), 1)
    with pytest.raises(exceptions.Duplicate):
        store.add(image_id, iter([b'y']), 1)
    assert _read(store, uri) == b'x'       # the first one is untouched


class ClientGone(Exception):
    pass


def _failing(data: bytes, after: int):
    sent = 0
    for chunk in _chunks(data):
        if sent >= after:
            raise ClientGone()
        sent += len(chunk)
        yield chunk


@pytest.mark.parametrize('size, after', [(None, 2 * MiB + 1),
                                         (4 * MiB, 3 * MiB),
                                         (None, 100_000), (4 * MiB, 0)])
def test_failed_upload_leaves_nothing(store, ceph, image_id, size, after):
    data = _data(4 * MiB)
    with pytest.raises(ClientGone):
        store.add(image_id, _failing(data, after), size)
    assert image_id not in ceph.images()
    uri, written, _ = store.add(image_id, iter([b'abc']), 3)
    assert written == 3 and _read(store, uri) == b'abc'


def test_thin_provisioning_leaves_zero_chunks_unwritten(make_store, ceph,
                                                        image_id):
    store = make_store(rbd_thin_provisioning='True')
    data = _data(MiB) + bytes(2 * MiB) + _data(MiB)
    uri, written, _ = store.add(image_id, _chunks(data), None)
    assert written == len(data) and _read(store, uri) == data
    import rbd
    extents = []
    cluster = ceph.connect()
    try:
        with cluster.open_ioctx('images') as ioctx:
            with rbd.Image(ioctx, image_id, read_only=True) as image:
                image.diff_iterate(0, len(data), None,
                                   lambda off, n, exists: extents.append(
                                       (off, n, exists)))
    finally:
        cluster.shutdown()
    written_at = sorted(off for off, _n, exists in extents if exists)
    assert written_at == [0, 3 * MiB]


def _clone(ceph, name: str, child: str) -> None:
    import rbd
    cluster = ceph.connect()
    try:
        with cluster.open_ioctx('images') as ioctx:
            rbd.RBD().clone(ioctx, name, 'snap', ioctx, child)
    finally:
        cluster.shutdown()


def _remove(ceph, name: str) -> None:
    import rbd
    cluster = ceph.connect()
    try:
        with cluster.open_ioctx('images') as ioctx:
            rbd.RBD().remove(ioctx, name)
    finally:
        cluster.shutdown()


def test_delete_refused_while_a_clone_uses_the_snapshot(store, ceph,
                                                        image_id):
    uri, _, _ = store.add(image_id, _chunks(_data(MiB)), MiB)
    child = 'disk-%s' % image_id       # as Nova makes an instance disk
    _clone(ceph, image_id, child)
    with pytest.raises(exceptions.InUseByStore):
        store.check_deletable(_loc(uri))
    with pytest.raises(exceptions.InUseByStore) as err:
        store.delete(_loc(uri))
    assert image_id in str(err.value)
    # nothing was taken away: the snapshot is still there and protected
    assert image_id in ceph.images()
    assert ceph.snapshots(image_id) == [('snap', True)]
    _remove(ceph, child)
    store.check_deletable(_loc(uri))
    store.delete(_loc(uri))
    assert image_id not in ceph.images()


def test_delete_refused_while_the_image_is_open_elsewhere(store, ceph,
                                                          image_id):
    import rbd
    uri, _, _ = store.add(image_id, iter([b'data']), 4)
    cluster = ceph.connect()
    try:
        with cluster.open_ioctx('images') as ioctx:
            with rbd.Image(ioctx, image_id):       # a client holds it
                with pytest.raises(exceptions.InUseByStore):
                    store.check_deletable(_loc(uri))
                with pytest.raises(exceptions.InUseByStore):
                    store.delete(_loc(uri))
                assert ceph.snapshots(image_id) == [('snap', True)]
    finally:
        cluster.shutdown()
    store.check_deletable(_loc(uri))
    store.delete(_loc(uri))
    assert image_id not in ceph.images()
    store.check_deletable(_loc(uri))        # gone: nothing in the way


def test_old_location_form_is_read_and_deleted(store, ceph, image_id):
    """``rbd://<image>``: no snapshot, in the configured pool."""
    import rbd
    cluster = ceph.connect()
    try:
        with cluster.open_ioctx('images') as ioctx:
            rbd.RBD().create(ioctx, image_id, 5, old_format=False)
            with rbd.Image(ioctx, image_id) as image:
                image.write(b'older', 0)
    finally:
        cluster.shutdown()
    uri = 'rbd://%s' % image_id
    assert _read(store, uri) == b'older'
    assert store.get_size(_loc(uri)) == 5
    assert store.owns(_loc(uri))
    store.delete(_loc(uri))
    assert image_id not in ceph.images()


@pytest.mark.parametrize('uri', ['rbd://', 'rbd://a/b', 'rbd://a/b/c',
                                 'rbd://a/b/c/d/e', 'rbd://a//c/d'])
def test_malformed_locations(store, uri):
    with pytest.raises(exceptions.BadStoreUri):
        store.get(_loc(uri))


def test_owns_only_this_clusters_locations(store, ceph):
    assert store.owns(_loc('rbd://%s/images/x/snap' % ceph.fsid))
    assert not store.owns(_loc('rbd://%s/images/x/snap' % uuid.uuid4()))
    assert not store.owns(_loc('file:///etc/passwd'))


def test_missing_pool_is_a_backend_error(make_store, image_id):
    store = make_store(rbd_store_pool='absent')
    with pytest.raises(exceptions.BackendException) as err:
        store.add(image_id, iter([b'x']), 1)
    assert 'absent' in str(err.value)


def test_user_without_caps_on_the_pool_cannot_write(make_store, ceph,
                                                    image_id):
    ceph.command({'prefix': 'osd pool create', 'pool': 'other',
                  'pg_num': 8, 'pgp_num': 8})
    store = make_store(rbd_store_pool='other')
    with pytest.raises(exceptions.StorageWriteDenied):
        store.add(image_id, iter([b'x']), 1)
    assert image_id not in ceph.images('other')


def test_unreachable_cluster_is_a_backend_error(make_store, tmp_path,
                                                ceph, image_id):
    conf = tmp_path / 'elsewhere.conf'
    text = open(ceph.conf).read().replace(
        'mon_host = v1:127.0.0.1:%d' % ceph.port, 'mon_host = v1:127.0.0.1:'
        '%d' % _closed_port())
    conf.write_text(text)
    store = make_store(rbd_store_ceph_conf=str(conf),
                       rados_connect_timeout='1')
    with pytest.raises(exceptions.BackendException):
        store.add(image_id, iter([b'x']), 1)


def _closed_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_errors_map_to_store_exceptions(store):
    import rados
    import rbd
    assert isinstance(store._error(rbd.NoSpace('full'), 'x'),
                      exceptions.StorageFull)
    assert isinstance(store._error(rbd.DiskQuotaExceeded('quota'), 'x'),
                      exceptions.StorageFull)
    assert isinstance(store._error(rados.NoSpace('full'), 'x'),
                      exceptions.StorageFull)
    assert isinstance(store._error(rbd.ImageBusy('busy'), 'x'),
                      exceptions.InUseByStore)
    assert isinstance(store._error(rbd.ImageNotFound('gone'), 'x'),
                      exceptions.NotFound)


def test_chunk_size_must_be_a_power_of_two(make_store):
    with pytest.raises(exceptions.BadStoreConfiguration):
        make_store(rbd_store_chunk_size='3')


def test_missing_bindings_refuse_to_configure(make_store, monkeypatch):
    monkeypatch.setitem(sys.modules, 'rbd', None)     # import fails
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        make_store()
    assert 'python3-rbd' in str(err.value)


def test_single_store_options_in_glance_store_section(tmp_path, ceph,
                                                      image_id):
    path = tmp_path / 'single.conf'
    path.write_text('\n'.join([
        '[glance_store]', 'stores = file, rbd', 'default_store = rbd',
        'filesystem_store_datadir = %s' % (tmp_path / 'files'),
        'rbd_store_ceph_conf = %s' % ceph.conf, 'rbd_store_user = glance',
        'rbd_store_chunk_size = 4']) + '\n')
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], project='glance-store-test',
         default_config_files=[])
    saved = backend._REGISTRY
    try:
        registry = backend.create_stores(conf)
        assert not registry.multi and registry.default == 'rbd'
        uri, written, meta = backend.add_to_backend(None, image_id,
                                                    iter([b'one store']), 9)
        assert meta == {} and registry.get('rbd').order == 22
        data, size = backend.get_from_backend(uri)
        assert b''.join(data) == b'one store' and size == 9
        backend.delete_from_backend(uri)
        assert image_id not in ceph.images()
    finally:
        backend._REGISTRY = saved


def test_missing_ceph_conf_is_a_configuration_error(make_store, tmp_path,
                                                    image_id):
    store = make_store(rbd_store_ceph_conf=str(tmp_path / 'absent.conf'))
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        store.add(image_id, iter([b'x']), 1)
    assert 'absent.conf' in str(err.value)
