"""The metadata definitions API over HTTP: every call, its answers and its
errors, on the real glance-api with identity headers (secure-RBAC
defaults: writes are the administrator's, reads follow visibility).

Each test works in namespaces of its own, named after a fresh uuid, so the
tests share one server without seeing each other's rows.
"""
from __future__ import annotations

import uuid

import pytest

NSS = '/v2/metadefs/namespaces'


@pytest.fixture
def admin(as_project):
    return as_project('md-admin', 'admin,member,reader')


@pytest.fixture
def alice(as_project):
    """A member of another project: reads, may not write."""
    return as_project('md-pa')


@pytest.fixture
def owner_reader(as_project):
    """A reader of the project that owns the admin's namespaces."""
    return as_project('md-admin', 'reader')


def _name(prefix: str = 'Test') -> str:
    return '%s::%s' % (prefix, uuid.uuid4().hex[:12])


def _create(client, **body) -> dict:
    body.setdefault('namespace', _name())
    r = client.post(NSS, json=body)
    assert r.status_code == 201, r.text
    return r.json()


# ------------------------------------------------------------ namespaces

def test_namespace_create_show_update_delete(admin, alice):
    name = _name()
    r = admin.post(NSS, json={'namespace': name, 'display_name': 'Shown',
                              'description': 'what it is',
                              'visibility': 'public'})
    assert r.status_code == 201, r.text
    assert r.headers['Location'].endswith('%s/%s' % (NSS, name))
    ns = r.json()
    assert {k: ns[k] for k in ('namespace', 'display_name', 'description',
                               'visibility', 'protected', 'owner', 'self',
                               'schema')} == {
        'namespace': name, 'display_name': 'Shown',
        'description': 'what it is', 'visibility': 'public',
        'protected': False, 'owner': 'md-admin',
        'self': '%s/%s' % (NSS, name),
        'schema': '/v2/schemas/metadefs/namespace'}
    assert ns['created_at'].endswith('Z') and ns['updated_at'].endswith('Z')

    shown = alice.get('%s/%s' % (NSS, name))
    assert shown.status_code == 200 and shown.json() == ns

    # PUT replaces: what the body leaves out takes its default.
    r = admin.put('%s/%s' % (NSS, name), json={'namespace': name,
                                               'protected': True})
    assert r.status_code == 200, r.text
    assert r.json()['visibility'] == 'private'
    assert 'display_name' not in r.json() and r.json()['protected'] is True
    assert r.json()['owner'] == 'md-admin'

    r = admin.delete('%s/%s' % (NSS, name))
    assert r.status_code == 403, 'a protected namespace stays'
    assert admin.get('%s/%s' % (NSS, name)).status_code == 200

    admin.put('%s/%s' % (NSS, name), json={'namespace': name})
    r = admin.delete('%s/%s' % (NSS, name))
    assert r.status_code == 204 and r.content == b''
    assert admin.get('%s/%s' % (NSS, name)).status_code == 404
    assert admin.delete('%s/%s' % (NSS, name)).status_code == 404


@pytest.mark.parametrize('body, status', [
    ({'display_name': 'no name'}, 400),
    ({'namespace': 'x' * 81}, 400),
    ({'namespace': 'Test::Bad', 'visibility': 'shared'}, 400),
    ({'namespace': 'Test::Bad', 'protected': 'yes'}, 400),
    ({'namespace': 'Test::Bad', 'unknown': 1}, 400),
    ({'namespace': 'Test::Bad', 'created_at': '2026-01-01T00:00:00Z'}, 403),
    ({'namespace': 'Test::Bad', 'self': '/elsewhere'}, 403),
    ({'namespace': 'Test::Bad', 'properties': {'p': {'title': 'P'}}}, 400),
])
def test_namespace_create_refuses_bad_bodies(admin, body, status):
    r = admin.post(NSS, json=body)
    assert r.status_code == status, r.text
    assert admin.get('%s/Test::Bad' % NSS).status_code == 404


@pytest.mark.parametrize('key', ['objects', 'tags',
                                 'resource_type_associations'])
