"""A cache fill killed with its process: the next fill takes over.

A fill writes ``incomplete/<image_id>`` under an exclusive lock that lives
as long as the writing process (the kernel drops it when the process is
killed), so a partial file of a dead fill never blocks caching the image
again, and ``glance-cache-cleaner`` never removes a file a live fill is
writing.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import time

from glance.tests.functional.conftest import Client
from glance.tests.functional.server import BIN
from glance.tests.functional.test_cache import (active_image, cache_dir,
                                                cache_server)

DATA = os.urandom(24 * 1024 * 1024 + 5)


def _cached(client: Client) -> list[str]:
    return [e['image_id'] for e in client.get('/v2/cache').json()[
        'cached_images']]


def test_a_fill_killed_midway_is_taken_over_after_a_restart(tmp_path):
    server = cache_server(str(tmp_path / 'node')).start()
    try:
        client = Client(server.url)
        image = active_image(client, DATA)
        partial = os.path.join(cache_dir(server), 'incomplete', image['id'])
        r = client.get('/v2/images/%s/file' % image['id'], stream=True)
        assert r.status_code == 200
        first = next(r.iter_content(1024 * 1024))
        assert first and os.path.exists(partial)
        server.signal(signal.SIGKILL)
        server.proc.wait()
        r.close()
        # what the killed fill left: a partial file nobody holds
        assert os.path.getsize(partial) < len(DATA)
        server.start(sync_db=False)
        client = Client(server.url)
        assert _cached(client) == []
        got = client.get('/v2/images/%s/file' % image['id']).content
        assert hashlib.md5(got).hexdigest() == image['checksum']
        deadline = time.monotonic() + 30
        while _cached(client) != [image['id']]:
            assert time.monotonic() < deadline, server.log()[-2000:]
            time.sleep(0.1)
        assert not os.path.exists(partial)
        with open(os.path.join(cache_dir(server), image['id']), 'rb') as f:
            assert hashlib.md5(f.read()).hexdigest() == image['checksum']
    finally:
        server.stop()


HOLD = '''
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b'partial')
print('held', flush=True)
time.sleep(60)
'''


def test_a_live_fill_is_never_disturbed(tmp_path):
    """While another process holds the fill lock, a download does not
    cache the image and the cleaner leaves the file; once that process is
    gone, both take it over."""
    # the cleaner would remove any incomplete file nobody holds at once
    server = cache_server(str(tmp_path / 'node'),
                          extra=['image_cache_stall_time=0']).start()
    holder = None
    try:
        client = Client(server.url)
        image = active_image(client, b'x' * 100000)
        partial = os.path.join(cache_dir(server), 'incomplete', image['id'])
        holder = subprocess.Popen([sys.executable, '-c', HOLD, partial],
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == 'held'
        assert client.get('/v2/images/%s/file' % image['id']).content == \
            b'x' * 100000
        assert _cached(client) == []
        cleaner = subprocess.run(
            [os.path.join(BIN, 'glance-cache-cleaner'), '--config-file',
             server.config], capture_output=True, text=True, timeout=120)
        assert cleaner.returncode == 0, cleaner.stderr
        with open(partial, 'rb') as f:
            assert f.read() == b'partial'   # untouched
        holder.kill()
        holder.wait()
        holder = None
        with open(partial, 'rb') as f:      # nobody holds it now
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        client.get('/v2/images/%s/file' % image['id'])
        assert _cached(client) == [image['id']]
        assert not os.path.exists(partial)
    finally:
        if holder is not None:
            holder.kill()
        server.stop()
