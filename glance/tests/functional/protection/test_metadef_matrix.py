"""The metadefs isolation matrix: persona x namespace visibility x call,
as a table (``MATRIX``).

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
#: call -> (method, path below the namespace, body)
CALLS = {
    'show': ('GET', '', None),
    'update': ('PUT', '', 'namespace'),
    'delete': ('DELETE', '', None),
    'list-objects': ('GET', '/objects', None),
    'add-object': ('POST', '/objects', {'name': 'o2'}),
    'list-properties': ('GET', '/properties', None),
    'add-property': ('POST', '/properties',
                     {'name': 'p2', 'title': 'P', 'type': 'string'}),
    'delete-property': ('DELETE', '/properties/p', None),
    'list-tags': ('GET', '/tags', None),
    'add-tags': ('POST', '/tags', {'tags': [{'name': 't2'}]}),
    'rename-tag': ('PUT', '/tags/t', {'name': 't3'}),
    'list-associations': ('GET', '/resource_types', None),
    'add-association': ('POST', '/resource_types',
                        {'name': 'OS::Nova::Flavor'}),
    'remove-association': ('DELETE', '/resource_types/OS::Glance::Image',
                           None),
    'listed': ('LIST', None, None),
}


#: visibility -> call -> the answer for each persona, in PERSONAS' order
#: (``yes``/``no``: whether the namespace is in the persona's list)
MATRIX = {
    #                        admin own-m own-r own-0 oth-m oth-r
    'private': {
        'show':               (200, 200, 200, 404, 404, 404),
        'update':             (200, 403, 403, 404, 404, 404),
        'delete':             (204, 403, 403, 404, 404, 404),
        'list-objects':       (200, 200, 200, 404, 404, 404),
        'add-object':         (201, 403, 403, 404, 404, 404),
        'list-properties':    (200, 200, 200, 404, 404, 404),
        'add-property':       (201, 403, 403, 404, 404, 404),
        'delete-property':    (204, 403, 403, 404, 404, 404),
        'list-tags':          (200, 200, 200, 404, 404, 404),
        'add-tags':           (201, 403, 403, 404, 404, 404),
        'rename-tag':         (200, 403, 403, 404, 404, 404),
        'list-associations':  (200, 200, 200, 404, 404, 404),
        'add-association':    (201, 403, 403, 404, 404, 404),
        'remove-association': (204, 403, 403, 404, 404, 404),
        'listed':             ('yes', 'yes', 'yes', 403, 'no', 'no'),
    },
    'public': {
        'show':               (200, 200, 200, 404, 200, 200),
        'update':             (200, 403, 403, 404, 403, 403),
        'delete':             (204, 403, 403, 404, 403, 403),
        'list-objects':       (200, 200, 200, 404, 200, 200),
        'add-object':         (201, 403, 403, 404, 403, 403),
        'list-properties':    (200, 200, 200, 404, 200, 200),
        'add-property':       (201, 403, 403, 404, 403, 403),
        'delete-property':    (204, 403, 403, 404, 403, 403),
        'list-tags':          (200, 200, 200, 404, 200, 200),
        'add-tags':           (201, 403, 403, 404, 403, 403),
        'rename-tag':         (200, 403, 403, 404, 403, 403),
        'list-associations':  (200, 200, 200, 404, 200, 200),
        'add-association':    (201, 403, 403, 404, 403, 403),
        'remove-association': (204, 403, 403, 404, 403, 403),
        'listed':             ('yes', 'yes', 'yes', 403, 'yes', 'yes'),
    },
}
VISIBILITIES = tuple(MATRIX)
_ANSWER = {'yes': True, 'no': False}


def expected(persona: str, visibility: str, call: str):
    """The table's answer for one cell."""
    answer = MATRIX[visibility][call][list(PERSONAS).index(persona)]
    return _ANSWER.get(answer, answer)


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
    method, sub, body = CALLS[call]
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