def test_namespace_create_refuses_repeated_contents(admin, key):
    name = _name()
    r = admin.post(NSS, json={'namespace': name,
                              key: [{'name': 'Same'}, {'name': 'Same'}]})
    assert r.status_code == 409, r.text
    assert admin.get('%s/%s' % (NSS, name)).status_code == 404
    r = admin.post(NSS, json={'namespace': name, key: [{}]})
    assert r.status_code == 400, r.text


def test_namespace_create_refuses_non_json(admin):
    r = admin.post(NSS, data='{"namespace":', headers={
        'Content-Type': 'application/json'})
    assert r.status_code == 400
    assert admin.post(NSS, json=['namespace']).status_code == 400


def test_duplicate_namespace_is_409(admin):
    ns = _create(admin)
    r = admin.post(NSS, json={'namespace': ns['namespace']})
    assert r.status_code == 409


def test_non_admins_cannot_write(admin, alice, owner_reader):
    ns = _create(admin, visibility='public')
    path = '%s/%s' % (NSS, ns['namespace'])
    for client in (alice, owner_reader):
        assert client.post(NSS, json={'namespace': _name()}
                           ).status_code == 403
        assert client.put(path, json={'namespace': ns['namespace']}
                          ).status_code == 403
        assert client.delete(path).status_code == 403
        assert client.post(path + '/objects', json={'name': 'o'}
                           ).status_code == 403
        assert client.post(path + '/properties', json={
            'name': 'p', 'title': 'P', 'type': 'string'}).status_code == 403
        assert client.post(path + '/tags/t').status_code == 403
        assert client.post(path + '/tags', json={'tags': [{'name': 't'}]}
                           ).status_code == 403
        assert client.post(path + '/resource_types', json={
            'name': 'OS::Glance::Image'}).status_code == 403
    assert admin.get(path).json() == ns


def test_private_namespaces_are_seen_by_owner_and_admin_only(
        admin, alice, owner_reader, as_project):
    ns = _create(admin, visibility='private')
    path = '%s/%s' % (NSS, ns['namespace'])
    assert owner_reader.get(path).status_code == 200
    assert admin.get(path).status_code == 200
    for sub in ('', '/objects', '/properties', '/tags', '/resource_types'):
        assert alice.get(path + sub).status_code == 404, sub
    # Not even a write reveals it exists.
    assert alice.delete(path).status_code == 404
    listed = [n['namespace'] for n in alice.get(
        NSS + '?limit=1000').json()['namespaces']]
    assert ns['namespace'] not in listed
    # Given to alice's project, it is hers to see.
    admin.put(path, json={'namespace': ns['namespace'], 'owner': 'md-pa'})
    assert alice.get(path).status_code == 200
    nobody = as_project('md-pa', '')
    assert nobody.get(path).status_code == 404


def test_unknown_namespace_is_404_everywhere(admin):
    path = '%s/%s' % (NSS, _name('Nope'))
    for method, sub in (('GET', ''), ('PUT', ''), ('DELETE', ''),
                        ('GET', '/objects'), ('GET', '/objects/o'),
                        ('GET', '/properties'), ('GET', '/properties/p'),
                        ('GET', '/tags'), ('GET', '/tags/t'),
                        ('POST', '/tags/t'), ('DELETE', '/tags'),
                        ('GET', '/resource_types')):
        kw = {'json': {'namespace': 'x'}} if method == 'PUT' else {}
        r = admin.request(method, path + sub, **kw)
        assert r.status_code == 404, (method, sub, r.text)


def test_rename_namespace(admin):
    ns = _create(admin)
    other = _create(admin)
    path = '%s/%s' % (NSS, ns['namespace'])
    r = admin.put(path, json={'namespace': other['namespace']})
    assert r.status_code == 409
    new = _name()
    r = admin.put(path, json={'namespace': new, 'visibility': 'public'})
    assert r.status_code == 200 and r.json()['self'] == '%s/%s' % (NSS, new)
    assert admin.get(path).status_code == 404
    assert admin.get('%s/%s' % (NSS, new)).status_code == 200


