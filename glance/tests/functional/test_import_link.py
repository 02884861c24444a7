"""Imports into a filesystem store keep the staged file instead of writing
the bytes again (``Store.add_file``): measured as the bytes the serving
process writes through the kernel (``/proc/PID/io`` wchar) while the import
runs, with the data still hashed, checked and served whole.

A real glance-api (reference profile: two file stores and the staging store
in one directory tree, so on one file system) imports from a loopback HTTP
server.
"""
from __future__ import annotations

import os
import urllib.parse

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer, serving
from glance.tests.functional.test_import import (
    _check_data, _create, _Handler, _import, _stage, _wait, blob)

SIZE = 8 * 1024 * 1024
#: what an import writes besides the image data (database, logs)
OVERHEAD = 2 * 1024 * 1024


@pytest.fixture(scope='module')
def web():
    with serving(_Handler) as url:
        yield url


@pytest.fixture(scope='module')
def srv(tmp_path_factory, web):
    port = urllib.parse.urlparse(web).port
    work = str(tmp_path_factory.mktemp('import-link'))
    server = GlanceServer(work, profile='reference', settings=[
        'import_filtering_opts.allowed_ports=[%d]' % port,
        'import_filtering_opts.allowed_hosts=[127.0.0.1]',
    ]).start()
    yield server
    server.stop()


@pytest.fixture
def alice(srv) -> Client:
    return Client(srv.url, identity('link-project', 'reader,member', 'alice'))


def _store_file(srv: GlanceServer, store: str, image_id: str) -> str:
    return os.path.join(srv.workdir, 'stores', store, image_id)


def test_glance_direct_to_two_stores_writes_no_copy(srv, alice):
    data = blob(SIZE, 'link')
    image_id = _create(alice)
    assert _stage(alice, image_id, data).status_code == 204
    before = srv.bytes_written()
    assert _import(alice, image_id, method={'name': 'glance-direct'},
                   stores=['fast', 'cheap']).status_code == 202
    image, task = _wait(alice, image_id)
    written = srv.bytes_written() - before
    assert (image['status'], task['status']) == ('active', 'success'), task
    assert written < OVERHEAD, 'the import wrote %d bytes' % written
    _check_data(alice, image, data)
    fast, cheap = (os.stat(_store_file(srv, s, image_id))
                   for s in ('fast', 'cheap'))
    # one file with two names, the stage's name gone
    assert fast.st_ino == cheap.st_ino and fast.st_nlink == 2


def test_web_download_writes_the_data_once(srv, alice, web):
    image_id = _create(alice)
    before = srv.bytes_written()
    assert _import(alice, image_id, method={
        'name': 'web-download',
        'uri': '%s/blob/%d/web' % (web, SIZE)}).status_code == 202
    image, task = _wait(alice, image_id)
    written = srv.bytes_written() - before
    assert (image['status'], task['status']) == ('active', 'success'), task
    # into staging, not again into the store
    assert SIZE <= written < SIZE + OVERHEAD, written
    _check_data(alice, image, blob(SIZE, 'web'))


def test_deleting_one_copy_leaves_the_other_whole(srv, alice):
    data = blob(SIZE // 4, 'two')
    image_id = _create(alice)
    assert _stage(alice, image_id, data).status_code == 204
    assert _import(alice, image_id, method={'name': 'glance-direct'},
                   stores=['fast', 'cheap']).status_code == 202
    image, _task = _wait(alice, image_id)
    assert image['status'] == 'active'
    admin = Client(srv.url, identity('link-admin', 'admin,member,reader',
                                     'root'))
    r = admin.delete('/v2/stores/fast/%s' % image_id)
    assert r.status_code == 204, r.text
    assert not os.path.exists(_store_file(srv, 'fast', image_id))
    assert os.stat(_store_file(srv, 'cheap', image_id)).st_nlink == 1
    _check_data(alice, alice.get('/v2/images/%s' % image_id).json(), data)
