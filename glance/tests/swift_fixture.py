"""A one-node OpenStack Swift on loopback, for the swift and s3 store tests.

Swift comes from Debian's packages (``make test-deps`` installs them); they
run under the system ``/usr/bin/python3``, not our virtualenv.  Everything
lives in one temporary directory: ``swift.conf`` (found through each
server's ``swift_dir``), three one-replica rings, a storage directory with
``mount_check = false``, an account, a container, an object server and a
proxy, each on a free loopback port, plus a memcached (tempauth keeps its
tokens there).  The proxy runs tempauth and the s3api middleware, so the
same node answers the Swift API (``auth/v1.0``) and S3 (access key
``test:tester``, secret ``testing``); s3api's ``storage_domain`` is
:data:`S3_DOMAIN`, so ``<bucket>.s3.glance.test`` Host headers address
buckets as virtual hosts (no DNS knows the name: tests send such requests
through a loopback forwarding proxy).

:meth:`Swift.start_keystone_proxy` adds, on demand, a second proxy server
over the same rings and storage servers whose pipeline validates Keystone
tokens (keystonemiddleware ``authtoken`` + Swift's ``keystoneauth``);
it needs Debian's ``python3-keystonemiddleware``.

Under ``CI=true`` a missing Swift is an error; elsewhere the tests using
the fixture are skipped with the reason.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field

from glance.tests import daemons

import requests

SYSTEM_PYTHON = '/usr/bin/python3'
#: what the fixture needs from Debian (the Makefile's test-deps installs them)
PROGRAMS = ('swift-ring-builder', 'swift-proxy-server', 'swift-object-server',
            'swift-container-server', 'swift-account-server', 'memcached')

#: Debian packages of the fixture (as the Makefile's SWIFT_DEBS)
DEBS = ('swift', 'swift-proxy', 'swift-object', 'swift-container',
        'swift-account', 'memcached', 'python3-keystonemiddleware')
#: the domain s3api takes virtual-host bucket names under
S3_DOMAIN = 's3.glance.test'

ADMIN = ('admin:admin', 'admin')
TESTER = ('test:tester', 'testing')


class Unavailable(Exception):
    """Swift cannot run here (packages missing and not installable)."""


def missing_programs() -> list[str]:
    return daemons.missing_programs(PROGRAMS)


def _keystonemiddleware_missing() -> bool:
    return subprocess.run([SYSTEM_PYTHON, '-c', 'import keystonemiddleware'],
                          capture_output=True).returncode != 0


def ensure_installed(keystone: bool = False) -> None:
    """Install the Debian packages when missing (as ``make test-deps``);
    with ``keystone`` also keystonemiddleware for the system python."""
    if not missing_programs() and not (keystone and
                                       _keystonemiddleware_missing()):
        return
    daemons.apt_install(DEBS, Unavailable)
    if missing_programs():
        raise Unavailable('still missing after apt-get: %s'
                          % ', '.join(missing_programs()))
    if keystone and _keystonemiddleware_missing():
        raise Unavailable('python3-keystonemiddleware is not importable by '
                          '%s after apt-get' % SYSTEM_PYTHON)


_COMMON = """\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = {user}
swift_dir = {dir}
devices = {dir}/srv
mount_check = false
log_name = {name}
log_level = WARNING
log_address = {dir}/no-syslog
"""

_STORAGE = _COMMON + """
[pipeline:main]
pipeline = {name}-server

[app:{name}-server]
use = egg:swift#{name}
"""

#: the middleware both proxies share, whatever authenticates
_PROXY_FILTERS = """
[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcached}

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
"""

#: the tempauth proxy, with s3api
_PROXY = _COMMON + _PROXY_FILTERS + """
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache \
listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
storage_domain = {s3_domain}
# parts of a multipart upload may be small in tests
min_segment_size = 1

