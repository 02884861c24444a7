"""The isolation matrix: persona x visibility x image call, as a table.

``MATRIX`` is the whole contract, one literal row per call; ``REQUESTS``
says what each call sends.  Every cell states the documented answer and
checks it against a fresh image, so no cell depends on another.  "other"
is a second project: the one a shared image is shared with (pending or
accepted), or just any other project for private, community and public
images.

The matrix runs twice: with the identity headers a trusted front end sets
(``headers``: fresh made-up projects for every cell), and behind a real
Keystone with real tokens (``keystone``: the personas of the keystone
fixture, projects alpha and beta, one glance-api for the whole run).
"""
from __future__ import annotations

import os
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.conftest import keystone_glance
from glance.tests.functional.server import GlanceServer

PERSONAS = {
    'admin': ('admin', 'admin,member,reader'),
    'owner-member': ('owner', 'member,reader'),
    'owner-reader': ('owner', 'reader'),
    'other-member': ('other', 'member,reader'),
    'other-reader': ('other', 'reader'),
}
#: calls that work on a queued image, and on one the owner has staged
#: data for; the others get an active image
QUEUED_CALLS = ('upload', 'stage')
STAGED_CALLS = ('import',)

#: visibility -> call -> the answer for each persona, in PERSONAS' order
#: (``yes``/``no``: whether the image is in the persona's default list).
#: ``accept`` is the other project's membership set to accepted,
#: ``import`` a glance-direct import of data the owner staged,
#: ``locations`` GET .../locations (the service role's), ``cache-queue``
#: a PUT /v2/cache/{id}, ``list-tasks`` GET /v2/tasks (administrators').
MATRIX = {
    #                   admin owner-m owner-r other-m other-r
    'private': {
        'show':         (200,  200,  200,  404,  404),
        'listed':       ('yes', 'yes', 'yes', 'no', 'no'),
        'update':       (200,  200,  403,  404,  404),
        'delete':       (204,  204,  403,  404,  404),
        'upload':       (204,  204,  403,  404,  404),
        'download':     (200,  200,  403,  404,  404),
        'add-tag':      (204,  204,  403,  404,  404),
        'list-members': (403,  403,  403,  404,  404),
        'add-member':   (403,  403,  403,  404,  404),
        'accept':       (403,  403,  403,  404,  404),
        'deactivate':   (204,  204,  403,  404,  404),
        'stage':        (204,  204,  403,  404,  404),
        'import':       (202,  202,  403,  404,  404),
        'locations':    (403,  403,  403,  404,  404),
        'image-tasks':  (200,  200,  200,  404,  404),
        'cache-queue':  (202,  403,  403,  403,  403),
        'list-tasks':   (200,  403,  403,  403,  403),
    },
    'shared-pending': {
        'show':         (200,  200,  200,  200,  200),
        'listed':       ('yes', 'yes', 'yes', 'no', 'no'),
        'update':       (200,  200,  403,  403,  403),
        'delete':       (204,  204,  403,  403,  403),
        'upload':       (204,  204,  403,  403,  403),
        'download':     (200,  200,  403,  200,  403),
        'add-tag':      (204,  204,  403,  403,  403),
        'list-members': (200,  200,  200,  200,  200),
        'add-member':   (200,  200,  403,  403,  403),
        'accept':       (200,  403,  403,  200,  403),
        'deactivate':   (204,  204,  403,  403,  403),
        'stage':        (204,  204,  403,  403,  403),
        'import':       (202,  202,  403,  403,  403),
        'locations':    (403,  403,  403,  403,  403),
        'image-tasks':  (200,  200,  200,  200,  200),
        'cache-queue':  (202,  403,  403,  403,  403),
        'list-tasks':   (200,  403,  403,  403,  403),
    },
    'shared-accepted': {
        'show':         (200,  200,  200,  200,  200),
        'listed':       ('yes', 'yes', 'yes', 'yes', 'yes'),
        'update':       (200,  200,  403,  403,  403),
        'delete':       (204,  204,  403,  403,  403),
        'upload':       (204,  204,  403,  403,  403),
        'download':     (200,  200,  403,  200,  403),
        'add-tag':      (204,  204,  403,  403,  403),
        'list-members': (200,  200,  200,  200,  200),
        'add-member':   (200,  200,  403,  403,  403),
        'accept':       (200,  403,  403,  200,  403),
        'deactivate':   (204,  204,  403,  403,  403),
        'stage':        (204,  204,  403,  403,  403),
        'import':       (202,  202,  403,  403,  403),
        'locations':    (403,  403,  403,  403,  403),
        'image-tasks':  (200,  200,  200,  200,  200),
        'cache-queue':  (202,  403,  403,  403,  403),
        'list-tasks':   (200,  403,  403,  403,  403),
    },
    'community': {
        'show':         (200,  200,  200,  200,  200),
        # an administrator's default list leaves out other projects'
        # community images, like everyone's
        'listed':       ('no', 'yes', 'yes', 'no', 'no'),
        'update':       (200,  200,  403,  403,  403),
        'delete':       (204,  204,  403,  403,  403),
        'upload':       (204,  204,  403,  403,  403),
        'download':     (200,  200,  403,  200,  403),
        'add-tag':      (204,  204,  403,  403,  403),
        'list-members': (403,  403,  403,  403,  403),
        'add-member':   (403,  403,  403,  403,  403),
        'accept':       (403,  403,  403,  403,  403),
        'deactivate':   (204,  204,  403,  403,  403),
        'stage':        (204,  204,  403,  403,  403),
        'import':       (202,  202,  403,  403,  403),
        'locations':    (403,  403,  403,  403,  403),
        'image-tasks':  (200,  200,  200,  200,  200),
        'cache-queue':  (202,  403,  403,  403,  403),
        'list-tasks':   (200,  403,  403,  403,  403),
    },
    'public': {
        'show':         (200,  200,  200,  200,  200),
        'listed':       ('yes', 'yes', 'yes', 'yes', 'yes'),
        'update':       (200,  200,  403,  403,  403),
        'delete':       (204,  204,  403,  403,  403),
        'upload':       (204,  204,  403,  403,  403),
        'download':     (200,  200,  403,  200,  403),
        'add-tag':      (204,  204,  403,  403,  403),
        'list-members': (403,  403,  403,  403,  403),
        'add-member':   (403,  403,  403,  403,  403),
        'accept':       (403,  403,  403,  403,  403),
        'deactivate':   (204,  204,  403,  403,  403),
        'stage':        (204,  204,  403,  403,  403),
        'import':       (202,  202,  403,  403,  403),
        'locations':    (403,  403,  403,  403,  403),
        'image-tasks':  (200,  200,  200,  200,  200),
        'cache-queue':  (202,  403,  403,  403,  403),
        'list-tasks':   (200,  403,  403,  403,  403),
    },
}
VISIBILITIES = tuple(MATRIX)
CALLS = tuple(MATRIX['private'])
_ANSWER = {'yes': True, 'no': False}


