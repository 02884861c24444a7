"""Every way an upload can fail, against a running glance-api.

Each test asserts the answer (status and message) and that nothing was
lost or half-written: the image is back to queued with no size, checksum
or location, the store directory holds no partial file, and a retry then
succeeds.  Slow clients and mid-request events are staged with a raw
socket, so the test decides exactly when each byte arrives.
"""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
import urllib.parse

import pytest
import sqlalchemy as sa

from glance.tests import databases
from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer

CAP = 4000
QUOTA = 6000


# -- helpers ------------------------------------------------------------------

def store_files(directory: str) -> list[str]:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def assert_pristine(client: Client, image_id: str, store_dir: str) -> None:
    """The image is queued with no trace of data, and the store has none."""
    shown = client.get('/v2/images/%s' % image_id).json()
    assert shown['status'] == 'queued', shown
    for key in ('size', 'checksum', 'os_hash_algo', 'os_hash_value',
                'virtual_size'):
        assert shown[key] is None, (key, shown)
    assert 'stores' not in shown
    assert client.get('/v2/images/%s/file' % image_id).status_code == 204
    assert image_id not in store_files(store_dir)


def assert_retry_succeeds(client: Client, image_id: str, store_dir: str,
                          data: bytes = b'second try') -> None:
    assert client.upload(image_id, data).status_code == 204
    shown = client.get('/v2/images/%s' % image_id).json()
    assert shown['status'] == 'active'
    assert shown['size'] == len(data)
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    assert client.get('/v2/images/%s/file' % image_id).content == data
    assert image_id in store_files(store_dir)