[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test2_tester2 = testing2
"""

#: the proxy validating Keystone tokens
_KEYSTONE_PROXY = _COMMON + _PROXY_FILTERS + """
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache \
listing_formats bulk authtoken keystoneauth copy slo dlo proxy-logging \
proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = {keystone}
auth_url = {keystone}
auth_type = password
username = {username}
password = {password}
user_domain_id = default
project_name = {project}
project_domain_id = default
# keystoneauth decides on ACLs for requests without a valid token
delay_auth_decision = True
cache = swift.cache
include_service_catalog = False

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member
# read-only access to the own project's account
project_reader_roles = reader
"""

#: run_wsgi as swift-*-server does, but reading swift.conf from our
#: directory from the start (the packaged scripts check /etc/swift first)
_LAUNCH = (
    'import sys\n'
    'from swift.common import utils\n'
    'utils.set_swift_dir(sys.argv[1])\n'
    'from swift.common.wsgi import run_wsgi\n'
    'sys.exit(run_wsgi(sys.argv[2], sys.argv[3]))\n')

_RINGS = (
    'import os, sys\n'
    'from swift.common.ring import RingBuilder\n'
    'for spec in sys.argv[2:]:\n'
    '    name, port = spec.split(":")\n'
    '    b = RingBuilder(4, 1, 1)\n'
    '    b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1",\n'
    '               "port": int(port), "device": "d1", "weight": 100})\n'
    '    b.rebalance()\n'
    '    b.save(os.path.join(sys.argv[1], name + ".builder"))\n'
    '    b.get_ring().save(os.path.join(sys.argv[1], name + ".ring.gz"))\n')

_SWIFT_CONF = """\
[swift-hash]
swift_hash_path_suffix = glance-tests
swift_hash_path_prefix = glance-tests

[storage-policy:0]
name = only
default = yes

[swift-constraints]
"""


@dataclass
class Swift:
    """A running one-node Swift; ``stop()`` ends every process."""

    workdir: str
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    started_in: float = 0.0

    @property
    def url(self) -> str:
        return 'http://127.0.0.1:%d' % self.ports['proxy']

    @property
    def auth_url(self) -> str:
        return self.url + '/auth/v1.0'

    # --- life cycle -------------------------------------------------------

    def start(self) -> 'Swift':
        begin = time.monotonic()
        for name in ('account', 'container', 'object', 'proxy',
                     'memcached'):
            self.ports[name] = daemons.free_port()
        os.makedirs(os.path.join(self.workdir, 'srv', 'd1'), exist_ok=True)
        self._write('swift.conf', _SWIFT_CONF)
        user = _user()
        for name in ('account', 'container', 'object'):
            self._write('%s-server.conf' % name, _STORAGE.format(
                port=self.ports[name], user=user, dir=self.workdir,
                name=name))
        self._write('proxy-server.conf', _PROXY.format(
            port=self.ports['proxy'], user=user, dir=self.workdir,
            name='proxy-server', memcached=self.ports['memcached'],
            s3_domain=S3_DOMAIN))
        self._spawn('memcached', ['memcached', '-l', '127.0.0.1', '-p',
                                  str(self.ports['memcached']), '-U', '0',
                                  '-u', user, '-m', '16'])
        # The storage servers read no ring while starting: they import
        # while the rings are built; the proxy needs the rings.
        for name in ('account', 'container', 'object', 'proxy'):
            if name == 'proxy':
                self._rings()
            conf = os.path.join(self.workdir, '%s-server.conf' % name)
            self._spawn(name, [SYSTEM_PYTHON, '-c', _LAUNCH, self.workdir,
                               conf, '%s-server' % name])
        self._wait()
        self.started_in = time.monotonic() - begin
        return self

    @property
    def keystone_url(self) -> str:
        """The Keystone-authenticated proxy (see start_keystone_proxy)."""
        return 'http://127.0.0.1:%d' % self.ports['proxy-keystone']

    def start_keystone_proxy(self, keystone_url: str, username: str,
                             password: str, project: str,
                             port: int | None = None, wait: bool = True
                             ) -> str:
        """Start the proxy that validates Keystone tokens (once); its URL.

        ``username``/``password``/``project`` (default domain) are the
        service user authtoken validates tokens as.  With ``wait=False``
        it returns at once (the caller does other work while the proxy
        imports) and :meth:`wait_keystone_proxy` waits for it.
        """
        if 'proxy-keystone' in self.procs:
            if wait:
                self.wait_keystone_proxy()
            return self.keystone_url
        ensure_installed(keystone=True)
        self.ports['proxy-keystone'] = port or daemons.free_port()
        conf = os.path.join(self.workdir, 'proxy-keystone.conf')
        self._write('proxy-keystone.conf', _KEYSTONE_PROXY.format(
            port=self.ports['proxy-keystone'], user=_user(),
            dir=self.workdir, name='proxy-keystone',
            memcached=self.ports['memcached'], keystone=keystone_url,
            username=username, password=password, project=project))
        self._spawn('proxy-keystone', [SYSTEM_PYTHON, '-c', _LAUNCH,
                                       self.workdir, conf, 'proxy-server'])
        if wait:
            self.wait_keystone_proxy()
        return self.keystone_url

    def wait_keystone_proxy(self) -> str:
        """Wait until the Keystone proxy answers its healthcheck."""
        if getattr(self, '_keystone_proxy_ready', False):
            return self.keystone_url
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.procs['proxy-keystone'].poll() is not None:
                raise RuntimeError('proxy-keystone exited: %s' % self.log())
            try:
                if requests.get(self.keystone_url + '/healthcheck',
                                timeout=1).status_code == 200:
                    self._keystone_proxy_ready = True
                    return self.keystone_url
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError('proxy-keystone did not start: %s' % self.log())

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for f in getattr(self, '_logs', []):
            f.close()

    def _write(self, name: str, text: str) -> None:
        with open(os.path.join(self.workdir, name), 'w') as f:
            f.write(text)

    def _rings(self) -> None:
        """One-replica rings with one device each, all three built in one
        interpreter: swift-ring-builder's create/add/rebalance through its
        library, since each run of the script costs seconds of imports."""
        result = subprocess.run(
            [SYSTEM_PYTHON, '-c', _RINGS, self.workdir,
             *['%s:%d' % (n, self.ports[n])
               for n in ('account', 'container', 'object')]],
            capture_output=True, text=True, timeout=120, cwd=self.workdir)
        if result.returncode:
            raise RuntimeError('building rings failed: %s%s'
                               % (result.stdout, result.stderr))

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(os.path.join(self.workdir, '%s.log' % name), 'wb')
        self._logs = getattr(self, '_logs', []) + [log]
        self.procs[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
            start_new_session=True, preexec_fn=daemons.die_with_parent)

    def log(self) -> str:
        out = []
        for name in self.procs:
            path = os.path.join(self.workdir, '%s.log' % name)
            with open(path, errors='replace') as f:
                out.append('== %s ==\n%s' % (name, f.read()[-3000:]))
        return '\n'.join(out)

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        pending = dict(self.ports)
        while pending and time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError('%s exited (%s): %s' % (
                        name, proc.returncode, self.log()))
            for name, port in list(pending.items()):
                try:
                    with socket.create_connection(('127.0.0.1', port), 0.2):
                        del pending[name]
                except OSError:
                    pass
            time.sleep(0.05)
        if pending:
            raise RuntimeError('Swift did not start (%s): %s'
                               % (', '.join(pending), self.log()))
        while time.monotonic() < deadline:
            try:
                self.token(*TESTER)
                return
            except (requests.RequestException, RuntimeError):
                time.sleep(0.1)
        raise RuntimeError('Swift proxy does not authenticate: %s'
                           % self.log())

    # --- direct access, to check what the stores did -----------------------

    def token(self, user: str, key: str) -> tuple[str, str]:
        """(storage URL, token) for a tempauth user."""
        r = requests.get(self.auth_url, headers={'X-Auth-User': user,
                                                 'X-Auth-Key': key},
                         timeout=10)
        if r.status_code != 200:
            raise RuntimeError('auth %s: %d' % (user, r.status_code))
        return r.headers['X-Storage-Url'], r.headers['X-Auth-Token']

    def request(self, method: str, path: str, user=TESTER,
                **kw) -> requests.Response:
        """A Swift API request on ``user``'s account (path after it)."""
        url, token = self.token(*user)
        headers = dict(kw.pop('headers', {}), **{'X-Auth-Token': token})
        return requests.request(method, url + path, headers=headers,
                                timeout=30, **kw)

    def listing(self, container: str, user=TESTER) -> list[str]:
        """Object names in ``container`` ([] when it does not exist)."""
        r = self.request('GET', '/' + container, user=user,
                         params={'format': 'json'})
        if r.status_code == 404:
            return []
        assert r.status_code in (200, 204), r.text
        return [o['name'] for o in r.json()] if r.content else []

    def containers(self, user=TESTER) -> list[str]:
        r = self.request('GET', '', user=user, params={'format': 'json'})
        assert r.status_code in (200, 204), r.text
        return [c['name'] for c in r.json()] if r.content else []


def _user() -> str:
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


def start_swift() -> Swift:
    """Install if needed and start a Swift in a new temporary directory."""
    ensure_installed()
    return daemons.start_in_tempdir(Swift, 'glance-swift-')


def stop_swift(swift: Swift) -> None:
    daemons.stop_and_remove(swift)
