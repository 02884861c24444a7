"""The image repository on SQLite, PostgreSQL and MariaDB.

Every test runs once per backend (the ``migrated_database`` fixture): the
same domain objects in must come back out the same, and the list query must
answer the same, whatever the database.
"""
from __future__ import annotations

import datetime
import threading
import uuid

import pytest
import sqlalchemy as sa

from glance import context
from glance.common import exception
from glance.db import images as db_images
from glance.db.sqlalchemy import engine, image_list, image_rows, models
from glance.db.sqlalchemy import members as db_members
from glance.domain.image import IMPORT_LOCK, Image

pytestmark = pytest.mark.usefixtures('migrated_database')

T0 = datetime.datetime(2024, 5, 1, 12, 0, 0, 123456)


def repo(project: str | None = 'p1', admin: bool = False
         ) -> db_images.ImageRepo:
    return db_images.ImageRepo(context.RequestContext(
        project_id=project, is_admin=admin,
        roles=['admin'] if admin else ['member']))


def new(**kw) -> Image:
    kw.setdefault('image_id', str(uuid.uuid4()))
    kw.setdefault('owner', 'p1')
    return Image(**kw)


def rows(model, **where) -> list:
    with engine.session_scope(readonly=True) as session:
        stmt = sa.select(model).filter_by(**where)
        if hasattr(model, 'id'):
            stmt = stmt.order_by(model.id)
        return list(session.execute(stmt).scalars())


# -- point reads -----------------------------------------------------------

def test_a_point_read_answers_as_sqlalchemy_does():
    """An image read by id, with SQLAlchemy's types (times, booleans), and
    without a statement executed by SQLAlchemy, on every backend."""
    image = repo().add(new(name='read', tags={'a', 'b'}, protected=True,
                           extra_properties={'k': 'v'}, created_at=T0,
                           updated_at=T0))
    params = {'image_id': image.image_id}
    with engine.read_scope() as conn:
        expected = [tuple(row) for row in
                    conn.execute(image_rows.ONE, params).all()]
    executed = []
    eng = engine.get_engine()

    def record(conn, cursor, statement, *args):
        executed.append(statement)
    sa.event.listen(eng, 'before_cursor_execute', record)
    try:
        got = engine.point_read(image_rows.ONE, params)
    finally:
        sa.event.remove(eng, 'before_cursor_execute', record)
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    assert len(got) == 3
    first = dict(zip(image_rows.ONE_KEYS, got[0]))
    assert first['created_at'] == T0 and first['protected'] is True
    assert executed == []
    assert engine.point_read(image_rows.ONE, {'image_id': 'none'}) == []


@pytest.mark.parametrize('database', ['postgresql', 'mysql'], indirect=True)
def test_a_point_read_outlives_connections_the_server_dropped(
        migrated_database):
    """The point reads' connections are not pinged before use: one the
    server dropped (as a restart drops them all) fails its read, which
    runs again on a new connection; the caller never sees it."""
    image = repo().add(new(name='again'))
    for _ in range(3):
        migrated_database.cut_connections()
        assert repo().get(image.image_id).name == 'again'


@pytest.mark.parametrize('database', ['postgresql'], indirect=True)
def test_a_point_read_while_the_server_is_away_is_a_503(migrated_database):
    """No connection to be had is a ServiceUnavailable, and the reads
    answer again once the database is back."""
    image = repo().add(new(name='back'))
    assert repo().get(image.image_id).name == 'back'
    migrated_database.down()
    try:
        with pytest.raises(exception.ServiceUnavailable):
            repo().get(image.image_id)
    finally:
        migrated_database.up()
    assert repo().get(image.image_id).name == 'back'


@pytest.mark.parametrize('database', ['sqlite'], indirect=True)
def test_a_point_read_that_fails_is_a_503():
    """A database that cannot answer (here SQLite without the table) is a
    ServiceUnavailable, on SQLite's direct path too."""
    image = repo().add(new(name='away'))
    with engine.get_engine().begin() as conn:
        conn.exec_driver_sql('ALTER TABLE images RENAME TO images_away')
    try:
        with pytest.raises(exception.ServiceUnavailable):
            repo().get(image.image_id)
    finally:
        with engine.get_engine().begin() as conn:
            conn.exec_driver_sql('ALTER TABLE images_away RENAME TO images')
    assert repo().get(image.image_id).name == 'away'


# -- add / get / save / remove ----------------------------------------------

