"""Image members beyond the recorded scenario: quota, admin, listing
effects, re-adding, notifications and the member schemas."""
from __future__ import annotations

import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer
from glance.tests.functional.test_notifications import (
    LogEvents, names, wait_for)


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    server = GlanceServer(
        str(tmp_path_factory.mktemp('members')), profile='reference',
        settings=['DEFAULT.image_member_quota=2',
                  'oslo_messaging_notifications.driver=log']).start()
    yield server
    server.stop()


def _project() -> str:
    return 'mem-%s' % uuid.uuid4().hex[:10]


@pytest.fixture
def owner(srv) -> Client:
    return Client(srv.url, identity(_project(), user='owner'))


@pytest.fixture
def admin(srv) -> Client:
    return Client(srv.url, identity('mem-admin', 'admin,member,reader'))


def _as(srv, project: str, roles: str = 'reader,member') -> Client:
    return Client(srv.url, identity(project, roles))


def _shared(owner: Client) -> str:
    return owner.create(name='shared', visibility='shared')['id']


def _listed(client: Client, image_id: str, query: str = '') -> bool:
    images = client.get('/v2/images' + query).json()['images']
    return image_id in [i['id'] for i in images]


def test_member_quota_is_413(srv, owner):
    image_id = _shared(owner)
    for _ in range(2):
        r = owner.post('/v2/images/%s/members' % image_id,
                       json={'member': _project()})
        assert r.status_code == 200, r.text
    r = owner.post('/v2/images/%s/members' % image_id,
                   json={'member': _project()})
    assert r.status_code == 413
    assert 'Maximum: 2' in r.text
    assert len(owner.get('/v2/images/%s/members'
                         % image_id).json()['members']) == 2


def test_accepting_and_rejecting_moves_the_image_in_lists(srv, owner):
    image_id = _shared(owner)
    bob = _project()
    bob_client = _as(srv, bob)
    assert owner.post('/v2/images/%s/members' % image_id,
                      json={'member': bob}).status_code == 200
    assert not _listed(bob_client, image_id)
    assert _listed(bob_client, image_id, '?member_status=pending')
    assert _listed(bob_client, image_id, '?member_status=all')
    for status, default, rejected in (('accepted', True, False),
                                      ('rejected', False, True),
                                      ('pending', False, False)):
        r = bob_client.put('/v2/images/%s/members/%s' % (image_id, bob),
                           json={'status': status})
        assert r.status_code == 200 and r.json()['status'] == status
        assert _listed(bob_client, image_id) is default
        assert _listed(bob_client, image_id,
                       '?member_status=rejected') is rejected
        # Whatever its status, the member can still read the image.
        assert bob_client.get('/v2/images/%s' % image_id).status_code == 200


def test_reader_of_member_project_reads_but_cannot_accept(srv, owner):
    image_id = _shared(owner)
    bob = _project()
    owner.post('/v2/images/%s/members' % image_id, json={'member': bob})
    reader = _as(srv, bob, 'reader')
    r = reader.get('/v2/images/%s/members/%s' % (image_id, bob))
    assert r.status_code == 200
    r = reader.put('/v2/images/%s/members/%s' % (image_id, bob),
                   json={'status': 'accepted'})
    assert r.status_code == 403
    owner_reader = Client(srv.url, dict(owner.session.headers,
                                        **{'X-Roles': 'reader'}))
    r = owner_reader.post('/v2/images/%s/members' % image_id,
                          json={'member': _project()})
    assert r.status_code == 403
    assert [m['member_id'] for m in owner.get(
        '/v2/images/%s/members' % image_id).json()['members']] == [bob]


def test_admin_sees_and_changes_every_membership(srv, owner, admin):
    image_id = _shared(owner)
    bob, dave = _project(), _project()
    for member in (bob, dave):
        owner.post('/v2/images/%s/members' % image_id, json={'member': member})
    listed = admin.get('/v2/images/%s/members' % image_id).json()['members']
    assert sorted(m['member_id'] for m in listed) == sorted([bob, dave])
    r = admin.put('/v2/images/%s/members/%s' % (image_id, dave),
                  json={'status': 'accepted'})
    assert r.status_code == 200
    assert _listed(_as(srv, dave), image_id)
    assert admin.delete('/v2/images/%s/members/%s'
                        % (image_id, bob)).status_code == 204
    assert _as(srv, bob).get('/v2/images/%s' % image_id).status_code == 404


