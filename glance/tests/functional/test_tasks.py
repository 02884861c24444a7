"""The tasks API (/v2/tasks) and task rows of imports, over HTTP."""
from __future__ import annotations

import hashlib
import http.server
import os
import time
import urllib.parse
import uuid

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer, \
    serving

DATA = b'legacy import data ' * 100
#: /big: three MiB and a bit, for the progress message
BIG = b'm' * (3 * 1024 * 1024 + 7)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = {'/data': DATA, '/big': BIG}.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope='module')
def web():
    with serving(_Handler) as url:
        yield url


def _server(workdir: str, web: str, *extra: str) -> GlanceServer:
    port = urllib.parse.urlparse(web).port
    return GlanceServer(workdir, profile='reference', settings=[
        'import_filtering_opts.allowed_ports=[%d]' % port, *extra]).start()


@pytest.fixture(scope='module')
def srv(tmp_path_factory, web):
    work = str(tmp_path_factory.mktemp('tasks'))
    server = _server(work, web, 'task.work_dir=%s' % os.path.join(work, 'w'),
                     'task.progress_interval=0')
    yield server
    server.stop()


@pytest.fixture
def admin(srv) -> Client:
    return Client(srv.url, identity('tasks-admin-%s' % uuid.uuid4().hex[:6],
                                    'admin,member,reader', 'root'))


@pytest.fixture
def member(srv) -> Client:
    return Client(srv.url, identity('tasks-m-%s' % uuid.uuid4().hex[:6]))


def _legacy(client: Client, web: str, **props) -> dict:
    body = {'type': 'import', 'input': {
        'import_from': web + '/data', 'import_from_format': 'raw',
        'image_properties': dict({'disk_format': 'raw',
                                  'container_format': 'bare'}, **props)}}
    r = client.post('/v2/tasks', json=body)
    assert r.status_code == 201, r.text
    return r


def _finished(client: Client, task_id: str) -> dict:
    deadline = time.time() + 60
    while time.time() < deadline:
        task = client.get('/v2/tasks/%s' % task_id).json()
        if task['status'] in ('success', 'failure'):
            return task
        time.sleep(0.2)
    raise AssertionError('task %s did not finish' % task_id)


def test_legacy_import_task(srv, admin, web):
    r = _legacy(admin, web, name='legacy')
    task = r.json()
    assert r.headers['Location'].endswith('/v2/tasks/%s' % task['id'])
    assert task['status'] == 'pending'
    assert task['type'] == 'import'
    assert task['result'] is None
    assert 'expires_at' not in task
    assert task['self'] == '/v2/tasks/%s' % task['id']
    assert task['schema'] == '/v2/schemas/task'
    task = _finished(admin, task['id'])
    assert task['status'] == 'success', task
    assert task['expires_at'].endswith('Z')
    image_id = task['result']['image_id']
    image = admin.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'active'
    assert image['name'] == 'legacy'
    assert image['checksum'] == hashlib.md5(DATA).hexdigest()
    assert admin.get('/v2/images/%s/file' % image_id).content == DATA


def test_legacy_import_tells_its_progress(srv, admin, web):
    """As the reference service writes on a running import, the legacy
    task's message counts the whole MiB copied (every one, with
    ``progress_interval`` 0); the message stays when it succeeds."""
    r = admin.post('/v2/tasks', json={'type': 'import', 'input': {
        'import_from': web + '/big', 'import_from_format': 'raw',
        'image_properties': {'disk_format': 'raw',
                             'container_format': 'bare'}}})
    assert r.status_code == 201, r.text
    task = _finished(admin, r.json()['id'])
    assert task['status'] == 'success', task
    assert task['message'] == 'Copied 3 MiB'
    assert task['result'] == {'image_id': task['result']['image_id']}
    image_id = task['result']['image_id']
    assert admin.get('/v2/images/%s/file' % image_id).content == BIG


def test_legacy_import_failure(srv, admin, web):
    body = {'type': 'import', 'input': {
        'import_from': web + '/missing', 'import_from_format': 'raw',
        'image_properties': {}}}
    task = admin.post('/v2/tasks', json=body).json()
    task = _finished(admin, task['id'])
    assert task['status'] == 'failure'
    assert '404' in task['message']
    assert task['result'] is None


def test_legacy_import_needs_work_dir(tmp_path, web):
    server = _server(str(tmp_path), web)
    try:
        admin = Client(server.url, identity('t-wd', 'admin,member,reader'))
        task = _legacy(admin, web).json()
        task = _finished(admin, task['id'])
        assert task['status'] == 'failure'
        assert 'work_dir' in task['message']
    finally:
        server.stop()


