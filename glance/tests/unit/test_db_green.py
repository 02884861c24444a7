"""The database's thread pool in a process eventlet has monkey-patched
(glance-api's): it survives the fork of a worker, and it is used only
there.  (That it keeps a worker answering while a query waits is
glance/tests/functional/test_db_off_hub.py.)"""
from __future__ import annotations

import subprocess
import sys

from glance.db.sqlalchemy import green

#: a parent uses the pool (as glance-api's start-up sweep may), then forks
#: a worker that uses it too; without the reset after the fork the
#: worker's call waits forever for threads that only the parent has
FORKED = '''
import eventlet
eventlet.monkey_patch()
import os
import sys
from eventlet import tpool
from glance.db.sqlalchemy import green
assert green.active()
assert tpool.execute(os.getpid) == os.getpid()
pid = os.fork()
if pid == 0:
    os._exit(0 if tpool.execute(os.getpid) == os.getpid() else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
'''


def test_a_forked_worker_gets_its_own_threads():
    result = subprocess.run([sys.executable, '-c', FORKED],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_not_active_without_monkey_patching():
    assert not green.active()
