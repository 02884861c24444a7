"""Property protections through glance-api: hidden reads, refused writes,
nothing lost, and a bad file refusing to start the service."""
from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import BIN, ROOT, GlanceServer

RULES = """
[^x_admin_.*]
create = admin
read = admin
update = admin
delete = admin

[^x_frozen_.*]
create = member,admin
read = @
update = !
delete = !

[^x_open_.*]
create = @
read = @
update = @
delete = @
"""


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    work = tmp_path_factory.mktemp('protections')
    rules = work / 'protections.conf'
    rules.write_text(RULES)
    server = GlanceServer(str(work / 'srv'), profile='reference', settings=[
        'DEFAULT.property_protection_file=%s' % rules]).start()
    yield server
    server.stop()


@pytest.fixture
def project():
    return 'pp-%s' % uuid.uuid4().hex[:8]


@pytest.fixture
def member(srv, project) -> Client:
    return Client(srv.url, identity(project))


@pytest.fixture
def admin(srv, project) -> Client:
    return Client(srv.url, identity(project, 'admin,member,reader'))


def _image(client: Client, **props) -> dict:
    return client.create(name='pp', disk_format='raw',
                         container_format='bare', **props)


def test_create_needs_create_permission(member, admin):
    r = member.post('/v2/images', json={'name': 'x', 'x_admin_code': '1'})
    assert r.status_code == 403 and 'x_admin_code' in r.text
    r = member.post('/v2/images', json={'name': 'x', 'unmatched': '1'})
    assert r.status_code == 403
    image = _image(admin, x_admin_code='42', x_open_note='n')
    assert image['x_admin_code'] == '42'


def test_unreadable_properties_are_hidden_and_kept(member, admin):
    image = _image(admin, x_admin_code='42', x_open_note='n')
    shown = member.get('/v2/images/%s' % image['id']).json()
    assert 'x_admin_code' not in shown and shown['x_open_note'] == 'n'
    listed = [i for i in member.get('/v2/images').json()['images']
              if i['id'] == image['id']]
    assert listed and 'x_admin_code' not in listed[0]
    # Filtering on it would reveal it: nothing matches for the member.
    assert member.get('/v2/images?x_admin_code=42').json()['images'] == []
    assert image['id'] in [i['id'] for i in admin.get(
        '/v2/images?x_admin_code=42').json()['images']]
    # The member changes what it may; the hidden property survives.
    r = member.patch('/v2/images/%s' % image['id'],
                     [{'op': 'replace', 'path': '/x_open_note',
                       'value': 'm'},
                      {'op': 'add', 'path': '/x_open_more', 'value': 'y'}])
    assert r.status_code == 200, r.text
    assert 'x_admin_code' not in r.json()
    shown = admin.get('/v2/images/%s' % image['id']).json()
    assert shown['x_admin_code'] == '42' and shown['x_open_note'] == 'm'


def test_forbidden_updates_and_deletes_are_403(member, admin):
    image = _image(member, x_frozen_serial='s1')
    path = '/v2/images/%s' % image['id']
    for ops in ([{'op': 'replace', 'path': '/x_frozen_serial',
                  'value': 's2'}],
                [{'op': 'remove', 'path': '/x_frozen_serial'}]):
        for client in (member, admin):
            r = client.patch(path, ops)
            assert r.status_code == 403, r.text
    admin_image = _image(admin, x_admin_code='1')
    r = member.patch('/v2/images/%s' % admin_image['id'],
                     [{'op': 'remove', 'path': '/x_admin_code'}])
    assert r.status_code in (403, 409), r.text
    r = member.patch('/v2/images/%s' % admin_image['id'],
                     [{'op': 'add', 'path': '/x_admin_code', 'value': '2'}])
    assert r.status_code == 403
    assert admin.get('/v2/images/%s' % admin_image['id']).json()[
        'x_admin_code'] == '1'
    assert member.get(path).json()['x_frozen_serial'] == 's1'


