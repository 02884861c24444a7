"""glance_store: the filesystem driver, driver loading and the store registry.

Drivers run on real temporary directories.  Free space is the one thing a
test cannot arrange on a shared disk, so the directory-choice tests replace
the free-space probe; a really full filesystem is exercised by
glance/tests/functional/test_upload_failures.py on a tiny tmpfs.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
import uuid

from oslo_config import cfg
import pytest

from glance import store as glance_store
from glance.store import backend
from glance.store import exceptions
from glance.store import location as loc_mod
from glance.store._drivers import filesystem


def _conf(tmp_path, text: str = '') -> cfg.ConfigOpts:
    """A private ConfigOpts read from ``text`` (a glance-api.conf excerpt)."""
    path = tmp_path / 'store.conf'
    path.write_text(text)
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], project='glance-store-test',
         default_config_files=[])
    return conf


def _store(tmp_path, **options) -> filesystem.Store:
    """A configured single filesystem store; options are [glance_store]."""
    options.setdefault('filesystem_store_datadir', str(tmp_path / 'images'))
    lines = ['[glance_store]']
    for key, value in options.items():
        values = value if isinstance(value, list) else [value]
        lines += ['%s = %s' % (key, v) for v in values]
    conf = _conf(tmp_path, '\n'.join(lines) + '\n')
    conf.register_opts(filesystem.Store.OPTIONS, group='glance_store')
    store = filesystem.Store(conf, 'file', 'glance_store')
    store.configure()
    return store


def _loc(uri: str) -> loc_mod.Location:
    return loc_mod.parse(uri)


def _chunks(data: bytes, size: int = 1000):
    for i in range(0, len(data), size):
        yield data[i:i + size]


DATA = bytes(range(256)) * 40          # 10240 bytes, every offset distinct


# -- add / get / get_size / delete --------------------------------------------

def test_add_get_size_delete(tmp_path):
    store = _store(tmp_path)
    image_id = str(uuid.uuid4())
    uri, written, meta = store.add(image_id, _chunks(DATA), len(DATA))
    path = str(tmp_path / 'images' / image_id)
    assert uri == 'file://' + path
    assert written == len(DATA)
    assert meta == {}
    with open(path, 'rb') as f:
        assert f.read() == DATA
    data, size = store.get(_loc(uri))
    assert size == len(DATA)
    assert b''.join(data) == DATA
    assert store.get_size(_loc(uri)) == len(DATA)
    store.delete(_loc(uri))
    assert not os.path.exists(path)


@pytest.mark.parametrize('offset, length', [
    (0, 10), (100, 1000), (10230, None), (10230, 100), (5, None),
    (len(DATA), None), (len(DATA) + 50, 10)])
def test_get_offset_and_length(tmp_path, offset, length):
    store = _store(tmp_path, filesystem_store_chunk_size=333)
    uri, _, _ = store.add(str(uuid.uuid4()), _chunks(DATA), None)
    data, size = store.get(_loc(uri), offset=offset, length=length)
    want = DATA[offset:None if length is None else offset + length]
    chunks = list(data)
    assert b''.join(chunks) == want
    assert size == len(want)
    assert all(len(c) <= 333 for c in chunks)


def test_get_with_explicit_chunk_size(tmp_path):
    store = _store(tmp_path)
    uri, _, _ = store.add(str(uuid.uuid4()), [DATA], None)
    data, _ = store.get(_loc(uri), chunk_size=4096)
    assert [len(c) for c in data] == [4096, 4096, 2048]


def test_get_survives_a_delete_after_it_opened(tmp_path):
    # A download that has started keeps its bytes even if the image is
    # deleted meanwhile (the open file outlives its directory entry).
    store = _store(tmp_path)
    uri, _, _ = store.add(str(uuid.uuid4()), [DATA], None)
    data, size = store.get(_loc(uri), chunk_size=1000)
    first = next(data)
    store.delete(_loc(uri))
    assert first + b''.join(data) == DATA


def test_abandoned_download_closes_its_file(tmp_path):
    store = _store(tmp_path)
    uri, _, _ = store.add(str(uuid.uuid4()), [DATA], None)
    data, _ = store.get(_loc(uri), chunk_size=1000)
    next(data)
    data.close()
    assert data._file.closed
    assert list(data) == []


def test_zero_byte_image(tmp_path):
    store = _store(tmp_path)
    uri, written, _ = store.add(str(uuid.uuid4()), iter([]), 0)
    assert written == 0
    data, size = store.get(_loc(uri))
    assert size == 0 and list(data) == []
    assert store.get_size(_loc(uri)) == 0


def test_duplicate_keeps_the_existing_data(tmp_path):
    store = _store(tmp_path)
    image_id = str(uuid.uuid4())
    uri, _, _ = store.add(image_id, [b'first'], 5)
    with pytest.raises(exceptions.Duplicate):
        store.add(image_id, [b'second'], 6)
    assert b''.join(store.get(_loc(uri))[0]) == b'first'


def test_not_found(tmp_path):
    store = _store(tmp_path)
    missing = _loc('file://%s' % (tmp_path / 'images' / 'nope'))
    with pytest.raises(exceptions.NotFound):
        store.get(missing)
    with pytest.raises(exceptions.NotFound):
        store.get_size(missing)
    with pytest.raises(exceptions.NotFound):
        store.delete(missing)


# -- failed writes leave nothing ----------------------------------------------

class Boom(Exception):
    pass


def test_error_from_the_data_removes_the_partial_file(tmp_path):
    # The iterator is where a client disconnect or a quota shows up.
    store = _store(tmp_path)
    image_id = str(uuid.uuid4())

    def data():
        yield b'x' * 5000
        yield b'y' * 5000
        raise Boom()

    with pytest.raises(Boom):
        store.add(image_id, data(), None)
    assert os.listdir(tmp_path / 'images') == []
    # And the id is free for a retry.
    store.add(image_id, [b'ok'], 2)


def test_os_errors_become_store_errors(tmp_path):
    store = _store(tmp_path)
    for code, kind in [(errno.ENOSPC, exceptions.StorageFull),
                       (errno.EDQUOT, exceptions.StorageFull),
                       (errno.EACCES, exceptions.StorageWriteDenied),
                       (errno.EROFS, exceptions.StorageWriteDenied),
                       (errno.EIO, exceptions.BackendException)]:

        def data():
            yield b'x' * 100
            raise OSError(code, os.strerror(code))

        with pytest.raises(kind):
            store.add(str(uuid.uuid4()), data(), None)
    assert os.listdir(tmp_path / 'images') == []


@pytest.mark.skipif(os.geteuid() == 0, reason='root ignores permissions')
def test_unwritable_directory_is_write_denied(tmp_path):
    store = _store(tmp_path)
    os.chmod(tmp_path / 'images', 0o500)
    try:
        with pytest.raises(exceptions.StorageWriteDenied):
            store.add(str(uuid.uuid4()), [b'x'], 1)
    finally:
        os.chmod(tmp_path / 'images', 0o700)


def test_vanished_directory_is_a_backend_error(tmp_path):
    store = _store(tmp_path)
    os.rmdir(tmp_path / 'images')
    with pytest.raises(exceptions.GlanceStoreException):
        store.add(str(uuid.uuid4()), [b'x'], 1)


def test_known_size_larger_than_free_space_is_refused_up_front(tmp_path):
    store = _store(tmp_path)
    free = filesystem._free_bytes(str(tmp_path / 'images'))
    with pytest.raises(exceptions.StorageFull):
        store.add(str(uuid.uuid4()), [b'x'], free + 1)
    assert os.listdir(tmp_path / 'images') == []


# -- options: permissions, thin provisioning, metadata ------------------------

def test_file_permissions(tmp_path):
    store = _store(tmp_path, filesystem_store_file_perm=640)
    uri, _, _ = store.add(str(uuid.uuid4()), [b'x'], 1)
    mode = stat.S_IMODE(os.stat(_loc(uri).path).st_mode)
    assert mode == 0o640


def test_default_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        store = _store(tmp_path)
        uri, _, _ = store.add(str(uuid.uuid4()), [b'x'], 1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(_loc(uri).path).st_mode) == 0o640


@pytest.mark.parametrize('perm', [999, 680, -1])
def test_bad_file_permissions_refused(tmp_path, perm):
    with pytest.raises(exceptions.BadStoreConfiguration):
        _store(tmp_path, filesystem_store_file_perm=perm)


def test_thin_provisioning_leaves_holes(tmp_path):
    store = _store(tmp_path, filesystem_thin_provisioning=True)
    zeros = bytes(1024 * 1024)
    data = [b'head', zeros, zeros, b'middle', zeros, zeros]
    uri, written, _ = store.add(str(uuid.uuid4()), data, None)
    content = b''.join(data)
    assert written == len(content)
    path = _loc(uri).path
    with open(path, 'rb') as f:
        assert f.read() == content          # trailing hole has its length
    assert os.stat(path).st_blocks * 512 < len(content) // 2


def test_metadata_file_object(tmp_path):
    meta = tmp_path / 'meta.json'
    meta.write_text(json.dumps({'id': 'shared-fs', 'mountpoint': '/x'}))
    store = _store(tmp_path, filesystem_store_metadata_file=str(meta))
    _, _, got = store.add(str(uuid.uuid4()), [b'x'], 1)
    assert got == {'id': 'shared-fs', 'mountpoint': '/x'}


def test_metadata_file_list_matches_the_mountpoint(tmp_path):
    meta = tmp_path / 'meta.json'
    meta.write_text(json.dumps([
        {'id': 'elsewhere', 'mountpoint': '/nonexistent'},
        {'id': 'here', 'mountpoint': str(tmp_path)}]))
    store = _store(tmp_path, filesystem_store_metadata_file=str(meta))
    _, _, got = store.add(str(uuid.uuid4()), [b'x'], 1)
    assert got == {'id': 'here', 'mountpoint': str(tmp_path)}


@pytest.mark.parametrize('content', ['not json', '[{"id": "no-mount"}]',
                                     '"a string"'])
def test_bad_metadata_file_refused(tmp_path, content):
    meta = tmp_path / 'meta.json'
    meta.write_text(content)
    with pytest.raises(exceptions.BadStoreConfiguration):
        _store(tmp_path, filesystem_store_metadata_file=str(meta))


def test_missing_metadata_file_refused(tmp_path):
    with pytest.raises(exceptions.BadStoreConfiguration):
        _store(tmp_path,
               filesystem_store_metadata_file=str(tmp_path / 'none.json'))


@pytest.mark.skipif(os.geteuid() == 0, reason='root ignores permissions')
def test_unwritable_datadir_refused_at_configure(tmp_path):
    (tmp_path / 'images').mkdir()
    os.chmod(tmp_path / 'images', 0o500)
    try:
        with pytest.raises(exceptions.BadStoreConfiguration):
            _store(tmp_path)
    finally:
        os.chmod(tmp_path / 'images', 0o700)


# -- several directories with priorities --------------------------------------

def _datadirs_store(tmp_path, spec: list[str]) -> filesystem.Store:
    return _store(tmp_path, filesystem_store_datadirs=[
        s.replace('@', str(tmp_path) + '/') for s in spec])


def test_datadirs_highest_priority_wins(tmp_path):
    store = _datadirs_store(tmp_path, ['@low:100', '@high:200', '@none'])
    assert sorted(store.datadirs) == sorted([
        (str(tmp_path / 'low'), 100), (str(tmp_path / 'high'), 200),
        (str(tmp_path / 'none'), 0)])
    uri, _, _ = store.add(str(uuid.uuid4()), [b'x'], 1)
    assert _loc(uri).path.startswith(str(tmp_path / 'high') + '/')
    # Every directory is created and readable through the same store.
    assert all(os.path.isdir(tmp_path / d) for d in ('low', 'high', 'none'))
    assert b''.join(store.get(_loc(uri))[0]) == b'x'


def test_datadirs_equal_priority_takes_most_free(tmp_path, monkeypatch):
    store = _datadirs_store(tmp_path, ['@a:5', '@b:5', '@c:1'])
    free = {str(tmp_path / 'a'): 10, str(tmp_path / 'b'): 1000,
            str(tmp_path / 'c'): 10 ** 9}
    monkeypatch.setattr(filesystem, '_free_bytes', free.__getitem__)
    uri, _, _ = store.add(str(uuid.uuid4()), [b'x'], 1)
    assert os.path.dirname(_loc(uri).path) == str(tmp_path / 'b')


def test_datadirs_full_priority_gives_way(tmp_path, monkeypatch):
    store = _datadirs_store(tmp_path, ['@a:5', '@b:5', '@c:1'])
    free = {str(tmp_path / 'a'): 10, str(tmp_path / 'b'): 20,
            str(tmp_path / 'c'): 10 ** 9}
    monkeypatch.setattr(filesystem, '_free_bytes', free.__getitem__)
    uri, _, _ = store.add(str(uuid.uuid4()), [b'x' * 100], 100)
    assert os.path.dirname(_loc(uri).path) == str(tmp_path / 'c')
    # Nothing anywhere can hold it: full.
    with pytest.raises(exceptions.StorageFull):
        store.add(str(uuid.uuid4()), [b'x'], 10 ** 10)


@pytest.mark.parametrize('spec', [['@a:high'], ['@a:1', '@a:2']])
def test_bad_datadirs_refused(tmp_path, spec):
    with pytest.raises(exceptions.BadStoreConfiguration):
        _datadirs_store(tmp_path, spec)


# -- loading drivers and the registry -----------------------------------------

def test_drivers_load_by_entry_point():
    assert backend._driver_class('file') is filesystem.Store
    # The legacy class-path name upstream configurations use.
    assert backend._driver_class('glance.store.filesystem.Store') is \
        filesystem.Store
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        backend._driver_class('nosuchdriver')
    assert 'glance.store.drivers' in str(err.value)


@pytest.fixture
def registry_reset():
    saved = backend._REGISTRY
    yield
    backend._REGISTRY = saved


def test_single_store_registry(tmp_path, registry_reset):
    conf = _conf(tmp_path, '[glance_store]\nstores = file\n'
                 'default_store = file\nfilesystem_store_datadir = %s\n'
                 % (tmp_path / 'images'))
    reg = glance_store.create_stores(conf)
    assert not reg.multi
    assert list(reg.stores) == ['file']
    assert glance_store.list_stores() == ['file']
    image_id = str(uuid.uuid4())
    uri, size, meta = glance_store.add_to_backend(None, image_id, [b'abc'],
                                                  3)
    assert 'store' not in meta
    data, n = glance_store.get_from_backend(uri)
    assert b''.join(data) == b'abc' and n == 3
    assert glance_store.get_size_from_backend(uri) == 3
    glance_store.delete_from_backend(uri)
    with pytest.raises(exceptions.NotFound):
        glance_store.get_from_backend(uri)
    with pytest.raises(exceptions.UnknownScheme):
        glance_store.get_from_backend('swift://x/y')


def test_single_store_unknown_default_refused(tmp_path, registry_reset):
    conf = _conf(tmp_path, '[glance_store]\nstores = file\n'
                 'default_store = swift\nfilesystem_store_datadir = %s\n'
                 % (tmp_path / 'images'))
    with pytest.raises(exceptions.BadStoreConfiguration):
        glance_store.create_stores(conf)


MULTI = '''[DEFAULT]
enabled_backends = fast:file, cheap:file
[glance_store]
default_backend = fast
[fast]
filesystem_store_datadir = {d}/fast
store_description = Fast
[cheap]
filesystem_store_datadir = {d}/cheap
'''
RESERVED = '''[os_glance_staging_store]
filesystem_store_datadir = {d}/staging
[os_glance_tasks_store]
filesystem_store_datadir = {d}/tasks
'''


def test_multi_store_registry_with_reserved_stores(tmp_path,
                                                   registry_reset):
    conf = _conf(tmp_path, (MULTI + RESERVED).format(d=tmp_path))
    reg = glance_store.create_stores(conf)
    assert reg.multi and reg.default == 'fast'
    assert set(reg.stores) == {'fast', 'cheap', 'os_glance_staging_store',
                               'os_glance_tasks_store'}
    # Users see (and may name) only their stores, in configured order.
    assert glance_store.list_stores() == ['fast', 'cheap']
    assert conf.fast.store_description == 'Fast'
    # Each backend writes to its own directory and labels the location.
    uri, _, meta = glance_store.add_to_backend(None, 'img-1', [b'a'], 1)
    assert meta == {'store': 'fast'}
    assert uri == 'file://%s/fast/img-1' % tmp_path
    uri2, _, meta2 = glance_store.add_to_backend('cheap', 'img-1', [b'b'], 1)
    assert meta2 == {'store': 'cheap'}
    assert b''.join(glance_store.get_from_backend(uri2, store_id='cheap')[0]
                    ) == b'b'
    staged, _, meta3 = glance_store.add_to_backend(
        'os_glance_staging_store', 'img-1', [b'c'], 1)
    assert staged == 'file://%s/staging/img-1' % tmp_path
    assert meta3 == {'store': 'os_glance_staging_store'}
    assert glance_store.get_store_from_store_identifier('cheap') is \
        reg.stores['cheap']
    with pytest.raises(exceptions.UnknownStore):
        glance_store.add_to_backend('nowhere', 'img-2', [b'x'], 1)


def test_multi_store_without_reserved_sections(tmp_path, registry_reset):
    conf = _conf(tmp_path, MULTI.format(d=tmp_path))
    reg = glance_store.create_stores(conf)
    assert set(reg.stores) == {'fast', 'cheap'}


def test_multi_store_default_must_be_enabled(tmp_path, registry_reset):
    conf = _conf(tmp_path, MULTI.format(d=tmp_path).replace(
        'default_backend = fast', 'default_backend = slow'))
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        glance_store.create_stores(conf)
    assert 'default_backend' in str(err.value)


def test_multi_store_unknown_driver_refused(tmp_path, registry_reset):
    conf = _conf(tmp_path, MULTI.format(d=tmp_path).replace(
        'cheap:file', 'cheap:tape'))
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        glance_store.create_stores(conf)
    assert 'tape' in str(err.value)


def test_registry_before_create_stores_is_an_error(registry_reset):
    backend._REGISTRY = None
    with pytest.raises(exceptions.BadStoreConfiguration):
        glance_store.list_stores()


# -- add_file: keeping a staged file instead of writing a copy ----------------

def _read(path: str, size: int = 1000):
    """The bytes of the file ``path``, as an import reads its stage."""
    with open(path, 'rb') as f:
        while chunk := f.read(size):
            yield chunk


def _staged(tmp_path, data: bytes = DATA) -> str:
    """A staged file on the same file system as the store's directory."""
    os.makedirs(tmp_path / 'staging', exist_ok=True)
    path = str(tmp_path / 'staging' / str(uuid.uuid4()))
    with open(path, 'wb') as f:
        f.write(data)
    return path


