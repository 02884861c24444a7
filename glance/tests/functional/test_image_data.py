"""PUT/GET /v2/images/{id}/file against a running glance-api.

The contract of the data path: what an upload records (size, checksum,
multihash, virtual size), what a download sends (bytes, Content-MD5,
ranges), and who may do either.  Failure paths live in
test_upload_failures.py.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import struct

import pytest

from glance.tests.functional.conftest import Client
from glance.tests.functional.server import GlanceServer

OCTET = {'Content-Type': 'application/octet-stream'}


def _blob(n: int, seed: bytes = b'glance') -> bytes:
    """Deterministic, incompressible-looking bytes (no repeating chunks)."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha512(seed + counter.to_bytes(8, 'big')).digest()
        counter += 1
    return bytes(out[:n])


def qcow2_image(virtual_size: int, cluster_bits: int = 16) -> bytes:
    """A valid, empty qcow2 (version 2) image of ``virtual_size`` bytes.

    Four clusters: header, refcount table, refcount block, L1 table; the
    refcount block counts those four.  ``qemu-img check`` accepts it.
    """
    cs = 1 << cluster_bits
    l1_size = max(1, -(-virtual_size // ((cs // 8) * cs)))
    header = struct.pack('>4sIQIIQIIQQIIQ', b'QFI\xfb', 2, 0, 0,
                         cluster_bits, virtual_size, 0, l1_size, 3 * cs,
                         cs, 1, 0, 0)
    img = bytearray(4 * cs)
    img[:len(header)] = header
    struct.pack_into('>Q', img, cs, 2 * cs)
    for n in range(4):
        struct.pack_into('>H', img, 2 * cs + 2 * n, 1)
    return bytes(img)


def store_files(directory: str) -> list[str]:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


@pytest.fixture(scope='module')
def data(server):
    """An active raw image of 1.3 MiB (crosses every chunk size), its bytes."""
    client = Client(server.url)
    blob = _blob(1300 * 1024 + 7)
    image = client.create(name='data', disk_format='raw',
                          container_format='bare')
    r = client.upload(image['id'], blob)
    assert r.status_code == 204, r.text
    return image['id'], blob


# -- upload, then what the image records --------------------------------

def test_upload_records_size_checksum_multihash(client, server, data):
    image_id, blob = data
    shown = client.get('/v2/images/%s' % image_id).json()
    assert shown['status'] == 'active'
    assert shown['size'] == len(blob)
    assert shown['virtual_size'] == len(blob)
    assert shown['checksum'] == hashlib.md5(blob).hexdigest()
    assert shown['os_hash_algo'] == 'sha512'
    assert shown['os_hash_value'] == hashlib.sha512(blob).hexdigest()
    # The store holds exactly these bytes, under the image id.
    path = os.path.join(server.workdir, 'images', image_id)
    with open(path, 'rb') as f:
        assert f.read() == blob


def test_upload_answers_204_without_body(client):
    image = client.create(name='n', disk_format='raw', container_format='bare')
    r = client.upload(image['id'], b'abc')
    assert r.status_code == 204
    assert r.content == b''
    assert 'Content-Length' not in r.headers


def test_qcow2_virtual_size_from_header(client):
    blob = qcow2_image(3 << 30)
    if shutil.which('qemu-img'):
        # Prove the test image is a real qcow2, not just a magic number.
        import subprocess
        import tempfile
        with tempfile.NamedTemporaryFile(suffix='.qcow2') as f:
            f.write(blob)
            f.flush()
            check = subprocess.run(['qemu-img', 'check', f.name],
                                   capture_output=True, text=True)
            assert check.returncode == 0, check.stdout + check.stderr
    image = client.create(name='q', disk_format='qcow2',
                          container_format='bare')
    assert client.upload(image['id'], blob).status_code == 204
    shown = client.get('/v2/images/%s' % image['id']).json()
    assert shown['size'] == len(blob) == 4 * 65536
    assert shown['virtual_size'] == 3 << 30
    assert shown['checksum'] == hashlib.md5(blob).hexdigest()


def test_qcow2_declared_but_not_qcow2_is_refused(client):
    # More cases in test_format_safety.py.
    image = client.create(name='q', disk_format='qcow2',
                          container_format='bare')
    r = client.upload(image['id'], b'not a qcow2' * 100)
    assert r.status_code == 415
    assert 'Image failed safety checks' in r.text
    shown = client.get('/v2/images/%s' % image['id']).json()
    assert shown['status'] == 'queued' and shown['size'] is None


def test_zero_byte_upload(client):
    image = client.create(name='empty', disk_format='raw',
                          container_format='bare')
    r = client.put('/v2/images/%s/file' % image['id'], data=b'',
                   headers=OCTET)
    assert r.status_code == 204, r.text
    shown = client.get('/v2/images/%s' % image['id']).json()
    assert shown['status'] == 'active'
    assert shown['size'] == 0
    assert shown['virtual_size'] is None
    assert shown['checksum'] == hashlib.md5(b'').hexdigest()
    assert shown['os_hash_value'] == hashlib.sha512(b'').hexdigest()
    r = client.get('/v2/images/%s/file' % image['id'])
    assert r.status_code == 200
    assert r.content == b''
    assert r.headers['Content-Length'] == '0'
    assert r.headers['Content-MD5'] == hashlib.md5(b'').hexdigest()


def test_chunked_upload_without_content_length(client):
    blob = _blob(200 * 1024 + 3, b'chunked')

    def pieces():
        for i in range(0, len(blob), 7000):
            yield blob[i:i + 7000]

    image = client.create(name='chunked', disk_format='raw',
                          container_format='bare')
    r = client.put('/v2/images/%s/file' % image['id'], data=pieces(),
                   headers=OCTET)
    assert r.request.headers.get('Transfer-Encoding') == 'chunked'
    assert 'Content-Length' not in r.request.headers
    assert r.status_code == 204, r.text
    shown = client.get('/v2/images/%s' % image['id']).json()
    assert shown['size'] == len(blob)
    assert shown['os_hash_value'] == hashlib.sha512(blob).hexdigest()
    assert client.get('/v2/images/%s/file' % image['id']).content == blob


# -- download --------------------------------------------------------------

def test_download_whole_image(client, data):
    image_id, blob = data
    r = client.get('/v2/images/%s/file' % image_id)
    assert r.status_code == 200
    assert r.content == blob
    assert r.headers['Content-Type'] == 'application/octet-stream'
    assert r.headers['Content-Length'] == str(len(blob))
    assert r.headers['Content-MD5'] == hashlib.md5(blob).hexdigest()
    assert 'Content-Range' not in r.headers


def test_download_streams_in_pieces(client, data):
    # Reading a few bytes and dropping the connection must not disturb
    # the server; the next request is served normally.
    image_id, blob = data
    with client.get('/v2/images/%s/file' % image_id, stream=True) as r:
        assert r.raw.read(10) == blob[:10]
    assert client.get('/v2/images/%s/file' % image_id).content == blob


@pytest.mark.parametrize('header, first, last', [
    ('bytes=0-9', 0, 9),
    ('bytes=1048570-1048600', 1048570, 1048600),
    ('bytes=1000-', 1000, None),
    ('bytes=-10', -10, None),
    ('bytes=5-99999999', 5, None),          # end beyond the image: clamped
])
def test_download_range(client, data, header, first, last):
    image_id, blob = data
    r = client.get('/v2/images/%s/file' % image_id,
                   headers={'Range': header})
    assert r.status_code == 206, r.text
    want = blob[first:None if last is None else last + 1]
    assert r.content == want
    start = first if first >= 0 else len(blob) + first
    assert r.headers['Content-Range'] == 'bytes %d-%d/%d' % (
        start, start + len(want) - 1, len(blob))
    assert r.headers['Content-Length'] == str(len(want))
    # Content-MD5 is the checksum of the whole image, as upstream sends it.
    assert r.headers['Content-MD5'] == hashlib.md5(blob).hexdigest()


def test_download_suffix_longer_than_image_is_whole_image(client, data):
    image_id, blob = data
    r = client.get('/v2/images/%s/file' % image_id,
                   headers={'Range': 'bytes=-%d' % (len(blob) * 2)})
    assert r.status_code == 206
    assert r.content == blob
    assert r.headers['Content-Range'] == 'bytes 0-%d/%d' % (
        len(blob) - 1, len(blob))


def test_download_content_range_request_header(client, data):
    # Old python-glanceclient sends Content-Range on GET; still honoured.
    image_id, blob = data
    r = client.get('/v2/images/%s/file' % image_id,
                   headers={'Content-Range': 'bytes 10-19/%d' % len(blob)})
    assert r.status_code == 206
    assert r.content == blob[10:20]
    assert r.headers['Content-Range'] == 'bytes 10-19/%d' % len(blob)


@pytest.mark.parametrize('headers, status, words', [
    ({'Range': 'bytes=%d-' % (1300 * 1024 + 7)}, 416, 'beyond'),
    ({'Range': 'bytes=99999999-99999999'}, 416, 'beyond'),
    ({'Range': 'items=0-9'}, 416, 'byte ranges'),
    ({'Range': 'bytes=9-0'}, 416, 'Malformed'),
    ({'Range': 'bytes=-0'}, 416, 'empty'),
    ({'Range': 'bytes=abc'}, 416, 'Malformed'),
    ({'Range': 'bytes=0-1,5-6'}, 400, 'one byte range'),
    ({'Content-Range': 'bytes 9-0/10'}, 416, 'Malformed'),
])
def test_download_bad_range(client, data, headers, status, words):
    image_id, _blob_ = data
    r = client.get('/v2/images/%s/file' % image_id, headers=headers)
    assert r.status_code == status, r.text
    assert words in r.text


def test_download_image_without_data_is_204(client):
    image = client.create(name='nodata', disk_format='raw',
                          container_format='bare')
    r = client.get('/v2/images/%s/file' % image['id'])
    assert r.status_code == 204
    assert r.content == b''
    assert 'Content-Length' not in r.headers
    assert 'Content-Type' not in r.headers
    # Also with a Range header: no data is no data.
    r = client.get('/v2/images/%s/file' % image['id'],
                   headers={'Range': 'bytes=0-9'})
    assert r.status_code == 204


def test_download_when_store_lost_the_data_is_204(client, server):
    image = client.create(name='lost', disk_format='raw',
                          container_format='bare')
    assert client.upload(image['id'], b'x' * 100).status_code == 204
    os.unlink(os.path.join(server.workdir, 'images', image['id']))
    r = client.get('/v2/images/%s/file' % image['id'])
    assert r.status_code == 204
    # The record is untouched: only the bytes are missing.
    assert client.get('/v2/images/%s' % image['id']).json()['size'] == 100


def test_download_unknown_image_is_404(client):
    r = client.get('/v2/images/%s/file' % '5b5cb8e0-3e33-4b5a-b0d6-'
                   '000000000000')
    assert r.status_code == 404


# -- what an upload refuses (and leaves unchanged) ---------------------------

def test_upload_to_active_image_is_409(client, data):
    image_id, blob = data
    r = client.upload(image_id, b'other bytes')
    assert r.status_code == 409
    assert 'queued' in r.text
    shown = client.get('/v2/images/%s' % image_id).json()
    assert shown['checksum'] == hashlib.md5(blob).hexdigest()
    assert client.get('/v2/images/%s/file' % image_id).content == blob


@pytest.mark.parametrize('formats', [
    {}, {'disk_format': 'raw'}, {'container_format': 'bare'}])
def test_upload_without_formats_is_400(client, server, formats):
    image = client.create(name='formatless', **formats)
    r = client.upload(image['id'], b'some bytes')
    assert r.status_code == 400, r.text
    assert 'disk_format and container_format' in r.text
    shown = client.get('/v2/images/%s' % image['id']).json()
    assert shown['status'] == 'queued' and shown['size'] is None
    assert image['id'] not in os.listdir(os.path.join(server.workdir,
                                                      'images'))
    # Once the formats are set the same image takes the data.
    missing = [{'op': 'add', 'path': '/' + key, 'value': value}
               for key, value in (('disk_format', 'raw'),
                                  ('container_format', 'bare'))
               if key not in formats]
    assert client.patch('/v2/images/%s' % image['id'],
                        missing).status_code == 200
    assert client.upload(image['id'], b'some bytes').status_code == 204


@pytest.mark.parametrize('content_type', ['application/json', None,
                                          'text/plain'])
def test_upload_wrong_content_type_is_415(client, server, content_type):
    image = client.create(name='ct', disk_format='raw',
                          container_format='bare')
    headers = {'Content-Type': content_type} if content_type else {}
    r = client.put('/v2/images/%s/file' % image['id'], data=b'abc',
                   headers=headers)
    assert r.status_code == 415
    assert 'application/octet-stream' in r.text
    shown = client.get('/v2/images/%s' % image['id']).json()
    assert shown['status'] == 'queued' and shown['size'] is None
    assert image['id'] not in store_files(
        os.path.join(server.workdir, 'images'))


def test_upload_to_unknown_image_is_404(client):
    r = client.upload('5b5cb8e0-3e33-4b5a-b0d6-000000000001', b'abc')
    assert r.status_code == 404


# -- who may upload and download (secure RBAC, reference configuration) ----

def test_reader_and_other_project(as_project, ref_server):
    alice = as_project('data-pa')
    carol = as_project('data-pa', roles='reader')
    bob = as_project('data-pb')
    image = alice.create(name='rbac', disk_format='raw',
                         container_format='bare')
    path = '/v2/images/%s/file' % image['id']
    # Upload: a reader of the project is forbidden, another project does
    # not see the image at all.
    r = carol.upload(image['id'], b'carol')
    assert r.status_code == 403
    r = bob.upload(image['id'], b'bob')
    assert r.status_code == 404
    shown = alice.get('/v2/images/%s' % image['id']).json()
    assert shown['status'] == 'queued'
    # The owner uploads; the reader may still not download, bob still
    # sees nothing.
    assert alice.upload(image['id'], b'alice data').status_code == 204
    assert carol.get(path).status_code == 403
    assert bob.get(path).status_code == 404
    assert bob.get(path, headers={'Range': 'bytes=0-1'}).status_code == 404
    r = alice.get(path)
    assert r.status_code == 200 and r.content == b'alice data'
    # The policy is checked before the image's state: a reader uploading
    # to an active image is refused for who they are, not a 409.
    assert carol.upload(image['id'], b'x').status_code == 403


def test_multi_store_upload_to_named_store(as_project, ref_server):
    alice = as_project('data-ms')
    image = alice.create(name='cheap', disk_format='raw',
                         container_format='bare')
    r = alice.put('/v2/images/%s/file' % image['id'], data=b'in cheap',
                  headers={'Content-Type': 'application/octet-stream',
                           'X-Image-Meta-Store': 'cheap'})
    assert r.status_code == 204, r.text
    shown = alice.get('/v2/images/%s' % image['id']).json()
    assert shown['stores'] == 'cheap'
    stores = os.path.join(ref_server.workdir, 'stores')
    assert image['id'] in store_files(os.path.join(stores, 'cheap'))
    assert image['id'] not in store_files(os.path.join(stores, 'fast'))
    assert alice.get('/v2/images/%s/file' % image['id']).content == \
        b'in cheap'
    # Without the header the default backend takes it.
    other = alice.create(name='fast', disk_format='raw',
                         container_format='bare')
    assert alice.upload(other['id'], b'fast').status_code == 204
    assert alice.get('/v2/images/%s' % other['id']).json()['stores'] == \
        'fast'


@pytest.mark.parametrize('store', ['nowhere', 'os_glance_staging_store',
                                   'os_glance_tasks_store'])
def test_multi_store_unknown_or_reserved_store_is_400(as_project,
                                                      ref_server, store):
    alice = as_project('data-ms')
    image = alice.create(name='x', disk_format='raw', container_format='bare')
    r = alice.put('/v2/images/%s/file' % image['id'], data=b'abc',
                  headers={'Content-Type': 'application/octet-stream',
                           'X-Image-Meta-Store': store})
    assert r.status_code == 400
    assert store in r.text
    shown = alice.get('/v2/images/%s' % image['id']).json()
    assert shown['status'] == 'queued' and shown['size'] is None
    for name in os.listdir(os.path.join(ref_server.workdir, 'stores')):
        assert image['id'] not in store_files(
            os.path.join(ref_server.workdir, 'stores', name))
    # And the image still takes a correct upload.
    assert alice.upload(image['id'], b'abc').status_code == 204


# -- configuration -------------------------------------------------------

def test_hashing_algorithm_sha256(tmp_path):
    srv = GlanceServer(str(tmp_path),
                       settings=['DEFAULT.hashing_algorithm=sha256']).start()
    try:
        client = Client(srv.url)
        blob = _blob(300 * 1024, b'sha256')
        image = client.create(name='h', disk_format='raw',
                              container_format='bare')
        assert client.upload(image['id'], blob).status_code == 204
        shown = client.get('/v2/images/%s' % image['id']).json()
        assert shown['os_hash_algo'] == 'sha256'
        assert shown['os_hash_value'] == hashlib.sha256(blob).hexdigest()
        assert shown['checksum'] == hashlib.md5(blob).hexdigest()
    finally:
        srv.stop()
