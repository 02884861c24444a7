"""Import plugins on a real glance-api: inject_image_metadata,
image_conversion (real qemu-img), image_decompression, no_op."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import uuid
import zipfile

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer
from glance.tests.functional.test_import import (_create, _import, _stage,
                                                 _wait, blob)

needs_qemu = pytest.mark.skipif(shutil.which('qemu-img') is None,
                                reason='qemu-img missing: run make '
                                       'test-deps')


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    server = GlanceServer(str(tmp_path_factory.mktemp('plugins')),
                          profile='reference', settings=[
        'image_import_opts.image_import_plugins=[no_op,'
        'image_decompression,image_conversion,inject_image_metadata]',
        'image_conversion.output_format=raw',
        'inject_metadata_properties.inject=hw_injected:yes,owner_note:x',
        'inject_metadata_properties.ignore_user_roles=admin',
    ]).start()
    yield server
    server.stop()


@pytest.fixture
def alice(srv) -> Client:
    return Client(srv.url, identity('plug-%s' % uuid.uuid4().hex[:8]))


def _qemu_img(tmp_path, fmt: str, *extra: str) -> bytes:
    path = str(tmp_path / ('disk.' + fmt))
    subprocess.run(['qemu-img', 'create', '-f', fmt, *extra, path, '1M'],
                   check=True, capture_output=True)
    with open(path, 'rb') as f:
        return f.read()


def _glance_direct(client: Client, data: bytes, **fields):
    image_id = _create(client, **fields)
    assert _stage(client, image_id, data).status_code == 204
    assert _import(client, image_id,
                   method={'name': 'glance-direct'}).status_code == 202
    return _wait(client, image_id)


@needs_qemu
def test_raw_passes_and_metadata_injected(srv, alice):
    data = blob(4096, 'raw')
    image, task = _glance_direct(alice, data)
    assert task['status'] == 'success', task
    assert image['hw_injected'] == 'yes'
    assert image['owner_note'] == 'x'
    assert image['checksum'] == hashlib.md5(data).hexdigest()


@needs_qemu
def test_admin_gets_no_injected_metadata(srv):
    admin = Client(srv.url, identity('plug-admin', 'admin,member,reader'))
    image, task = _glance_direct(admin, blob(100, 'adm'))
    assert task['status'] == 'success', task
    assert 'hw_injected' not in image


@needs_qemu
def test_qcow2_converted_to_raw(srv, alice, tmp_path):
    qcow2 = _qemu_img(tmp_path, 'qcow2')
    image, task = _glance_direct(alice, qcow2, disk_format='qcow2')
    assert task['status'] == 'success', task
    assert image['disk_format'] == 'raw'
    assert image['size'] == 1024 * 1024
    assert image['virtual_size'] == 1024 * 1024
    data = alice.get('/v2/images/%s/file' % image['id']).content
    assert data == b'\0' * (1024 * 1024)
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()


@needs_qemu
@pytest.mark.parametrize('case', ['lying-format', 'backing-file',
                                  'data-file'])
def test_unsafe_or_lying_images_refused(srv, alice, tmp_path, case):
    if case == 'lying-format':
        data, fmt = _qemu_img(tmp_path, 'qcow2'), 'raw'
    elif case == 'backing-file':
        base = str(tmp_path / 'base.raw')
        with open(base, 'wb') as f:
            f.write(b'secret' * 100)
        data = _qemu_img(tmp_path, 'qcow2', '-b', base, '-F', 'raw')
        fmt = 'qcow2'
    else:
        data = _qemu_img(tmp_path, 'qcow2', '-o',
                         'data_file=%s' % (tmp_path / 'ext.raw'))
        fmt = 'qcow2'
    # Refused when staged, before the conversion plugin could see it.
    image_id = _create(alice, disk_format=fmt)
    r = _stage(alice, image_id, data)
    assert r.status_code == 415, r.text
    assert {'lying-format': 'claims disk_format',
            'backing-file': 'backing file',
            'data-file': 'data file'}[case] in r.text
    image = alice.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'queued'
    assert 'stores' not in image


@needs_qemu
@pytest.mark.parametrize('packer', ['gzip', 'zip'])
def test_decompression(srv, alice, packer):
    data = blob(50000, packer)
    if packer == 'gzip':
        packed = gzip.compress(data)
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
            z.writestr('disk.raw', data)
        packed = buf.getvalue()
    assert packed != data
    image, task = _glance_direct(alice, packed, container_format='compressed')
    assert task['status'] == 'success', task
    assert image['size'] == len(data)
    assert image['container_format'] == 'bare'
    assert alice.get('/v2/images/%s/file' % image['id']).content == data


@needs_qemu
def test_zip_with_two_files_refused(srv, alice):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        z.writestr('a', b'a' * 10)
        z.writestr('b', b'b' * 10)
    image, task = _glance_direct(alice, buf.getvalue())
    assert task['status'] == 'failure'
    assert 'exactly one file' in task['message']
    assert image['status'] == 'queued'
    staging = os.path.join(srv.workdir, 'stores', 'os_glance_staging_store')
    assert image['id'] not in os.listdir(staging)
