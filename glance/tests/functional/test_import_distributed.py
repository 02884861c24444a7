"""Distributed import: two glance-api nodes share one database and the
stores, each with its own staging area.  Data staged on one node and
imported through the other is imported by the node that holds it."""
from __future__ import annotations

import json
import os
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer, write_config
from glance.tests.functional.test_import import (_create, _import, _stage,
                                                 _wait, blob)


def _node(workdir: str, database: str, shared: str) -> GlanceServer:
    settings = ['%s.filesystem_store_datadir=%s' % (s, os.path.join(
        shared, s)) for s in ('fast', 'cheap')]
    server = GlanceServer(workdir, database_url=database,
                          profile='reference', settings=settings)
    # The node must know its own URL, which exists once the port is chosen.
    server.config = write_config.build(
        workdir, server.port, 'reference', database,
        settings + ['DEFAULT.worker_self_reference_url=%s' % server.url])
    return server


@pytest.fixture(scope='module')
def nodes(tmp_path_factory):
    base = tmp_path_factory.mktemp('distributed')
    database = 'sqlite:///%s' % (base / 'shared.sqlite')
    one = _node(str(base / 'one'), database, str(base / 'stores')).start()
    two = _node(str(base / 'two'), database, str(base / 'stores'))
    two.start(sync_db=False)
    yield one, two
    two.stop()
    one.stop()


def test_import_through_the_other_node(nodes):
    one, two = nodes
    project = 'dist-%s' % uuid.uuid4().hex[:8]
    on_one = Client(one.url, identity(project))
    on_two = Client(two.url, identity(project))
    data = blob(30000, 'dist')
    image_id = _create(on_one)
    assert _stage(on_one, image_id, data).status_code == 204
    image = on_two.get('/v2/images/%s' % image_id).json()
    assert image['os_glance_stage_host'] == one.url
    staged = os.path.join(one.workdir, 'stores', 'os_glance_staging_store',
                          image_id)
    assert os.path.exists(staged)
    r = _import(on_two, image_id, method={'name': 'glance-direct'})
    assert r.status_code == 202, r.text
    image, task = _wait(on_two, image_id)
    assert (image['status'], task['status']) == ('active', 'success')
    assert 'os_glance_stage_host' not in image
    assert on_two.get('/v2/images/%s/file' % image_id).content == data
    assert not os.path.exists(staged)
    assert 'Proxying import of image %s' % image_id in two.log()


def test_refusal_from_the_staging_node_is_relayed(nodes):
    one, two = nodes
    project = 'dist-%s' % uuid.uuid4().hex[:8]
    image_id = _create(Client(one.url, identity(project)))
    assert _stage(Client(one.url, identity(project)), image_id,
                  b'abc').status_code == 204
    r = _import(Client(two.url, identity(project)), image_id,
                method={'name': 'glance-direct'}, stores=['nope'])
    assert r.status_code == 409


# ------------------------------------------------------------ glance-download
@pytest.fixture(scope='module')
def regions(tmp_path_factory):
    base = tmp_path_factory.mktemp('regions')
    remote = GlanceServer(str(base / 'remote'), profile='reference').start()
    local = GlanceServer(str(base / 'local'), profile='reference', settings=[
        'DEFAULT.enabled_import_methods=[glance-direct,glance-download]',
    ]).start()
    yield local, remote
    local.stop()
    remote.stop()


def _catalog(remote: GlanceServer, form: str = 'v3') -> str:
    """The caller's catalog naming ``remote`` in RegionTwo, as a Keystone v3
    token has it or in the v2 form keystonemiddleware sends."""
    if form == 'v2':
        endpoint = {'region': 'RegionTwo', 'publicURL': remote.url + '/v2',
                    'internalURL': 'http://127.0.0.1:1/v2'}
    else:
        endpoint = {'interface': 'public', 'region': 'RegionTwo',
                    'url': remote.url + '/v2'}
    return json.dumps([{'type': 'image', 'name': 'glance',
                        'endpoints': [endpoint]}])


@pytest.mark.parametrize('form', ['v3', 'v2'])
def test_glance_download(regions, form):
    local, remote = regions
    project = 'gd-%s' % uuid.uuid4().hex[:8]
    there = Client(remote.url, identity(project))
    data = blob(12345, 'region')
    # ami: the blob is raw data (a qcow2 claim would fail format safety)
    source = _create(there, disk_format='ami', container_format='ovf',
                     os_distro='cirros', hw_disk_bus='scsi', secret='no')
    assert there.upload(source, data).status_code == 204
    here = Client(local.url, dict(identity(project), **{
        'X-Service-Catalog': _catalog(remote, form)}))
    target = here.create(name='copy')['id']
    r = _import(here, target, method={
        'name': 'glance-download', 'glance_image_id': source,
        'glance_region': 'RegionTwo'})
    assert r.status_code == 202, r.text
    image, task = _wait(here, target)
    assert task['status'] == 'success', task
    assert image['status'] == 'active'
    assert (image['disk_format'], image['container_format']) == \
        ('ami', 'ovf')
    assert image['os_distro'] == 'cirros'
    assert image['hw_disk_bus'] == 'scsi'
    assert 'secret' not in image
    assert here.get('/v2/images/%s/file' % target).content == data


def test_glance_download_failures(regions):
    local, remote = regions
    project = 'gd-%s' % uuid.uuid4().hex[:8]
    here = Client(local.url, dict(identity(project),
                                  **{'X-Service-Catalog': _catalog(remote)}))
    target = here.create(name='copy', disk_format='raw',
                         container_format='bare')['id']
    r = _import(here, target, method={'name': 'glance-download',
                                      'glance_region': 'RegionTwo'})
    assert r.status_code == 400
    # an image of another project there is not readable: the task fails
    other = Client(remote.url, identity(project + '-other'))
    hidden = _create(other)
    assert other.upload(hidden, b'private').status_code == 204
    for region, image_id in (('RegionTwo', hidden),
                             ('RegionThree', hidden)):
        r = _import(here, target, method={
            'name': 'glance-download', 'glance_image_id': image_id,
            'glance_region': region})
        assert r.status_code == 202, r.text
        image, task = _wait(here, target)
        assert task['status'] == 'failure'
        assert image['status'] == 'queued'
        assert 'stores' not in image


def test_glance_download_of_a_malformed_id_is_refused_at_once(regions):
    """The reference answers 400 before accepting the import (Tempest's
    test_image_glance_download_import_bad_uuid)."""
    local, _remote = regions
    here = Client(local.url, identity('gd-bad-%s' % uuid.uuid4().hex[:6]))
    target = here.create(name='copy')['id']
    r = _import(here, target, method={
        'name': 'glance-download', 'glance_image_id': 'foo',
        'glance_region': 'RegionTwo'})
    assert r.status_code == 400, r.text
    assert 'UUID' in r.text
    assert here.get('/v2/images/%s/tasks' % target).json() == {'tasks': []}
