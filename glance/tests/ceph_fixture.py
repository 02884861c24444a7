"""A one-node Ceph cluster on loopback, for the rbd store tests.

Ceph comes from Debian's packages (``make test-deps`` installs them): one
monitor and one OSD, no manager (RBD I/O does not need one; the cluster
reports a warning for it, which is harmless).  Everything lives in one
temporary directory: ``ceph.conf``, one keyring holding every key (the
monitor imports them all at ``--mkfs``), the monitor's store, the run and
log directories.  The OSD keeps its objects in memory (``memstore``), so
nothing is written to disk but metadata and logs.  Messenger v1 on
``127.0.0.1:<free port>``; pools have one replica.

The pool ``images`` is initialised for RBD, and ``client.glance`` has the
caps an operator gives glance (``profile rbd`` on that pool).

The Python bindings (python3-rados, python3-rbd) are Debian's, built for
the same CPython minor version as our virtualenv; ``link_bindings`` makes
just those two modules importable in it (a directory of two symlinks named
by a ``.pth`` file), never the rest of Debian's dist-packages.

Under ``CI=true`` a missing Ceph is an error; elsewhere the tests using the
fixture are skipped with the reason.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from dataclasses import dataclass, field

from glance.tests import daemons

#: what the fixture needs from Debian (the Makefile's test-deps installs them)
PROGRAMS = ('ceph-mon', 'ceph-osd', 'ceph-authtool', 'monmaptool')
DEBS = ('ceph-mon', 'ceph-osd', 'ceph-common', 'python3-rados',
        'python3-rbd')
DIST_PACKAGES = '/usr/lib/python3/dist-packages'
BINDINGS = ('rados', 'rbd')
POOL = 'images'


class Unavailable(Exception):
    """Ceph cannot run here (packages missing and not installable)."""


def missing_programs() -> list[str]:
    return daemons.missing_programs(PROGRAMS)


def _binding_files() -> list[str]:
    suffix = sysconfig.get_config_var('EXT_SUFFIX')
    return [os.path.join(DIST_PACKAGES, name + suffix) for name in BINDINGS]


def bindings_dir() -> str:
    """Where the venv finds the two modules (next to its site-packages)."""
    return os.path.join(sys.prefix, 'ceph-bindings')


def link_bindings() -> None:
    """Make Debian's rados and rbd modules importable in this interpreter's
    environment, and in this process at once.

    Only when Debian built them for this CPython (the file names carry the
    ABI tag); the ``.pth`` file adds one directory holding two symlinks.
    """
    files = _binding_files()
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise Unavailable('the Ceph bindings for this Python are missing: %s'
                          ' (python3-rados/python3-rbd for another CPython?)'
                          % ', '.join(missing))
    target = bindings_dir()
    os.makedirs(target, exist_ok=True)
    for f in files:
        link = os.path.join(target, os.path.basename(f))
        if os.path.realpath(link) != f:
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(f, link)
    pth = os.path.join(sysconfig.get_paths()['purelib'], 'ceph-bindings.pth')
    if not os.path.exists(pth):
        with open(pth, 'w') as out:
            out.write(target + '\n')
    if target not in sys.path:
        sys.path.append(target)


def ensure_installed() -> None:
    """Install the Debian packages when missing (as ``make test-deps``),
    then link the bindings into the virtualenv."""
    if missing_programs() or not all(os.path.exists(f)
                                     for f in _binding_files()):
        daemons.apt_install(DEBS, Unavailable, '--no-install-recommends')
        if missing_programs():
            raise Unavailable('still missing after apt-get: %s'
                              % ', '.join(missing_programs()))
    link_bindings()


_CONF = """\
[global]
fsid = {fsid}
mon_host = v1:127.0.0.1:{port}
mon_initial_members = a
public_addr = 127.0.0.1
ms_bind_ipv4 = true
ms_bind_ipv6 = false
ms_bind_msgr2 = false
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = true
keyring = {dir}/keyring
run_dir = {dir}/run
pid_file = {dir}/run/$name.pid
admin_socket = {dir}/run/$name.asok
log_file = {dir}/log/$name.log
mon_data = {dir}/mon/$name
osd_data = {dir}/osd/$name
osd_objectstore = memstore
memstore_device_bytes = 536870912
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
# commit monitor changes at once (default: batched for a second)
paxos_propose_interval = 0.01
paxos_min_wait = 0.001
# the disk of a test machine may be fuller than a monitor likes
mon_data_avail_warn = 2
mon_data_avail_crit = 1
"""


@dataclass
class Ceph:
    """A running one-mon one-osd cluster; ``stop()`` ends both daemons."""

    workdir: str
    port: int = 0
    fsid: str = ''
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    started_in: float = 0.0

    @property
    def conf(self) -> str:
        return os.path.join(self.workdir, 'ceph.conf')

    # --- life cycle -------------------------------------------------------

    def start(self) -> 'Ceph':
        begin = time.monotonic()
        self.port = daemons.free_port()
        self.fsid = str(uuid.uuid4())
        d = self.workdir
        for sub in ('run', 'log', 'mon/mon.a', 'osd/osd.0'):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(self.conf, 'w') as f:
            f.write(_CONF.format(fsid=self.fsid, port=self.port, dir=d))
        keyring = os.path.join(d, 'keyring')
        self._run('ceph-authtool', '--create-keyring', keyring, '--gen-key',
                  '-n', 'mon.', '--cap', 'mon', 'allow *')
        for name, caps in (
                ('client.admin', ['mon', 'allow *', 'osd', 'allow *',
                                  'mgr', 'allow *']),
                ('osd.0', ['mon', 'allow profile osd', 'osd', 'allow *',
                           'mgr', 'allow profile osd']),
                ('client.glance', ['mon', 'profile rbd',
                                   'osd', 'profile rbd pool=%s' % POOL])):
            args = [a for i in range(0, len(caps), 2)
                    for a in ('--cap', caps[i], caps[i + 1])]
            self._run('ceph-authtool', keyring, '--gen-key', '-n', name,
                      *args)
        monmap = os.path.join(d, 'monmap')
        self._run('monmaptool', '--create', '--fsid', self.fsid, '--addv',
                  'a', '[v1:127.0.0.1:%d]' % self.port, monmap)
        self._run('ceph-mon', '-c', self.conf, '--mkfs', '-i', 'a',
                  '--monmap', monmap, '--keyring', keyring)
        self._spawn('mon.a', ['ceph-mon', '-f', '-c', self.conf, '-i', 'a'])
        self._wait_port()
        osd_uuid = str(uuid.uuid4())
        self.command({'prefix': 'osd new', 'uuid': osd_uuid, 'id': 0})
        self._run('ceph-osd', '-c', self.conf, '-i', '0', '--mkfs',
                  '--osd-uuid', osd_uuid, '--no-mon-config')
        self._spawn('osd.0', ['ceph-osd', '-f', '-c', self.conf, '-i', '0'])
        self.command({'prefix': 'osd pool create', 'pool': POOL,
                      'pg_num': 8, 'pgp_num': 8})
        self.command({'prefix': 'osd pool application enable', 'pool': POOL,
                      'app': 'rbd'})
        self._wait_osd_up()
        self._rbd_init(POOL)
        self.started_in = time.monotonic() - begin
        return self

    def stop(self) -> None:
        """Kill the daemons: the OSD keeps its data in memory and the whole
        directory goes, so there is nothing to shut down cleanly (a SIGTERM
        costs the OSD seconds of orderly shutdown)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs.values():
            proc.wait()

    def _run(self, *argv: str) -> None:
        result = subprocess.run(argv, capture_output=True, text=True,
                                timeout=60, cwd=self.workdir)
        if result.returncode:
            raise RuntimeError('%s failed (%d): %s%s\n%s' % (
                ' '.join(argv), result.returncode, result.stdout,
                result.stderr, self.log()))

    def _spawn(self, name: str, argv: list[str]) -> None:
        with open(os.path.join(self.workdir, 'log', '%s.out' % name),
                  'wb') as out:
            self.procs[name] = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.workdir, start_new_session=True,
                preexec_fn=daemons.die_with_parent)

    def log(self) -> str:
        out = []
        logs = os.path.join(self.workdir, 'log')
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            with open(os.path.join(logs, name), errors='replace') as f:
                out.append('== %s ==\n%s' % (name, f.read()[-3000:]))
        return '\n'.join(out)

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError('%s exited (%s): %s' % (
                    name, proc.returncode, self.log()))

    def _wait_port(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with socket.create_connection(('127.0.0.1', self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError('ceph-mon did not listen: %s' % self.log())

    def _wait_osd_up(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self._check_alive()
            stat = self.command({'prefix': 'osd stat', 'format': 'json'})
            if stat.get('num_up_osds') == 1:
                return
            time.sleep(0.2)
        raise RuntimeError('the OSD did not come up: %s' % self.log())

    # --- direct access, to check what the store did ------------------------

    def connect(self, user: str = 'admin'):
        """A connected ``rados.Rados`` (the caller shuts it down)."""
        import rados
        cluster = rados.Rados(conffile=self.conf, rados_id=user,
                              conf={'client_mount_timeout': '30'})
        cluster.connect()
        return cluster

    def command(self, cmd: dict) -> dict:
        """A monitor command as ``ceph`` sends it; its JSON answer."""
        cluster = self.connect()
        try:
            ret, out, err = cluster.mon_command(json.dumps(cmd), b'',
                                                timeout=30)
        finally:
            cluster.shutdown()
        if ret:
            raise RuntimeError('%s: %d %s' % (cmd, ret, err))
        return json.loads(out) if out.strip() else {}

    def _rbd_init(self, pool: str) -> None:
        import rbd
        cluster = self.connect()
        try:
            with cluster.open_ioctx(pool) as ioctx:
                rbd.RBD().pool_init(ioctx, True)
        finally:
            cluster.shutdown()

    def images(self, pool: str = POOL) -> list[str]:
        """Names of the RBD images in ``pool``."""
        import rbd
        cluster = self.connect()
        try:
            with cluster.open_ioctx(pool) as ioctx:
                return sorted(rbd.RBD().list(ioctx))
        finally:
            cluster.shutdown()

    def snapshots(self, name: str,
                  pool: str = POOL) -> list[tuple[str, bool]]:
        """(name, protected) of each snapshot of image ``name``."""
        import rbd
        cluster = self.connect()
        try:
            with cluster.open_ioctx(pool) as ioctx:
                with rbd.Image(ioctx, name, read_only=True) as image:
                    return [(s['name'], image.is_protected_snap(s['name']))
                            for s in image.list_snaps()]
        finally:
            cluster.shutdown()


def start_ceph() -> Ceph:
    """Install if needed and start a cluster in a new temporary directory."""
    ensure_installed()
    return daemons.start_in_tempdir(Ceph, 'glance-ceph-')


def stop_ceph(ceph: Ceph) -> None:
    daemons.stop_and_remove(ceph)