def test_add_then_get_returns_every_field():
    image = new(name='cirros', visibility='private', min_disk=2,
                min_ram=512, container_format='bare', disk_format='qcow2',
                protected=True, os_hidden=True, created_at=T0,
                updated_at=T0,
                extra_properties={'hw_cpu_cores': '4', 'empty': ''},
                tags={'a', 'b'})
    repo().add(image)
    got = repo().get(image.image_id)
    assert (got.name, got.visibility, got.owner, got.status) == \
        ('cirros', 'private', 'p1', 'queued')
    assert (got.min_disk, got.min_ram) == (2, 512)
    assert (got.container_format, got.disk_format) == ('bare', 'qcow2')
    assert got.protected is True and got.os_hidden is True
    assert (got.size, got.virtual_size, got.checksum) == (None, None, None)
    assert got.extra_properties == {'hw_cpu_cores': '4', 'empty': ''}
    assert got.tags == {'a', 'b'}
    assert got.locations == []
    # Microseconds survive on every backend (DATETIME(6) on MariaDB), and a
    # new image was last updated when it was created.
    assert got.created_at == T0
    assert got.updated_at == T0
    assert got.loaded_status == 'queued'


def test_get_unknown_image_is_not_found():
    with pytest.raises(exception.ImageNotFound) as err:
        repo().get(str(uuid.uuid4()))
    assert err.value.code == 404


def test_add_with_a_live_id_is_a_conflict():
    image = repo().add(new(name='first'))
    with pytest.raises(exception.Duplicate) as err:
        repo().add(new(image_id=image.image_id, name='second'))
    assert err.value.code == 409
    assert repo().get(image.image_id).name == 'first'


def test_save_changes_core_fields_properties_and_tags():
    image = repo().add(new(name='old', extra_properties={'keep': '1',
                                                         'drop': '2'},
                           tags={'x', 'y'}))
    loaded = repo().get(image.image_id)
    loaded.name = 'new'
    loaded.min_ram = 1024
    loaded.extra_properties = {'keep': '1', 'added': '3'}
    loaded.tags = {'y', 'z'}
    saved = repo().save(loaded)
    assert saved.updated_at >= image.updated_at
    got = repo().get(image.image_id)
    assert (got.name, got.min_ram) == ('new', 1024)
    assert got.extra_properties == {'keep': '1', 'added': '3'}
    assert got.tags == {'y', 'z'}


def test_a_property_removed_and_set_again_reuses_its_row():
    image = repo().add(new(extra_properties={'k': 'v1'}))
    image.extra_properties = {}
    repo().save(image)
    assert repo().get(image.image_id).extra_properties == {}
    image.extra_properties = {'k': 'v2'}
    repo().save(image)
    assert repo().get(image.image_id).extra_properties == {'k': 'v2'}
    props = rows(models.ImageProperty, image_id=image.image_id)
    assert [(p.name, p.value, p.deleted) for p in props] == \
        [('k', 'v2', False)]


def test_names_and_tags_are_case_sensitive_on_every_backend():
    image = repo().add(new(extra_properties={'Foo': 'upper', 'foo': 'lower'},
                           tags={'Tag', 'tag'}))
    got = repo().get(image.image_id)
    assert got.extra_properties == {'Foo': 'upper', 'foo': 'lower'}
    assert got.tags == {'Tag', 'tag'}


def test_text_outside_the_bmp_round_trips():
    name = 'snow \u2603 and \U0001f427'
    image = repo().add(new(name=name, extra_properties={'os': '\U0001f427'},
                           tags={'\U0001f600'}))
    got = repo().get(image.image_id)
    assert got.name == name
    assert got.extra_properties == {'os': '\U0001f427'}
    assert got.tags == {'\U0001f600'}


def _loc(url: str, store: str = 'fast', status: str = 'active') -> dict:
    return {'url': url, 'metadata': {'store': store}, 'status': status}


