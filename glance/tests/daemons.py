"""What the fixtures starting real services (Swift, Ceph) share: the
daemons die with the test process, and each service lives in a temporary
directory that goes with it."""
from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
from typing import Iterable, Iterator, Protocol


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


#: the lowest port a test server may be given
_LOWEST = 10000
#: ports this process handed out (a test may ask for several before it
#: starts the servers)
_GIVEN: set[int] = set()


def _ephemeral_low() -> int:
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


@contextlib.contextmanager
def held(path: str) -> Iterator[None]:
    """An exclusive lock on the file ``path`` (created if missing), for
    what the test processes of this machine must do one at a time
    (pytest-xdist workers; checkouts sharing a venv by symlink)."""
    with open(path, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server a test starts.

    Not from the kernel's ephemeral range (what binding port 0 gives):
    between this look and the server's bind, the kernel may give such a
    port to any outgoing connection as its source port, and the server
    then fails with "Address already in use".  Below that range only
    servers bind, and the port is chosen at random so that parallel test
    processes rarely try the same one.
    """
    low = _ephemeral_low()
    for _ in range(200 if low > _LOWEST + 1000 else 0):
        port = random.randrange(_LOWEST, low)
        if port in _GIVEN:
            continue
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                continue            # a server has it
        _GIVEN.add(port)
        return port
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