def test_removed_member_can_be_added_again(srv, owner):
    image_id = _shared(owner)
    bob = _project()
    path = '/v2/images/%s/members' % image_id
    assert owner.post(path, json={'member': bob}).status_code == 200
    assert _as(srv, bob).put('%s/%s' % (path, bob),
                             json={'status': 'accepted'}).status_code == 200
    assert owner.delete('%s/%s' % (path, bob)).status_code == 204
    r = owner.post(path, json={'member': bob})
    assert r.status_code == 200 and r.json()['status'] == 'pending'
    assert [m['member_id'] for m in owner.get(path).json()['members']] \
        == [bob]


def test_bad_bodies_are_400(srv, owner):
    image_id = _shared(owner)
    path = '/v2/images/%s/members' % image_id
    # (a non-zero JSON integer is a numeric project id: see
    # test_reference_edges.test_member_ids_the_reference_takes)
    for body in (b'not json', b'[]', b'{"member": 1.5}', b'{"member": ""}'):
        r = owner.post(path, data=body,
                       headers={'Content-Type': 'application/json'})
        assert r.status_code == 400, body
    assert owner.get(path).json()['members'] == []


def test_members_of_unknown_or_invisible_image_are_404(srv, owner):
    missing = str(uuid.uuid4())
    assert owner.get('/v2/images/%s/members' % missing).status_code == 404
    private = owner.create(name='p', visibility='private')['id']
    stranger = _as(srv, _project())
    assert stranger.get('/v2/images/%s/members'
                        % private).status_code == 404
    assert stranger.post('/v2/images/%s/members' % private,
                         json={'member': 'x'}).status_code == 404


def test_member_events(srv, owner):
    events = LogEvents(srv)
    image_id = _shared(owner)
    bob = _project()
    path = '/v2/images/%s/members' % image_id
    owner.post(path, json={'member': bob})
    _as(srv, bob).put('%s/%s' % (path, bob), json={'status': 'accepted'})
    owner.delete('%s/%s' % (path, bob))
    expected = ['image.member.create', 'image.member.update',
                'image.member.delete']
    got = wait_for(
        lambda: [e for e in events.of(image_id)
                 if e['event_type'].startswith('image.member.')],
        lambda found: names(found) == expected, 'member events')
    assert [e['payload']['status'] for e in got] == \
        ['pending', 'accepted', 'accepted']
    assert all(e['payload']['member_id'] == bob for e in got)
    assert [e['payload']['deleted'] for e in got] == [False, False, True]
    assert got[2]['payload']['deleted_at'] is not None


def test_member_schemas(srv, owner):
    member = owner.get('/v2/schemas/member').json()
    assert member['name'] == 'member'
    assert member['properties']['status']['enum'] == [
        'pending', 'accepted', 'rejected']
    members = owner.get('/v2/schemas/members').json()
    assert members['properties']['members']['items'] == member


def test_members_on_every_database(database, tmp_path):
    """The member SQL on SQLite, PostgreSQL and MariaDB; a member id longer
    than the column holds is refused (400) on all of them alike."""
    srv = GlanceServer(str(tmp_path), database_url=database.url,
                       profile='reference').start()
    try:
        owner = Client(srv.url, identity(_project()))
        image_id = _shared(owner)
        path = '/v2/images/%s/members' % image_id
        bob = _project()
        assert owner.post(path, json={'member': bob}).status_code == 200
        assert owner.post(path, json={'member': bob}).status_code == 409
        assert _as(srv, bob).put('%s/%s' % (path, bob), json={
            'status': 'accepted'}).status_code == 200
        assert _listed(_as(srv, bob), image_id)
        r = owner.post(path, json={'member': 'x' * 256})
        assert r.status_code == 400 and '255' in r.text, r.text
        r = owner.post(path, json={'member': 'x' * 255})
        assert r.status_code == 200, r.text
        assert owner.delete('%s/%s' % (path, bob)).status_code == 204
        assert not _listed(_as(srv, bob), image_id)
    finally:
        srv.stop()