def expected(persona: str, visibility: str, call: str):
    """The table's answer for one cell."""
    answer = MATRIX[visibility][call][list(PERSONAS).index(persona)]
    return _ANSWER.get(answer, answer)


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


def _cache_settings(workdir: str, flavor: str) -> list[str]:
    return ['paste_deploy.flavor=%s' % flavor,
            'image_cache_dir=%s' % os.path.join(workdir, 'cache'),
            'image_cache_driver=sqlite', 'cache_prefetcher_interval=0']


@pytest.fixture(scope='module')
def headers_server(tmp_path_factory):
    """The replay configuration with the cache management calls."""
    workdir = str(tmp_path_factory.mktemp('matrix-headers'))
    srv = GlanceServer(workdir, profile='reference', settings=_cache_settings(
        workdir, 'trusted-auth+cachemanagement')).start()
    yield srv
    srv.stop()


@pytest.fixture(scope='module')
def tokens_server(keystone, tmp_path_factory):
    """Behind the real Keystone, with the cache management calls."""
    workdir = str(tmp_path_factory.mktemp('matrix-keystone'))
    srv = keystone_glance(keystone, workdir, _cache_settings(
        workdir, 'keystone+cachemanagement'))
    yield srv
    srv.stop()


@pytest.fixture(scope='module', params=['headers', 'keystone'])
def auth(request):
    """How callers prove who they are (grouped: one server per kind)."""
    if request.param == 'headers':
        return Headers(request.getfixturevalue('headers_server'))
    return Tokens(request.getfixturevalue('tokens_server'),
                  request.getfixturevalue('keystone'))