def test_locations_round_trip_in_order():
    image = repo().add(new())
    image.locations = [_loc('file:///a'), _loc('file:///b', 'cheap')]
    repo().save(image)
    got = repo().get(image.image_id)
    assert [(loc['url'], loc['metadata'], loc['status'])
            for loc in got.locations] == [
        ('file:///a', {'store': 'fast'}, 'active'),
        ('file:///b', {'store': 'cheap'}, 'active')]
    assert got.stores == ['fast', 'cheap']
    ids = [loc['id'] for loc in got.locations]

    # A save that does not touch locations leaves their rows alone.
    got.name = 'renamed'
    repo().save(got)
    again = repo().get(image.image_id)
    assert [loc['id'] for loc in again.locations] == ids

    # Changing metadata keeps the row; a new order is honoured.
    again.locations = [_loc('file:///b', 'cheap'),
                       _loc('file:///a', 'fast', 'pending_delete')]
    repo().save(again)
    final = repo().get(image.image_id)
    assert [(loc['url'], loc['status']) for loc in final.locations] == [
        ('file:///b', 'active'), ('file:///a', 'pending_delete')]
    assert final.locations[0]['id'] == ids[1]
    live = [r for r in rows(models.ImageLocation, image_id=image.image_id)
            if not r.deleted]
    assert len(live) == 2


def test_remove_soft_deletes_and_the_id_is_never_reused():
    image = repo().add(new(extra_properties={'k': 'v'}, tags={'t'}))
    image.locations = [_loc('file:///gone')]
    repo().save(image)
    image.delete()
    repo().remove(image)
    with pytest.raises(exception.ImageNotFound):
        repo().get(image.image_id)
    [row] = rows(models.Image, id=image.image_id)
    assert (row.deleted, row.status) == (True, 'deleted')
    assert row.deleted_at is not None
    assert all(p.deleted for p in rows(models.ImageProperty,
                                       image_id=image.image_id))
    assert all(t.deleted for t in rows(models.ImageTag,
                                       image_id=image.image_id))
    [loc] = rows(models.ImageLocation, image_id=image.image_id)
    assert (loc.deleted, loc.status) == (True, 'deleted')
    with pytest.raises(exception.Duplicate) as err:
        repo().add(new(image_id=image.image_id))
    assert err.value.code == 409
    # Deleting again finds nothing to delete.
    with pytest.raises(exception.ImageNotFound):
        repo().remove(image)


def test_pending_delete_keeps_the_locations_for_the_scrubber():
    image = repo().add(new())
    image.locations = [_loc('file:///later')]
    image.status = 'active'
    repo().save(image)
    image.status = 'pending_delete'
    repo().remove(image)
    with pytest.raises(exception.ImageNotFound):
        repo().get(image.image_id)
    [loc] = rows(models.ImageLocation, image_id=image.image_id)
    assert (loc.deleted, loc.status, loc.value) == \
        (False, 'pending_delete', 'file:///later')


def test_two_saves_from_the_same_loaded_status_the_second_conflicts():
    image = repo().add(new())
    first = repo().get(image.image_id)
    second = repo().get(image.image_id)
    first.set_status('saving')
    repo().save(first)
    second.set_status('saving')
    with pytest.raises(exception.Conflict) as err:
        repo().save(second)
    assert err.value.code == 409
    assert 'saving' in str(err.value)
    assert repo().get(image.image_id).status == 'saving'


