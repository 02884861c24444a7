"""Lease bookkeeping on SQLite, PostgreSQL and MariaDB.

One lease per image, held by a process whose heartbeat decides whether
it is alive; a dead holder's lease is taken over by exactly one process;
a completed stage is recorded with the lease's end in one step.
"""
from __future__ import annotations

import datetime
import uuid

from oslo_config import cfg
import pytest
import sqlalchemy as sa

from glance.async_ import leases
from glance.common import exception
from glance.db.sqlalchemy import engine
from glance.db.sqlalchemy import leases as db
from glance.db.sqlalchemy import models
from glance.domain.image import Changes, utcnow

pytestmark = pytest.mark.usefixtures('migrated_database')


@pytest.fixture(autouse=True)
def lease_conf():
    cfg.CONF.set_override('lease_timeout', 30)
    yield
    cfg.CONF.clear_override('lease_timeout')


def _age_holder(holder_id: str, seconds: int) -> None:
    """Make ``holder_id`` look silent for ``seconds`` (a dead process)."""
    with engine.session_scope() as session:
        session.execute(sa.update(models.LeaseHolder).where(
            models.LeaseHolder.id == holder_id).values(
                heartbeat_at=utcnow() - datetime.timedelta(seconds=seconds)))


def _other_process(name: str = 'other') -> str:
    """A holder row of another process, just beaten."""
    holder = 'host-%s:1:%s' % (name, uuid.uuid4().hex[:8])
    db.heartbeat(holder, 'host-' + name, 1)
    return holder


def test_one_lease_per_image_and_release_ends_it():
    image_id = str(uuid.uuid4())
    lease = leases.acquire(image_id, leases.UPLOAD, stores=['fast', None])
    assert lease.holder_id == leases.holder_id()
    found = leases.find(image_id)
    assert (found.operation, found.stores) == ('upload', ['fast', None])
    assert found.alive
    with pytest.raises(exception.Conflict) as err:
        leases.acquire(image_id, leases.STAGE)
    assert 'upload is in progress' in str(err.value)
    leases.release(lease)
    assert leases.find(image_id) is None
    with leases.hold(image_id, leases.IMPORT, task_id='t-1') as again:
        assert leases.find(image_id).task_id == 't-1'
    assert leases.find(image_id) is None
    assert again.stores == []


def test_a_silent_holder_is_dead_and_taken_over_once():
    image_id = str(uuid.uuid4())
    other = _other_process()
    db.acquire(image_id, 'upload', other, stores='fast')
    lease = leases.find(image_id)
    assert lease.alive
    assert leases.expired() == [] or all(
        e.image_id != image_id for e in leases.expired())
    _age_holder(other, 31)
    lease = leases.find(image_id)
    assert not lease.alive
    assert image_id in [e.image_id for e in leases.expired()]
    mine = leases.take_over(lease)
    assert mine is not None and mine.holder_id == leases.holder_id()
    taken = leases.find(image_id)
    assert taken.operation == 'recovery:upload'
    assert (taken.recovering, taken.undoes) == (True, 'upload')
    assert taken.stores == ['fast']
    # A second process looking at the same dead lease gets nothing.
    assert leases.take_over(lease) is None
    assert leases.find(image_id).alive
    leases.release(mine)
    assert leases.find(image_id) is None


def test_a_lease_whose_holder_row_is_gone_is_dead():
    image_id = str(uuid.uuid4())
    db.acquire(image_id, 'stage', 'vanished:9:abc')
    lease = leases.find(image_id)
    assert lease.heartbeat_at is None and not lease.alive
    assert image_id in [e.image_id for e in leases.expired()]
    db.release(image_id, 'vanished:9:abc')


def test_heartbeat_is_one_row_per_process():
    leases.beat()
    leases.beat()
    with engine.session_scope(readonly=True) as session:
        rows = session.execute(sa.select(models.LeaseHolder).where(
            models.LeaseHolder.id == leases.holder_id())).scalars().all()
    assert len(rows) == 1
    assert rows[0].heartbeat_at >= utcnow() - datetime.timedelta(seconds=5)


