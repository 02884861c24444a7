"""Real clients end to end: the glance CLI (python-glanceclient) and
openstacksdk, against a real glance-api (noauth pipeline, SQLite).

These are the programs users run; whatever they need from the API (schemas,
headers, status codes, checksums) is exercised here as they use it.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import uuid

import pytest

from glance.tests.functional.conftest import Client
from glance.tests.functional.server import GlanceServer

BIN = os.path.dirname(sys.executable)
DATA = os.urandom(3 * 1024 * 1024 + 123)     # several upload chunks


def glance_cli(server, *args: str, data_file: bool = False
               ) -> subprocess.CompletedProcess:
    """Run ``glance`` against ``server``.

    stdin is closed unless told otherwise: glanceclient uploads whatever
    stdin holds when it is not a terminal, so an open, empty stdin would
    make every image-create upload zero bytes.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    return subprocess.run(
        [os.path.join(BIN, 'glance'), '--os-image-url', server.url,
         '--os-auth-token', 'x', *args],
        capture_output=True, env=env, timeout=120,
        stdin=subprocess.DEVNULL,
        preexec_fn=None if data_file else lambda: os.close(0))


def table(output: bytes) -> dict[str, str]:
    """The Property/Value table glanceclient prints, as a dict."""
    out: dict[str, str] = {}
    key = None
    for line in output.decode().splitlines():
        m = re.match(r'^\| (\S*)\s*\| (.*?)\s*\|$', line)
        if not m:
            continue
        if m.group(1):
            key = m.group(1)
            out[key] = m.group(2)
        elif key:           # a long value wrapped onto the next line
            out[key] += m.group(2)
    out.pop('Property', None)
    return out


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr.decode() + \
        result.stdout.decode()
    return result


@pytest.fixture(scope='module')
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('data') / 'image.raw'
    path.write_bytes(DATA)
    return str(path)


# --- python-glanceclient ---------------------------------------------------

def test_cli_create_upload_download_update_delete(server, data_file,
                                                  tmp_path):
    name = 'cli-%s' % uuid.uuid4().hex[:8]
    created = table(ok(glance_cli(
        server, 'image-create', '--name', name, '--disk-format', 'raw',
        '--container-format', 'bare')).stdout)
    image_id = created['id']
    assert created['name'] == name
    assert created['status'] == 'queued'
    assert created['disk_format'] == 'raw'
    assert created['container_format'] == 'bare'
    assert created['visibility'] == 'shared'

    ok(glance_cli(server, 'image-upload', '--file', data_file, image_id,
                  data_file=True))
    shown = table(ok(glance_cli(server, 'image-show', image_id)).stdout)
    assert shown['status'] == 'active'
    assert shown['size'] == str(len(DATA))
    assert shown['checksum'] == hashlib.md5(DATA).hexdigest()
    assert shown['os_hash_algo'] == 'sha512'
    assert shown['os_hash_value'] == hashlib.sha512(DATA).hexdigest()

    out = tmp_path / 'downloaded.raw'
    ok(glance_cli(server, 'image-download', '--file', str(out), image_id))
    assert out.read_bytes() == DATA
    # without --file the bytes go to stdout
    assert ok(glance_cli(server, 'image-download', image_id)).stdout == DATA

    listed = ok(glance_cli(server, 'image-list')).stdout.decode()
    assert re.search(r'\| %s \| %s\s*\|' % (image_id, name), listed)

    updated = table(ok(glance_cli(
        server, 'image-update', '--property', 'os_distro=cirros',
        '--property', 'k=v', '--name', name + '-renamed',
        '--min-ram', '64', image_id)).stdout)
    assert updated['name'] == name + '-renamed'
    assert updated['k'] == 'v' and updated['os_distro'] == 'cirros'
    assert updated['min_ram'] == '64'
    shown = table(ok(glance_cli(server, 'image-show', image_id)).stdout)
    assert shown['k'] == 'v' and shown['name'] == name + '-renamed'

    removed = table(ok(glance_cli(server, 'image-update',
                                  '--remove-property', 'k',
                                  image_id)).stdout)
    assert 'k' not in removed and removed['os_distro'] == 'cirros'

    ok(glance_cli(server, 'image-delete', image_id))
    gone = glance_cli(server, 'image-show', image_id)
    assert gone.returncode == 1
    assert b'404' in gone.stderr and image_id.encode() in gone.stderr
    assert image_id not in ok(glance_cli(server, 'image-list')).stdout.decode()


