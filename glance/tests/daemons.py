"""What the fixtures starting real services (Swift, Ceph) share: the
daemons die with the test process, and each service lives in a temporary
directory that goes with it."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from typing import Iterable, Protocol


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def missing_programs(programs: Iterable[str]) -> list[str]:
    """The programs of ``programs`` found neither on PATH nor in /usr/bin."""
    return [p for p in programs if shutil.which(p) is None
            and not os.path.exists(os.path.join('/usr/bin', p))]


def apt_install(debs: Iterable[str], unavailable: type[Exception],
                *options: str) -> None:
    """Install Debian packages as ``make test-deps`` does; ``unavailable``
    (the fixture's exception) says why when that cannot be done here."""
    if shutil.which('apt-get') is None or os.geteuid() != 0:
        raise unavailable('%s not installed and apt-get is not usable here; '
                          'run `make test-deps`' % ', '.join(debs))
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    for cmd in (['apt-get', 'update', '-q'],
                ['apt-get', 'install', '-y', '-q', *options, *debs]):
        result = subprocess.run(cmd, env=env, capture_output=True,
                                text=True, timeout=900)
        if result.returncode:
            raise unavailable('%s failed: %s' % (' '.join(cmd),
                                                 result.stderr[-2000:]))
