"""The metadata definitions repository on SQLite, PostgreSQL and MariaDB:
the one SQL implementation every kind goes through (the API's functional
tests run it on SQLite only)."""
from __future__ import annotations

import pytest

from glance import context
from glance.common import exception
from glance.db import metadefs
from glance.domain import metadef as domain

pytestmark = pytest.mark.usefixtures('migrated_database')


def repo() -> metadefs.MetadefRepo:
    return metadefs.MetadefRepo(context.RequestContext(project_id='p1'))


def namespace(name: str, **values) -> domain.Item:
    return repo().add_item(None, domain.new_item(
        domain.NAMESPACES, None, {'namespace': name, 'owner': 'p1',
                                  **values}))


def names(items: list[domain.Item]) -> list[str]:
    return [item.name for item in items]


def test_every_kind_round_trips_through_its_table():
    ns = namespace('Test::A')
    added = domain.add_contents(repo(), ns, domain.contents(ns.name, {
        'properties': {'p1': {'title': 'P', 'type': 'string',
                              'default': None}},
        'objects': [{'name': 'o1', 'required': ['p1'],
                     'properties': {'p1': {'title': 'P', 'type': 'string'}}},
                    {'name': 'o2'}],
        'tags': [{'name': 't1'}, {'name': 't2'}],
        'resource_type_associations': [{'name': 'OS::X', 'prefix': 'x_'},
                                       {'name': 'OS::Y'}]}))
    assert {k.name: names(v) for k, v in added.items()} == {
        'property': ['p1'], 'object': ['o1', 'o2'], 'tag': ['t1', 't2'],
        'resource_type': ['OS::X', 'OS::Y']}
    r = repo()
    assert r.get_item(domain.PROPERTIES, ns, 'p1').values == {
        'title': 'P', 'type': 'string', 'default': None}
    assert r.get_item(domain.OBJECTS, ns, 'o1').values['required'] == ['p1']
    # an object stored without them reads back with empty ones
    assert r.get_item(domain.OBJECTS, ns, 'o2').values == {
        'description': None, 'required': [], 'properties': {}}
    assert names(r.list_items(domain.TAGS, ns)) == ['t2', 't1']
    assert [a.values for a in r.list_items(domain.ASSOCIATIONS, ns)] == [
        {'prefix': 'x_', 'properties_target': None},
        {'prefix': None, 'properties_target': None}]
    shown = r.get_item(domain.NAMESPACES, None, 'Test::A')
    assert shown.values == {'display_name': None, 'description': None,
                            'visibility': 'private', 'protected': False,
                            'owner': 'p1'}
    assert shown.loaded_name == 'Test::A'


def test_names_are_unique_within_a_namespace_only():
    a, b = namespace('Test::A'), namespace('Test::B')
    with pytest.raises(exception.Duplicate):
        namespace('Test::A')
    for ns in (a, b):
        repo().add_item(ns, domain.Item(domain.TAGS, ns.name, 't'))
        repo().add_item(ns, domain.Item(domain.ASSOCIATIONS, ns.name, 'X'))
    with pytest.raises(exception.Duplicate):
        repo().add_item(a, domain.Item(domain.ASSOCIATIONS, a.name, 'X'))
    # a batch repeating a name, or replacing with one, changes nothing
    with pytest.raises(exception.Duplicate):
        repo().add_items(domain.TAGS, a, [
            domain.Item(domain.TAGS, a.name, n) for n in ('u', 'u')],
            append=False)
    assert names(repo().list_items(domain.TAGS, a)) == ['t']
    assert names(repo().list_resource_types()) == ['X']


def test_rename_onto_a_taken_name_is_409_and_else_follows_the_entry():
    ns = namespace('Test::A')
    namespace('Test::B')
    for tag in ('t1', 't2'):
        repo().add_item(ns, domain.Item(domain.TAGS, ns.name, tag))
    tag = repo().get_item(domain.TAGS, ns, 't1')
    tag.name = 't2'
    with pytest.raises(exception.Duplicate):
        repo().save_item(ns, tag)
    tag.name = 't3'
    assert repo().save_item(ns, tag).loaded_name == 't3'
    ns.name = 'Test::B'
    with pytest.raises(exception.Duplicate):
        repo().save_item(None, ns)
    ns.name = 'Test::C'
    ns = repo().save_item(None, ns)
    # newest first: a rename keeps its place
    assert names(repo().list_items(domain.TAGS, ns)) == ['t2', 't3']


def test_removing_a_namespace_takes_its_contents_and_keeps_types():
    ns = namespace('Test::A')
    repo().add_item(ns, domain.Item(domain.TAGS, ns.name, 't'))
    repo().add_item(ns, domain.Item(domain.ASSOCIATIONS, ns.name, 'X'))
    repo().remove_item(None, ns)
    with pytest.raises(exception.NotFound):
        repo().get_item(domain.NAMESPACES, None, 'Test::A')
    assert names(repo().list_resource_types()) == ['X']
    again = namespace('Test::A')
    assert repo().list_items(domain.TAGS, again) == []
    assert metadefs.delete_all() == 1
    assert repo().list_resource_types() == []


def test_a_protected_namespace_keeps_itself_and_its_contents():
    ns = namespace('Test::A', protected=True)
    tag = repo().add_item(ns, domain.Item(domain.TAGS, ns.name, 't'))
    for remove in (lambda: repo().remove_item(None, ns),
                   lambda: repo().remove_item(ns, tag),
                   lambda: repo().remove_all(domain.TAGS, ns)):
        with pytest.raises(exception.Forbidden):
            remove()
    assert names(repo().list_items(domain.TAGS, ns)) == ['t']


@pytest.mark.parametrize('sort_key', ['namespace', 'id', 'created_at'])
@pytest.mark.parametrize('sort_dir', ['asc', 'desc'])
def test_pages_after_the_marker_cover_everything_once(sort_key, sort_dir):
    for name in ('C', 'A', 'B', 'E', 'D'):
        namespace('Test::' + name)
    seen, marker = [], None
    while True:
        page = repo().list_namespaces(domain.NamespaceQuery(
            limit=2, marker=marker, sort_key=sort_key, sort_dir=sort_dir),
            all_projects=True)
        seen += names(page)
        if len(page) < 2:
            break
        marker = page[-1].name
    assert sorted(seen) == ['Test::' + n for n in 'ABCDE']
    assert len(seen) == 5
    if sort_key == 'namespace':
        assert seen == sorted(seen, reverse=sort_dir == 'desc')


def test_namespace_list_filters():
    namespace('Test::Mine')
    namespace('Test::Theirs', owner='p2')
    public = namespace('Test::Public', owner='p2', visibility='public')
    repo().add_item(public, domain.Item(domain.ASSOCIATIONS, public.name,
                                        'OS::X'))

    def listed(**query):
        return sorted(names(repo().list_namespaces(
            domain.NamespaceQuery(limit=10, **query))))

    assert listed() == ['Test::Mine', 'Test::Public']
    assert listed(visibility='public') == ['Test::Public']
    assert listed(resource_types=['OS::X', 'OS::Z']) == ['Test::Public']
    with pytest.raises(exception.BadRequest):
        listed(marker='Test::None')
