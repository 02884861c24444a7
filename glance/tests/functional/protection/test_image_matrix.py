"""The isolation matrix: persona x visibility x image call.

Every cell states the documented answer and checks it against a fresh
image, so no cell depends on another.  "other" is a second project: the
one a shared image is shared with (pending or accepted), or just any other
project for private, community and public images.
"""
from __future__ import annotations

import uuid

import pytest

from glance.tests.functional.conftest import Client, identity

PERSONAS = {
    'admin': ('admin', 'admin,member,reader'),
    'owner-member': ('owner', 'member,reader'),
    'owner-reader': ('owner', 'reader'),
    'other-member': ('other', 'member,reader'),
    'other-reader': ('other', 'reader'),
}
VISIBILITIES = ('private', 'shared-pending', 'shared-accepted', 'community',
                'public')
CALLS = ('show', 'listed', 'update', 'delete', 'upload', 'download',
         'add-tag', 'list-members', 'add-member', 'deactivate')
#: calls that work on a queued image; the others get an active one
QUEUED_CALLS = ('upload',)

#: answer of each call when the caller may do it
OK = {'show': 200, 'listed': True, 'update': 200, 'delete': 204,
      'upload': 204, 'download': 200, 'add-tag': 204, 'list-members': 200,
      'add-member': 200, 'deactivate': 204}


def expected(persona: str, visibility: str, call: str):
    """The documented answer for one cell."""
    shared = visibility.startswith('shared')
    if persona == 'admin':
        if call == 'listed':
            # an administrator's default list leaves out other projects'
            # community images, like everyone's
            return visibility != 'community'
        if call in ('list-members', 'add-member') and not shared:
            return 403                          # only shared images
        return OK[call]
    owner = persona.startswith('owner')
    member_role = persona.endswith('member')
    if owner:
        if call in ('show', 'listed'):
            return OK[call]
        if call in ('list-members', 'add-member') and not shared:
            return 403
        if call == 'list-members':
            return 200                          # readers may list
        return OK[call] if member_role else 403
    # another project
    if visibility == 'private':
        return False if call == 'listed' else 404
    if call == 'show':
        return 200
    if call == 'listed':
        return visibility in ('shared-accepted', 'public')
    if call == 'download':
        return 200 if member_role else 403
    if call == 'list-members':
        return 200 if shared else 403           # its own membership
    return 403


CELLS = [(p, v, c) for p in PERSONAS for v in VISIBILITIES for c in CALLS]


@pytest.fixture
def projects():
    tag = uuid.uuid4().hex[:8]
    return {'owner': 'own-%s' % tag, 'other': 'oth-%s' % tag,
            'admin': 'adm-%s' % tag}


def _client(ref_server, project: str, roles: str) -> Client:
    return Client(ref_server.url, identity(project, roles))


def _setup(ref_server, projects, visibility: str, active: bool) -> str:
    owner = _client(ref_server, projects['owner'], 'member,reader')
    vis = visibility.split('-')[0]
    # Only an administrator may publicize (publicize_image).
    image = owner.create(name='matrix', disk_format='raw',
                         container_format='bare',
                         visibility='private' if vis == 'public' else vis)
    if vis == 'public':
        admin = _client(ref_server, projects['admin'], 'admin,member,reader')
        r = admin.patch('/v2/images/%s' % image['id'], [
            {'op': 'replace', 'path': '/visibility', 'value': 'public'}])
        assert r.status_code == 200, r.text
    if active:
        assert owner.upload(image['id'], b'matrix data').status_code == 204
    if vis == 'shared':
        other = projects['other']
        r = owner.post('/v2/images/%s/members' % image['id'],
                       json={'member': other})
        assert r.status_code == 200, r.text
        if visibility == 'shared-accepted':
            r = _client(ref_server, other, 'member,reader').put(
                '/v2/images/%s/members/%s' % (image['id'], other),
                json={'status': 'accepted'})
            assert r.status_code == 200, r.text
    return image['id']


def _call(client: Client, call: str, image_id: str):
    path = '/v2/images/%s' % image_id
    if call == 'show':
        return client.get(path).status_code
    if call == 'listed':
        r = client.get('/v2/images?limit=1000')
        assert r.status_code == 200
        return image_id in [i['id'] for i in r.json()['images']]
    if call == 'update':
        return client.patch(path, [{'op': 'replace', 'path': '/name',
                                    'value': 'changed'}]).status_code
    if call == 'delete':
        return client.delete(path).status_code
    if call == 'upload':
        return client.upload(image_id, b'other data').status_code
    if call == 'download':
        return client.get(path + '/file').status_code
    if call == 'add-tag':
        return client.put(path + '/tags/matrix').status_code
    if call == 'list-members':
        return client.get(path + '/members').status_code
    if call == 'add-member':
        return client.post(path + '/members',
                           json={'member': 'new-%s' % uuid.uuid4().hex[:6]}
                           ).status_code
    if call == 'deactivate':
        return client.post(path + '/actions/deactivate').status_code
    raise AssertionError(call)


@pytest.mark.parametrize('persona, visibility, call', CELLS)
def test_cell(ref_server, projects, persona, visibility, call):
    image_id = _setup(ref_server, projects, visibility,
                      active=call not in QUEUED_CALLS)
    project_key, roles = PERSONAS[persona]
    client = _client(ref_server, projects[project_key], roles)
    assert _call(client, call, image_id) == expected(persona, visibility,
                                                     call)


@pytest.mark.parametrize('call', CALLS)
def test_anonymous_is_401(ref_server, projects, call):
    image_id = _setup(ref_server, projects, 'public',
                      active=call not in QUEUED_CALLS)
    anonymous = Client(ref_server.url)
    if call == 'listed':
        assert anonymous.get('/v2/images').status_code == 401
    else:
        assert _call(anonymous, call, image_id) == 401
