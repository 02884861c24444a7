"""python-glanceclient's import commands against a real glance-api
(noauth pipeline, single file store, SQLite)."""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid

import pytest

from glance.tests.functional.conftest import Client
from glance.tests.functional.server import GlanceServer
from glance.tests.functional.test_clients import glance_cli, ok, table

DATA = os.urandom(2 * 1024 * 1024 + 7)


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    work = tmp_path_factory.mktemp('import-cli')
    server = GlanceServer(str(work), settings=[
        'DEFAULT.node_staging_uri=file://%s' % (work / 'staging')]).start()
    yield server
    server.stop()


def _active(server, image_id: str) -> dict:
    client = Client(server.url)
    deadline = time.time() + 60
    while time.time() < deadline:
        image = client.get('/v2/images/%s' % image_id).json()
        if image['status'] == 'active' and \
                'os_glance_import_task' not in image:
            return image
        time.sleep(0.2)
    raise AssertionError('image %s never became active' % image_id)


def test_image_create_via_import_glance_direct(srv, tmp_path):
    path = tmp_path / 'disk.raw'
    path.write_bytes(DATA)
    name = 'via-import-%s' % uuid.uuid4().hex[:8]
    result = ok(glance_cli(
        srv, 'image-create-via-import', '--name', name, '--disk-format',
        'raw', '--container-format', 'bare', '--import-method',
        'glance-direct', '--file', str(path)))
    image_id = table(result.stdout)['id']
    image = _active(srv, image_id)
    assert image['name'] == name
    assert image['size'] == len(DATA)
    assert image['checksum'] == hashlib.md5(DATA).hexdigest()
    assert image['os_hash_value'] == hashlib.sha512(DATA).hexdigest()
    out = tmp_path / 'out.raw'
    ok(glance_cli(srv, 'image-download', '--file', str(out), image_id))
    assert out.read_bytes() == DATA
    # nothing is left in staging
    assert os.listdir(os.path.join(srv.workdir, 'staging')) == []


def test_stage_and_import_commands(srv, tmp_path):
    path = tmp_path / 'disk.raw'
    path.write_bytes(DATA[:1000])
    image_id = table(ok(glance_cli(
        srv, 'image-create', '--name', 'staged', '--disk-format', 'raw',
        '--container-format', 'bare')).stdout)['id']
    ok(glance_cli(srv, 'image-stage', '--file', str(path), image_id))
    assert Client(srv.url).get('/v2/images/%s' % image_id).json()[
        'status'] == 'uploading'
    ok(glance_cli(srv, 'image-import', '--import-method', 'glance-direct',
                  image_id))
    image = _active(srv, image_id)
    assert image['size'] == 1000
    tasks = table(ok(glance_cli(srv, 'image-tasks', image_id)).stdout)
    assert tasks
    info = json.loads(table(ok(glance_cli(srv, 'import-info')).stdout)[
        'import-methods'])
    assert info['value'] == ['glance-direct', 'web-download', 'copy-image']
