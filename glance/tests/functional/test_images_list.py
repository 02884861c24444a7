"""GET /v2/images: visibility, filters, sorting and paging.

One module-wide catalogue is built once (projects unique to this module),
then every test reads it.  The last test checks the SQL of a 1000-image page
in-process: the statement count must not grow with the page.
"""
from __future__ import annotations

import datetime
import urllib.parse
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer

# The server is fresh for this module, so fixed names cannot collide (and
# parametrised test ids stay the same on every xdist worker).
RUN = 'mod'
ALICE = 'list-a-%s' % RUN
BOB = 'list-b-%s' % RUN
ADMIN = 'list-admin-%s' % RUN


@pytest.fixture(scope='module')
def clients(ref_server):
    return {
        'alice': Client(ref_server.url, identity(ALICE)),
        'carol': Client(ref_server.url, identity(ALICE, 'reader')),
        'bob': Client(ref_server.url, identity(BOB)),
        'admin': Client(ref_server.url,
                        identity(ADMIN, 'admin,member,reader')),
    }


@pytest.fixture(scope='module')
def cat(clients):
    """The catalogue: name -> image, created in this order (oldest first)."""
    alice, bob, admin = clients['alice'], clients['bob'], clients['admin']
    out = {}

    def add(client, name, data=None, **body):
        image = client.create(name=name, **body)
        if data is not None:
            assert client.upload(image['id'], data).status_code == 204
            image = client.get('/v2/images/%s' % image['id']).json()
        out[name] = image

    add(alice, 'alpha', b'a' * 300, disk_format='raw',
        container_format='bare', tags=['red', 'blue'], min_ram=128,
        flavor='x')
    # ami: bytes that are no qcow2 would be refused as one (format safety)
    add(alice, 'bravo', b'b' * 100, disk_format='ami',
        container_format='bare', tags=['red'])
    add(alice, 'charlie', os_hidden=True, tags=['red'])
    add(alice, 'delta,comma', visibility='community', disk_format='iso')
    add(alice, 'echo', visibility='private', protected=True,
        container_format='ovf', flavor='y')
    add(bob, 'bob-private', visibility='private')
    add(bob, 'bob-community', visibility='community')
    add(admin, 'public-one', visibility='public')
    add(admin, 'admin-community', visibility='community')
    yield out
    admin.delete('/v2/images/%s' % out['public-one']['id'])