def test_racing_saves_in_threads_exactly_one_wins():
    """The guard holds under real concurrency, not only in sequence."""
    outcomes = []
    for _ in range(5):
        image = repo().add(new())
        copies = [repo().get(image.image_id) for _ in range(2)]
        barrier = threading.Barrier(2)
        results = []

        def save(copy):
            copy.set_status('saving')
            barrier.wait()
            try:
                repo().save(copy)
                results.append('saved')
            except exception.Conflict:
                results.append('conflict')

        threads = [threading.Thread(target=save, args=(c,)) for c in copies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes.append(sorted(results))
    assert outcomes == [['conflict', 'saved']] * 5


def test_import_lock_is_taken_by_one_save_only():
    """copy-image keeps the status: the lock property guards the image."""
    outcomes = []
    for _ in range(5):
        image = repo().add(new(status='active'))
        copies = [repo().get(image.image_id) for _ in range(2)]
        barrier = threading.Barrier(2)
        results = []

        def take(copy, task_id):
            copy.extra_properties[IMPORT_LOCK] = task_id
            barrier.wait()
            try:
                repo().save(copy)
                results.append(task_id)
            except exception.Conflict as exc:
                assert 'locked by another import' in str(exc)
                results.append('conflict')

        threads = [threading.Thread(target=take, args=(c, 't%d' % n))
                   for n, c in enumerate(copies)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = [r for r in results if r != 'conflict']
        outcomes.append(len(won))
        held = repo().get(image.image_id)
        assert held.extra_properties[IMPORT_LOCK] == won[0]
        # the holder releases it; a save that leaves it alone never waits
        del held.extra_properties[IMPORT_LOCK]
        repo().save(held)
        copies[0].name = 'renamed'
        copies[0].extra_properties.pop(IMPORT_LOCK, None)
        copies[0].loaded_lock = None
        repo().save(copies[0])
    assert outcomes == [1] * 5


def test_save_without_a_status_change_does_not_conflict():
    image = repo().add(new())
    first = repo().get(image.image_id)
    second = repo().get(image.image_id)
    first.name = 'one'
    repo().save(first)
    second.min_disk = 5
    repo().save(second)
    got = repo().get(image.image_id)
    # Each save wrote only what it changed: both changes are kept.
    assert (got.name, got.min_disk) == ('one', 5)


def test_explicit_from_state_guards_the_write():
    image = repo().add(new())
    image.set_status('saving')
    with pytest.raises(exception.Conflict):
        repo().save(image, from_state='importing')
    assert repo().get(image.image_id).status == 'queued'


def test_storage_used_counts_live_images_of_the_owner():
    a = repo().add(new(size=100))
    repo().add(new(size=50))
    repo().add(new(size=7, owner='p2'))
    gone = repo().add(new(size=1000))
    gone.delete()
    repo().remove(gone)
    assert repo().storage_used('p1') == 150
    assert repo().storage_used('p1', exclude=a.image_id) == 50
    assert repo().storage_used('nobody') == 0


def test_storage_used_counts_each_copy_of_the_data():
    # data in two stores (copy-image) uses its bytes twice, as the
    # reference counts it; a location pending delete no longer counts
    image = repo().add(new(size=100, status='active'))
    image.locations = [_loc('file:///a'), _loc('file:///b', 'cheap')]
    image = repo().save(image)
    assert repo().storage_used('p1') == 200
    image.locations = [_loc('file:///a'),
                       _loc('file:///b', 'cheap', 'pending_delete')]
    repo().save(image)
    assert repo().storage_used('p1') == 100


# -- the list query ----------------------------------------------------------

def _member(image_id: str, member: str, status: str) -> None:
    db_members.create(image_id, member, status, datetime.datetime(2026, 1, 1))


@pytest.fixture
def catalogue() -> dict[str, str]:
    """Images of every visibility, owned by p1 and p2; name -> id."""
    made = {}
    for i, (name, owner, vis, hidden) in enumerate((
            ('pub', 'p1', 'public', False),
            ('priv1', 'p1', 'private', False),
            ('shared-accepted', 'p1', 'shared', False),
            ('shared-pending', 'p1', 'shared', False),
            ('comm', 'p1', 'community', False),
            ('priv2', 'p2', 'private', False),
            ('hidden', 'p1', 'public', True))):
        when = T0 + datetime.timedelta(microseconds=i)
        made[name] = repo(owner).add(new(
            name=name, owner=owner, visibility=vis, os_hidden=hidden,
            created_at=when, updated_at=when)).image_id
    _member(made['shared-accepted'], 'p2', 'accepted')
    _member(made['shared-pending'], 'p2', 'pending')
    _member(made['shared-pending'], 'p3', 'pending')
    return made


def names(r: db_images.ImageRepo, **query) -> list[str]:
    query.setdefault('sort', [('name', 'asc')])
    return [i.name for i in r.list(image_list.ListQuery(**query))]


def test_visibility_admin(catalogue):
    admin = repo('admin-project', admin=True)
    assert names(admin) == ['priv1', 'priv2', 'pub', 'shared-accepted',
                            'shared-pending']
    assert names(admin, visibility='all') == [
        'comm', 'priv1', 'priv2', 'pub', 'shared-accepted',
        'shared-pending']
    assert names(admin, visibility='community') == ['comm']


def test_visibility_owner(catalogue):
    assert names(repo('p1')) == ['comm', 'priv1', 'pub', 'shared-accepted',
                                 'shared-pending']
    assert names(repo('p1'), visibility='private') == ['priv1']
    assert names(repo('p1'), visibility='shared') == [
        'shared-accepted', 'shared-pending']


def test_visibility_member_and_other_project(catalogue):
    assert names(repo('p2')) == ['priv2', 'pub', 'shared-accepted']
    assert names(repo('p2'), member_status='pending') == [
        'priv2', 'pub', 'shared-pending']
    assert names(repo('p2'), member_status='all',
                 visibility='shared') == ['shared-accepted',
                                          'shared-pending']
    assert names(repo('p2'), visibility='private') == ['priv2']
    assert names(repo('p4')) == ['pub']
    assert names(repo('p4'), visibility='community') == ['comm']
    assert names(repo('p4'), visibility='all') == ['comm', 'pub']
    assert names(repo('p4'), visibility='shared') == []


def test_hidden_images_only_when_asked(catalogue):
    assert 'hidden' not in names(repo('p4'))
    assert names(repo('p4'), os_hidden=True) == ['hidden']


def test_filters_on_columns_properties_and_tags():
    for i, (name, size, tags, props) in enumerate((
            ('a', 10, {'x'}, {'os_distro': 'ubuntu'}),
            ('b', 20, {'x', 'y'}, {'os_distro': 'fedora'}),
            ('c', 30, {'y'}, {'os_distro': 'ubuntu'}),
            ('d', None, set(), {}))):
        repo().add(new(name=name, size=size, tags=tags,
                       extra_properties=props, visibility='public'))
    r = repo('p1')
    assert names(r, filters=[('name', 'eq', 'b')]) == ['b']
    assert names(r, filters=[('size', 'gte', 20)]) == ['b', 'c']
    assert names(r, filters=[('size', 'lt', 30), ('size', 'gt', 10)]) == ['b']
    assert names(r, filters=[('name', 'in', ['a', 'c', 'z'])]) == ['a', 'c']
    assert names(r, filters=[('name', 'neq', 'a')]) == ['b', 'c', 'd']
    assert names(r, filters=[('os_distro', 'eq', 'ubuntu')]) == ['a', 'c']
    assert names(r, tags=['x']) == ['a', 'b']
    assert names(r, tags=['x', 'y']) == ['b']
    assert names(r, filters=[('name', 'eq', 'B')]) == []


def test_a_list_shape_is_built_once_and_each_request_binds_its_values():
    """Lists that differ only in their values share one statement (built
    and keyed by SQLAlchemy once); the answers are each request's own."""
    for name, tags in (('a', {'x'}), ('b', {'x', 'y'}), ('c', {'y'})):
        repo().add(new(name=name, tags=tags, visibility='public'))
    r = repo('p1')
    asked = [
        ({'filters': [('name', 'eq', 'a')]}, ['a']),
        ({'filters': [('name', 'eq', 'c')]}, ['c']),
        ({'filters': [('name', 'in', ['a', 'b', 'z'])]}, ['a', 'b']),
        ({'filters': [('name', 'in', ['c'])]}, ['c']),
        ({'tags': ['x']}, ['a', 'b']),
        ({'tags': ['y']}, ['b', 'c']),
    ]
    built = []
    with engine.read_scope() as conn:
        for query, expected in asked:
            assert names(r, **query) == expected, query
            built.append(image_list.statement(conn, False, 'p1',
                                              image_list.ListQuery(
                                                  sort=[('name', 'asc')],
                                                  **query))[0])
        others = image_list.statement(conn, False, 'p2', image_list.ListQuery(
            sort=[('name', 'asc')], filters=[('name', 'eq', 'a')]))
    assert built[0] is built[1] is others[0]
    assert others[1]['project'] == 'p2'
    assert built[2] is built[3] and built[4] is built[5]
    assert len({id(stmt) for stmt in built}) == 3


def _page_all(r, sort, limit=2) -> list[str]:
    out, marker = [], None
    while True:
        page = r.list(image_list.ListQuery(sort=sort, marker=marker,
                                           limit=limit))
        out += [i.name for i in page]
        if len(page) < limit:
            return out
        marker = page[-1].image_id


@pytest.fixture
def sized() -> None:
    """Images whose sizes include NULLs and ties."""
    for name, size in (('n1', None), ('s5', 5), ('n2', None), ('s1', 1),
                       ('t5', 5), ('n3', None), ('s9', 9)):
        repo().add(new(name=name, size=size))


def test_sort_puts_nulls_first_ascending_last_descending(sized):
    asc = names(repo(), sort=[('size', 'asc'), ('name', 'asc')])
    assert asc == ['n1', 'n2', 'n3', 's1', 's5', 't5', 's9']
    desc = names(repo(), sort=[('size', 'desc'), ('name', 'desc')])
    assert desc == ['s9', 't5', 's5', 's1', 'n3', 'n2', 'n1']


@pytest.mark.parametrize('sort', [
    [('size', 'asc'), ('name', 'asc')],
    [('size', 'desc'), ('name', 'asc')],
    [('size', 'asc')],
    [('size', 'desc')],
])
def test_marker_paging_crosses_nulls_and_ties(sized, sort):
    whole = names(repo(), sort=sort)
    assert len(whole) == 7
    assert _page_all(repo(), sort) == whole
    assert _page_all(repo(), sort, limit=1) == whole


def test_name_sort_is_by_code_point_on_every_backend():
    for name in ('b', 'B', 'a', 'A', '\u00e9', '_'):
        repo().add(new(name=name))
    assert names(repo(), sort=[('name', 'asc')]) == \
        ['A', 'B', '_', 'a', 'b', '\u00e9']


def test_default_sort_is_newest_first_to_the_microsecond():
    for i in range(4):
        when = T0 + datetime.timedelta(microseconds=i)
        repo().add(new(name='i%d' % i, created_at=when, updated_at=when))
    got = repo().list(image_list.ListQuery())
    assert [i.name for i in got] == ['i3', 'i2', 'i1', 'i0']


def test_an_invisible_marker_is_a_bad_request(catalogue):
    with pytest.raises(exception.BadRequest) as err:
        repo('p4').list(image_list.ListQuery(marker=catalogue['priv1']))
    assert err.value.code == 400
    assert catalogue['priv1'] in str(err.value)


# -- the image's age on its tag and membership rows (list order) -------------

def _ages(model, image_id: str) -> list:
    return [(getattr(r, 'value', None) or r.member, r.deleted,
             r.image_created_at) for r in rows(model, image_id=image_id)]


def test_tag_and_member_rows_carry_the_images_created_at():
    """image_tags / image_members.image_created_at is the image's
    created_at whichever way the row was written: tags given at create,
    tags added by a save (and re-added after removal), members added,
    removed and added again (a revived row)."""
    from glance.db import members as db_member_repo
    from glance.domain.member import ImageMember
    image = new(created_at=T0, updated_at=T0, visibility='shared',
                tags={'a', 'b'})
    repo().add(image)
    assert _ages(models.ImageTag, image.image_id) == [
        ('a', False, T0), ('b', False, T0)]
    image = repo().get(image.image_id)
    image.tags = {'b', 'c'}
    repo().save(image)
    image = repo().get(image.image_id)
    image.tags = {'a', 'b', 'c'}
    repo().save(image)
    assert sorted(_ages(models.ImageTag, image.image_id)) == [
        ('a', False, T0), ('a', True, T0), ('b', False, T0),
        ('c', False, T0)]
    members = db_member_repo.MemberRepo(None, repo().get(image.image_id))
    later = datetime.datetime(2026, 1, 1)
    for project in ('p2', 'p3'):
        members.add(ImageMember(image.image_id, project, created_at=later))
    members.remove(members.get('p2'))
    members.add(ImageMember(image.image_id, 'p2', created_at=later))
    assert _ages(models.ImageMember, image.image_id) == [
        ('p2', False, T0), ('p3', False, T0)]


def test_lists_by_tag_and_shared_lists_follow_the_images_age():
    """A tag list and a member's shared list (read from the child rows)
    page through in the images' order, newest first, and a deleted
    image leaves both."""
    from glance.db import members as db_member_repo
    from glance.domain.member import ImageMember
    made = []
    for i in range(7):
        image = new(owner='p1' if i % 3 == 0 else 'p9', visibility='shared',
                    created_at=T0 + datetime.timedelta(seconds=i),
                    updated_at=T0, tags={'x'})
        repo('p1' if i % 3 == 0 else 'p9').add(image)
        if i % 3:
            members = db_member_repo.MemberRepo(None, image)
            members.add(ImageMember(image.image_id, 'p1', status='accepted',
                                    created_at=T0))
        made.append(image.image_id)
    gone = repo('p9').get(made[4])
    gone.status = 'deleted'
    repo('p9').remove(gone)
    expected = [i for i in reversed(made) if i != made[4]]
    for args in ({'tags': ['x']}, {'visibility': 'shared'}):
        seen, marker = [], None
        while True:
            page = [r.id for r in image_list.list_images(
                False, 'p1', image_list.ListQuery(limit=2, marker=marker,
                                                  **args))]
            if not page:
                break
            seen += page
            marker = page[-1]
        assert seen == expected, args