def test_refusals(srv, admin, member, web):
    assert member.get('/v2/tasks').status_code == 403
    assert member.post('/v2/tasks', json={'type': 'import', 'input': {}}
                       ).status_code == 403
    task = _legacy(admin, web).json()
    assert member.get('/v2/tasks/%s' % task['id']).status_code == 403
    for body in ({'type': 'bogus', 'input': {}},
                 {'type': 'import', 'input': {}},
                 {'type': 'import', 'input': {'import_from': 'x'}},
                 {'type': 'import', 'input': 'x'},
                 {'type': 'api_image_import', 'input': {}}):
        r = admin.post('/v2/tasks', json=body)
        assert r.status_code == 400, (body, r.text)
    for query in ('status=bogus', 'sort_key=bogus', 'sort_dir=up',
                  'limit=-1', 'limit=x', 'type=api_image_import'):
        assert admin.get('/v2/tasks?' + query).status_code == 400, query
    assert admin.get('/v2/tasks/%s' % uuid.uuid4()).status_code == 404
    r = admin.delete('/v2/tasks/%s' % task['id'])
    assert r.status_code == 405
    assert r.headers['Allow'] == 'GET'
    _finished(admin, task['id'])


def test_list_filter_sort_page(srv, admin, web):
    ids = [_legacy(admin, web).json()['id'] for _ in range(3)]
    for task_id in ids:
        _finished(admin, task_id)
    r = admin.get('/v2/tasks?type=import&limit=2&sort_dir=asc'
                  '&sort_key=created_at')
    assert r.status_code == 200
    body = r.json()
    assert body['schema'] == '/v2/schemas/tasks'
    assert len(body['tasks']) == 2
    assert set(body['tasks'][0]) == {
        'id', 'type', 'status', 'owner', 'self', 'schema', 'created_at',
        'updated_at', 'expires_at'}
    seen = [t['id'] for t in body['tasks']]
    while 'next' in body:
        body = admin.get(body['next']).json()
        seen += [t['id'] for t in body['tasks']]
    assert [i for i in seen if i in ids] == ids
    assert all(t['status'] == 'success' for t in admin.get(
        '/v2/tasks?status=success').json()['tasks'])


def test_finished_tasks_expire(tmp_path, web):
    server = _server(str(tmp_path), web, 'task.task_time_to_live=0',
                     'task.work_dir=%s' % (tmp_path / 'w'))
    try:
        admin = Client(server.url, identity('t-ttl', 'admin,member,reader'))
        task_id = _legacy(admin, web).json()['id']
        deadline = time.time() + 60
        while admin.get('/v2/tasks/%s' % task_id).status_code == 200:
            assert time.time() < deadline
            time.sleep(0.2)
        assert admin.get('/v2/tasks/%s' % task_id).status_code == 404
        assert admin.get('/v2/tasks').json()['tasks'] == []
    finally:
        server.stop()


def test_task_schemas(srv, member):
    task = member.get('/v2/schemas/task').json()
    assert task['name'] == 'task'
    assert task['properties']['status']['enum'] == [
        'pending', 'processing', 'success', 'failure']
    tasks = member.get('/v2/schemas/tasks').json()
    assert 'input' not in tasks['properties']['tasks']['items'][
        'properties']


def test_list_by_owner_sort_keys_and_markers(srv, web):
    """The reference's task list: an ``owner`` filter, ``owner`` and
    ``expires_at`` as sort keys (running tasks have none), and 400 for a
    marker that is malformed or names no task the caller can list."""
    admin = Client(srv.url, identity('tasks-sort', 'admin,member,reader'))
    other = Client(srv.url, identity('tasks-sort-b', 'admin,member,reader'))
    mine = [_legacy(admin, web).json()['id'] for _ in range(2)]
    theirs = _legacy(other, web).json()['id']
    for task_id in mine:
        _finished(admin, task_id)
    listed = admin.get('/v2/tasks?owner=tasks-sort&limit=100').json()
    assert {t['id'] for t in listed['tasks']} == set(mine)
    assert theirs not in {t['id'] for t in listed['tasks']}
    for key in ('owner', 'expires_at'):
        for direction in ('asc', 'desc'):
            seen, body = [], admin.get(
                '/v2/tasks?limit=1&sort_key=%s&sort_dir=%s'
                % (key, direction)).json()
            seen += [t['id'] for t in body['tasks']]
            while 'next' in body:
                body = admin.get(body['next']).json()
                seen += [t['id'] for t in body['tasks']]
            full = admin.get('/v2/tasks?limit=1000&sort_key=%s&sort_dir=%s'
                             % (key, direction)).json()['tasks']
            assert seen == [t['id'] for t in full], (key, direction)
            assert len(seen) == len(set(seen))
            assert set(mine) | {theirs} <= set(seen)
    assert admin.get('/v2/tasks?marker=bogus').status_code == 400
    r = admin.get('/v2/tasks?marker=%s' % uuid.uuid4())
    assert r.status_code == 400
    _finished(other, theirs)
