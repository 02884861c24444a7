"""What the fixtures starting real services (Swift, Ceph) share: the
daemons die with the test process, and each service lives in a temporary
directory that goes with it."""
from __future__ import annotations

import shutil
import signal
import tempfile
from typing import Protocol


class Node(Protocol):
    workdir: str

    def start(self) -> 'Node': ...

    def stop(self) -> None: ...


def die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, so that a
    killed test run leaves no daemon behind (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def start_in_tempdir(make_node, prefix: str):
    """``make_node(workdir)`` started in a new temporary directory; on
    failure everything it started and the directory are gone."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    node = make_node(workdir)
    try:
        return node.start()
    except BaseException:
        node.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def stop_and_remove(node: Node) -> None:
    node.stop()
    shutil.rmtree(node.workdir, ignore_errors=True)