def wait_status(client: Client, image_id: str, status: str,
                timeout: float = 30) -> dict:
    """Poll until the image has ``status`` (the server acts asynchronously
    to a client's disconnect); fail with the last record otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        shown = client.get('/v2/images/%s' % image_id).json()
        if shown['status'] == status or time.monotonic() > deadline:
            assert shown['status'] == status, shown
            return shown
        time.sleep(0.05)


def wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'condition never became true'
        time.sleep(0.05)


class RawUpload:
    """A PUT of image data whose body the test sends piece by piece."""

    def __init__(self, base: str, image_id: str, length: int | None,
                 headers: dict[str, str] | None = None, to: str = 'file'):
        url = urllib.parse.urlsplit(base)
        self.sock = socket.create_connection((url.hostname, url.port),
                                             timeout=60)
        lines = ['PUT /v2/images/%s/%s HTTP/1.1' % (image_id, to),
                 'Host: %s' % url.netloc,
                 'Content-Type: application/octet-stream']
        if length is None:
            lines.append('Transfer-Encoding: chunked')
        else:
            lines.append('Content-Length: %d' % length)
        lines += ['%s: %s' % kv for kv in (headers or {}).items()]
        self.chunked = length is None
        self.sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())

    def send(self, data: bytes) -> None:
        if self.chunked:
            data = b'%x\r\n%s\r\n' % (len(data), data)
        self.sock.sendall(data)

    def finish(self) -> None:
        if self.chunked:
            self.sock.sendall(b'0\r\n\r\n')

    def close(self) -> None:
        self.sock.close()

    def response(self) -> tuple[int, str]:
        """Status and body of the answer (waits at most the socket timeout:
        a server that hangs fails the test instead of blocking it)."""
        data = b''
        while b'\r\n\r\n' not in data:
            piece = self.sock.recv(65536)
            assert piece, 'connection closed before a response: %r' % data
            data += piece
        head, _, body = data.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(':') for line in lines[1:])}
        length = int(headers.get('content-length', 0))
        while len(body) < length:
            piece = self.sock.recv(65536)
            if not piece:
                break
            body += piece
        self.close()
        return status, body.decode('utf-8', 'replace')


# -- size cap and storage quota -----------------------------------------------

@pytest.fixture(scope='module')
def limited(tmp_path_factory):
    """Reference configuration with image_size_cap and user_storage_quota."""
    srv = GlanceServer(str(tmp_path_factory.mktemp('limited')),
                       profile='reference',
                       settings=['DEFAULT.image_size_cap=%d' % CAP,
                                 'DEFAULT.user_storage_quota=%d' % QUOTA]
                       ).start()
    yield srv
    srv.stop()


def _limited_client(srv: GlanceServer, project: str) -> Client:
    return Client(srv.url, identity(project))


def _fast_store(srv: GlanceServer) -> str:
    return os.path.join(srv.workdir, 'stores', 'fast')


def _pieces(data: bytes, size: int = 1000):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_size_cap_with_content_length(limited):
    client = _limited_client(limited, 'cap-a')
    image = client.create(name='big', disk_format='raw',
                          container_format='bare')
    r = client.upload(image['id'], b'x' * (CAP + 1))
    assert r.status_code == 413
    assert 'too large' in r.text
    assert_pristine(client, image['id'], _fast_store(limited))
    # Exactly the cap is allowed.
    assert_retry_succeeds(client, image['id'], _fast_store(limited),
                          b'y' * CAP)


def test_size_cap_chunked_stops_at_the_cap(limited):
    client = _limited_client(limited, 'cap-b')
    image = client.create(name='big', disk_format='raw',
                          container_format='bare')
    r = client.put('/v2/images/%s/file' % image['id'],
                   data=_pieces(b'x' * (CAP * 3)),
                   headers={'Content-Type': 'application/octet-stream'})
    assert r.request.headers.get('Transfer-Encoding') == 'chunked'
    assert r.status_code == 413
    assert 'too large' in r.text
    assert_pristine(client, image['id'], _fast_store(limited))
    assert_retry_succeeds(client, image['id'], _fast_store(limited))


def test_size_cap_when_content_length_lies(limited):
    # A client announcing less than it sends is cut at what it announced;
    # the extra bytes are never stored.
    client = _limited_client(limited, 'cap-c')
    image = client.create(name='liar', disk_format='raw',
                          container_format='bare')
    upload = RawUpload(limited.url, image['id'], 10, identity('cap-c'))
    upload.send(b'0123456789' + b'z' * (CAP * 2))
    status, _body = upload.response()
    assert status == 204
    shown = client.get('/v2/images/%s' % image['id']).json()
    assert shown['size'] == 10
    assert client.get('/v2/images/%s/file' % image['id']).content == \
        b'0123456789'


def test_user_storage_quota(limited):
    client = _limited_client(limited, 'quota-a')
    store = _fast_store(limited)
    first = client.create(name='first', disk_format='raw',
                          container_format='bare')
    assert client.upload(first['id'], b'a' * 3500).status_code == 204
    second = client.create(name='second', disk_format='raw',
                           container_format='bare')
    # With Content-Length: refused before a byte is stored.
    r = client.upload(second['id'], b'b' * 3000)
    assert r.status_code == 413
    assert '2500 bytes remaining' in r.text
    assert_pristine(client, second['id'], store)
    # Chunked: stopped once the stream passes what is left.
    r = client.put('/v2/images/%s/file' % second['id'],
                   data=_pieces(b'b' * 3000),
                   headers={'Content-Type': 'application/octet-stream'})
    assert r.status_code == 413
    assert '2500 bytes remaining' in r.text
    assert_pristine(client, second['id'], store)
    # Other projects have their own quota.
    other = _limited_client(limited, 'quota-b')
    theirs = other.create(name='theirs', disk_format='raw',
                          container_format='bare')
    assert other.upload(theirs['id'], b'c' * 3500).status_code == 204
    # What fits, fits; and freeing space makes room again.
    assert_retry_succeeds(client, second['id'], store, b'd' * 2500)
    third = client.create(name='third', disk_format='raw',
                          container_format='bare')
    assert client.upload(third['id'], b'e').status_code == 413
    assert client.delete('/v2/images/%s' % first['id']).status_code == 204
    assert_retry_succeeds(client, third['id'], store, b'e' * 3500)


# -- the client goes away, the image goes away, a second uploader -------------

def test_client_disconnects_mid_upload(server):
    client = Client(server.url)
    store = os.path.join(server.workdir, 'images')
    image = client.create(name='cut', disk_format='raw',
                          container_format='bare')
    upload = RawUpload(server.url, image['id'], 100000)
    upload.send(b'x' * 30000)
    wait_status(client, image['id'], 'saving')
    upload.close()
    wait_status(client, image['id'], 'queued')
    assert_pristine(client, image['id'], store)
    assert_retry_succeeds(client, image['id'], store)


def test_client_disconnects_mid_chunked_upload(server):
    client = Client(server.url)
    store = os.path.join(server.workdir, 'images')
    image = client.create(name='cut', disk_format='raw',
                          container_format='bare')
    upload = RawUpload(server.url, image['id'], None)
    upload.send(b'x' * 30000)
    wait_status(client, image['id'], 'saving')
    upload.sock.sendall(b'ffff\r\n' + b'y' * 100)     # a chunk cut short
    upload.close()
    wait_status(client, image['id'], 'queued')
    assert_pristine(client, image['id'], store)
    assert_retry_succeeds(client, image['id'], store)


def test_image_deleted_while_uploading(server):
    client = Client(server.url)
    store = os.path.join(server.workdir, 'images')
    image = client.create(name='doomed', disk_format='raw',
                          container_format='bare')
    upload = RawUpload(server.url, image['id'], 200000)
    upload.send(b'x' * 100000)
    wait_status(client, image['id'], 'saving')
    wait_for(lambda: image['id'] in store_files(store))     # being written
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    upload.send(b'x' * 100000)
    status, body = upload.response()
    assert status == 410
    assert 'deleted while its data was uploading' in body
    assert client.get('/v2/images/%s' % image['id']).status_code == 404
    assert image['id'] not in store_files(store)


def test_second_upload_while_saving_is_409(server):
    client = Client(server.url)
    store = os.path.join(server.workdir, 'images')
    image = client.create(name='race', disk_format='raw',
                          container_format='bare')
    first = b'1' * 50000
    upload = RawUpload(server.url, image['id'], len(first))
    upload.send(first[:20000])
    wait_status(client, image['id'], 'saving')
    r = client.upload(image['id'], b'2' * 10)
    assert r.status_code == 409
    assert 'saving' in r.text
    upload.send(first[20000:])
    assert upload.response()[0] == 204
    shown = client.get('/v2/images/%s' % image['id']).json()
    assert shown['status'] == 'active'
    assert shown['checksum'] == hashlib.md5(first).hexdigest()
    assert client.get('/v2/images/%s/file' % image['id']).content == first
    assert store_files(store).count(image['id']) == 1


# -- the store: full, read-only -----------------------------------------------

def _mount_tmpfs(path: str, size: str) -> None:
    os.makedirs(path, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip('a full store needs a small filesystem: mounting a '
                    'tmpfs needs root, and this test runs as uid %d'
                    % os.geteuid())
    result = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%s' % size,
                             'tmpfs', path], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip('cannot mount a tmpfs here (%s); no other way to get '
                    'ENOSPC from a real filesystem' % result.stderr.strip())


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """glance-api whose only store is a 1 MiB tmpfs."""
    work = tmp_path_factory.mktemp('tiny')
    mount = str(work / 'store')
    _mount_tmpfs(mount, '1m')
    srv = GlanceServer(str(work / 'srv'), settings=[
        'glance_store.filesystem_store_datadir=%s' % mount]).start()
    try:
        yield srv, mount
    finally:
        srv.stop()
        if subprocess.run(['umount', mount]).returncode != 0:
            # A worker still exiting holds it: detach now, freed on exit.
            subprocess.run(['umount', '-l', mount], check=False)


def _free(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_store_full_with_content_length(tiny):
    srv, mount = tiny
    client = Client(srv.url)
    free = _free(mount)
    image = client.create(name='huge', disk_format='raw',
                          container_format='bare')
    r = client.upload(image['id'], b'x' * (2 * 1024 * 1024))
    assert r.status_code == 413
    assert 'not enough disk space' in r.text
    assert_pristine(client, image['id'], mount)
    assert _free(mount) == free
    assert_retry_succeeds(client, image['id'], mount, b'z' * 100000)
    client.delete('/v2/images/%s' % image['id'])


def test_store_full_while_writing_leaves_no_partial_file(tiny):
    srv, mount = tiny
    client = Client(srv.url)
    free = _free(mount)
    image = client.create(name='huge', disk_format='raw',
                          container_format='bare')
    # Chunked: the store learns it is full only when the disk says so.
    r = client.put('/v2/images/%s/file' % image['id'],
                   data=_pieces(b'x' * (2 * 1024 * 1024), 64 * 1024),
                   headers={'Content-Type': 'application/octet-stream'})
    assert r.status_code == 413
    assert 'not enough disk space' in r.text
    assert_pristine(client, image['id'], mount)
    assert _free(mount) == free, 'the partial file still holds space'
    assert_retry_succeeds(client, image['id'], mount, b'z' * 100000)
    client.delete('/v2/images/%s' % image['id'])


def test_store_not_writable(tiny):
    srv, mount = tiny
    client = Client(srv.url)
    image = client.create(name='ro', disk_format='raw',
                          container_format='bare')
    subprocess.run(['mount', '-o', 'remount,ro', mount], check=True)
    try:
        r = client.upload(image['id'], b'x' * 1000)
        assert r.status_code == 503
        assert 'refused the write' in r.text
        assert_pristine(client, image['id'], mount)
    finally:
        subprocess.run(['mount', '-o', 'remount,rw', mount], check=True)
    assert_retry_succeeds(client, image['id'], mount)


def test_store_directory_permissions(tmp_path):
    """Without root, permissions are the way a store refuses writes."""
    if os.geteuid() == 0:
        pytest.skip('root ignores directory permissions; the read-only '
                    'mount test covers a refusing store')
    store = tmp_path / 'store'
    srv = GlanceServer(str(tmp_path / 'srv'), settings=[
        'glance_store.filesystem_store_datadir=%s' % store]).start()
    try:
        client = Client(srv.url)
        image = client.create(name='ro', disk_format='raw',
                              container_format='bare')
        os.chmod(store, 0o500)
        try:
            r = client.upload(image['id'], b'x' * 1000)
            assert r.status_code == 503
            assert 'refused the write' in r.text
            assert_pristine(client, image['id'], str(store))
        finally:
            os.chmod(store, 0o700)
        assert_retry_succeeds(client, image['id'], str(store))
    finally:
        srv.stop()


# -- the database goes away ---------------------------------------------------

@pytest.fixture(scope='module')
def pg(tmp_path_factory):
    work = tmp_path_factory.mktemp('pg')
    postgres = databases.TestDatabase('postgresql', str(work))
    # The heartbeat (and the sweep after it) every second: an undo that
    # failed while the database was away is retried by the sweep.
    srv = GlanceServer(str(work / 'srv'), database_url=postgres.url,
                       settings=['DEFAULT.lease_heartbeat_interval=1',
                                 'DEFAULT.node_staging_uri=file://%s'
                                 % (work / 'srv' / 'staging')])
    try:
        srv.start()
        yield srv, postgres
    finally:
        srv.stop()
        postgres.drop()


def _clean_error(status: int, body: str) -> None:
    """A 503 error page (HTML or plain text as the client accepts), not a
    dropped connection, a hang or a traceback: the database being away is
    the service being unavailable."""
    assert status == 503, (status, body)
    assert str(status) in body, body
    assert 'Traceback' not in body and 'sqlalchemy' not in body.lower()


def test_database_down_before_upload(pg):
    srv, postgres = pg
    client = Client(srv.url)
    store = os.path.join(srv.workdir, 'images')
    image = client.create(name='db', disk_format='raw',
                          container_format='bare')
    postgres.down()
    try:
        r = client.upload(image['id'], b'x' * 1000)
        _clean_error(r.status_code, r.text)
        # The process is alive and answers the next request too.
        assert client.get('/healthcheck').status_code == 200
        r = client.get('/v2/images/%s' % image['id'])
        _clean_error(r.status_code, r.text)
        assert image['id'] not in store_files(store)
    finally:
        postgres.up()
    assert_pristine(client, image['id'], store)
    assert_retry_succeeds(client, image['id'], store)


def _database_down_mid_transfer(pg, to: str, busy: str,
                                directory: str) -> tuple[Client, str]:
    """PUT half of an image's data to ``to`` (``file`` or ``stage``),
    take the database away, send the rest: a clean 503, and the bytes
    gone from ``directory`` even though the record could not be updated
    (no data the database does not know about).  Then the database comes
    back.  (client, image id)."""
    srv, postgres = pg
    client = Client(srv.url)
    image_id = client.create(name='db', disk_format='raw',
                             container_format='bare')['id']
    transfer = RawUpload(srv.url, image_id, 200000, to=to)
    transfer.send(b'x' * 100000)
    wait_status(client, image_id, busy)
    postgres.down()
    try:
        transfer.send(b'x' * 100000)
        _clean_error(*transfer.response())
        assert image_id not in store_files(directory)
    finally:
        postgres.up()
    return client, image_id


def _undone(pg, client: Client, image_id: str, timeout: float = 30
            ) -> dict:
    """The image once the sweep has put it back to queued; failing, with
    the server's log, where the sweep's retries say why it is late."""
    try:
        return wait_status(client, image_id, 'queued', timeout)
    except AssertionError as exc:
        raise AssertionError('%s\n%s' % (exc, pg[0].log())) from None


def test_database_down_mid_upload(pg):
    store = os.path.join(pg[0].workdir, 'images')
    client, image_id = _database_down_mid_transfer(pg, 'file', 'saving',
                                                   store)
    # The record could not be returned to queued while the database was
    # away (upstream leaves it saving for good).  This process kept its
    # lease, so no other request could take the image meanwhile, and its
    # sweep undoes the upload once the database answers: queued again
    # with no data, and the lease gone, so a retry succeeds.
    _undone(pg, client, image_id)
    assert_pristine(client, image_id, store)
    assert_retry_succeeds(client, image_id, store)


def test_database_down_mid_stage(pg):
    client, image_id = _database_down_mid_transfer(
        pg, 'stage', 'uploading', os.path.join(pg[0].workdir, 'staging'))
    # As for an upload: queued again, and staging again succeeds.
    assert _undone(pg, client, image_id)['size'] is None
    r = client.put('/v2/images/%s/stage' % image_id, data=b'again',
                   headers={'Content-Type': 'application/octet-stream'})
    assert r.status_code == 204, r.text
    assert client.get('/v2/images/%s' % image_id).json()['status'] == \
        'uploading'


@pytest.mark.parametrize('to, busy, directory', [
    ('file', 'saving', 'images'), ('stage', 'uploading', 'staging')])
def test_database_down_before_the_lease(pg, to, busy, directory):
    """The database goes away after the image is moved on (saving,
    uploading) and before its lease is recorded: held there by a lock on
    the lease table, the server's lease waits, then fails with the rest.
    The image can neither be leased nor put back then; the process that
    moved it undoes it once the database answers, well before the lease
    timeout (45 s) after which any process would."""
    srv, postgres = pg
    client = Client(srv.url)
    image_id = client.create(name='db', disk_format='raw',
                             container_format='bare')['id']
    engine = sa.create_engine(postgres.url)
    locker = engine.connect()
    try:
        # SHARE mode: reads go on (the upload checks for leases first),
        # inserts wait.
        locker.execute(sa.text('LOCK TABLE image_leases IN SHARE MODE'))
        transfer = RawUpload(srv.url, image_id, 200000, to=to)
        transfer.send(b'x' * 1000)
        wait_status(client, image_id, busy)
        postgres.down()         # cuts the locker and the waiting insert
    finally:
        locker.invalidate()     # cut by down(), or to be let go of
        engine.dispose()
    try:
        _clean_error(*transfer.response())
    finally:
        postgres.up()
    _undone(pg, client, image_id, timeout=15)
    store = os.path.join(srv.workdir, 'images')
    assert_pristine(client, image_id, store)
    assert image_id not in store_files(os.path.join(srv.workdir,
                                                    directory))
    assert_retry_succeeds(client, image_id, store)
