"""The metadefs isolation matrix: persona x namespace visibility x call.

With the secure-RBAC defaults the catalog is the administrator's to change;
readers see public namespaces and their own project's.  A namespace the
caller may not see is 404 for every call on it (writes included), so its
existence does not leak; one the caller sees but may not change is 403.
Every cell runs on a fresh namespace of its own.
"""
from __future__ import annotations

import uuid

import pytest

from glance.tests.functional.conftest import Client, identity

NSS = '/v2/metadefs/namespaces'
PERSONAS = {
    'admin': ('admin', 'admin,member,reader'),
    'owner-member': ('owner', 'member,reader'),
    'owner-reader': ('owner', 'reader'),
    'owner-no-role': ('owner', ''),
    'other-member': ('other', 'member,reader'),
    'other-reader': ('other', 'reader'),
}
VISIBILITIES = ('private', 'public')
#: call -> (method, path below the namespace, body, answer when allowed)
CALLS = {
    'show': ('GET', '', None, 200),
    'update': ('PUT', '', 'namespace', 200),
    'delete': ('DELETE', '', None, 204),
    'list-objects': ('GET', '/objects', None, 200),
    'add-object': ('POST', '/objects', {'name': 'o2'}, 201),
    'list-properties': ('GET', '/properties', None, 200),
    'add-property': ('POST', '/properties',
                     {'name': 'p2', 'title': 'P', 'type': 'string'}, 201),
    'delete-property': ('DELETE', '/properties/p', None, 204),
    'list-tags': ('GET', '/tags', None, 200),
    'add-tags': ('POST', '/tags', {'tags': [{'name': 't2'}]}, 201),
    'rename-tag': ('PUT', '/tags/t', {'name': 't3'}, 200),
    'list-associations': ('GET', '/resource_types', None, 200),
    'add-association': ('POST', '/resource_types',
                        {'name': 'OS::Nova::Flavor'}, 201),
    'remove-association': ('DELETE', '/resource_types/OS::Glance::Image',
                           None, 204),
    'listed': ('LIST', None, None, True),
}


def expected(persona: str, visibility: str, call: str):
    """The documented answer for one cell."""
    ok = CALLS[call][3]
    if persona == 'admin':
        return ok
    reads = CALLS[call][0] in ('GET', 'LIST')
    if persona == 'owner-no-role':
        return 403 if call == 'listed' else 404
    sees = persona.startswith('owner') or visibility == 'public'
    if call == 'listed':
        return sees
    if not sees:
        return 404
    return ok if reads else 403


CELLS = [(p, v, c) for p in PERSONAS for v in VISIBILITIES for c in CALLS]


@pytest.mark.parametrize('persona, visibility, call', CELLS)
def test_cell(ref_server, persona, visibility, call):
    tag = uuid.uuid4().hex[:8]
    projects = {'owner': 'mdown-%s' % tag, 'other': 'mdoth-%s' % tag,
                'admin': 'mdadm-%s' % tag}
    admin = Client(ref_server.url, identity(projects['admin'],
                                            'admin,member,reader'))
    name = 'Matrix::%s' % tag
    r = admin.post(NSS, json={
        'namespace': name, 'visibility': visibility,
        'owner': projects['owner'],
        'properties': {'p': {'title': 'P', 'type': 'string'}},
        'objects': [{'name': 'o'}], 'tags': [{'name': 't'}],
        'resource_type_associations': [{'name': 'OS::Glance::Image'}]})
    assert r.status_code == 201, r.text
    project, roles = PERSONAS[persona]
    client = Client(ref_server.url, identity(projects[project], roles))
    method, sub, body, _ok = CALLS[call]
    want = expected(persona, visibility, call)
    if method == 'LIST':
        r = client.get(NSS + '?limit=1000')
        if want in (True, False):
            assert r.status_code == 200, r.text
            names = [n['namespace'] for n in r.json()['namespaces']]
            assert (name in names) is want
        else:
            assert r.status_code == want
        return
    if body == 'namespace':
        body = {'namespace': name, 'visibility': visibility}
    kw = {} if body is None else {'json': body}
    r = client.request(method, '%s/%s%s' % (NSS, name, sub), **kw)
    assert r.status_code == want, r.text
    # A refused change changed nothing.
    if r.status_code >= 400 and method != 'GET':
        after = admin.get('%s/%s' % (NSS, name))
        assert after.status_code == 200
        shown = after.json()
        assert (sorted(shown['properties']), [o['name'] for o in
                                              shown['objects']],
                [t['name'] for t in shown['tags']],
                [a['name'] for a in shown['resource_type_associations']]) \
            == (['p'], ['o'], ['t'], ['OS::Glance::Image'])
