"""glance-manage db purge / purge_images_table / expand / migrate /
contract, run as a process against SQLite, PostgreSQL and MariaDB."""
from __future__ import annotations

import os
import subprocess

import pytest
import sqlalchemy as sa

from glance.tests.functional.server import BIN
from glance.tests.functional.server import write_config

OLD = "'2020-01-01 00:00:00'"


@pytest.fixture
def manage(database, tmp_path):
    conf = write_config.build(str(tmp_path / 'etc'), 9292, 'default',
                              database.url)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [os.path.join(BIN, 'glance-manage'), '--config-file', conf,
             *args], capture_output=True, text=True, timeout=120)
    return run


def _sql(url: str, *statements: str) -> list:
    eng = sa.create_engine(url)
    try:
        with eng.begin() as conn:
            out = None
            for st in statements:
                out = conn.exec_driver_sql(st)
            return list(out) if out is not None and out.returns_rows else []
    finally:
        eng.dispose()


def _image(iid: str, deleted: bool, when: str) -> str:
    return ("INSERT INTO images (id, name, status, visibility, min_disk, "
            "min_ram, protected, os_hidden, created_at, deleted, deleted_at, "
            "size) VALUES ('%s', 'n-%s', '%s', 'shared', 0, 0, %s, %s, %s, "
            "%s, %s, 5)" % (iid, iid, 'deleted' if deleted else 'active',
                            'false', 'false', OLD,
                            'true' if deleted else 'false',
                            when if deleted else 'NULL'))


def _prop(iid: str, name: str, deleted: bool, when: str = OLD) -> str:
    return ("INSERT INTO image_properties (image_id, name, value, created_at,"
            " deleted, deleted_at) VALUES ('%s', '%s', 'v', %s, %s, %s)"
            % (iid, name, OLD, 'true' if deleted else 'false',
               when if deleted else 'NULL'))


def _count(url: str, table: str, where: str = '1=1') -> int:
    return _sql(url, 'SELECT COUNT(*) FROM %s WHERE %s'
                % (table, where))[0][0]


def test_purge_and_tombstones(manage, database):
    url = database.url
    r = manage('db', 'sync')
    assert r.returncode == 0, r.stderr
    _sql(url,
         _image('live', False, 'NULL'),
         _prop('live', 'a', True),       # deleted prop of a live image
         _prop('live', 'b', False),
         _image('gone', True, OLD),
         _prop('gone', 'a', True),
         _prop('gone', 'b', True),
         _image('recent', True, 'CURRENT_TIMESTAMP'),
         _prop('recent', 'a', True, 'CURRENT_TIMESTAMP'))

    r = manage('db', 'purge', '--age_in_days', '1', '--max_rows', '1')
    assert r.returncode == 0, r.stderr
    assert 'Purged 1 rows from image_properties' in r.stdout
    r = manage('db', 'purge', '--age_in_days', '1', '--max_rows', '-1')
    assert r.returncode == 0, r.stderr
    assert 'Purged 1 rows from image_properties' in r.stdout
    # Live image untouched (even its deleted property); recent kept.
    assert _count(url, 'image_properties', "image_id='live'") == 2
    assert _count(url, 'image_properties', "image_id='gone'") == 0
    assert _count(url, 'image_properties', "image_id='recent'") == 1
    assert _count(url, 'images') == 3

    r = manage('db', 'purge_images_table', '--age_in_days', '1',
               '--max_rows', '-1')
    assert r.returncode == 0, r.stderr
    assert 'Purged 1 rows from images' in r.stdout
    rows = _sql(url, "SELECT id, name, size, status FROM images "
                     "WHERE id='gone'")
    assert [tuple(x) for x in rows] == [('gone', None, None, 'deleted')]
    # Idempotent: a tombstone is not purged again.
    r = manage('db', 'purge_images_table', '--age_in_days', '1')
    assert 'Purged 0 rows from images' in r.stdout
    # OSSN-0075: the id stays taken.
    with pytest.raises(sa.exc.IntegrityError):
        _sql(url, _image('gone', False, 'NULL'))
    assert _count(url, 'images', "id='live' AND name='n-live'") == 1


@pytest.mark.parametrize('database', ['sqlite'], indirect=True)
def test_expand_migrate_contract_and_errors(manage):
    r = manage('db', 'migrate')
    assert r.returncode == 1 and 'db expand' in r.stderr
    r = manage('db', 'expand')
    assert r.returncode == 0, r.stderr
    for step in ('migrate', 'contract'):
        r = manage('db', step)
        assert r.returncode == 0, r.stderr
    r = manage('db', 'purge', '--age_in_days', '-1')
    assert r.returncode == 1
    assert r.stderr.strip() == \
        'glance-manage: --age_in_days must be a non-negative integer'
    assert 'Traceback' not in r.stderr


@pytest.mark.parametrize('database', ['sqlite'], indirect=True)
def test_purged_id_cannot_be_created_again(database, tmp_path):
    """OSSN-0075 through the API: delete, purge, create the same id: 409."""
    import uuid

    from glance.tests.functional.conftest import Client
    from glance.tests.functional.server import GlanceServer

    srv = GlanceServer(str(tmp_path / 'glance'),
                       database_url=database.url).start()
    try:
        client = Client(srv.url)
        image_id = str(uuid.uuid4())
        client.create(id=image_id, name='x', disk_format='raw',
                      container_format='bare', os_distro='debian')
        assert client.delete('/v2/images/%s' % image_id).status_code == 204
        _sql(database.url, "UPDATE images SET deleted_at=%s WHERE id='%s'"
             % (OLD, image_id), "UPDATE image_properties SET deleted_at=%s "
             "WHERE image_id='%s'" % (OLD, image_id))
        for cmd in ('purge', 'purge_images_table'):
            r = srv.manage('db', cmd, '--age_in_days', '1', '--max_rows',
                           '-1')
            assert r.returncode == 0, r.stderr
        assert _count(database.url, 'image_properties',
                      "image_id='%s'" % image_id) == 0
        r = client.post('/v2/images', json={
            'id': image_id, 'name': 'again', 'disk_format': 'raw',
            'container_format': 'bare'})
        assert r.status_code == 409, r.text
        assert client.get('/v2/images/%s' % image_id).status_code == 404
    finally:
        srv.stop()
