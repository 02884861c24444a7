"""POST /v2/images/{image_id}/actions/deactivate and .../reactivate.

Who may switch an image off and on, from which statuses, what a
deactivated image still shows and serves, and the events each change sends.
"""
from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer
from glance.tests.functional.test_notifications import LogEvents, wait_names


@pytest.fixture(scope='module')
def action_server(tmp_path_factory):
    srv = GlanceServer(str(tmp_path_factory.mktemp('glance-actions')),
                       profile='reference',
                       settings=['oslo_messaging_notifications.driver=log']
                       ).start()
    yield srv
    srv.stop()


@pytest.fixture
def project() -> str:
    return 'actions-%s' % uuid.uuid4().hex[:10]


@pytest.fixture
def alice(action_server, project) -> Client:
    return Client(action_server.url, identity(project, user='alice'))


@pytest.fixture
def carol(action_server, project) -> Client:
    """A reader of alice's project."""
    return Client(action_server.url, identity(project, 'reader',
                                              user='carol'))


@pytest.fixture
def bob(action_server) -> Client:
    """A member of another project."""
    return Client(action_server.url, identity('actions-other', user='bob'))


@pytest.fixture
def admin(action_server) -> Client:
    return Client(action_server.url,
                  identity('actions-admin', 'admin,member,reader', 'admin'))


def deactivate(client: Client, image_id: str):
    return client.post('/v2/images/%s/actions/deactivate' % image_id)


def reactivate(client: Client, image_id: str):
    return client.post('/v2/images/%s/actions/reactivate' % image_id)


def show(client: Client, image_id: str) -> dict:
    r = client.get('/v2/images/%s' % image_id)
    assert r.status_code == 200, r.text
    return r.json()


def assert_no_content(r) -> None:
    assert r.status_code == 204, r.text
    assert r.content == b''
    assert 'Content-Length' not in r.headers


def active_image(client: Client, data: bytes = b'', **extra) -> dict:
    image = client.create(name='act', disk_format='raw',
                          container_format='bare', **extra)
    r = client.upload(image['id'], data or os.urandom(1024))
    assert r.status_code == 204, r.text
    return show(client, image['id'])


def test_deactivate_and_reactivate(alice, admin):
    data = os.urandom(4096)
    image = active_image(alice, data)
    assert image['stores'] == 'fast'

    assert_no_content(deactivate(alice, image['id']))
    after = show(alice, image['id'])
    assert after['status'] == 'deactivated'
    # where the withheld data lives is withheld too, but not from admins
    assert 'stores' not in after
    assert show(admin, image['id'])['stores'] == 'fast'
    for key in set(image) - {'status', 'updated_at', 'stores'}:
        assert after[key] == image[key], key

    r = alice.get('/v2/images?status=deactivated')
    assert [i['id'] for i in r.json()['images']] == [image['id']]
    assert 'stores' not in r.json()['images'][0]
    r = alice.get('/v2/images')
    assert [i['id'] for i in r.json()['images']] == [image['id']]

    # a second deactivate changes nothing and succeeds
    assert_no_content(deactivate(alice, image['id']))
    assert show(alice, image['id']) == after

    assert_no_content(reactivate(alice, image['id']))
    again = show(alice, image['id'])
    assert again['status'] == 'active' and again['stores'] == 'fast'
    assert_no_content(reactivate(alice, image['id']))
    assert show(alice, image['id']) == again
    r = alice.get('/v2/images/%s/file' % image['id'])
    assert r.status_code == 200 and r.content == data


def test_download_of_deactivated_image_is_for_admins_only(
        alice, admin, bob, project):
    data = os.urandom(2048)
    image = active_image(alice, data, visibility='community')
    assert_no_content(deactivate(alice, image['id']))
    for client in (alice, bob):
        r = client.get('/v2/images/%s/file' % image['id'])
        assert r.status_code == 403
        assert 'deactivated' in r.text
    r = admin.get('/v2/images/%s/file' % image['id'])
    assert r.status_code == 200
    assert r.content == data
    assert r.headers['Content-MD5'] == hashlib.md5(data).hexdigest()
    # the image is still there to be seen, only its data is withheld
    assert show(bob, image['id'])['status'] == 'deactivated'


def test_only_active_images_can_be_deactivated(alice):
    image = alice.create(name='queued')
    r = deactivate(alice, image['id'])
    assert r.status_code == 403
    assert 'queued' in r.text
    r = reactivate(alice, image['id'])
    assert r.status_code == 403
    assert 'queued' in r.text
    assert show(alice, image['id']) == image


def test_deactivated_image_takes_no_upload_but_can_be_deleted(
        alice, action_server):
    image = active_image(alice)
    assert_no_content(deactivate(alice, image['id']))
    before = show(alice, image['id'])
    r = alice.upload(image['id'], b'new data')
    assert r.status_code == 409
    assert show(alice, image['id']) == before
    stored = os.path.join(action_server.workdir, 'stores', 'fast',
                          image['id'])
    assert os.path.exists(stored)
    assert alice.delete('/v2/images/%s' % image['id']).status_code == 204
    assert not os.path.exists(stored)
    assert deactivate(alice, image['id']).status_code == 404
    assert reactivate(alice, image['id']).status_code == 404


