"""The scrubber's database steps on SQLite, PostgreSQL and MariaDB.

The functional tests run the real processes on SQLite; these check the
conditional steps themselves on every backend: restore brings back exactly
what the delete took, and a claim and a restore exclude each other.
"""
from __future__ import annotations

import datetime
import uuid

import pytest
import sqlalchemy as sa

from glance import context
from glance.common import exception
from glance.db import images as db_images
from glance.db import pending_delete
from glance.db.sqlalchemy import engine, models
from glance.domain.image import Image

pytestmark = pytest.mark.usefixtures('migrated_database')


def repo() -> db_images.ImageRepo:
    return db_images.ImageRepo(context.RequestContext(
        project_id='p1', is_admin=False, roles=['member']))


def rows(model, **where) -> list:
    with engine.session_scope(readonly=True) as session:
        return list(session.execute(
            sa.select(model).filter_by(**where).order_by(model.id)).scalars())


def _loc(url: str) -> dict:
    return {'url': url, 'metadata': {'store': 'fast'}, 'status': 'active'}


def pending(urls=('file:///a', 'file:///b'), **kw) -> Image:
    """An active image with locations, deleted under delayed_delete."""
    image = repo().add(Image(image_id=str(uuid.uuid4()), owner='p1', **kw))
    image.locations = [_loc(u) for u in urls]
    image.status = 'active'
    repo().save(image)
    image.status = 'pending_delete'
    repo().remove(image)
    return image


def test_restore_brings_back_what_the_delete_took():
    image = repo().add(Image(image_id=str(uuid.uuid4()), owner='p1',
                             extra_properties={'a': '1', 'b': '2'},
                             tags={'t'}))
    image.locations = [_loc('file:///r')]
    image.status = 'active'
    repo().save(image)
    # Removed before the delete: must stay removed.
    image = repo().get(image.image_id)
    image.extra_properties = {'a': '1'}
    repo().save(image)
    with engine.session_scope() as session:
        session.add(models.ImageMember(image_id=image.image_id, member='p2',
                                       status='accepted',
                                       image_created_at=image.created_at))
    image = repo().get(image.image_id)
    image.status = 'pending_delete'
    repo().remove(image)

    assert pending_delete.restore(image.image_id) == 1
    back = repo().get(image.image_id)
    assert back.status == 'active'
    assert back.extra_properties == {'a': '1'}
    assert back.tags == {'t'}
    assert [(loc['url'], loc['status']) for loc in back.locations] == [
        ('file:///r', 'active')]
    [member] = rows(models.ImageMember, image_id=image.image_id)
    assert (member.deleted, member.deleted_at) == (False, None)
    [row] = rows(models.Image, id=image.image_id)
    assert (row.deleted, row.deleted_at) == (False, None)


def test_restore_errors():
    with pytest.raises(exception.ImageNotFound):
        pending_delete.restore(str(uuid.uuid4()))
    live = repo().add(Image(image_id=str(uuid.uuid4()), owner='p1'))
    with pytest.raises(exception.Conflict, match='is queued, not pending'):
        pending_delete.restore(live.image_id)


def test_a_claim_and_a_restore_exclude_each_other():
    claimed = pending()
    [first, _second] = pending_delete.pending_locations(claimed.image_id)
    assert pending_delete.claim_location(first)
    with pytest.raises(exception.Conflict, match='begun removing'):
        pending_delete.restore(claimed.image_id)
    assert rows(models.Image, id=claimed.image_id)[0].status == \
        'pending_delete'

    restored = pending()
    locations = pending_delete.pending_locations(restored.image_id)
    pending_delete.restore(restored.image_id)
    assert not pending_delete.claim_location(locations[0])
    assert [loc.status for loc in rows(
        models.ImageLocation, image_id=restored.image_id)] == [
        'active', 'active']


def test_the_steps_in_order_and_again_after_a_crash():
    image = pending()
    locations = pending_delete.pending_locations(image.image_id)
    assert [(loc.url, loc.store) for loc in locations] == [
        ('file:///a', 'fast'), ('file:///b', 'fast')]
    # Killed after claiming and finishing the first location only.
    assert pending_delete.claim_location(locations[0])
    pending_delete.finish_location(locations[0])
    assert pending_delete.claim_location(locations[1])
    assert not pending_delete.finish_image(image.image_id)
    # The next run sees the claimed one still to do, and claims it again.
    again = pending_delete.pending_locations(image.image_id)
    assert [loc.url for loc in again] == ['file:///b']
    assert pending_delete.claim_location(again[0])
    pending_delete.finish_location(again[0])
    assert pending_delete.finish_image(image.image_id)
    assert not pending_delete.finish_image(image.image_id)
    [row] = rows(models.Image, id=image.image_id)
    assert (row.status, row.deleted) == ('deleted', True)
    assert all((loc.status, loc.deleted) == ('deleted', True)
               for loc in rows(models.ImageLocation,
                               image_id=image.image_id))


def test_due_images_honours_the_cutoff():
    image = pending()
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert image.image_id in pending_delete.due_images(
        now + datetime.timedelta(seconds=5))
    assert image.image_id not in pending_delete.due_images(
        now - datetime.timedelta(hours=1))


def test_every_live_location_of_a_pending_image_is_the_scrubbers():
    """Rows another tool left active still hold data of a deleted image."""
    image = pending(urls=('file:///x',))
    with engine.session_scope() as session:
        session.execute(sa.update(models.ImageLocation).where(
            models.ImageLocation.image_id == image.image_id)
            .values(status='active'))
    [loc] = pending_delete.pending_locations(image.image_id)
    assert pending_delete.claim_location(loc)
    pending_delete.finish_location(loc)
    assert pending_delete.finish_image(image.image_id)
