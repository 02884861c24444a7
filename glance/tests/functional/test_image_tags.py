"""PUT and DELETE /v2/images/{image_id}/tags/{tag}: one tag at a time.

The server counts tags against a small ``image_tag_quota`` and writes its
notifications to the log, so the quota answer and the image.update events
are seen end to end.
"""
from __future__ import annotations

import urllib.parse
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer
from glance.tests.functional.test_notifications import LogEvents, wait_names

TAG_QUOTA = 4


@pytest.fixture(scope='module')
def tag_server(tmp_path_factory):
    srv = GlanceServer(str(tmp_path_factory.mktemp('glance-tags')),
                       profile='reference',
                       settings=['DEFAULT.image_tag_quota=%d' % TAG_QUOTA,
                                 'oslo_messaging_notifications.driver=log']
                       ).start()
    yield srv
    srv.stop()


@pytest.fixture
def project() -> str:
    return 'tags-%s' % uuid.uuid4().hex[:10]


@pytest.fixture
def alice(tag_server, project) -> Client:
    return Client(tag_server.url, identity(project, user='alice'))


@pytest.fixture
def carol(tag_server, project) -> Client:
    """A reader of alice's project."""
    return Client(tag_server.url, identity(project, 'reader', user='carol'))


@pytest.fixture
def bob(tag_server) -> Client:
    """A member of another project."""
    return Client(tag_server.url, identity('tags-other', user='bob'))


@pytest.fixture
def admin(tag_server) -> Client:
    return Client(tag_server.url,
                  identity('tags-admin', 'admin,member,reader', 'admin'))


def tag_path(image_id: str, tag: str) -> str:
    return '/v2/images/%s/tags/%s' % (image_id, urllib.parse.quote(tag,
                                                                   safe=''))


def show(client: Client, image_id: str) -> dict:
    r = client.get('/v2/images/%s' % image_id)
    assert r.status_code == 200, r.text
    return r.json()


def assert_no_content(r) -> None:
    assert r.status_code == 204, r.text
    assert r.content == b''
    assert 'Content-Length' not in r.headers


def test_add_tag_is_idempotent(alice):
    image = alice.create(name='tagged', tags=['one'])
    assert_no_content(alice.put(tag_path(image['id'], 'two')))
    after = show(alice, image['id'])
    assert after['tags'] == ['one', 'two']
    assert after['updated_at'] >= image['updated_at']
    # everything but the tags and the update time is as it was
    for key in set(image) - {'tags', 'updated_at'}:
        assert after[key] == image[key], key

    assert_no_content(alice.put(tag_path(image['id'], 'two')))
    assert show(alice, image['id'])['tags'] == ['one', 'two']


@pytest.mark.parametrize('tag', [
    'with space', 'ünïcødé', 'v1.0', 'x.json', 'a:b=c', 'x' * 255,
    'ä' * 255,
])
def test_tags_are_kept_as_written(alice, tag):
    image = alice.create(name='odd-tags')
    assert_no_content(alice.put(tag_path(image['id'], tag)))
    assert show(alice, image['id'])['tags'] == [tag]
    r = alice.get('/v2/images?tag=%s' % urllib.parse.quote(tag))
    assert [i['id'] for i in r.json()['images']] == [image['id']]
    assert_no_content(alice.delete(tag_path(image['id'], tag)))
    assert show(alice, image['id'])['tags'] == []


@pytest.mark.parametrize('tag', ['x' * 256, 'ä' * 256])
def test_tag_longer_than_255_characters_is_refused(alice, tag):
    image = alice.create(name='long', tags=['keep'])
    r = alice.put(tag_path(image['id'], tag))
    assert r.status_code == 400
    assert '255' in r.text
    assert show(alice, image['id']) == image


def test_tag_quota(alice, tag_server):
    tags = ['t%d' % i for i in range(TAG_QUOTA)]
    image = alice.create(name='full', tags=tags)
    r = alice.put(tag_path(image['id'], 'one-too-many'))
    assert r.status_code == 413
    assert 'tags' in r.text
    assert 'Attempted: %d, Maximum: %d' % (TAG_QUOTA + 1, TAG_QUOTA) in r.text
    assert show(alice, image['id']) == image
    # a tag the image already has is not one more
    assert_no_content(alice.put(tag_path(image['id'], 't0')))
    # and room made by a delete can be used
    assert_no_content(alice.delete(tag_path(image['id'], 't0')))
    assert_no_content(alice.put(tag_path(image['id'], 'new')))
    assert show(alice, image['id'])['tags'] == sorted(tags[1:] + ['new'])