def test_namespace_list_filters_and_pages(admin, alice):
    prefix = _name('List')
    names = ['%s::%d' % (prefix, i) for i in range(3)]
    for i, name in enumerate(names):
        _create(admin, namespace=name,
                visibility='public' if i < 2 else 'private')
    assoc = admin.post('%s/%s/resource_types' % (NSS, names[1]),
                       json={'name': 'OS::Test::%s' % prefix[6:],
                             'prefix': 'p_'})
    assert assoc.status_code == 201, assoc.text

    def ours(client, query):
        r = client.get(NSS + query)
        assert r.status_code == 200, r.text
        return [n['namespace'] for n in r.json()['namespaces']
                if n['namespace'].startswith(prefix)]

    assert ours(admin, '?limit=1000&sort_key=namespace&sort_dir=asc') == \
        names
    assert ours(admin, '?limit=1000&sort_key=namespace&sort_dir=desc') == \
        names[::-1]
    assert ours(alice, '?limit=1000&sort_key=namespace&sort_dir=asc') == \
        names[:2]
    assert ours(admin, '?limit=1000&visibility=private') == names[2:]
    r = admin.get(NSS + '?resource_types=OS::Test::%s' % prefix[6:])
    found = r.json()['namespaces']
    assert [n['namespace'] for n in found] == [names[1]]
    assert found[0]['resource_type_associations'][0]['prefix'] == 'p_'

    # Pages: first and next links, next until the last page.
    seen, url = [], NSS + '?limit=2&sort_key=namespace&sort_dir=asc'
    body = admin.get(url).json()
    assert body['first'] == url
    assert body['schema'] == '/v2/schemas/metadefs/namespaces'
    while True:
        seen += [n['namespace'] for n in body['namespaces']]
        if 'next' not in body:
            break
        assert 'marker=' in body['next']
        body = admin.get(body['next']).json()
    assert [n for n in seen if n.startswith(prefix)] == names
    assert len(seen) == len(set(seen))

    # The default order (newest first) pages without gaps or repeats too,
    # even where timestamps are equal (the id breaks ties).
    seen, body = [], admin.get(NSS + '?limit=2').json()
    while True:
        seen += [n['namespace'] for n in body['namespaces']]
        if 'next' not in body:
            break
        body = admin.get(body['next']).json()
    assert [n for n in seen if n.startswith(prefix)] == names[::-1]
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize('query', [
    '?limit=0', '?limit=x', '?sort_key=owner', '?sort_key=display_name',
    '?sort_dir=up',
    '?visibility=shared', '?marker=Not::There'])
def test_namespace_list_refuses_bad_parameters(admin, query):
    assert admin.get(NSS + query).status_code == 400


