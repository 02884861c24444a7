"""An import's task tells how far its data copy has got: "Copied N MiB".

The web-download source is a loopback HTTP server started here that sends
its data one MiB at a time, each MiB only when the test lets it through;
so the test sees the task's message at known points of the copy without
relying on timing.
"""
from __future__ import annotations

import contextlib
import http.server
import threading
import time
import urllib.parse
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer, \
    serving

MiB = 1024 * 1024
SIZE_MIB = 6


class Gate:
    """Lets the source send one MiB per permit."""

    def __init__(self):
        self.permits = threading.Semaphore(0)

    def open(self, mib: int) -> None:
        self.permits.release(mib)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'
    gate: Gate

    def log_message(self, *args):
        pass

    def do_GET(self):
        """/image: SIZE_MIB MiB; /short: announces as much, sends 2 MiB."""
        self.send_response(200)
        self.send_header('Content-Length', str(SIZE_MIB * MiB))
        self.end_headers()
        sent = 2 if self.path == '/short' else SIZE_MIB
        for n in range(sent):
            if not self.gate.permits.acquire(timeout=120):
                return          # the test gave up: end the response short
            self.wfile.write(bytes([n]) * MiB)
            self.wfile.flush()


@pytest.fixture
def gated():
    gate = Gate()
    handler = type('Handler', (_Handler,), {'gate': gate})
    with serving(handler) as url:
        yield url + '/image', gate
        gate.open(SIZE_MIB)


def glance(workdir: str, source: str, interval: int) -> GlanceServer:
    port = urllib.parse.urlparse(source).port
    return GlanceServer(workdir, profile='reference', settings=[
        'import_filtering_opts.allowed_ports=[%d]' % port,
        'import_filtering_opts.allowed_hosts=[127.0.0.1]',
        'task.progress_interval=%d' % interval]).start()


def start_import(client: Client, source: str) -> str:
    image = client.create(name='progress', disk_format='raw',
                          container_format='bare')
    r = client.post('/v2/images/%s/import' % image['id'], json={
        'method': {'name': 'web-download', 'uri': source}})
    assert r.status_code == 202, r.text
    return image['id']


def task_of(client: Client, image_id: str) -> dict:
    deadline = time.time() + 60
    while True:
        tasks = client.get('/v2/images/%s/tasks' % image_id).json()['tasks']
        if tasks:
            return tasks[0]
        assert time.time() < deadline, 'no task for image %s' % image_id
        time.sleep(0.05)


def wait_task(client: Client, image_id: str, until) -> dict:
    """The image's import task once ``until(task)`` holds, read as its
    owner reads it (GET /v2/images/{id}/tasks); 60 s guard against
    hangs."""
    deadline = time.time() + 60
    while True:
        task = task_of(client, image_id)
        if until(task):
            return task
        assert time.time() < deadline, task
        time.sleep(0.05)


@contextlib.contextmanager
def importing(tmp_path, source: str, interval: int):
    """(client, image id) of a web-download of ``source`` just accepted
    by a glance-api with that progress_interval."""
    server = glance(str(tmp_path), source, interval)
    try:
        client = Client(server.url, identity(
            'prog-%s' % uuid.uuid4().hex[:8], 'reader,member'))
        yield client, start_import(client, source)
    finally:
        server.stop()


def finished(client: Client, image_id: str) -> dict:
    return wait_task(client, image_id,
                     lambda t: t['status'] in ('success', 'failure'))


def test_message_follows_the_copy_then_the_task_succeeds(tmp_path, gated):
    source, gate = gated
    with importing(tmp_path, source, interval=0) as (client, image_id):
        task = wait_task(client, image_id,
                         lambda t: t['status'] == 'processing')
        assert task['message'] == ''

        gate.open(2)
        wait_task(client, image_id,
                  lambda t: t['message'] == 'Copied 2 MiB')
        gate.open(2)
        task = wait_task(client, image_id,
                         lambda t: t['message'] == 'Copied 4 MiB')
        assert task['status'] == 'processing'

        gate.open(SIZE_MIB - 4)
        task = finished(client, image_id)
        assert task['status'] == 'success', task
        # the last copy (into the store) moved the whole image
        assert task['message'] == 'Copied %d MiB' % SIZE_MIB
        image = client.get('/v2/images/%s' % image_id).json()
        assert (image['status'], image['size']) == ('active', SIZE_MIB * MiB)


def test_messages_are_spaced_by_progress_interval(tmp_path, gated):
    """With a long interval the first MiB is told and nothing more until
    the interval passes: a fast copy does not write its task per MiB."""
    source, gate = gated
    with importing(tmp_path, source, interval=3600) as (client, image_id):
        gate.open(SIZE_MIB)
        task = finished(client, image_id)
        assert task['status'] == 'success', task
        # told once per copy (staging, then the store), at its first MiB
        assert task['message'] == 'Copied 1 MiB'
        data = client.get('/v2/images/%s/file' % image_id).content
        assert data == b''.join(bytes([n]) * MiB for n in range(SIZE_MIB))


def test_a_failed_copy_leaves_its_reason_not_progress(tmp_path, gated):
    source, gate = gated
    short = source.replace('/image', '/short')
    with importing(tmp_path, short, interval=0) as (client, image_id):
        gate.open(2)
        task = finished(client, image_id)
        assert task['status'] == 'failure', task
        assert task['message'] and 'Copied' not in task['message']
        image = client.get('/v2/images/%s' % image_id).json()
        assert image['status'] == 'queued'