def test_delete_tag(alice):
    image = alice.create(name='untag', tags=['one', 'two'])
    assert_no_content(alice.delete(tag_path(image['id'], 'one')))
    assert show(alice, image['id'])['tags'] == ['two']

    before = show(alice, image['id'])
    r = alice.delete(tag_path(image['id'], 'one'))
    assert r.status_code == 404
    assert 'one' in r.text
    assert show(alice, image['id']) == before
    # tags are case sensitive
    assert alice.delete(tag_path(image['id'], 'TWO')).status_code == 404
    assert show(alice, image['id'])['tags'] == ['two']


def test_reader_cannot_change_tags(alice, carol):
    image = alice.create(name='read-only', tags=['one'])
    for r in (carol.put(tag_path(image['id'], 'two')),
              carol.put(tag_path(image['id'], 'one')),
              carol.delete(tag_path(image['id'], 'one'))):
        assert r.status_code == 403
        assert 'not authorized' in r.text
    assert show(alice, image['id']) == image


def test_other_project_sees_no_image(alice, bob):
    image = alice.create(name='private-tags', tags=['one'])
    for r in (bob.put(tag_path(image['id'], 'two')),
              bob.delete(tag_path(image['id'], 'one'))):
        assert r.status_code == 404
        assert image['id'] in r.text
    assert show(alice, image['id']) == image


def test_other_project_cannot_tag_a_public_image(alice, bob, admin):
    image = admin.create(name='public-tags', visibility='public')
    r = bob.put(tag_path(image['id'], 'mine'))
    assert r.status_code == 403
    assert show(bob, image['id'])['tags'] == []


def test_admin_tags_any_image(alice, admin):
    image = alice.create(name='admin-tags', visibility='private')
    assert_no_content(admin.put(tag_path(image['id'], 'by-admin')))
    assert_no_content(admin.delete(tag_path(image['id'], 'by-admin')))
    assert_no_content(admin.put(tag_path(image['id'], 'again')))
    assert show(alice, image['id'])['tags'] == ['again']


def test_unknown_and_deleted_images(alice):
    unknown = str(uuid.uuid4())
    assert alice.put(tag_path(unknown, 'x')).status_code == 404
    assert alice.delete(tag_path(unknown, 'x')).status_code == 404
    image = alice.create(name='gone', tags=['x'])
    assert alice.delete('/v2/images/%s' % image['id']).status_code == 204
    assert alice.put(tag_path(image['id'], 'y')).status_code == 404
    assert alice.delete(tag_path(image['id'], 'x')).status_code == 404


def test_tags_of_an_active_image_can_change(alice):
    image = alice.create(name='active-tags', disk_format='raw',
                         container_format='bare')
    assert alice.upload(image['id'], b'x' * 100).status_code == 204
    assert_no_content(alice.put(tag_path(image['id'], 'golden')))
    after = show(alice, image['id'])
    assert after['status'] == 'active' and after['tags'] == ['golden']
    assert after['size'] == 100


def test_routes(alice):
    image = alice.create(name='routes', tags=['one'])
    r = alice.get(tag_path(image['id'], 'one'))
    assert r.status_code == 405
    assert r.headers['Allow'] == 'PUT, DELETE'
    assert alice.post(tag_path(image['id'], 'one')).status_code == 405
    # there is no tags collection resource
    assert alice.get('/v2/images/%s/tags' % image['id']).status_code == 404
    assert alice.put('/v2/images/%s/tags/' % image['id']).status_code == 404
    # a slash cannot be part of a tag
    assert alice.put('/v2/images/%s/tags/a%%2Fb' % image['id']
                     ).status_code == 404
    assert show(alice, image['id']) == image


def test_tag_changes_send_image_update(alice, tag_server):
    events = LogEvents(tag_server)
    image = alice.create(name='notify-tags', tags=['one'])
    assert_no_content(alice.put(tag_path(image['id'], 'two')))
    assert_no_content(alice.delete(tag_path(image['id'], 'one')))
    # refused calls send nothing
    assert alice.delete(tag_path(image['id'], 'one')).status_code == 404
    assert alice.put(tag_path(image['id'], 'x' * 256)).status_code == 400
    assert_no_content(alice.put(tag_path(image['id'], 'three')))
    got = wait_names(events, image['id'], ['image.create', 'image.update',
                                           'image.update', 'image.update'])
    assert [e['payload']['tags'] for e in got] == [
        ['one'], ['one', 'two'], ['two'], ['three', 'two']]
