"""Orphan sweeps in-process: the filesystem listing, which data the rules
call orphaned, the staging sweep and dropping deleted images from a cache,
on real temporary directories and a real SQLite database."""
from __future__ import annotations

import os
import time
import uuid

from oslo_config import cfg
import pytest

from glance.store import driver
from glance.store import exceptions
from glance import orphans
from glance.db import image_refs
from glance.tests.unit.test_filesystem_store import _store

OLD = time.time() - 7200


def _file(path, data=b'x', mtime=OLD):
    with open(path, 'wb') as f:
        f.write(data)
    os.utime(path, (mtime, mtime))
    return str(path)


# ---------------------------------------------------------------- listing
def test_filesystem_lists_only_image_ids(tmp_path):
    store = _store(tmp_path)
    base = tmp_path / 'images'
    image_id = str(uuid.uuid4())
    _file(base / image_id, b'12345')
    _file(base / 'README')
    _file(base / (image_id + '.part'))
    directory = str(uuid.uuid4())
    os.mkdir(base / directory)
    [item] = list(store.iter_image_data())
    assert (item.image_id, item.size, item.kind) == (image_id, 5, 'image')
    assert item.uri == 'file://%s' % (base / image_id)
    assert abs(item.modified - OLD) < 1
    store.delete_stored(item)
    assert sorted(os.listdir(base)) == sorted(
        ['README', image_id + '.part', directory])
    with pytest.raises(exceptions.NotFound):
        store.delete_stored(item)


def test_is_image_id():
    assert driver.is_image_id(str(uuid.uuid4()))
    assert driver.is_image_id(str(uuid.uuid4()).upper())
    for name in ('glance', '', '12345678-1234-1234-1234-1234567890ab/0001',
                 str(uuid.uuid4()) + '.converted'):
        assert not driver.is_image_id(name)


# ------------------------------------------------------------------ rules
def _item(kind='image'):
    return driver.StoredData(str(uuid.uuid4()), 'file:///x', 1, OLD, kind)


@pytest.mark.parametrize('state, in_store, kind, orphaned', [
    (None, False, 'image', 'no image has this id'),
    (('active', True), False, 'image', 'its image is deleted'),
    (('deleted', True), True, 'image', 'its image is deleted'),
    (('pending_delete', True), False, 'image', None),
    (('pending_delete', True), False, 'partial', None),
    (('saving', False), False, 'image', None),
    (('uploading', False), False, 'partial', None),
    (('importing', False), False, 'segments', None),
    (('active', False, True), False, 'image', None),
    (('active', False, True), True, 'partial', None),
    (('active', True, True), False, 'image', 'its image is deleted'),
    (('active', False), True, 'image', None),
    (('active', False), True, 'segments', None),
    (('active', False), True, 'partial', 'an upload that never finished'),
    (('active', False), False, 'image', 'has no location in this store'),
    (('queued', False), False, 'segments', 'has no location in this store'),
    (('killed', False), False, 'image', 'has no location in this store'),
])
def test_rules(state, in_store, kind, orphaned):
    state = image_refs.ImageState(*state) if state else None
    why = orphans._reason(_item(kind), state, in_store)
    if orphaned is None:
        assert why is None
    else:
        assert orphaned in why


def test_grace_period():
    now = time.time()
    assert orphans._young(now - 10, now, 3600)
    assert not orphans._young(now - 7200, now, 3600)
    assert orphans._young(None, now, 3600)
    assert not orphans._young(None, now, 0)
    assert not orphans._young(now + 5, now, 0)


def test_locations_count_for_their_store():
    ref = image_refs.Reference('i', 'file:///a/i', None)
    assert orphans._in_store(ref, 'fast', ('file',), True)
    assert not orphans._in_store(ref, 'obj', ('swift+config',), True)
    # single store: every location is the store's
    assert orphans._in_store(ref, 'file', ('s3',), False)
    named = image_refs.Reference('i', 'file:///a/i', 'cheap')
    assert orphans._in_store(named, 'cheap', ('file',), True)
    assert not orphans._in_store(named, 'fast', ('file',), True)


# ------------------------------------------------- with a real database
@pytest.fixture
def db(initialised_conf, migrated_database):
    """glance.db on a fresh database of each backend in turn."""
    yield migrated_database