def test_reader_may_not(alice, carol):
    image = active_image(alice)
    r = deactivate(carol, image['id'])
    assert r.status_code == 403
    assert 'not authorized' in r.text
    assert show(alice, image['id']) == image
    assert_no_content(deactivate(alice, image['id']))
    before = show(alice, image['id'])
    r = reactivate(carol, image['id'])
    assert r.status_code == 403
    assert 'not authorized' in r.text
    assert show(alice, image['id']) == before


def test_other_project_cannot_see_the_image(alice, bob):
    image = active_image(alice)
    for call in (deactivate, reactivate):
        r = call(bob, image['id'])
        assert r.status_code == 404
        assert image['id'] in r.text
    assert show(alice, image['id']) == image


def test_other_project_may_not_deactivate_a_public_image(alice, admin, bob):
    image = active_image(admin, visibility='public')
    assert deactivate(bob, image['id']).status_code == 403
    assert show(bob, image['id'])['status'] == 'active'


def test_admin_may_deactivate_any_image(alice, admin):
    image = active_image(alice, visibility='private')
    assert_no_content(deactivate(admin, image['id']))
    assert show(alice, image['id'])['status'] == 'deactivated'
    # the owner may switch it back on: the rule is admin or owner member
    assert_no_content(reactivate(alice, image['id']))
    assert show(alice, image['id'])['status'] == 'active'


def test_routes(alice):
    image = active_image(alice)
    path = '/v2/images/%s/actions/' % image['id']
    assert alice.post(path + 'explode').status_code == 404
    assert alice.post(path.rstrip('/')).status_code == 404
    for action in ('deactivate', 'reactivate'):
        for method in ('GET', 'PUT', 'DELETE'):
            r = alice.request(method, path + action)
            assert r.status_code == 405, (method, action)
            assert r.headers['Allow'] == 'POST'
    unknown = str(uuid.uuid4())
    assert deactivate(alice, unknown).status_code == 404
    assert reactivate(alice, unknown).status_code == 404
    assert show(alice, image['id']) == image


def test_a_body_is_ignored(alice):
    image = active_image(alice)
    r = alice.post('/v2/images/%s/actions/deactivate' % image['id'],
                   json={'status': 'killed'})
    assert_no_content(r)
    assert show(alice, image['id'])['status'] == 'deactivated'


def test_status_changes_send_image_update(alice, carol, action_server):
    events = LogEvents(action_server)
    image = active_image(alice)
    assert deactivate(carol, image['id']).status_code == 403   # no news
    assert_no_content(deactivate(alice, image['id']))
    assert_no_content(deactivate(alice, image['id']))     # no news
    assert_no_content(reactivate(alice, image['id']))
    assert_no_content(reactivate(alice, image['id']))     # no news
    assert_no_content(deactivate(alice, image['id']))
    got = wait_names(events, image['id'], [
        'image.create', 'image.prepare', 'image.upload', 'image.activate',
        'image.update', 'image.update', 'image.update'])
    assert [e['payload']['status'] for e in got[4:]] == [
        'deactivated', 'active', 'deactivated']


@pytest.fixture(scope='module')
def admin_only_server(tmp_path_factory):
    """An operator who keeps the actions to administrators, as older
    releases did, while owners still modify their images."""
    srv = GlanceServer(str(tmp_path_factory.mktemp('glance-actions-pol')),
                       profile='reference')
    with open(os.path.join(srv.workdir, 'policy.yaml'), 'w') as f:
        f.write('"deactivate": "rule:context_is_admin"\n'
                '"reactivate": "rule:context_is_admin"\n')
    srv.start()
    yield srv
    srv.stop()


def test_the_action_rules_decide_not_modify_image(admin_only_server):
    owner = Client(admin_only_server.url, identity('actions-pol-pa'))
    admin = Client(admin_only_server.url,
                   identity('actions-pol-adm', 'admin,member,reader'))
    image = active_image(owner)
    r = owner.patch('/v2/images/%s' % image['id'],
                    [{'op': 'replace', 'path': '/name', 'value': 'mine'}])
    assert r.status_code == 200
    image = show(owner, image['id'])
    r = deactivate(owner, image['id'])
    assert r.status_code == 403
    assert 'deactivate' in r.text
    assert show(owner, image['id']) == image
    assert_no_content(deactivate(admin, image['id']))
    before = show(owner, image['id'])
    r = reactivate(owner, image['id'])
    assert r.status_code == 403
    assert 'reactivate' in r.text
    assert show(owner, image['id']) == before
    assert_no_content(reactivate(admin, image['id']))
    assert show(owner, image['id'])['status'] == 'active'
