"""python-glanceclient and openstacksdk logging in to the real Keystone
with a password and finding glance-api through the service catalog (the
``image`` endpoint the ``keystone`` fixture registers), end to end."""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import uuid

import pytest

from glance.tests.functional.keystone import REGION
from glance.tests.functional.test_clients import DATA, ok, table

BIN = os.path.dirname(sys.executable)


def glance_cli(keystone, persona: str, *args: str
               ) -> subprocess.CompletedProcess:
    """``glance`` with password authentication: no image URL given, so the
    endpoint comes from the token's catalog.  stdin is closed except for
    image-upload (glanceclient uploads a readable stdin on image-create).
    """
    p = keystone.personas[persona]
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    return subprocess.run(
        [os.path.join(BIN, 'glance'),
         '--os-auth-url', keystone.url + '/v3',
         '--os-username', persona, '--os-password', p.password,
         '--os-user-domain-id', 'default',
         '--os-project-name', p.project_name,
         '--os-project-domain-id', 'default',
         '--os-region-name', REGION, *args],
        capture_output=True, env=env, timeout=180, stdin=subprocess.DEVNULL,
        preexec_fn=None if 'image-upload' in args else lambda: os.close(0))


@pytest.fixture(scope='module')
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('ks-data') / 'image.raw'
    path.write_bytes(DATA)
    return str(path)


def test_glanceclient_with_password(ks_server, keystone, data_file,
                                    tmp_path):
    name = 'ks-cli-%s' % uuid.uuid4().hex[:8]
    created = table(ok(glance_cli(
        keystone, 'alpha-member', 'image-create', '--name', name,
        '--disk-format', 'raw', '--container-format', 'bare')).stdout)
    image_id = created['id']
    assert created['owner'] == keystone.projects['alpha']
    ok(glance_cli(keystone, 'alpha-member', 'image-upload', '--file',
                  data_file, image_id))
    shown = table(ok(glance_cli(keystone, 'alpha-reader', 'image-show',
                                image_id)).stdout)
    assert shown['status'] == 'active'
    assert shown['checksum'] == hashlib.md5(DATA).hexdigest()
    out = tmp_path / 'out.raw'
    ok(glance_cli(keystone, 'alpha-member', 'image-download', '--file',
                  str(out), image_id))
    assert out.read_bytes() == DATA
    assert image_id in ok(glance_cli(keystone, 'alpha-reader',
                                     'image-list')).stdout.decode()
    # another project neither lists nor sees it
    assert image_id not in ok(glance_cli(keystone, 'beta-member',
                                         'image-list')).stdout.decode()
    assert b'404' in glance_cli(keystone, 'beta-member', 'image-show',
                                image_id).stderr
    # the reader may not delete (403 by policy); the member may
    denied = glance_cli(keystone, 'alpha-reader', 'image-delete', image_id)
    assert denied.returncode != 0 and b'not permitted' in denied.stderr
    ok(glance_cli(keystone, 'alpha-member', 'image-delete', image_id))


def test_glanceclient_wrong_password(ks_server, keystone):
    p = keystone.personas['alpha-member']
    real = p.password
    p.password = 'wrong'
    try:
        result = glance_cli(keystone, 'alpha-member', 'image-list')
    finally:
        p.password = real
    assert result.returncode != 0
    assert b'401' in result.stderr or b'authenticat' in result.stderr.lower()


@pytest.fixture(scope='module')
def sdk(ks_server, keystone):
    """Factory: an openstacksdk Connection logged in as a persona."""
    import openstack
    made = []

    def connect(persona: str):
        p = keystone.personas[persona]
        conn = openstack.connection.Connection(
            auth={'auth_url': keystone.url + '/v3', 'username': persona,
                  'password': p.password, 'user_domain_id': 'default',
                  'project_name': p.project_name,
                  'project_domain_id': 'default'},
            auth_type='password', region_name=REGION,
            image_api_version='2')
        made.append(conn)
        return conn
    yield connect
    for conn in made:
        conn.close()


def test_openstacksdk_with_password(sdk, keystone, ks_server):
    conn = sdk('alpha-member')
    assert conn.image.get_endpoint().rstrip('/').startswith(ks_server.url)
    name = 'ks-sdk-%s' % uuid.uuid4().hex[:8]
    image = conn.image.create_image(
        name=name, disk_format='raw', container_format='bare',
        data=io.BytesIO(DATA), validate_checksum=False)
    image = conn.image.get_image(image.id)
    assert image.status == 'active'
    assert image.owner == keystone.projects['alpha']
    assert image.hash_value == hashlib.sha512(DATA).hexdigest()
    assert conn.image.download_image(image).content == DATA
    reader = sdk('alpha-reader')
    assert image.id in [i.id for i in reader.image.images()]
    assert image.id not in [i.id for i in sdk('beta-reader').image.images()]
    from openstack import exceptions
    with pytest.raises(exceptions.ForbiddenException):
        reader.image.delete_image(image)
    conn.image.delete_image(image)
    assert conn.image.find_image(image.id) is None


def test_openstacksdk_cloud_layer(sdk, data_file, tmp_path):
    conn = sdk('beta-member')
    name = 'ks-cloud-%s' % uuid.uuid4().hex[:8]
    image = conn.create_image(name, filename=data_file, disk_format='raw',
                              container_format='bare', wait=True)
    assert image.status == 'active' and image.size == len(DATA)
    assert name in [i.name for i in conn.list_images()]
    out = tmp_path / 'cloud.raw'
    conn.download_image(name, output_file=str(out))
    assert out.read_bytes() == DATA
    assert conn.delete_image(name, wait=True) is True