def _image(status, deleted=False, stage_host=None, locations=(),
           lock=None):
    import datetime
    from glance.db.sqlalchemy import engine, models
    image_id = str(uuid.uuid4())
    now = datetime.datetime.utcnow()
    with engine.session_scope() as session:
        session.add(models.Image(id=image_id, status=status, deleted=deleted,
                                 visibility='shared', created_at=now))
        session.flush()
        for name, value in (('os_glance_stage_host', stage_host),
                            ('os_glance_import_task', lock)):
            if value is not None:
                session.add(models.ImageProperty(
                    image_id=image_id, name=name, value=value,
                    created_at=now))
        for url, meta in locations:
            session.add(models.ImageLocation(image_id=image_id, value=url,
                                             meta_data=meta, created_at=now))
    return image_id


def test_image_refs(db):
    """The questions of the sweeps, on SQLite, PostgreSQL and MariaDB."""
    active = _image('active', locations=[('file:///s/a', '{"store": "s"}')])
    pending = _image('pending_delete', True, locations=[('file:///s/p', '')])
    gone = _image('deleted', True, locations=[('file:///s/g', None)])
    here = _image('uploading', stage_host='http://here')
    there = _image('importing', stage_host='http://there/')
    nowhere = _image('uploading')
    queued = _image('queued', stage_host='http://here')
    copying = _image('active', lock=str(uuid.uuid4()))
    released = _image('active', lock='')
    missing = str(uuid.uuid4())
    ids = [active, pending, gone, here, there, nowhere, queued, copying,
           released, missing]

    states = image_refs.states(ids)
    assert missing not in states
    assert states[pending] == image_refs.ImageState('pending_delete', True)
    assert states[copying].in_progress and states[here].in_progress
    assert not states[released].in_progress
    assert not states[active].in_progress
    assert image_refs.live_ids(ids) == {active, here, there, nowhere,
                                        queued, copying, released}
    refs = {(r.image_id, r.url, r.store) for r in image_refs.references()}
    assert refs == {(active, 'file:///s/a', 's'),
                    (pending, 'file:///s/p', None)}
    assert image_refs.needing_staged(ids) == {here, there, nowhere,
                                              copying}


@pytest.mark.parametrize('database', ['sqlite'], indirect=True)
def test_staging_sweep(db, tmp_path, monkeypatch):
    from glance.async_ import staging
    from glance.store import backend
    # no reserved staging store: node_staging_uri is the staging area
    monkeypatch.setattr(backend, '_REGISTRY',
                        backend.Registry({}, 'file', multi=False))
    cfg.CONF.set_override('node_staging_uri', 'file://%s' % (
        tmp_path / 'staging'))
    try:
        keep = _image('uploading')
        done = _image('active')
        os.makedirs(staging.directory(), exist_ok=True)
        paths = {name: _file(staging.path_of(name)) for name in (
            keep, keep + '.converted', done, done + '.decompressed',
            str(uuid.uuid4()), 'lost+found')}
        young = _file(staging.path_of(str(uuid.uuid4())), mtime=time.time())

        needing = image_refs.needing_staged
        would = staging.sweep(needing, grace=3600, dry_run=True)
        assert {n for _i, n in would} == set(paths) - {
            keep, keep + '.converted', 'lost+found'}
        assert all(os.path.exists(p) for p in paths.values())
        assert staging.sweep(needing, grace=3600) == would
        left = sorted(os.listdir(staging.directory()))
        assert left == sorted([keep, keep + '.converted', 'lost+found',
                               os.path.basename(young)])
        staging.sweep(needing)
        assert os.path.basename(young) not in os.listdir(
            staging.directory())
    finally:
        cfg.CONF.clear_override('node_staging_uri')


def test_cache_drops_deleted_images(tmp_path, initialised_conf):
    from glance import image_cache
    cfg.CONF.set_override('image_cache_dir', str(tmp_path / 'cache'))
    cfg.CONF.set_override('image_cache_driver', 'sqlite')
    try:
        cache = image_cache.ImageCache()
        ids = [str(uuid.uuid4()) for _ in range(3)]
        for image_id in ids:
            _file(cache.path(image_id))
            cache.driver.put(image_cache.drivers.Entry(image_id, 1))
        cache.queue(str(uuid.uuid4()))
        live = {ids[0]}
        assert cache.drop_deleted(lambda asked: asked & live) == \
            sorted(ids[1:])
        assert [e.image_id for e in cache.cached()] == [ids[0]]
        assert sorted(os.listdir(cache.base)) == sorted(
            [ids[0], 'cache.db', 'incomplete', 'invalid', 'queue'] +
            [n for n in os.listdir(cache.base) if n.startswith('cache.db-')])
        assert cache.queued() == []
    finally:
        cfg.CONF.clear_override('image_cache_dir')
        cfg.CONF.clear_override('image_cache_driver')