def names(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [i['name'] for i in r.json()['images']]


def newest_first(cat, *wanted) -> list[str]:
    order = list(cat)
    return sorted(wanted, key=order.index, reverse=True)


def q(client, query: str):
    return client.get('/v2/images?' + query)


# -- who sees what -----------------------------------------------------------

def test_default_list(clients, cat):
    r = clients['alice'].get('/v2/images')
    body = r.json()
    # Owned (even community), public; not hidden, not others' community.
    assert names(r) == newest_first(cat, 'alpha', 'bravo', 'delta,comma',
                                    'echo', 'public-one')
    assert body['first'] == '/v2/images'
    assert body['schema'] == '/v2/schemas/images'
    assert 'next' not in body
    listed = {i['id']: i for i in body['images']}
    assert listed[cat['alpha']['id']] == clients['alice'].get(
        '/v2/images/%s' % cat['alpha']['id']).json()


def test_reader_lists_like_member(clients, cat):
    assert names(clients['carol'].get('/v2/images')) == \
        names(clients['alice'].get('/v2/images'))


def test_other_project_sees_only_its_own_and_public(clients, cat):
    assert names(clients['bob'].get('/v2/images')) == newest_first(
        cat, 'bob-private', 'bob-community', 'public-one')


def test_no_role_and_anonymous(ref_server, cat):
    r = Client(ref_server.url, identity(ALICE, '')).get('/v2/images')
    assert r.status_code == 403
    assert Client(ref_server.url).get('/v2/images').status_code == 401


@pytest.mark.parametrize('who,visibility,expected', [
    ('alice', 'private', ['echo']),
    ('alice', 'shared', ['alpha', 'bravo']),
    ('alice', 'public', ['public-one']),
    ('alice', 'community', ['delta,comma', 'bob-community',
                            'admin-community']),
    ('alice', 'all', ['alpha', 'bravo', 'delta,comma', 'echo',
                      'bob-community', 'public-one', 'admin-community']),
    ('bob', 'private', ['bob-private']),
    ('bob', 'community', ['delta,comma', 'bob-community',
                          'admin-community']),
    ('admin', None, ['alpha', 'bravo', 'echo', 'bob-private', 'public-one',
                     'admin-community']),
    ('admin', 'all', ['alpha', 'bravo', 'delta,comma', 'echo',
                      'bob-private', 'bob-community', 'public-one',
                      'admin-community']),
    ('admin', 'private', ['echo', 'bob-private']),
])
def test_visibility_filter(clients, cat, who, visibility, expected):
    query = 'limit=1000' + ('&visibility=%s' % visibility if visibility
                            else '')
    got = names(q(clients[who], query))
    # Other modules' images may be there for the admin; ours are in order.
    got = [n for n in got if n in cat]
    assert got == newest_first(cat, *expected)


def test_bad_visibility_is_400(clients, cat):
    r = q(clients['alice'], 'visibility=bogus')
    assert r.status_code == 400 and 'bogus' in r.text


def test_community_of_one_owner(clients, cat):
    r = q(clients['bob'], 'visibility=community&owner=%s' % ALICE)
    assert names(r) == ['delta,comma']


@pytest.mark.parametrize('value,status', [
    ('all', 200), ('accepted', 200), ('pending', 200), ('rejected', 200),
    ('bogus', 400)])
def test_member_status(clients, cat, value, status):
    r = q(clients['alice'], 'member_status=%s' % value)
    assert r.status_code == status
    if status == 200:
        # No image is shared with alice: she sees her own and public ones.
        assert names(r) == names(clients['alice'].get('/v2/images'))


# -- filters -----------------------------------------------------------------

@pytest.mark.parametrize('query,expected', [
    ('name=alpha', ['alpha']),
    ('name=eq:alpha', ['alpha']),
    ('name=nothing', []),
    ('name=in:alpha,echo', ['alpha', 'echo']),
    ('name=in:"alpha","echo"', ['alpha', 'echo']),
    ('name=in:"delta,comma",bravo', ['bravo', 'delta,comma']),
    ('name=eq:delta,comma', ['delta,comma']),
    ('status=active', ['alpha', 'bravo']),
    ('status=queued', ['delta,comma', 'echo', 'public-one']),
    ('status=in:active,queued', ['alpha', 'bravo', 'delta,comma', 'echo',
                                 'public-one']),
    ('status=bogus', []),
    ('owner=%s' % ALICE, ['alpha', 'bravo', 'delta,comma', 'echo']),
    ('tag=red', ['alpha', 'bravo']),
    ('tag=red&tag=blue', ['alpha']),
    ('tag=blue&tag=green', []),
    ('size_min=200', ['alpha']),
    ('size_max=200', ['bravo']),
    ('size_min=100&size_max=300', ['alpha', 'bravo']),
    ('size_min=5000&size_max=10', []),
    ('protected=true', ['echo']),
    ('protected=false', ['alpha', 'bravo', 'delta,comma', 'public-one']),
    ('os_hidden=true', ['charlie']),
    ('os_hidden=false', ['alpha', 'bravo', 'delta,comma', 'echo',
                         'public-one']),
    ('os_hidden=true&tag=red', ['charlie']),
    ('container_format=bare', ['alpha', 'bravo']),
    ('disk_format=raw&container_format=bare', ['alpha']),
    ('disk_format=in:ami,iso', ['bravo', 'delta,comma']),
    ('min_ram=128', ['alpha']),
    ('flavor=x', ['alpha']),
    ('flavor=y', ['echo']),
    ('flavor=in:x,y', []),
    ('created_at=gt:2000-01-01T00:00:00Z',
     ['alpha', 'bravo', 'delta,comma', 'echo', 'public-one']),
    ('created_at=lt:2000-01-01T00:00:00Z', []),
    ('created_at=gte:2000-01-01T00:00:00Z&created_at=lte:2999-01-01T00:00:00Z',
     # the last of a repeated filter counts
     ['alpha', 'bravo', 'delta,comma', 'echo', 'public-one']),
    ('created_at=neq:2000-01-01T00:00:00Z',
     ['alpha', 'bravo', 'delta,comma', 'echo', 'public-one']),
    ('created_at=eq:2000-01-01T00:00:00Z', []),
    ('created_at=2000-01-01T00:00:00Z', []),
    ('updated_at=gte:2000-01-01T00:00:00Z&name=echo', ['echo']),
    ('updated_at=lte:2000-01-01T00:00:00%2B02:00', []),
])
def test_filters(clients, cat, query, expected):
    assert names(q(clients['alice'], query)) == newest_first(cat, *expected)


def test_id_filter(clients, cat):
    a, e = cat['alpha']['id'], cat['echo']['id']
    assert names(q(clients['alice'], 'id=%s' % a)) == ['alpha']
    assert names(q(clients['alice'], 'id=in:%s,%s' % (a, e))) == \
        ['echo', 'alpha']
    # An id the caller may not see is not listed through the filter.
    bobs = cat['bob-private']['id']
    assert names(q(clients['alice'], 'id=in:%s,%s' % (a, bobs))) == ['alpha']


def test_time_filter_around_an_image(clients, cat):
    created = cat['echo']['created_at']
    when = datetime.datetime.strptime(created, '%Y-%m-%dT%H:%M:%SZ')
    later = (when + datetime.timedelta(seconds=1)).strftime(
        '%Y-%m-%dT%H:%M:%SZ')
    got = names(q(clients['alice'], 'created_at=lt:%s' % later))
    assert 'echo' in got


@pytest.mark.parametrize('query,needle', [
    ('created_at=gt:notadate', 'created_at'),
    ('created_at=zz:2000-01-01T00:00:00Z', 'zz'),
    ('created_at=in:2000-01-01T00:00:00Z', 'in'),
    ('updated_at=yesterday', 'updated_at'),
    ('name=gt:alpha', 'gt'),
    ('name=like:alpha', 'like'),
    ('name=in:"alpha', 'quotation'),
    ('name=in:x"alpha"', 'quotation'),
    ('name=in:"alpha"x,bravo', 'quotation'),
    ('size_min=abc', 'size_min'),
    ('size_max=1.5', 'size_max'),
    ('os_hidden=maybe', 'os_hidden'),
    ('protected=maybe', 'protected'),
    ('min_ram=lots', 'min_ram'),
])
def test_bad_filters_are_400(clients, cat, query, needle):
    r = q(clients['alice'], query)
    assert r.status_code == 400, r.text
    assert needle in r.text


# -- sorting -----------------------------------------------------------------

MINE = ['alpha', 'bravo', 'delta,comma', 'echo', 'public-one']


@pytest.mark.parametrize('query,expected', [
    ('sort_key=name&sort_dir=asc', sorted(MINE)),
    ('sort_key=name', sorted(MINE, reverse=True)),
    ('sort_dir=asc', MINE),
    ('sort=name:asc', sorted(MINE)),
    ('sort=name', sorted(MINE, reverse=True)),
    ('sort=%20name%20:%20asc%20', sorted(MINE)),
    # size: nulls last descending; ties broken by age, newest first
    ('sort=size:desc,name:asc', ['alpha', 'bravo', 'delta,comma', 'echo',
                                 'public-one']),
    ('sort_key=size&sort_key=name&sort_dir=desc',
     ['alpha', 'bravo', 'public-one', 'echo', 'delta,comma']),
    ('sort_key=status&sort_key=name&sort_dir=asc&sort_dir=desc',
     ['bravo', 'alpha', 'public-one', 'echo', 'delta,comma']),
    ('sort_key=disk_format&sort_dir=asc',
     # null formats first ascending, then by age (the one direction given)
     ['echo', 'public-one', 'bravo', 'delta,comma', 'alpha']),
])
def test_sorting(clients, cat, query, expected):
    assert names(q(clients['alice'], query)) == expected


@pytest.mark.parametrize('query', [
    'sort_key=min_ram', 'sort_key=bogus', 'sort_key=', 'sort_dir=sideways',
    'sort=name:up', 'sort=min_ram', 'sort=name&sort_key=name',
    'sort=name&sort_dir=asc',
    'sort_key=name&sort_key=size&sort_key=id&sort_dir=asc&sort_dir=desc',
])
def test_bad_sorting_is_400(clients, cat, query):
    assert q(clients['alice'], query).status_code == 400


# -- paging ------------------------------------------------------------------

def test_limit_zero_and_bad_limits(clients, cat):
    r = q(clients['alice'], 'limit=0')
    assert names(r) == [] and 'next' not in r.json()
    for bad in ('-1', 'abc', '1.5', ''):
        r = q(clients['alice'], 'limit=%s' % bad)
        assert r.status_code == 400, bad


def _follow(client, first: str) -> tuple[list[str], list[str]]:
    """Names of every page reached from ``first``, and the links used."""
    seen, links, path = [], [], first
    while path:
        links.append(path)
        r = client.get(path)
        seen += names(r)
        path = r.json().get('next')
        assert len(links) < 50
    return seen, links


@pytest.mark.parametrize('query', ['limit=2', 'limit=2&sort=name:asc',
                                   'limit=1&sort_key=size&sort_dir=asc',
                                   'limit=3&tag=red&sort=name:desc',
                                   'limit=2&sort=disk_format:asc,name:asc'])
def test_next_links_walk_the_whole_list(clients, cat, query):
    client = clients['alice']
    everything = names(q(client, query.split('&', 1)[1] if '&' in query
                         else ''))
    seen, links = _follow(client, '/v2/images?' + query)
    assert seen == everything
    limit = int(dict(urllib.parse.parse_qsl(query))['limit'])
    assert len(links) == len(everything) // limit + 1
    for link in links[1:]:
        params = dict(urllib.parse.parse_qsl(link.split('?', 1)[1]))
        assert params['limit'] == str(limit) and 'marker' in params


def test_first_link_keeps_the_query_without_marker(clients, cat):
    marker = cat['echo']['id']
    r = q(clients['alice'], 'limit=1&name=in:alpha,echo&marker=%s' % marker)
    body = r.json()
    assert names(r) == ['alpha']
    first = urllib.parse.parse_qs(body['first'].split('?', 1)[1])
    assert first == {'limit': ['1'], 'name': ['in:alpha,echo']}
    assert body['next'].startswith('/v2/images?')
    nxt = urllib.parse.parse_qs(body['next'].split('?', 1)[1])
    assert nxt['marker'] == [cat['alpha']['id']]
    assert names(clients['alice'].get(body['next'])) == []


def test_markers(clients, cat):
    alice = clients['alice']
    r = q(alice, 'marker=%s' % cat['echo']['id'])
    assert names(r) == newest_first(cat, 'alpha', 'bravo', 'delta,comma')
    # A hidden image may be the marker, though it is not listed itself.
    r = q(alice, 'marker=%s' % cat['charlie']['id'])
    assert names(r) == newest_first(cat, 'alpha', 'bravo')
    for marker in (str(uuid.uuid4()), 'garbage', cat['bob-private']['id']):
        r = q(alice, 'marker=%s' % marker)
        assert r.status_code == 400, marker
        assert marker in r.text
    assert q(alice, 'marker=').status_code == 400


def test_deleted_image_is_no_marker(clients, cat):
    alice = clients['alice']
    gone = alice.create(name='gone')
    assert alice.delete('/v2/images/%s' % gone['id']).status_code == 204
    assert q(alice, 'marker=%s' % gone['id']).status_code == 400
    assert 'gone' not in names(q(alice, 'limit=1000'))


def test_default_page_size_and_api_limit_max(clients):
    project = 'list-many-%s' % RUN
    many = Client(clients['alice'].base, identity(project))
    ids = [many.create(name='m%02d' % i, tag_me='yes')['id']
           for i in range(27)]
    r = many.get('/v2/images?tag_me=yes')
    body = r.json()
    assert len(body['images']) == 25
    assert [i['id'] for i in body['images']] == ids[::-1][:25]
    assert 'marker=%s' % ids[2] in body['next']
    rest = many.get(body['next'])
    assert [i['id'] for i in rest.json()['images']] == ids[1::-1]
    assert 'next' not in rest.json()
    # A limit above api_limit_max (1000) is capped, not refused.
    r = many.get('/v2/images?tag_me=yes&limit=100000')
    assert len(r.json()['images']) == 27


@pytest.fixture(scope='module')
def small_server(tmp_path_factory):
    srv = GlanceServer(str(tmp_path_factory.mktemp('glance-small')),
                       settings=['DEFAULT.limit_param_default=2',
                                 'DEFAULT.api_limit_max=3']).start()
    yield srv
    srv.stop()


def test_configured_page_sizes(small_server):
    client = Client(small_server.url)
    for i in range(5):
        client.create(name='s%d' % i)
    r = client.get('/v2/images')
    assert len(r.json()['images']) == 2 and 'next' in r.json()
    r = client.get('/v2/images?limit=50')
    assert len(r.json()['images']) == 3
    seen, _ = _follow(client, '/v2/images?limit=50&sort=name:asc')
    assert seen == ['s0', 's1', 's2', 's3', 's4']


# -- SQL cost ----------------------------------------------------------------

def test_a_page_of_1000_images_is_a_constant_number_of_queries(
        migrated_database):
    """Properties, tags and locations load in batches, never per image."""
    import sqlalchemy as sa

    from glance import context
    from glance.db import images as db_images
    from glance.db.sqlalchemy import engine, image_list, models

    start = datetime.datetime(2024, 1, 1)

    def fill(first: int, count: int) -> None:
        with engine.session_scope() as session:
            for i in range(first, first + count):
                image_id = str(uuid.uuid4())
                created = start + datetime.timedelta(seconds=i)
                session.add(models.Image(
                    id=image_id, name='i%04d' % i, status='active',
                    visibility='shared', owner='p', min_disk=0, min_ram=0,
                    size=i, created_at=created))
                session.add(models.ImageProperty(image_id=image_id,
                                                 name='k', value=str(i)))
                session.add(models.ImageTag(image_id=image_id,
                                            value='t%d' % i,
                                            image_created_at=created))
                session.add(models.ImageLocation(
                    image_id=image_id, value='file:///i/%d' % i,
                    meta_data='{"store": "fast"}', status='active'))

    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith('SELECT'):
            statements.append(statement)

    repo = db_images.ImageRepo(context.RequestContext(project_id='p',
                                                      roles=['member']))

    def listed(limit: int):
        statements.clear()
        sa.event.listen(engine.get_engine(), 'before_cursor_execute', count)
        try:
            return repo.list(image_list.ListQuery(limit=limit))
        finally:
            sa.event.remove(engine.get_engine(), 'before_cursor_execute',
                            count)

    fill(0, 10)
    small = listed(10)
    small_count = len(statements)
    fill(10, 990)
    big = listed(1000)
    assert len(big) == 1000
    # The images, then one UNION query of their properties, tags and
    # locations per 500 images: 1 + 1 for ten images, 1 + 2 for 1000.
    assert small_count == 2, statements
    assert len(statements) == 3, len(statements)
    assert [i.name for i in small] == ['i%04d' % i for i in range(9, -1, -1)]
    oldest = big[-1]
    assert oldest.name == 'i0000'
    assert oldest.extra_properties == {'k': '0'}
    assert oldest.tags == {'t0'}
    assert oldest.locations[0]['url'] == 'file:///i/0'
    assert big[0].name == 'i0999' and big[0].tags == {'t999'}