def test_completed_stage_is_recorded_as_its_lease_ends():
    image_id = str(uuid.uuid4())
    lease = leases.acquire(image_id, leases.STAGE)
    assert leases.staged(image_id) is None
    leases.record_stage(lease, 1234, 'sha512', 'ab' * 64)
    assert leases.find(image_id) is None
    assert leases.staged(image_id) == {
        'size': 1234, 'hash_algo': 'sha512', 'hash_value': 'ab' * 64,
        'created_at': leases.staged(image_id)['created_at']}
    # Staging again replaces the record.
    lease = leases.acquire(image_id, leases.STAGE)
    leases.record_stage(lease, 99, 'sha512', 'cd' * 64)
    assert leases.staged(image_id)['size'] == 99
    leases.forget_stage(image_id)
    assert leases.staged(image_id) is None


def test_a_failed_release_is_retried_after_a_heartbeat(monkeypatch):
    """A live process's lease never expires: one it could not drop (the
    database away) is dropped by the heartbeat thread once it can, or
    the image stays busy (409) for as long as the process lives."""
    image_id = str(uuid.uuid4())
    lease = leases.acquire(image_id, leases.UPLOAD)
    real_release = db.release

    def away(*args):
        raise exception.ServiceUnavailable('The image database is '
                                           'unreachable.')
    monkeypatch.setattr(db, 'release', away)
    leases.release(lease)               # logged; kept for a retry
    leases._release_pending()           # still away: kept again
    assert leases.find(image_id) is not None
    monkeypatch.setattr(db, 'release', real_release)
    leases._release_pending()           # what the heartbeat thread runs
    assert leases.find(image_id) is None
    assert leases._UNRELEASED == []


@pytest.fixture
def file_store(tmp_path):
    """A single file store (its directory), for the undo of an upload."""
    from glance.store import backend
    saved = backend._REGISTRY
    path = tmp_path / 'store.conf'
    path.write_text('[glance_store]\nstores = file\ndefault_store = file\n'
                    'filesystem_store_datadir = %s\n' % (tmp_path / 'images'))
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], project='glance-store-test',
         default_config_files=[])
    backend.create_stores(conf)
    yield tmp_path / 'images'
    backend._REGISTRY = saved


def _saving_image() -> str:
    from glance.db.sqlalchemy import images
    image_id = str(uuid.uuid4())
    images.create({'id': image_id, 'status': 'saving', 'owner': 'p1',
                   'visibility': 'shared', 'min_disk': 0, 'min_ram': 0,
                   'protected': False, 'os_hidden': False})
    return image_id


def test_an_upload_left_to_undo_later_is_undone_by_the_sweep(file_store):
    from glance.async_ import recovery
    from glance.db.sqlalchemy import images
    image_id = _saving_image()
    (file_store / image_id).write_bytes(b'partial')
    recovery.undo_later(leases.acquire(image_id, leases.UPLOAD))
    recovery.sweep()
    assert images.get(image_id).status == 'queued'
    assert not (file_store / image_id).exists()
    assert leases.find(image_id) is None
    assert recovery._UNDO_LATER == []


def test_undo_later_leaves_an_image_another_process_took_over(file_store):
    """The database was away for longer than a lease timeout: another
    node took this process's lease over (and may have undone the upload,
    and a new one started since).  The sweep leaves the image alone."""
    from glance.async_ import recovery
    from glance.db.sqlalchemy import images
    image_id = _saving_image()
    (file_store / image_id).write_bytes(b'the new upload')
    lease = leases.acquire(image_id, leases.UPLOAD)
    recovery.undo_later(lease)
    other = _other_process()
    assert db.take_over(image_id, lease.holder_id, other, 'upload')
    recovery.sweep()
    assert images.get(image_id).status == 'saving'
    assert (file_store / image_id).read_bytes() == b'the new upload'
    assert leases.find(image_id).holder_id == other
    assert recovery._UNDO_LATER == []
    db.release(image_id, other)


def _loaded(image_id: str):
    from glance import gateway
    from glance.context import get_admin_context
    return gateway.get_repo(get_admin_context()).get(image_id)


def test_an_unleased_upload_left_to_undo_later_is_undone_by_the_sweep(
        file_store):
    """The database went away between saving and the lease: the sweep
    undoes the upload under a recovery lease of its own."""
    from glance.async_ import recovery
    from glance.db.sqlalchemy import images
    image_id = _saving_image()
    recovery.undo_unleased_later(_loaded(image_id), leases.UPLOAD)
    recovery.sweep()
    assert images.get(image_id).status == 'queued'
    assert leases.find(image_id) is None
    assert recovery._UNDO_LATER == []


