"""A write the database rolls back as a deadlock's victim is run again.

PostgreSQL and InnoDB break a cycle of transactions waiting for each other
by rolling one back.  When glance's is the one, nothing of it was stored,
and the repository runs it again (``engine.retry_on_deadlock``) rather
than answering 500.  Here a real deadlock is made against the image
update: another connection locks the image's property row, glance's
update locks the image row and waits for the property, and the other
connection then asks for the image row.
"""
from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from glance.db.sqlalchemy import images
from glance.domain.image import Changes

#: rows the other transaction adds first: InnoDB rolls back the
#: transaction that changed fewer rows, so glance's must be the lighter
HEAVY = 50


def _image(**extra) -> str:
    image_id = str(uuid.uuid4())
    images.create({'id': image_id, 'status': 'queued', 'owner': 'p1',
                   'visibility': 'shared', 'min_disk': 0, 'min_ram': 0,
                   'protected': False, 'os_hidden': False, **extra})
    return image_id


# SQLite has one writer at a time: no deadlock to be the victim of
@pytest.mark.parametrize('database', ['postgresql', 'mysql'], indirect=True)
def test_the_victim_of_a_deadlock_is_written_again(migrated_database):
    db = migrated_database
    image_id = _image(properties={'p': 'before'})
    heavy = _image(name='heavy')
    other = sa.create_engine(db.url)
    outcome = {}

    def update():
        try:
            outcome['row'] = images.update(image_id, Changes(
                core={'name': 'renamed'}, set_properties={'p': 'glance'}))
        except Exception as exc:  # noqa: BLE001 - what the test reports
            outcome['error'] = exc

    try:
        with other.connect() as conn:
            tx = conn.begin()
            # (inserts lock only the rows they insert)
            conn.execute(sa.text(
                "INSERT INTO image_tags (image_id, value, created_at, "
                "image_created_at, deleted) "
                "VALUES (:id, :value, :now, :now, :no)"),
                [{'id': heavy, 'value': 't%d' % n, 'now': '2026-01-01',
                  'no': False} for n in range(HEAVY)])
            conn.execute(sa.text(
                "UPDATE image_properties SET value = 'other' "
                "WHERE image_id = :id AND name = 'p'"), {'id': image_id})
            writer = threading.Thread(target=update)
            writer.start()
            time.sleep(0.5)     # glance holds the image row, waits for p
            conn.execute(sa.text(
                'UPDATE images SET min_ram = 1 WHERE id = :id'),
                {'id': image_id})
            tx.commit()
        writer.join(30)
    finally:
        other.dispose()
    assert 'error' not in outcome, outcome
    row = images.get(image_id)
    assert (row.name, row.min_ram) == ('renamed', 1)
    with other.connect() as conn:
        value = conn.execute(sa.text(
            "SELECT value FROM image_properties WHERE image_id = :id "
            "AND name = 'p'"), {'id': image_id}).scalar()
    assert value == 'glance'
