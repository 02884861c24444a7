"""The import flow's shape: atoms that say what they need and give, and
one write atom per store, side by side."""
from __future__ import annotations

import json

import pytest
from taskflow import engines
from taskflow.patterns import linear_flow, unordered_flow

from glance.async_.flows import api_image_import as flows
from glance.async_.flows import atoms
from glance.domain import image as domain_image


def _spec(method: str, stores: list) -> flows.ImportSpec:
    return flows.ImportSpec(context=None, task_id='t-1', image_id='i-1',
                            method=method, stores=stores)


@pytest.mark.parametrize('method', ['glance-direct', 'web-download',
                                    'copy-image', 'glance-download'])
def test_every_atom_needs_only_what_an_earlier_one_gives(method):
    flow = flows.get_flow(_spec(method, ['fast', 'cheap']))
    engine = engines.load(flow)
    engine.compile()
    engine.prepare()
    engine.validate()      # raises MissingDependencies otherwise


def test_one_write_atom_per_store_in_an_unordered_flow():
    flow = flows.get_flow(_spec('web-download', ['fast', 'cheap', 'slow']))
    assert isinstance(flow, linear_flow.Flow)
    [writes] = [f for f in flow if isinstance(f, unordered_flow.Flow)]
    assert [a.name for a in writes] == [
        'write_to_store_fast', 'write_to_store_cheap', 'write_to_store_slow']
    assert [a.provides for a in writes] == [
        {'written_fast'}, {'written_cheap'}, {'written_slow'}]
    for atom in writes:
        assert type(atom).revert is not atoms.Atom.revert
    names = [a.name for a in flow]
    assert names == ['begin_task', 'take_image', 'stage_web-download',
                     'inspect_staged_t-1', 'write_to_stores',
                     'complete_import', 'finish_task']
    complete = [a for a in flow if a.name == 'complete_import'][0]
    assert complete.requires == {'image', 'written_fast', 'written_cheap',
                                 'written_slow'}


def test_a_single_store_deployment_writes_once():
    flow = flows.get_flow(_spec('glance-direct', [None]))
    [writes] = [f for f in flow if isinstance(f, unordered_flow.Flow)]
    assert [a.name for a in writes] == ['write_to_store_default']


def test_the_image_passes_as_plain_data():
    """Only the import's own changes go (never status, timestamps or a
    user's change), and as JSON: persisted flows can carry it."""
    image = domain_image.new_image(
        {'name': 'before', 'disk_format': 'qcow2', 'container_format': 'bare',
         'a': '1', 'b': '2'}, 'owner')
    image.mark_persisted()
    image.disk_format = 'raw'
    image.name = 'mine'
    image.set_status('saving')
    image.extra_properties['os_glance_importing_to_stores'] = ''
    del image.extra_properties['a'], image.extra_properties['b']
    got = atoms.delta(image)
    assert got == {'core': {'disk_format': 'raw'},
                   'set': {'os_glance_importing_to_stores': ''},
                   'removed': ['a', 'b']}
    assert json.loads(json.dumps(got)) == got