def test_create_with_contents_and_show_with_prefix(admin, alice):
    name = _name()
    body = {
        'namespace': name, 'visibility': 'public',
        'resource_type_associations': [
            {'name': 'OS::Glance::Image', 'prefix': 'hw_'},
            {'name': 'OS::Cinder::Volume', 'prefix': 'hw_',
             'properties_target': 'image'}],
        'properties': {'cpu_policy': {'title': 'CPU policy',
                                      'type': 'string',
                                      'enum': ['shared', 'dedicated']}},
        'objects': [{'name': 'Topology', 'required': ['cores'],
                     'properties': {'cores': {'title': 'Cores',
                                              'type': 'integer',
                                              'minimum': 1}}}],
        'tags': [{'name': 'fast'}, {'name': 'numa'}],
    }
    r = admin.post(NSS, json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created['properties']['cpu_policy']['enum'] == ['shared',
                                                           'dedicated']
    assert [o['name'] for o in created['objects']] == ['Topology']
    assert sorted(t['name'] for t in created['tags']) == ['fast', 'numa']

    shown = alice.get('%s/%s' % (NSS, name)).json()
    assert shown['properties'] == {'cpu_policy': {
        'name': 'cpu_policy', 'title': 'CPU policy', 'type': 'string',
        'enum': ['shared', 'dedicated']}}
    assert shown['objects'][0]['properties']['cores']['minimum'] == 1
    assert shown['objects'][0]['required'] == ['cores']
    assert [a['name'] for a in shown['resource_type_associations']] == [
        'OS::Glance::Image', 'OS::Cinder::Volume']
    assert shown['resource_type_associations'][1]['properties_target'] == \
        'image'

    prefixed = alice.get('%s/%s?resource_type=OS::Glance::Image'
                         % (NSS, name)).json()
    assert list(prefixed['properties']) == ['hw_cpu_policy']
    assert prefixed['properties']['hw_cpu_policy']['name'] == 'cpu_policy'
    assert list(prefixed['objects'][0]['properties']) == ['hw_cores']
    # A resource type it is not associated with changes nothing.
    other = alice.get('%s/%s?resource_type=OS::Nova::Flavor'
                      % (NSS, name)).json()
    assert list(other['properties']) == ['cpu_policy']


# ------------------------------------------------------------ objects

def test_objects(admin, alice):
    ns = _create(admin, visibility='public')
    objs = '%s/%s/objects' % (NSS, ns['namespace'])
    body = {'name': 'obj1', 'description': 'an object', 'required': ['p1'],
            'properties': {'p1': {'title': 'P1', 'type': 'string',
                                  'enum': ['a', 'b']}}}
    r = admin.post(objs, json=body)
    assert r.status_code == 201, r.text
    obj = r.json()
    assert {k: obj[k] for k in body} == body
    assert obj['self'] == objs + '/obj1'
    assert obj['schema'] == '/v2/schemas/metadefs/object'
    assert admin.post(objs, json={'name': 'obj1'}).status_code == 409
    assert admin.post(objs, json={'description': 'no name'}
                      ).status_code == 400
    assert admin.post(objs, json={'name': 'o', 'properties': {
        'p': {'type': 'string'}}}).status_code == 400

    listed = alice.get(objs).json()
    assert listed['objects'] == [obj]
    assert listed['schema'] == 'v2/schemas/metadefs/objects'
    assert alice.get(objs + '/obj1').json() == obj
    assert alice.get(objs + '/nope').status_code == 404

    r = admin.put(objs + '/obj1', json={'name': 'obj2',
                                        'description': 'changed'})
    assert r.status_code == 200, r.text
    assert r.json()['description'] == 'changed'
    assert 'properties' not in r.json()
    assert alice.get(objs + '/obj1').status_code == 404
    assert alice.get(objs + '/obj2').json()['properties'] == {}
    admin.post(objs, json={'name': 'obj3'})
    assert admin.put(objs + '/obj2', json={'name': 'obj3'}
                     ).status_code == 409
    assert admin.put(objs + '/nope', json={'name': 'nope'}
                     ).status_code == 404

    assert alice.delete(objs + '/obj2').status_code == 403
    assert admin.delete(objs + '/obj2').status_code == 204
    assert admin.delete(objs + '/obj2').status_code == 404
    assert [o['name'] for o in alice.get(objs).json()['objects']] == ['obj3']
    assert alice.delete(objs).status_code == 403
    assert admin.delete(objs).status_code == 204
    assert alice.get(objs).json()['objects'] == []


# ------------------------------------------------------------ properties

def test_properties(admin, alice):
    ns = _create(admin, visibility='public')
    props = '%s/%s/properties' % (NSS, ns['namespace'])
    body = {'name': 'prop1', 'title': 'Prop 1', 'type': 'integer',
            'minimum': 0, 'maximum': 10, 'description': 'a number'}
    r = admin.post(props, json=body)
    assert r.status_code == 201 and r.json() == body
    assert admin.post(props, json=body).status_code == 409
    for bad in ({'name': 'p2', 'title': 'P2', 'type': 'nonsense'},
                {'name': 'p3'}, {'title': 'T', 'type': 'string'},
                {'name': 'p4', 'title': 'T', 'type': 'string',
                 'bogus': True},
                {'name': 'p5', 'title': 'T', 'type': 'string',
                 'maxLength': -1}):
        assert admin.post(props, json=bad).status_code == 400, bad
    assert alice.get(props).json() == {'properties': {'prop1': body}}
    assert alice.get(props + '/prop1').json() == body
    assert alice.get(props + '/nope').status_code == 404

    new = {'name': 'prop1', 'title': 'Prop One', 'type': 'string'}
    r = admin.put(props + '/prop1', json=new)
    assert r.status_code == 200 and r.json() == new
    assert alice.get(props + '/prop1').json() == new
    renamed = dict(new, name='prop9')
    assert admin.put(props + '/prop1', json=renamed).status_code == 200
    assert alice.get(props + '/prop9').json() == renamed
    assert admin.put(props + '/prop9', json={'name': 'prop9'}
                     ).status_code == 400

    assert alice.delete(props + '/prop9').status_code == 403
    assert admin.delete(props + '/prop9').status_code == 204
    assert admin.get(props + '/prop9').status_code == 404
    admin.post(props, json=new)
    assert admin.delete(props).status_code == 204
    assert alice.get(props).json() == {'properties': {}}


# ------------------------------------------------------------ tags

def test_tags(admin, alice):
    ns = _create(admin, visibility='public')
    tags = '%s/%s/tags' % (NSS, ns['namespace'])

    def names():
        r = alice.get(tags)
        assert r.status_code == 200
        return [t['name'] for t in r.json()['tags']]

    r = admin.post(tags + '/tag1')
    assert r.status_code == 201, r.text
    assert set(r.json()) == {'name', 'created_at', 'updated_at'}
    assert admin.post(tags + '/tag1').status_code == 409
    assert admin.post(tags + '/' + 'x' * 81).status_code == 400

    # Without the header the new tags replace the old ones.
    r = admin.post(tags, json={'tags': [{'name': 'tag2'},
                                        {'name': 'tag3'}]})
    assert r.status_code == 201
    assert r.json() == {'tags': [{'name': 'tag2'}, {'name': 'tag3'}]}
    assert sorted(names()) == ['tag2', 'tag3']
    r = admin.post(tags, json={'tags': [{'name': 'tag4'}]},
                   headers={'X-Openstack-Append': 'True'})
    assert r.status_code == 201 and r.json() == {'tags': [{'name': 'tag4'}]}
    assert names()[0] == 'tag4', 'newest first'
    assert sorted(names()) == ['tag2', 'tag3', 'tag4']
    # A repeated or taken name: 409 and nothing changes.
    assert admin.post(tags, json={'tags': [{'name': 'd'}, {'name': 'd'}]}
                      ).status_code == 409
    assert admin.post(tags, json={'tags': [{'name': 'tag2'}]},
                      headers={'X-Openstack-Append': 'true'}
                      ).status_code == 409
    assert sorted(names()) == ['tag2', 'tag3', 'tag4']
    for bad in ({}, {'tags': 'x'}, {'tags': [{}]}, {'tags': [{'name': 1}]}):
        assert admin.post(tags, json=bad).status_code == 400, bad

    assert alice.get(tags + '/tag2').json()['name'] == 'tag2'
    assert alice.get(tags + '/nope').status_code == 404
    r = admin.put(tags + '/tag2', json={'name': 'tag2b'})
    assert r.status_code == 200 and r.json()['name'] == 'tag2b'
    assert admin.put(tags + '/tag2b', json={'name': 'tag3'}
                     ).status_code == 409
    assert admin.put(tags + '/tag2b', json={}).status_code == 400
    assert alice.put(tags + '/tag2b', json={'name': 'x'}).status_code == 403

    assert alice.delete(tags + '/tag3').status_code == 403
    assert admin.delete(tags + '/tag3').status_code == 204
    assert admin.get(tags + '/tag3').status_code == 404
    assert sorted(names()) == ['tag2b', 'tag4']
    assert alice.delete(tags).status_code == 403
    assert admin.delete(tags).status_code == 204
    assert names() == []


# ------------------------------------------- resource types, associations

def test_resource_types_and_associations(admin, alice):
    ns = _create(admin, visibility='public')
    assocs = '%s/%s/resource_types' % (NSS, ns['namespace'])
    rt = 'OS::Test::%s' % uuid.uuid4().hex[:8]
    r = admin.post(assocs, json={'name': rt, 'prefix': 'test_',
                                 'properties_target': 'image'})
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in ('name', 'prefix',
                                     'properties_target')} == {
        'name': rt, 'prefix': 'test_', 'properties_target': 'image'}
    assert admin.post(assocs, json={'name': rt}).status_code == 409
    assert admin.post(assocs, json={'prefix': 'x'}).status_code == 400
    assert admin.post(assocs, json={'name': 'x' * 81}).status_code == 400

    listed = alice.get(assocs).json()['resource_type_associations']
    assert [a['name'] for a in listed] == [rt]
    types = alice.get('/v2/metadefs/resource_types').json()
    assert rt in [t['name'] for t in types['resource_types']]
    assert set(types['resource_types'][0]) == {'name', 'created_at',
                                               'updated_at'}

    assert alice.delete(assocs + '/' + rt).status_code == 403
    assert admin.delete(assocs + '/OS::Not::There').status_code == 404
    assert admin.delete(assocs + '/' + rt).status_code == 204
    assert alice.get(assocs).json() == {'resource_type_associations': []}
    # The resource type stays registered for the next association.
    types = alice.get('/v2/metadefs/resource_types').json()
    assert rt in [t['name'] for t in types['resource_types']]