def test_cli_create_with_file_in_one_step(server, data_file, tmp_path):
    created = table(ok(glance_cli(
        server, 'image-create', '--name', 'one-step', '--disk-format',
        'raw', '--container-format', 'bare', '--file', data_file,
        '--property', 'hw_disk_bus=scsi', '--tags', 't1',
        data_file=True)).stdout)
    assert created['status'] == 'active'
    assert created['size'] == str(len(DATA))
    assert created['hw_disk_bus'] == 'scsi'
    assert 't1' in created['tags']
    out = tmp_path / 'out'
    ok(glance_cli(server, 'image-download', '--file', str(out),
                  created['id']))
    assert hashlib.md5(out.read_bytes()).hexdigest() == created['checksum']
    ok(glance_cli(server, 'image-delete', created['id']))


def test_cli_upload_from_stdin(server, tmp_path):
    """The other way glanceclient takes data: a pipe on stdin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    result = subprocess.run(
        [os.path.join(BIN, 'glance'), '--os-image-url', server.url,
         '--os-auth-token', 'x', 'image-create', '--name', 'piped',
         '--disk-format', 'raw', '--container-format', 'bare'],
        input=b'piped bytes', capture_output=True, env=env, timeout=120)
    created = table(ok(result).stdout)
    assert created['status'] == 'active' and created['size'] == '11'
    assert ok(glance_cli(server, 'image-download',
                         created['id'])).stdout == b'piped bytes'
    # a second upload into the now active image is refused, harmlessly
    again = tmp_path / 'again'
    again.write_bytes(b'other bytes')
    result = glance_cli(server, 'image-upload', '--file', str(again),
                        created['id'], data_file=True)
    assert result.returncode != 0
    assert b'409' in result.stderr
    assert ok(glance_cli(server, 'image-download',
                         created['id'])).stdout == b'piped bytes'
    ok(glance_cli(server, 'image-delete', created['id']))


def test_cli_errors(server):
    missing = str(uuid.uuid4())
    result = glance_cli(server, 'image-show', missing)
    assert result.returncode == 1
    assert b'404' in result.stderr
    result = glance_cli(server, 'image-delete', missing)
    assert result.returncode != 0
    # glanceclient checks values against GET /v2/schemas/image
    result = glance_cli(server, 'image-create', '--name', 'bad',
                        '--disk-format', 'floppy', '--container-format',
                        'bare')
    assert result.returncode != 0
    assert b'floppy' in result.stderr
    # download of an image with no data
    created = table(ok(glance_cli(
        server, 'image-create', '--name', 'empty', '--disk-format', 'raw',
        '--container-format', 'bare')).stdout)
    result = glance_cli(server, 'image-download', '--file', os.devnull,
                        created['id'])
    assert result.returncode != 0
    assert b'no data' in result.stderr.lower()
    ok(glance_cli(server, 'image-delete', created['id']))


# --- openstacksdk ----------------------------------------------------------

@pytest.fixture(scope='module')
def conn(server):
    """openstacksdk without Keystone: the image endpoint given directly
    (unversioned: the SDK discovers v2 from the version document)."""
    import openstack
    connection = openstack.connection.Connection(
        auth_type='none', image_endpoint_override=server.url,
        image_api_version='2')
    yield connection
    connection.close()


def test_sdk_proxy_lifecycle(conn):
    name = 'sdk-%s' % uuid.uuid4().hex[:8]
    image = conn.image.create_image(
        name=name, disk_format='raw', container_format='bare',
        data=io.BytesIO(DATA), validate_checksum=False,
        properties={'os_distro': 'cirros'})
    image = conn.image.get_image(image.id)
    assert image.status == 'active'
    assert image.name == name
    assert image.size == len(DATA)
    assert image.checksum == hashlib.md5(DATA).hexdigest()
    assert image.hash_algo == 'sha512'
    assert image.hash_value == hashlib.sha512(DATA).hexdigest()

    assert image.id in [i.id for i in conn.image.images()]
    assert [i.id for i in conn.image.images(name=name)] == [image.id]

    response = conn.image.download_image(image)
    assert response.content == DATA
    out = io.BytesIO()
    conn.image.download_image(image, output=out, chunk_size=65536)
    assert out.getvalue() == DATA
    streamed = conn.image.download_image(image, stream=True)
    assert b''.join(streamed.iter_content(65536)) == DATA

    image = conn.image.update_image(image, name=name + '-b', foo='bar',
                                    min_ram=128)
    assert image.name == name + '-b' and image.min_ram == 128
    fresh = conn.image.get_image(image.id)
    assert fresh.properties['foo'] == 'bar'
    assert fresh.name == name + '-b'

    conn.image.delete_image(image)
    assert conn.image.find_image(image.id) is None
    assert conn.image.find_image(name + '-b') is None


def test_sdk_cloud_layer(conn, tmp_path, data_file):
    """The cloud layer (what `openstack image create` and Ansible use)."""
    name = 'cloud-%s' % uuid.uuid4().hex[:8]
    image = conn.create_image(name, filename=data_file, disk_format='raw',
                              container_format='bare', wait=True,
                              validate_checksum=True, meta={'k': 'v'})
    assert image.status == 'active'
    assert image.size == len(DATA)
    # the SDK records its own checksums as properties
    found = conn.get_image(name)
    assert found.id == image.id
    props = found.properties
    assert props['owner_specified.openstack.md5'] == \
        hashlib.md5(DATA).hexdigest()
    assert props['owner_specified.openstack.sha256'] == \
        hashlib.sha256(DATA).hexdigest()
    assert props['k'] == 'v'
    assert name in [i.name for i in conn.list_images()]
    out = tmp_path / 'out'
    conn.download_image(name, output_file=str(out))
    assert out.read_bytes() == DATA
    assert conn.delete_image(name, wait=True) is True
    assert conn.get_image(name) is None


def test_sdk_errors(conn):
    from openstack import exceptions
    with pytest.raises(exceptions.NotFoundException):
        conn.image.get_image(str(uuid.uuid4()))
    with pytest.raises(exceptions.BadRequestException):
        conn.image.create_image(name='bad', disk_format='floppy',
                                container_format='bare',
                                allow_duplicates=True)


def test_glance_task_list_and_show_in_the_noauth_mode(server):
    """Tasks made in the README's default mode have no owner; the task
    schema types owner as a string, so the field is left out rather than
    sent as null, which python-glanceclient refuses to show."""
    client = Client(server.url)
    r = client.post('/v2/tasks', json={'type': 'import', 'input': {
        'import_from': 'http://127.0.0.1:9/nothing',
        'import_from_format': 'raw',
        'image_properties': {'disk_format': 'raw',
                             'container_format': 'bare'}}})
    assert r.status_code == 201, r.text
    task = r.json()
    assert 'owner' not in task
    listed = ok(glance_cli(server, 'task-list')).stdout.decode()
    assert task['id'] in listed
    shown = table(ok(glance_cli(server, 'task-show', task['id'])).stdout)
    assert shown['id'] == task['id'] and shown['type'] == 'import'


def test_the_make_run_profile_serves_every_client_call(tmp_path):
    """``make run`` writes the ``run`` profile: one file store configured
    as multi-store, so ``glance stores-info`` answers, and the log goes to
    the terminal as well as the file."""
    srv = GlanceServer(str(tmp_path / 'run'), profile='run').start()
    try:
        stores = ok(glance_cli(srv, 'stores-info')).stdout.decode()
        assert 'local' in stores
        client = Client(srv.url)
        image = client.create(name='run', disk_format='raw',
                              container_format='bare')
        assert client.upload(image['id'], b'data').status_code == 204
        assert client.get('/v2/images/%s' % image['id']).json()[
            'stores'] == 'local'
        with open(os.path.join(srv.workdir, 'stdout.log')) as out:
            assert 'glance' in out.read()
    finally:
        srv.stop()
