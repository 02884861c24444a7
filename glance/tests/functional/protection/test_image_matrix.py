"""The isolation matrix: persona x visibility x image call.

Every cell states the documented answer and checks it against a fresh
image, so no cell depends on another.  "other" is a second project: the
one a shared image is shared with (pending or accepted), or just any other
project for private, community and public images.

The matrix runs twice: with the identity headers a trusted front end sets
(``headers``: fresh made-up projects for every cell), and behind a real
Keystone with real tokens (``keystone``: the personas of the keystone
fixture, projects alpha and beta, one glance-api for the whole run).
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


#: persona -> the keystone fixture's persona acting as it
KEYSTONE_PERSONAS = {'admin': 'admin', 'owner-member': 'alpha-member',
                     'owner-reader': 'alpha-reader',
                     'other-member': 'beta-member',
                     'other-reader': 'beta-reader'}


class Headers:
    """Identities as X-* headers on the trusted-auth server."""

    def __init__(self, server):
        self.server = server

    def projects(self) -> dict[str, str]:
        tag = uuid.uuid4().hex[:8]
        return {'owner': 'own-%s' % tag, 'other': 'oth-%s' % tag,
                'admin': 'adm-%s' % tag}

    def client(self, projects: dict, persona: str) -> Client:
        project_key, roles = PERSONAS[persona]
        return Client(self.server.url, identity(projects[project_key],
                                                roles))


class Tokens:
    """Identities as real Keystone tokens on a keystone-flavor server."""

    def __init__(self, server, keystone):
        self.server = server
        self.keystone = keystone

    def projects(self) -> dict[str, str]:
        p = self.keystone.projects
        return {'owner': p['alpha'], 'other': p['beta'],
                'admin': p['admin']}

    def client(self, projects: dict, persona: str) -> Client:
        return Client(self.server.url, self.keystone.client_headers(
            KEYSTONE_PERSONAS[persona]))


@pytest.fixture(scope='module', params=['headers', 'keystone'])
def auth(request):
    """How callers prove who they are (grouped: one server per kind)."""
    if request.param == 'headers':
        return Headers(request.getfixturevalue('ref_server'))
    return Tokens(request.getfixturevalue('ks_server'),
                  request.getfixturevalue('keystone'))


@pytest.fixture
def projects(auth):
    return auth.projects()


def _setup(auth, projects, visibility: str, active: bool) -> str:
    owner = auth.client(projects, 'owner-member')
    vis = visibility.split('-')[0]
    # Only an administrator may publicize (publicize_image).
    image = owner.create(name='matrix', disk_format='raw',
                         container_format='bare',
                         visibility='private' if vis == 'public' else vis)
    if vis == 'public':
        admin = auth.client(projects, 'admin')
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
            r = auth.client(projects, 'other-member').put(
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
def test_cell(auth, projects, persona, visibility, call):
    image_id = _setup(auth, projects, visibility,
                      active=call not in QUEUED_CALLS)
    client = auth.client(projects, persona)
    assert _call(client, call, image_id) == expected(persona, visibility,
                                                     call)


@pytest.mark.parametrize('call', CALLS)
def test_anonymous_is_401(auth, projects, call):
    image_id = _setup(auth, projects, 'public',
                      active=call not in QUEUED_CALLS)
    anonymous = Client(auth.server.url)
    if call == 'listed':
        assert anonymous.get('/v2/images').status_code == 401
    else:
        assert _call(anonymous, call, image_id) == 401