def test_add_file_links_the_staged_file(tmp_path):
    store = _store(tmp_path)
    source = _staged(tmp_path)
    uri, written, _ = store.add_file(
        'img', _read(source), len(DATA), source)
    kept = _loc(uri).path
    assert written == len(DATA)
    assert os.stat(kept).st_ino == os.stat(source).st_ino
    os.unlink(source)                       # the import removes the stage
    with open(kept, 'rb') as f:
        assert f.read() == DATA


def test_add_file_reads_data_to_its_end_before_keeping_anything(tmp_path):
    # The data is where hashing, inspection, quotas and client errors run:
    # a failure there must leave the store empty.
    store = _store(tmp_path)
    source = _staged(tmp_path)
    seen = []

    def data():
        for chunk in _read(source, 4096):
            seen.append(len(chunk))
            if len(seen) == 2:
                raise Boom()
            yield chunk

    with pytest.raises(Boom):
        store.add_file('img', data(), len(DATA), source)
    assert os.listdir(tmp_path / 'images') == []
    uri, written, _ = store.add_file(
        'img', _read(source), len(DATA), source)
    assert written == len(DATA)


def test_add_file_refuses_a_file_that_changed_while_read(tmp_path):
    store = _store(tmp_path)
    source = _staged(tmp_path)

    def data():
        yield from _read(source)
        with open(source, 'ab') as f:       # grows after it was read
            f.write(b'more')

    with pytest.raises(exceptions.BackendException, match='changed'):
        store.add_file('img', data(), len(DATA), source)
    assert os.listdir(tmp_path / 'images') == []


