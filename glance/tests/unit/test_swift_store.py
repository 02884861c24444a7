"""The swift store against a real one-node Swift on loopback."""
from __future__ import annotations

import os
import uuid

from oslo_config import cfg
import pytest

from glance.store import backend, exceptions
from glance.store import location as loc_mod
from glance.tests import swift_fixture

MiB = 1024 * 1024


def _data(n: int) -> bytes:
    """n bytes where every 256-byte run differs from its neighbours."""
    block = os.urandom(4096)
    return (block * (n // len(block) + 1))[:n]


def _chunks(data: bytes, size: int = 64 * 1024):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def _registry(tmp_path, swift, container, **extra):
    lines = ['[DEFAULT]', 'enabled_backends = fast:file, obj:swift',
             '[glance_store]', 'default_backend = obj',
             '[fast]', 'filesystem_store_datadir = %s' % (tmp_path / 'fast'),
             '[obj]', 'swift_store_auth_address = %s' % swift.auth_url,
             'swift_store_user = test:tester', 'swift_store_key = testing',
             'swift_store_auth_version = 1',
             'swift_store_container = %s' % container,
             'swift_store_create_container_on_put = True',
             'swift_store_large_object_size = 2',
             'swift_store_large_object_chunk_size = 1']
    lines += ['%s = %s' % kv for kv in extra.items()]
    path = tmp_path / 'glance-api.conf'
    path.write_text('\n'.join(lines) + '\n')
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], project='glance-store-test',
         default_config_files=[])
    return backend.create_stores(conf)


@pytest.fixture
def container():
    return 'glance-%s' % uuid.uuid4().hex[:8]


@pytest.fixture
def registry(tmp_path, swift, container):
    saved = backend._REGISTRY
    yield _registry(tmp_path, swift, container)
    backend._REGISTRY = saved


@pytest.fixture
def store(registry):
    return registry.get('obj')


def _read(store, uri, **kw) -> bytes:
    chunks, size = store.get(loc_mod.parse(uri, 'obj'), **kw)
    data = b''.join(chunks)
    assert len(data) == size
    return data


def test_loaded_by_stevedore(registry, store, container):
    assert store.TYPE == 'swift'
    assert 'obj' in registry.user_stores()
    assert store.properties() == {'container': container,
                                  'large_object_size': 2 * MiB,
                                  'large_object_chunk_size': MiB}


def test_add_get_size_delete_small(store, swift, container):
    data = _data(300_000)
    uri, written, meta = store.add('img-small', _chunks(data), len(data))
    assert uri == 'swift+config://obj/%s/img-small' % container
    assert 'testing' not in uri          # no credentials in the location
    assert written == len(data) and meta == {}
    assert swift.listing(container) == ['img-small']
    assert swift.listing(container + '_segments') == []
    assert _read(store, uri) == data
    assert store.get_size(loc_mod.parse(uri, 'obj')) == len(data)
    store.delete(loc_mod.parse(uri, 'obj'))
    assert swift.listing(container) == []
    with pytest.raises(exceptions.NotFound):
        store.delete(loc_mod.parse(uri, 'obj'))
    with pytest.raises(exceptions.NotFound):
        store.get(loc_mod.parse(uri, 'obj'))


