"""glance-manage db load_metadefs / export_metadefs / unload_metadefs, as
operators run them, on SQLite, PostgreSQL and MariaDB (under CI=true the
server databases must be there), with the API reading what was loaded.
"""
from __future__ import annotations

import copy
import glob
import json
import os

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import ROOT, GlanceServer

CATALOG = os.path.join(ROOT, 'etc', 'metadefs')
NSS = '/v2/metadefs/namespaces'


def _catalog() -> dict[str, dict]:
    docs = {}
    for path in glob.glob(os.path.join(CATALOG, '*.json')):
        with open(path) as f:
            doc = json.load(f)
        docs[doc['namespace']] = doc
    return docs


def _read_dir(path: str) -> dict[str, dict]:
    docs = {}
    for name in os.listdir(path):
        with open(os.path.join(path, name)) as f:
            doc = json.load(f)
        docs[doc['namespace']] = doc
    return docs


@pytest.fixture
def server(database, tmp_path):
    srv = GlanceServer(str(tmp_path / 'glance'), database_url=database.url,
                       profile='reference').start()
    yield srv
    srv.stop()


def _ok(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_load_export_unload_round_trip(server, tmp_path):
    source = _catalog()
    assert len(source) >= 6
    out = _ok(server.manage('db', 'load_metadefs', '--path', CATALOG))
    assert sorted(out.splitlines()) == sorted(
        'Created namespace %s' % n for n in source)

    reader = Client(server.url, identity('some-project', 'reader'))
    listed = reader.get(NSS + '?limit=100').json()['namespaces']
    assert sorted(n['namespace'] for n in listed) == sorted(source)
    shown = reader.get(NSS + '/OS::Compute::Watchdog'
                       '?resource_type=OS::Nova::Flavor').json()
    assert list(shown['properties']) == ['hw:watchdog_action']
    assert shown['protected'] is True and shown['owner'] == 'admin'
    types = {t['name'] for t in reader.get(
        '/v2/metadefs/resource_types').json()['resource_types']}
    assert {'OS::Glance::Image', 'OS::Nova::Flavor',
            'OS::Cinder::Volume'} <= types

    first = str(tmp_path / 'export1')
    out = _ok(server.manage('db', 'export_metadefs', '--path', first))
    assert len(out.splitlines()) == len(source)
    exported = _read_dir(first)
    # What comes out is what went in (plus the owner the load gave it).
    expected = copy.deepcopy(source)
    for doc in expected.values():
        doc['owner'] = 'admin'
    assert exported == expected

    out = _ok(server.manage('db', 'unload_metadefs'))
    assert out.strip() == 'Unloaded %d namespaces' % len(source)
    assert reader.get(NSS).json()['namespaces'] == []
    assert reader.get('/v2/metadefs/resource_types').json() == {
        'resource_types': []}

    # The export loads back to the same catalog.
    _ok(server.manage('db', 'load_metadefs', '--path', first))
    second = str(tmp_path / 'export2')
    _ok(server.manage('db', 'export_metadefs', '--path', second))
    assert _read_dir(second) == exported
    assert sorted(os.listdir(second)) == sorted(os.listdir(first))


def _write(path, doc) -> str:
    with open(path, 'w') as f:
        json.dump(doc, f)
    return str(path)


def test_merge_prefer_new_overwrite(tmp_path):
    """The three load modes, on SQLite (the SQL is the round trip's)."""
    srv = GlanceServer(str(tmp_path / 'glance'))
    _ok(srv.manage('db', 'sync'))
    doc = {'namespace': 'Test::Merge', 'display_name': 'Old',
           'visibility': 'public', 'protected': False,
           'properties': {'p1': {'title': 'old', 'type': 'string'}},
           'objects': [{'name': 'o1', 'properties': {}}],
           'tags': [{'name': 't1'}],
           'resource_type_associations': [{'name': 'OS::Glance::Image',
                                           'prefix': 'a_'}]}
    path = _write(tmp_path / 'ns.json', doc)
    _ok(srv.manage('db', 'load_metadefs', '--path', path))

    def current() -> dict:
        out = str(tmp_path / 'out')
        _ok(srv.manage('db', 'export_metadefs', '--path', out))
        return _read_dir(out)['Test::Merge']

    newer = copy.deepcopy(doc)
    newer['display_name'] = 'New'
    newer['properties'] = {'p1': {'title': 'new', 'type': 'string'},
                           'p2': {'title': 'two', 'type': 'integer'}}
    newer['tags'] = [{'name': 't2'}]
    newer['resource_type_associations'] = [{'name': 'OS::Glance::Image',
                                            'prefix': 'b_'}]
    _write(tmp_path / 'ns.json', newer)

    out = _ok(srv.manage('db', 'load_metadefs', '--path', path))
    assert out.strip() == 'Skipped namespace Test::Merge'
    assert current()['display_name'] == 'Old'

    out = _ok(srv.manage('db', 'load_metadefs', '--path', path, '--merge'))
    assert out.strip() == 'Merged namespace Test::Merge'
    got = current()
    assert got['display_name'] == 'Old'
    assert got['properties'] == {'p1': {'title': 'old', 'type': 'string'},
                                 'p2': {'title': 'two', 'type': 'integer'}}
    assert got['tags'] == [{'name': 't1'}, {'name': 't2'}]
    assert got['resource_type_associations'][0]['prefix'] == 'a_'

    _ok(srv.manage('db', 'load_metadefs', '--path', path, '--merge',
                   '--prefer_new'))
    got = current()
    assert got['display_name'] == 'New'
    assert got['properties']['p1']['title'] == 'new'
    assert got['tags'] == [{'name': 't1'}, {'name': 't2'}]
    assert got['resource_type_associations'] == [
        {'name': 'OS::Glance::Image', 'prefix': 'b_'}]

    out = _ok(srv.manage('db', 'load_metadefs', '--path', path, '--merge',
                         '--overwrite'))
    assert out.strip() == 'Replaced namespace Test::Merge'
    got = current()
    assert got['tags'] == [{'name': 't2'}]
    assert got['properties'] == newer['properties']

    # A bad file anywhere in the directory: nothing is loaded.
    _write(tmp_path / 'zz-bad.json', {'namespace': 'Test::Bad',
                                      'properties': {'p': {'title': 'x'}}})
    _write(tmp_path / 'aa-good.json', {'namespace': 'Test::Good'})
    r = srv.manage('db', 'load_metadefs', '--path', str(tmp_path))
    assert r.returncode == 1 and 'zz-bad.json' in r.stderr, r.stderr
    out = str(tmp_path / 'out2')
    _ok(srv.manage('db', 'export_metadefs', '--path', out))
    assert sorted(_read_dir(out)) == ['Test::Merge']

    r = srv.manage('db', 'load_metadefs', '--path', str(tmp_path / 'none'))
    assert r.returncode == 1 and 'No metadata definitions' in r.stderr