def test_hidden_property_survives_upload_and_deactivate(member, admin):
    image = _image(admin, x_admin_code='7')
    assert member.upload(image['id'], b'data' * 100).status_code == 204
    assert admin.post('/v2/images/%s/actions/deactivate'
                      % image['id']).status_code == 204
    assert admin.get('/v2/images/%s' % image['id']).json()[
        'x_admin_code'] == '7'


def _start_fails(tmp_path, text: str | None, fmt: str = 'roles') -> str:
    settings = ['DEFAULT.property_protection_rule_format=%s' % fmt]
    path = tmp_path / 'rules.conf'
    if text is not None:
        path.write_text(text)
    settings.append('DEFAULT.property_protection_file=%s' % path)
    srv = GlanceServer(str(tmp_path / 'srv'), settings=settings)
    assert srv.manage('db', 'sync').returncode == 0
    result = subprocess.run(
        [os.path.join(BIN, 'glance-api'), '--config-file', srv.config],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode != 0
    return result.stdout + result.stderr + srv.log()


@pytest.mark.parametrize('text, fmt, words', [
    ('[(bad]\nread = @\n', 'roles', 'regular expression'),
    ('[.*]\nread = @,admin\n', 'roles', 'mixes'),
    (None, 'roles', 'rules.conf'),
])
def test_bad_file_stops_the_service(tmp_path, text, fmt, words):
    out = _start_fails(tmp_path, text, fmt)
    assert 'Property protection file' in out and words in out, out


@pytest.mark.parametrize('text, fmt, warning', [
    ('[.*]\ncreate = @\nread = no_such_rule\nupdate = !\ndelete = !\n',
     'policies', 'not defined'),
    ('[.*]\ncreate = @\nread =\nupdate = @\ndelete = @\n', 'roles',
     'is empty; nobody may read'),
])
def test_files_the_reference_accepts_start_the_service(tmp_path, text, fmt,
                                                       warning):
    """A policies-format rule naming an undefined rule, and an empty role
    list, are accepted as by the reference, with a warning in the log."""
    path = tmp_path / 'rules.conf'
    path.write_text(text)
    srv = GlanceServer(str(tmp_path / 'srv'), settings=[
        'DEFAULT.property_protection_file=%s' % path,
        'DEFAULT.property_protection_rule_format=%s' % fmt]).start()
    try:
        assert Client(srv.url).get('/v2/images').status_code == 200
        assert warning in srv.log()
    finally:
        srv.stop()


@pytest.fixture(scope='module')
def srv_locations(tmp_path_factory):
    """The same rules, with PATCH of /locations allowed."""
    work = tmp_path_factory.mktemp('protections-locations')
    rules = work / 'protections.conf'
    rules.write_text(RULES)
    server = GlanceServer(str(work / 'srv'), profile='reference', settings=[
        'DEFAULT.property_protection_file=%s' % rules,
        'DEFAULT.show_multiple_locations=True']).start()
    yield server
    server.stop()


def test_a_patch_that_also_sets_locations_is_still_protected(
        srv_locations, project):
    """PATCH reaches the repository as set_locations when it names
    /locations; the property changes in the same PATCH are checked too."""
    owner = Client(srv_locations.url, identity(project))
    image = _image(owner, x_frozen_flag='kept')
    path = '/v2/images/%s' % image['id']
    assert owner.upload(image['id'], b'data').status_code == 204
    locations = owner.get(path).json()['locations']
    assert len(locations) == 1
    r = owner.patch(path, [
        {'op': 'replace', 'path': '/x_frozen_flag', 'value': 'changed'},
        {'op': 'replace', 'path': '/locations', 'value': locations}])
    assert r.status_code == 403 and 'x_frozen_flag' in r.text
    assert owner.get(path).json()['x_frozen_flag'] == 'kept'
    # the same PATCH without the protected change goes through
    r = owner.patch(path, [
        {'op': 'add', 'path': '/x_open_note', 'value': 'n'},
        {'op': 'replace', 'path': '/locations', 'value': locations}])
    assert r.status_code == 200, r.text
    assert r.json()['x_open_note'] == 'n'
