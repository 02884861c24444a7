"""Unified limits kept in the real Keystone (``use_keystone_limits``).

Registered limits (the defaults for every project) and one project's own
limits are created in Keystone for the image service in RegionOne;
glance-api reads them through oslo.limit as the glance service user, who
holds the reader role on the system (it reads endpoints and limits), with
``[oslo_limit] endpoint_id`` naming the catalog's image endpoint.

Each test acts in a project of its own, so their usages do not mix.
"""
from __future__ import annotations

import pytest

from glance.tests.functional.conftest import Client, keystone_glance
from glance.tests.functional.keystone import REGION

MIB = 1024 * 1024
OCTET = {'Content-Type': 'application/octet-stream'}

#: the registered (default) limits; sizes in MiB
REGISTERED = {'image_count_total': 2, 'image_size_total': 1,
              'image_stage_total': 1, 'image_count_uploading': 1}
#: a project's own limits, overriding the defaults
PROJECT = {'lim-stage': {'image_count_uploading': 5,
                         'image_count_total': 10},
           'lim-size': {'image_count_total': 10},
           'lim-usage': {'image_count_total': 7}}
PROJECTS = ('lim-count', 'lim-size', 'lim-stage', 'lim-usage')


@pytest.fixture(scope='module')
def limited(keystone, tmp_path_factory):
    """glance-api enforcing the limits above; yields a persona factory."""
    for project in PROJECTS:
        if project not in keystone.projects:
            keystone.create_project(project)
            keystone.add_persona(project, project, 'member')
    registered = keystone.api('POST', '/v3/registered_limits', json={
        'registered_limits': [
            {'service_id': keystone.image_service_id, 'region_id': REGION,
             'resource_name': name, 'default_limit': value}
            for name, value in REGISTERED.items()]}
    ).json()['registered_limits']
    project_limits = keystone.api('POST', '/v3/limits', json={'limits': [
        {'service_id': keystone.image_service_id, 'region_id': REGION,
         'project_id': keystone.projects[project], 'resource_name': name,
         'resource_limit': value}
        for project, values in PROJECT.items()
        for name, value in values.items()]}).json()['limits']
    workdir = tmp_path_factory.mktemp('glance-ks-limits')
    srv = keystone_glance(keystone, str(workdir), keystone.limit_settings() + [
        'DEFAULT.node_staging_uri=file://%s' % (workdir / 'staging'),
        'DEFAULT.enabled_import_methods=[glance-direct]'])

    def as_project(project: str) -> Client:
        return Client(srv.url, keystone.client_headers(project))
    yield as_project
    srv.stop()
    for limit in project_limits:
        keystone.api('DELETE', '/v3/limits/%s' % limit['id'])
    for limit in registered:
        keystone.api('DELETE', '/v3/registered_limits/%s' % limit['id'])


def _image(client: Client) -> str:
    return client.create(name='limited', disk_format='raw',
                         container_format='bare')['id']


def test_image_count_total(limited):
    client = limited('lim-count')
    for _ in range(REGISTERED['image_count_total']):
        _image(client)
    r = client.post('/v2/images', json={'name': 'one too many'})
    assert r.status_code == 413, r.text
    assert 'image_count_total' in r.text
    assert len(client.get('/v2/images').json()['images']) == 2


def test_image_size_total(limited):
    """The size of an upload is not known in advance: a project under its
    limit may finish one upload past it, and then may not start another."""
    client = limited('lim-size')
    first, second = _image(client), _image(client)
    r = client.upload(first, b'x' * (2 * MIB))
    assert r.status_code == 204, r.text
    r = client.upload(second, b'y' * 10)
    assert r.status_code == 413, r.text
    assert 'image_size_total' in r.text
    image = client.get('/v2/images/%s' % second).json()
    assert image['status'] == 'queued' and image['size'] is None
    # freeing space lets uploads start again
    assert client.delete('/v2/images/%s' % first).status_code == 204
    assert client.upload(second, b'y' * 10).status_code == 204


def test_image_stage_total(limited):
    client = limited('lim-stage')
    first, second = _image(client), _image(client)
    r = client.put('/v2/images/%s/stage' % first, data=b's' * (2 * MIB),
                   headers=OCTET)
    assert r.status_code == 204, r.text
    r = client.put('/v2/images/%s/stage' % second, data=b's',
                   headers=OCTET)
    assert r.status_code == 413, r.text
    assert 'image_stage_total' in r.text
    assert client.get('/v2/images/%s' % second).json()['status'] == 'queued'


def test_image_count_uploading(limited):
    """lim-usage's own limits leave image_count_uploading at the registered
    default: one image at a time on its way in."""
    client = limited('lim-usage')
    first, second = _image(client), _image(client)
    r = client.put('/v2/images/%s/stage' % first, data=b'a',
                   headers=OCTET)
    assert r.status_code == 204, r.text
    r = client.put('/v2/images/%s/stage' % second, data=b'b',
                   headers=OCTET)
    assert r.status_code == 413, r.text
    assert 'image_count_uploading' in r.text


def test_usage_reports_keystone_limits(limited):
    client = limited('lim-usage')
    _image(client)
    r = client.get('/v2/info/usage')
    assert r.status_code == 200, r.text
    usage = r.json()['usage']
    assert usage['image_count_total']['limit'] == 7      # project limit
    assert usage['image_size_total']['limit'] == 1       # registered
    assert usage['image_count_uploading']['limit'] == 1
    assert usage['image_count_total']['usage'] >= 1


def test_limits_do_not_bind_other_servers(as_persona):
    """A glance-api without use_keystone_limits ignores them."""
    client = as_persona('alpha-member')
    for _ in range(REGISTERED['image_count_total'] + 1):
        _image(client)