def test_add_file_copies_with_thin_provisioning(tmp_path):
    store = _store(tmp_path, filesystem_thin_provisioning=True)
    content = b'head' + bytes(2 * 1024 * 1024)
    source = _staged(tmp_path, content)
    uri, written, _ = store.add_file(
        'img', _read(source), None, source)
    kept = _loc(uri).path
    assert written == len(content)
    assert os.stat(kept).st_ino != os.stat(source).st_ino
    assert os.stat(kept).st_blocks * 512 < len(content) // 2


def test_add_file_copies_from_another_file_system(tmp_path):
    store = _store(tmp_path)
    other = tempfile.mkdtemp(dir='/dev/shm')     # tmpfs: another device
    try:
        source = os.path.join(other, 'staged')
        with open(source, 'wb') as f:
            f.write(DATA)
        assert os.stat(source).st_dev != os.stat(tmp_path).st_dev
        uri, written, _ = store.add_file(
            'img', _read(source), len(DATA), source)
        assert os.stat(_loc(uri).path).st_ino != os.stat(source).st_ino
        with open(_loc(uri).path, 'rb') as f:
            assert f.read() == DATA
    finally:
        shutil.rmtree(other)


def test_add_file_copies_when_the_link_is_refused(tmp_path, monkeypatch):
    # Some network file systems have no hard links (EPERM).
    store = _store(tmp_path)
    source = _staged(tmp_path)

    def no_links(src, dst):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(filesystem.os, 'link', no_links)
    uri, written, _ = store.add_file(
        'img', _read(source), len(DATA), source)
    assert written == len(DATA)
    assert os.stat(_loc(uri).path).st_ino != os.stat(source).st_ino
    with open(_loc(uri).path, 'rb') as f:
        assert f.read() == DATA