@pytest.fixture
def projects(auth):
    return auth.projects()


def _setup(auth, projects, visibility: str, call: str) -> str:
    """A fresh image of ``visibility`` in the state ``call`` needs."""
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
    if call in STAGED_CALLS:
        r = owner.put('/v2/images/%s/stage' % image['id'], data=b'staged',
                      headers={'Content-Type': 'application/octet-stream'})
        assert r.status_code == 204, r.text
    elif call not in QUEUED_CALLS:
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


_OCTETS = {'Content-Type': 'application/octet-stream'}
#: call -> (method, path; {image} and {other} filled in, JSON body)
REQUESTS = {
    'show': ('GET', '/v2/images/{image}', None),
    'update': ('PATCH', '/v2/images/{image}',
               [{'op': 'replace', 'path': '/name', 'value': 'changed'}]),
    'delete': ('DELETE', '/v2/images/{image}', None),
    'upload': ('PUT', '/v2/images/{image}/file', b'other data'),
    'download': ('GET', '/v2/images/{image}/file', None),
    'add-tag': ('PUT', '/v2/images/{image}/tags/matrix', None),
    'list-members': ('GET', '/v2/images/{image}/members', None),
    'add-member': ('POST', '/v2/images/{image}/members',
                   {'member': 'new-member-project'}),
    'accept': ('PUT', '/v2/images/{image}/members/{other}',
               {'status': 'accepted'}),
    'deactivate': ('POST', '/v2/images/{image}/actions/deactivate', None),
    'stage': ('PUT', '/v2/images/{image}/stage', b'staged data'),
    'import': ('POST', '/v2/images/{image}/import',
               {'method': {'name': 'glance-direct'}}),
    'locations': ('GET', '/v2/images/{image}/locations', None),
    'image-tasks': ('GET', '/v2/images/{image}/tasks', None),
    'cache-queue': ('PUT', '/v2/cache/{image}', None),
    'list-tasks': ('GET', '/v2/tasks', None),
}


def _call(client: Client, call: str, image_id: str, other: str = 'other'):
    if call == 'listed':
        r = client.get('/v2/images?limit=1000')
        if r.status_code != 200:
            return r.status_code
        return image_id in [i['id'] for i in r.json()['images']]
    method, path, body = REQUESTS[call]
    path = path.format(image=image_id, other=other)
    if isinstance(body, bytes):
        return client.request(method, path, data=body,
                              headers=_OCTETS).status_code
    if method == 'PATCH':
        return client.patch(path, body).status_code
    return client.request(method, path, json=body).status_code


@pytest.mark.parametrize('persona, visibility, call', CELLS)
def test_cell(auth, projects, persona, visibility, call):
    image_id = _setup(auth, projects, visibility, call)
    client = auth.client(projects, persona)
    assert _call(client, call, image_id, projects['other']) == expected(
        persona, visibility, call)


@pytest.mark.parametrize('call', CALLS)
def test_anonymous_is_401(auth, projects, call):
    image_id = _setup(auth, projects, 'public', call)
    anonymous = Client(auth.server.url)
    assert _call(anonymous, call, image_id, projects['other']) == 401