def test_undo_unleased_later_leaves_an_image_changed_since(file_store):
    """Another process undid it and started anew (the image changed), or
    holds it now: the sweep leaves the image alone, and forgets it."""
    from glance.async_ import recovery
    from glance.db.sqlalchemy import images
    changed, held = _saving_image(), _saving_image()
    recovery.undo_unleased_later(_loaded(changed), leases.UPLOAD)
    recovery.undo_unleased_later(_loaded(held), leases.UPLOAD)
    images.update(changed, Changes(core={'name': 'renamed'}))
    other = _other_process()
    db.acquire(held, leases.UPLOAD, other, None, None)
    recovery.sweep()
    assert images.get(changed).status == 'saving'
    assert images.get(held).status == 'saving'
    assert recovery._UNDO_LATER == []
    db.release(held, other)


def test_a_failed_unleased_undo_lets_its_recovery_lease_go(file_store,
                                                           monkeypatch):
    """The undo fails again (the database went away once more): the
    recovery lease taken for it goes, and the next sweep retries."""
    from glance.async_ import recovery
    from glance.db.sqlalchemy import images
    image_id = _saving_image()
    recovery.undo_unleased_later(_loaded(image_id), leases.UPLOAD)

    def fails(*args, **kwargs):
        raise exception.GlanceException('database away again')
    monkeypatch.setattr(recovery, '_undo', fails)
    recovery.sweep()
    assert leases.find(image_id) is None
    assert len(recovery._UNDO_LATER) == 1
    monkeypatch.undo()
    recovery.sweep()
    assert images.get(image_id).status == 'queued'
    assert recovery._UNDO_LATER == []


def test_an_upload_waits_for_the_end_of_a_recovery_it_finds():
    """A recovery writes the image back to queued, then drops its lease:
    an upload arriving in between waits for the drop instead of
    answering 409 ("undoing an upload of a stopped process")."""
    import threading
    from glance.async_ import recovery
    from glance.domain.image import Image
    image = Image(image_id=str(uuid.uuid4()), status='queued')
    other = _other_process()
    db.acquire(image.image_id, 'recovery:upload', other)
    done = threading.Timer(0.3, db.release, (image.image_id, other))
    done.start()
    try:
        recovery.check_free(image)
    finally:
        done.join()
    assert leases.find(image.image_id) is None
    # a live upload's lease is still refused
    db.acquire(image.image_id, 'upload', other)
    with pytest.raises(exception.Conflict):
        recovery.check_free(image)
    db.release(image.image_id, other)


def test_purge_keeps_holders_with_leases():
    busy, idle = _other_process('busy'), _other_process('idle')
    image_id = str(uuid.uuid4())
    db.acquire(image_id, 'import', busy, task_id='t')
    _age_holder(busy, 2 * 86400)
    _age_holder(idle, 2 * 86400)
    leases.purge_holders()
    with engine.session_scope(readonly=True) as session:
        left = set(session.execute(sa.select(models.LeaseHolder.id))
                   .scalars())
    assert busy in left and idle not in left
    db.release(image_id, busy)


def test_settle_reloads_when_another_process_just_recovered(monkeypatch):
    """settle() on an unleased image read before another process undid its
    dead upload and let go: our recovery lease is refused, and by the time
    we look the other's is gone.  The caller must reload the image, not go
    on with the stale read (which answered 409 "is saving")."""
    from glance.async_ import recovery
    from glance.domain.image import Image
    image = Image(image_id=str(uuid.uuid4()), status='saving',
                  updated_at=utcnow() - datetime.timedelta(days=1))
    other = _other_process()
    real_find = leases.find
    looks = []

    def interleaved(image_id):
        looks.append(image_id)
        found = real_find(image_id)
        if len(looks) == 1:     # after our first look, the other starts
            db.acquire(image_id, 'recovery:upload', other)
        else:                   # and it is done before our second look
            db.release(image_id, other)
            found = real_find(image_id)
        return found

    monkeypatch.setattr(leases, 'find', interleaved)
    assert recovery.settle(image) is True
    assert real_find(image.image_id) is None