def test_add_file_duplicate_keeps_both_files(tmp_path):
    store = _store(tmp_path)
    store.add('img', [b'old'], 3)
    source = _staged(tmp_path)
    with pytest.raises(exceptions.Duplicate):
        store.add_file('img', _read(source), len(DATA),
                       source)
    with open(tmp_path / 'images' / 'img', 'rb') as f:
        assert f.read() == b'old'
    assert os.path.getsize(source) == len(DATA)


def test_add_file_applies_the_file_permissions(tmp_path):
    store = _store(tmp_path, filesystem_store_file_perm=640)
    source = _staged(tmp_path)
    uri, _, _ = store.add_file(
        'img', _read(source), len(DATA), source)
    assert stat.S_IMODE(os.stat(_loc(uri).path).st_mode) == 0o640


def test_staging_never_rewrites_a_linked_file(tmp_path, monkeypatch):
    # A staged file kept by a store is that image's data: staging again
    # under the same name must make a new file, not rewrite the shared one.
    from glance.async_ import staging
    monkeypatch.setattr(backend, '_REGISTRY',
                        backend.Registry({}, 'file', multi=False))
    cfg.CONF.set_override('node_staging_uri',
                          'file://%s' % (tmp_path / 'staging'))
    try:
        staging.write('img', [DATA], 1 << 20)
        store = _store(tmp_path)
        uri, _, _ = store.add_file('img', staging.read('img'), len(DATA),
                                   staging.path_of('img'))
        staging.write('img', [b'new data'], 1 << 20)
        with open(_loc(uri).path, 'rb') as f:
            assert f.read() == DATA
        assert b''.join(staging.read('img')) == b'new data'
    finally:
        cfg.CONF.clear_override('node_staging_uri')