@pytest.mark.parametrize('size', [None, 3 * MiB + 12345, 2 * MiB + 1])
def test_large_object_in_segments(store, swift, container, size):
    data = _data(size or 2 * MiB + 500_000)
    uri, written, _ = store.add('img-large', _chunks(data, 100_000), size)
    assert written == len(data)
    segments = swift.listing(container + '_segments')
    expected = -(-len(data) // MiB)
    assert segments == ['img-large/%05d' % n
                        for n in range(1, expected + 1)]
    assert swift.listing(container) == ['img-large']
    assert _read(store, uri) == data
    assert store.get_size(loc_mod.parse(uri, 'obj')) == len(data)
    # a range across a segment boundary
    assert _read(store, uri, offset=MiB - 10, length=30) == \
        data[MiB - 10:MiB + 20]
    store.delete(loc_mod.parse(uri, 'obj'))
    assert swift.listing(container) == []
    assert swift.listing(container + '_segments') == []


def test_unknown_size_exactly_one_segment(store, swift, container):
    data = _data(MiB)
    uri, written, _ = store.add('img-one', _chunks(data), None)
    assert written == MiB
    assert swift.listing(container + '_segments') == ['img-one/00001']
    assert _read(store, uri) == data


def test_empty_image_of_unknown_size(store, swift, container):
    uri, written, _ = store.add('img-empty', iter([]), None)
    assert written == 0
    assert _read(store, uri) == b''
    assert swift.listing(container + '_segments') == []


@pytest.mark.parametrize('offset, length', [(0, 10), (100, 1000),
                                            (299_990, None), (5, 0)])
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
    for chunk in _chunks(data, 100_000):
        if sent >= after:
            raise ClientGone()
        sent += len(chunk)
        yield chunk


@pytest.mark.parametrize('size', [None, 5 * MiB, 500_000])
def test_failed_upload_leaves_nothing(store, swift, container, size):
    data = _data(5 * MiB)
    after = 2 * MiB + 300_000 if size != 500_000 else 300_000
    with pytest.raises(ClientGone):
        store.add('img-fail', _failing(data, after), size)
    assert swift.listing(container) == []
    assert swift.listing(container + '_segments') == []
    # and the id is free again
    uri, written, _ = store.add('img-fail', _chunks(data[:1000]), 1000)
    assert written == 1000


def test_missing_container_without_create_is_an_error(tmp_path, swift):
    saved = backend._REGISTRY
    try:
        registry = _registry(
            tmp_path, swift, 'absent-%s' % uuid.uuid4().hex[:6],
            swift_store_create_container_on_put='False')
        with pytest.raises(exceptions.BadStoreConfiguration):
            registry.get('obj').add('x', iter([b'x']), 1)
    finally:
        backend._REGISTRY = saved


def test_wrong_key_is_a_backend_error(tmp_path, swift, container):
    saved = backend._REGISTRY
    try:
        registry = _registry(tmp_path, swift, container,
                             swift_store_key='wrong')
        with pytest.raises(exceptions.BackendException):
            registry.get('obj').add('x', iter([b'x']), 1)
    finally:
        backend._REGISTRY = saved


class _Context:
    """What the store reads of a request context."""

    def __init__(self, token, project, catalog=None):
        self.auth_token, self.project_id = token, project
        self.service_catalog = catalog


def _catalog(url: str, region: str = 'RegionOne') -> list:
    """An object-store entry as keystonemiddleware passes it (v2 form)."""
    return [{'type': 'image', 'endpoints': [{'region': region,
                                             'publicURL': 'http://x/'}]},
            {'type': 'object-store', 'name': 'swift', 'endpoints': [
                {'region': 'Elsewhere', 'publicURL': 'http://nowhere/v1'},
                {'region': region, 'publicURL': url,
                 'internalURL': url + '-internal'}]}]


@pytest.fixture
def tenant_store(tmp_path, swift, container):
    saved = backend._REGISTRY
    registry = _registry(tmp_path, swift, container,
                         swift_store_multi_tenant='True',
                         swift_store_region='RegionOne',
                         swift_store_auth_address='',
                         swift_store_large_object_size='1')
    yield registry.get('obj')
    backend._REGISTRY = saved


def test_multi_tenant_image_in_the_callers_account(tenant_store, swift,
                                                   container):
    url, token = swift.token(*swift_fixture.TESTER)
    ctx = _Context(token, 'test', _catalog(url))
    assert tenant_store.properties()['multi_tenant'] is True
    small, large = _data(1000), _data(MiB + 5000)
    uris = {}
    for name, data in (('mt-small', small), ('mt-large', large)):
        uri, written, _ = tenant_store.add(name, _chunks(data), None
                                           if name == 'mt-large'
                                           else len(data), context=ctx)
        assert written == len(data)
        assert uri == 'swift+%s/%s_%s/%s' % (url, container, name, name)
        uris[name] = uri
        loc = loc_mod.parse(uri, 'obj')
        chunks, size = tenant_store.get(loc, context=ctx)
        assert b''.join(chunks) == data and size == len(data)
        assert tenant_store.get_size(loc, context=ctx) == len(data)
    # one container per image, the segments of a large image inside it
    assert '%s_mt-small' % container in swift.containers()
    assert swift.listing('%s_mt-large' % container) == [
        'mt-large', 'mt-large/00001', 'mt-large/00002']
    assert container not in swift.containers()          # no shared one
    # nobody else reads it: no token, another account's token
    loc = loc_mod.parse(uris['mt-small'], 'obj')
    with pytest.raises(exceptions.Forbidden):
        tenant_store.get(loc, context=None)
    _, other = swift.token('test2:tester2', 'testing2')
    other_ctx = _Context(other, 'test2', _catalog(url.replace('AUTH_test',
                                                              'AUTH_test2')))
    with pytest.raises(exceptions.Forbidden):
        tenant_store.get(loc, context=other_ctx)
    # a token goes only to the Swift of the caller's catalog
    elsewhere = loc_mod.parse(uris['mt-small'].replace(
        '127.0.0.1:%d' % swift.ports['proxy'], '127.0.0.1:9'), 'obj')
    with pytest.raises(exceptions.BadStoreUri, match='not on the Swift'):
        tenant_store.get(elsewhere, context=ctx)
    # ... until the container's ACL lets everyone read
    tenant_store.set_acls(loc, public=True, context=ctx)
    chunks, _ = tenant_store.get(loc, context=other_ctx)
    assert b''.join(chunks) == small
    for uri in uris.values():
        tenant_store.delete(loc_mod.parse(uri, 'obj'), context=ctx)
    assert not [c for c in swift.containers() if c.startswith(container)]
    with pytest.raises(exceptions.NotFound):
        tenant_store.delete(loc, context=ctx)


def test_multi_tenant_needs_a_catalog_entry_or_the_endpoint(
        tenant_store, tmp_path, swift, container):
    url, token = swift.token(*swift_fixture.TESTER)
    with pytest.raises(exceptions.BackendException, match='object-store'):
        tenant_store.add('mt-x', iter([b'x']), 1, context=_Context(
            token, 'test', _catalog(url, region='Other')))
    with pytest.raises(exceptions.Forbidden):
        tenant_store.add('mt-x', iter([b'x']), 1, context=None)
    saved = backend._REGISTRY
    try:
        store = _registry(
            tmp_path, swift, container, swift_store_multi_tenant='True',
            swift_store_endpoint=url.replace('AUTH_test',
                                             'AUTH_$(project_id)s'),
        ).get('obj')
        uri, _, _ = store.add('mt-y', iter([b'y']), 1,
                              context=_Context(token, 'test'))
        assert uri.startswith('swift+%s/' % url)
        store.delete(loc_mod.parse(uri, 'obj'), context=_Context(token,
                                                                 'test'))
    finally:
        backend._REGISTRY = saved


def test_config_file_reference_and_uri_with_credentials(tmp_path, swift,
                                                        container):
    refs = tmp_path / 'glance-swift.conf'
    refs.write_text('[store1]\nauth_address = %s\nuser = test:tester\n'
                    'key = testing\nauth_version = 1\n' % swift.auth_url)
    saved = backend._REGISTRY
    try:
        registry = _registry(tmp_path, swift, container,
                             swift_store_config_file=str(refs),
                             default_swift_reference='store1')
        store = registry.get('obj')
        uri, _, _ = store.add('img-ref', iter([b'abc']), 3)
        assert uri == 'swift+config://store1/%s/img-ref' % container
        assert _read(store, uri) == b'abc'
        # a location of another deployment, carrying its credentials
        legacy = 'swift+http://test%%3Atester:testing@127.0.0.1:%d/auth/' \
            'v1.0/%s/img-ref' % (swift.ports['proxy'], container)
        found, location = registry.for_uri(legacy)
        assert found is store
        assert _read(store, legacy) == b'abc'
        with pytest.raises(exceptions.BadStoreUri):
            store.get(loc_mod.parse('swift+config://nope/%s/img-ref'
                                    % container))
    finally:
        backend._REGISTRY = saved


class CuttingForwarder:
    """A loopback TCP forwarder to the Swift proxy that, while armed, cuts
    each connection once it has sent ``after`` bytes back to the client:
    a download that breaks off part-way."""

    def __init__(self, port: int, after: int):
        import socket
        import threading
        self.target = port
        self.after = after
        self.cuts_left = 0
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.threading = threading
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(('127.0.0.1', self.target))
            for src, dst, down in ((client, upstream, False),
                                   (upstream, client, True)):
                self.threading.Thread(target=self._pump,
                                      args=(src, dst, down, client,
                                            upstream), daemon=True).start()

    def _pump(self, src, dst, down, client, upstream) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if down and self.cuts_left > 0 and \
                        sent + len(data) > self.after:
                    self.cuts_left -= 1
                    dst.sendall(data[:self.after - sent])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        import socket
        for s in (client, upstream):
            try:
                # shutdown, not just close: it wakes the other pump's recv
                # and the client sees the connection end at once
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize('retries', [0, 2])
def test_broken_download_is_resumed(tmp_path, swift, container, retries):
    forwarder = CuttingForwarder(swift.ports['proxy'], after=300_000)
    account = swift.token(*('test:tester', 'testing'))[0].rsplit('/', 1)[1]
    saved = backend._REGISTRY
    try:
        store = _registry(
            tmp_path, swift, container,
            swift_store_endpoint='http://127.0.0.1:%d/v1/%s'
            % (forwarder.port, account),
            swift_store_retry_get_count=str(retries)).get('obj')
        data = _data(1_500_000)
        uri, _, _ = store.add('img-cut', _chunks(data), len(data))
        forwarder.cuts_left = 2 if retries else 1
        chunks, size = store.get(loc_mod.parse(uri, 'obj'))
        assert size == len(data)
        if retries:
            assert b''.join(chunks) == data
        else:
            with pytest.raises(exceptions.BackendException):
                b''.join(chunks)
    finally:
        backend._REGISTRY = saved
        forwarder.close()


def test_legacy_class_path_names_load_the_drivers():
    from glance.store._drivers import s3 as s3_driver
    from glance.store._drivers import swift as swift_driver
    assert backend._driver_class('glance.store.swift.Store') is \
        swift_driver.Store
    assert backend._driver_class('swift') is swift_driver.Store
    assert backend._driver_class('glance.store.s3.Store') is s3_driver.Store
    assert backend._driver_class('s3') is s3_driver.Store


def test_single_store_configuration(tmp_path, swift, container):
    path = tmp_path / 'glance-api.conf'
    path.write_text('[glance_store]\nstores = file, swift\n'
                    'default_store = swift\n'
                    'filesystem_store_datadir = %s\n'
                    'swift_store_auth_address = %s\n'
                    'swift_store_user = test:tester\n'
                    'swift_store_key = testing\n'
                    'swift_store_container = %s\n'
                    'swift_store_create_container_on_put = True\n'
                    % (tmp_path / 'images', swift.auth_url, container))
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], project='glance-store-test',
         default_config_files=[])
    saved = backend._REGISTRY
    try:
        backend.create_stores(conf)
        uri, size, meta = backend.add_to_backend(None, 'img-single',
                                                 iter([b'one', b'two']), 6)
        assert uri == 'swift+config://swift/%s/img-single' % container
        assert meta == {} and size == 6
        chunks, n = backend.get_from_backend(uri)
        assert b''.join(chunks) == b'onetwo' and n == 6
        assert backend.get_size_from_backend(uri) == 6
        backend.delete_from_backend(uri)
        assert swift.listing(container) == []
    finally:
        backend._REGISTRY = saved
