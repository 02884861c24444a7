"""Edges where glance answers as the reference service (upstream Glance)
does: hidden community images in lists, a PATCH judged operation by
operation, the member ids it takes.  Each test names the behaviour it
follows; see doc/source/contributor/differences.rst for where we differ
on purpose."""
from __future__ import annotations

import uuid

import pytest

PATCH = 'application/openstack-images-v2.1-json-patch'


@pytest.fixture
def projects() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return 'edge-a-%s' % tag, 'edge-b-%s' % tag


def _ids(client, query: str) -> set[str]:
    r = client.get('/v2/images?' + query)
    assert r.status_code == 200, r.text
    return {i['id'] for i in r.json()['images']}


# --- hidden community images -----------------------------------------------

def test_hidden_community_images_are_listed_when_asked(as_project,
                                                       projects):
    # The reference lists community images of other projects only for
    # visibility=community or all, and hidden ones only with os_hidden=true;
    # both together find a hidden community image.
    owner, other = (as_project(p) for p in projects)
    hidden = owner.create(name='hc', visibility='community',
                          os_hidden=True)['id']
    shown = owner.create(name='c', visibility='community')['id']
    try:
        for query in ('os_hidden=true&visibility=community',
                      'visibility=community&os_hidden=true',
                      'os_hidden=true&visibility=all'):
            got = _ids(other, query)
            assert hidden in got and shown not in got, query
        assert hidden not in _ids(other, 'visibility=community')
        assert shown in _ids(other, 'visibility=community')
        # the default list holds no community image of another project
        assert hidden not in _ids(other, 'os_hidden=true')
        # ... but the owner's own are in it
        assert hidden in _ids(owner, 'os_hidden=true')
        assert shown not in _ids(owner, 'os_hidden=true')
        assert hidden in _ids(owner, 'os_hidden=true&visibility=community')
        # an administrator lists like everyone (community only when asked)
        admin = as_project(projects[1] + '-admin', 'admin,member,reader')
        assert hidden in _ids(admin, 'os_hidden=true&visibility=community')
        assert hidden not in _ids(admin, 'os_hidden=true')
        # and a hidden image is still shown by id
        assert other.get('/v2/images/%s' % hidden).status_code == 200
    finally:
        for image_id in (hidden, shown):
            owner.delete('/v2/images/%s' % image_id)


# --- PATCH judged operation by operation ------------------------------------

@pytest.mark.parametrize('there,back', [('public', 'private'),
                                        ('public', 'shared')])
def test_publicize_and_revert_in_one_patch_is_403(as_project, projects,
                                                  there, back):
    # The reference checks publicize_image on each operation that asks
    # for "public", not only on the image as the PATCH leaves it.
    owner = as_project(projects[0])
    image_id = owner.create(name='p', visibility='private')['id']
    r = owner.patch('/v2/images/%s' % image_id, [
        {'op': 'replace', 'path': '/visibility', 'value': there},
        {'op': 'replace', 'path': '/visibility', 'value': back}])
    assert r.status_code == 403, r.text
    image = owner.get('/v2/images/%s' % image_id).json()
    assert image['visibility'] == 'private'
    # the admin may
    admin = as_project(projects[0] + '-admin', 'admin,member,reader')
    r = admin.patch('/v2/images/%s' % image_id, [
        {'op': 'replace', 'path': '/visibility', 'value': there},
        {'op': 'replace', 'path': '/visibility', 'value': back}])
    assert r.status_code == 200, r.text
    assert r.json()['visibility'] == back


def test_communitize_and_revert_needs_communitize_image(as_project,
                                                        projects):
    # A reader may not modify at all; a member may communitize (default
    # rule), so the same round trip is allowed to a member.
    owner = as_project(projects[0])
    image_id = owner.create(name='c', visibility='private')['id']
    r = owner.patch('/v2/images/%s' % image_id, [
        {'op': 'replace', 'path': '/visibility', 'value': 'community'},
        {'op': 'replace', 'path': '/visibility', 'value': 'private'}])
    assert r.status_code == 200, r.text
    assert r.json()['visibility'] == 'private'


def test_unchanged_public_visibility_still_takes_publicize(
        as_project, projects):
    # The reference enforces publicize_image whenever a PATCH sets
    # visibility to public, even where it already is.
    admin = as_project(projects[0], 'admin,member,reader')
    member = as_project(projects[0])
    image_id = admin.create(name='pub', visibility='public')['id']
    try:
        r = member.patch('/v2/images/%s' % image_id, [
            {'op': 'replace', 'path': '/visibility', 'value': 'public'}])
        assert r.status_code == 403, r.text
        r = member.patch('/v2/images/%s' % image_id, [
            {'op': 'replace', 'path': '/name', 'value': 'renamed'}])
        assert r.status_code == 200, r.text
    finally:
        admin.delete('/v2/images/%s' % image_id)


# --- member ids ------------------------------------------------------------

@pytest.mark.parametrize('member,shown', [
    (12345, '12345'),                       # a JSON number, as the reference
    ('12345', '12345'),
    ('Project-With-Dashes', 'Project-With-Dashes'),
    ('ABCDEF0123456789ABCDEF0123456789', 'ABCDEF0123456789ABCDEF0123456789'),
    ('a' * 255, 'a' * 255),
])
def test_member_ids_the_reference_takes(as_project, projects, member,
                                        shown):
    owner = as_project(projects[0])
    image_id = owner.create(name='m', visibility='shared')['id']
    r = owner.post('/v2/images/%s/members' % image_id,
                   json={'member': member})
    assert r.status_code == 200, r.text
    assert r.json()['member_id'] == shown
    r = owner.get('/v2/images/%s/members/%s' % (image_id, shown))
    assert r.status_code == 200 and r.json()['member_id'] == shown
    # the member project (ids are compared exactly) sees and accepts it
    mem = as_project(shown)
    r = mem.put('/v2/images/%s/members/%s' % (image_id, shown),
                json={'status': 'accepted'})
    assert r.status_code == 200, r.text
    assert image_id in _ids(mem, '')
    # the id is case-sensitive: another spelling is another project
    if shown.lower() != shown:
        r = owner.get('/v2/images/%s/members/%s' % (image_id,
                                                    shown.lower()))
        assert r.status_code == 404


@pytest.mark.parametrize('member', [0, True, 1.5, '', None, ['p'], {'p': 1},
                                    'a' * 256])
def test_member_ids_the_reference_refuses(as_project, projects, member):
    owner = as_project(projects[0])
    image_id = owner.create(name='m', visibility='shared')['id']
    r = owner.post('/v2/images/%s/members' % image_id,
                   json={'member': member})
    assert r.status_code == 400, r.text
    assert owner.get('/v2/images/%s/members' % image_id).json()[
        'members'] == []