def test_protected_namespace_keeps_its_contents(admin):
    ns = _create(admin, visibility='public', protected=True,
                 properties={'p': {'title': 'P', 'type': 'string'}},
                 objects=[{'name': 'o'}], tags=[{'name': 't'}],
                 resource_type_associations=[{'name': 'OS::Glance::Image'}])
    path = '%s/%s' % (NSS, ns['namespace'])
    for sub in ('/objects/o', '/objects', '/properties/p', '/properties',
                '/tags/t', '/tags', '/resource_types/OS::Glance::Image',
                ''):
        assert admin.delete(path + sub).status_code == 403, sub
    shown = admin.get(path).json()
    assert (len(shown['objects']), len(shown['properties']),
            len(shown['tags']),
            len(shown['resource_type_associations'])) == (1, 1, 1, 1)
    # Changing and adding are allowed.
    assert admin.post(path + '/tags/t2').status_code == 201
    assert admin.put(path + '/objects/o', json={'name': 'o',
                                                'description': 'd'}
                     ).status_code == 200


def test_deleting_a_namespace_deletes_its_contents(admin):
    ns = _create(admin, visibility='public',
                 properties={'p': {'title': 'P', 'type': 'string'}},
                 objects=[{'name': 'o'}], tags=[{'name': 't'}],
                 resource_type_associations=[{'name': 'OS::Glance::Image'}])
    path = '%s/%s' % (NSS, ns['namespace'])
    assert admin.delete(path).status_code == 204
    again = admin.post(NSS, json={'namespace': ns['namespace']})
    assert again.status_code == 201
    shown = admin.get(path).json()
    for key in ('objects', 'properties', 'tags',
                'resource_type_associations'):
        assert key not in shown, key


def test_methods_not_in_the_table_are_405(admin):
    ns = _create(admin)
    r = admin.request('PATCH', '%s/%s' % (NSS, ns['namespace']))
    assert r.status_code == 405
    assert r.headers['Allow'] == 'GET, PUT, DELETE'
    r = admin.put('/v2/metadefs/resource_types', json={})
    assert r.status_code == 405 and r.headers['Allow'] == 'GET'


# ------------------------------------------------------------ schemas

@pytest.mark.parametrize('name, title', [
    ('namespace', 'namespace'), ('namespaces', 'namespaces'),
    ('object', 'object'), ('objects', 'objects'),
    ('property', 'property'), ('properties', 'properties'),
    ('tag', 'tag'), ('tags', 'tags'),
    ('resource_type', 'resource_type_association'),
    ('resource_types', 'resource_type_associations')])
def test_schemas_are_served(alice, name, title):
    r = alice.get('/v2/schemas/metadefs/%s' % name)
    assert r.status_code == 200
    assert r.headers['Content-Type'] == 'application/json'
    assert r.json()['name'] == title
