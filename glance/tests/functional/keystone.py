"""A real Keystone for the functional tests.

Keystone runs from its own virtualenv (``.keystone-venv`` in the repository
root, built by ``tools/keystone_venv.sh``: its requirements need not agree
with ours) under gunicorn on a free loopback port, with SQLite and fernet
tokens.  :func:`provide` builds the virtualenv if needed and starts a
Keystone on a copy of a template database.  The template is made once per
venv (kept in ``.keystone-venv/state``): db_sync, fernet_setup,
credential_setup, bootstrap (admin, region RegionOne, identity endpoints),
then, through the API, the ``image`` service with its endpoints (each
glance-api under test points them at itself) and the personas the tests
act as:

========================  ==========  ===================================
persona                   project     roles assigned (tokens also carry
                                      the roles these imply)
========================  ==========  ===================================
``admin``                 admin       admin (from bootstrap; also system)
``alpha-member``          alpha       member
``alpha-reader``          alpha       reader
``beta-member``           beta        member
``beta-reader``           beta        reader
``glance``                service     service; reader on the system
``system-admin``          (system)    admin: the bootstrap user, system
                                      scoped; the fixture's own identity
========================  ==========  ===================================

Everything talks to Keystone's REST API with ``requests`` on 127.0.0.1.
"""
from __future__ import annotations

import configparser
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
import uuid

import requests

from glance.tests.daemons import held
from glance.tests.functional.server import ROOT, free_port

VENV = os.environ.get('GLANCE_KEYSTONE_VENV',
                      os.path.join(ROOT, '.keystone-venv'))
BUILD_SCRIPT = os.path.join(ROOT, 'tools', 'keystone_venv.sh')
RUNNER = os.path.join(ROOT, 'tools', 'keystone_wsgi.py')
REGION = 'RegionOne'
#: one password for every test user: the personas differ by role, not secret
PASSWORD = 'pw-' + uuid.uuid4().hex[:12]


class KeystoneUnavailable(Exception):
    """Keystone could not be provided (no venv, or it would not start)."""


def build_pinned_venv(script: str, venv: str, error: type[Exception],
                      timeout: int = 900) -> str:
    """Run ``script VENV`` (a tools/*_venv.sh building a service's own
    virtualenv); returns the venv's path, raises ``error`` on failure.

    Under pytest-xdist several workers may get here at once on a fresh
    machine, so the build is serialised with a lock file beside the venv.
    """
    # the real path: two checkouts may share one venv through symlinks
    with held(os.path.realpath(venv) + '.lock'):
        try:
            result = subprocess.run(['bash', script, venv],
                                    capture_output=True, text=True,
                                    timeout=timeout)
        except subprocess.TimeoutExpired:
            raise error('building %s took over %ds' % (venv, timeout))
    if result.returncode != 0:
        raise error('%s failed:\n%s' % (os.path.relpath(script, ROOT),
                                        result.stderr[-3000:]))
    return venv


def build_venv(timeout: int = 900) -> str:
    """Build (or reuse) the Keystone virtualenv; returns its path."""
    return build_pinned_venv(BUILD_SCRIPT, VENV, KeystoneUnavailable,
                             timeout)


def stop_process(proc: subprocess.Popen | None) -> None:
    """End a service started in a session of its own: TERM, then KILL."""
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def log_tail(workdir: str, names: tuple[str, ...]) -> str:
    """The ends of a service's log files, for a failure message."""
    out = []
    for name in names:
        path = os.path.join(workdir, name)
        if os.path.exists(path):
            with open(path, errors='replace') as f:
                out.append(f.read()[-4000:])
    return '\n'.join(out)


@dataclasses.dataclass
class Persona:
    """A Keystone user with a project-scoped (or system-scoped) login."""

    name: str
    user_id: str
    password: str
    project_id: str | None = None
    project_name: str | None = None
    system: bool = False

    def auth_body(self) -> dict:
        """The POST /v3/auth/tokens body that logs this persona in."""
        body = {'identity': {'methods': ['password'], 'password': {
            'user': {'id': self.user_id, 'password': self.password}}}}
        if self.system:
            body['scope'] = {'system': {'all': True}}
        elif self.project_id:
            body['scope'] = {'project': {'id': self.project_id}}
        return {'auth': body}


class Keystone:
    """One Keystone server: configuration, database and keys in ``workdir``.

    ``state`` describes the database it starts from (passwords, ids; see
    :func:`provide`).
    """

    def __init__(self, workdir: str, state: dict | None = None,
                 venv: str = VENV, threads: int = 4):
        self.workdir = workdir
        self.venv = venv
        #: gunicorn threads; 1 serialises requests (see :func:`provide`)
        self.threads = threads
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.config = os.path.join(workdir, 'keystone.conf')
        self.proc: subprocess.Popen | None = None
        self.personas: dict[str, Persona] = {}
        self.projects: dict[str, str] = {}
        self.image_service_id: str | None = None
        #: interface -> id of the image service's endpoints
        self.image_endpoint_ids: dict[str, str] = {}
        self.admin_password = 'admin-' + uuid.uuid4().hex[:12]
        self._tokens: dict[str, tuple[str, float]] = {}
        self._roles: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        if state:
            self.admin_password = state['admin_password']
            self.projects = dict(state['projects'])
            self.personas = {name: Persona(**p)
                             for name, p in state['personas'].items()}
            self.image_service_id = state['image_service_id']
            self.image_endpoint_ids = dict(state['image_endpoint_ids'])

    def state(self) -> dict:
        """What :meth:`__init__` needs to start again from this database."""
        return {'admin_password': self.admin_password,
                'projects': self.projects,
                'personas': {n: dataclasses.asdict(p)
                             for n, p in self.personas.items()},
                'image_service_id': self.image_service_id,
                'image_endpoint_ids': self.image_endpoint_ids}

    # --- process -----------------------------------------------------------

    def write_config(self) -> None:
        os.makedirs(self.workdir, exist_ok=True)
        conf = configparser.ConfigParser(interpolation=None)
        conf['DEFAULT'] = {
            'log_file': os.path.join(self.workdir, 'keystone.log'),
            'use_stderr': 'false'}
        conf['database'] = {'connection': 'sqlite:///%s' % os.path.join(
            self.workdir, 'keystone.sqlite')}
        conf['token'] = {'provider': 'fernet'}
        keys = os.path.join(self.workdir, 'fernet-keys')
        conf['fernet_tokens'] = {'key_repository': keys}
        conf['fernet_receipts'] = {'key_repository': keys}
        conf['credential'] = {'key_repository': os.path.join(
            self.workdir, 'credential-keys')}
        # bcrypt's cheapest cost: logins stay fast, hashing stays real.
        conf['identity'] = {'password_hash_rounds': '4'}
        with open(self.config, 'w') as f:
            conf.write(f)

    def _manage(self, *commands: list[str]) -> None:
        """Run keystone-manage once per command, all at the same time."""
        procs = [(command[0], subprocess.Popen(
            [os.path.join(self.venv, 'bin', 'keystone-manage'),
             '--config-file', self.config, *command],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
            for command in commands]
        failed = []
        for name, proc in procs:
            try:
                out, _ = proc.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            if proc.returncode != 0:
                failed.append('keystone-manage %s failed:\n%s'
                              % (name, out[-3000:]))
        if failed:
            raise KeystoneUnavailable('\n'.join(failed))

    def initialise(self) -> None:
        """A new database and keys: db_sync, fernet_setup, credential_setup
        and bootstrap (admin user, project and roles, region, identity
        endpoints)."""
        self.write_config()
        began = time.monotonic()
        user = ['--keystone-user', str(os.getuid()),
                '--keystone-group', str(os.getgid())]
        # The key repositories do not touch the database.
        self._manage(['db_sync'], ['fernet_setup', *user],
                     ['credential_setup', *user])
        self.timings['db_sync'] = time.monotonic() - began
        self._manage(['bootstrap', '--bootstrap-username', 'admin',
                      '--bootstrap-password', self.admin_password,
                      '--bootstrap-project-name', 'admin',
                      '--bootstrap-role-name', 'admin',
                      '--bootstrap-service-name', 'keystone',
                      '--bootstrap-region-id', REGION,
                      '--bootstrap-public-url', self.url + '/v3',
                      '--bootstrap-internal-url', self.url + '/v3',
                      '--bootstrap-admin-url', self.url + '/v3'])
        self.timings['initialise'] = time.monotonic() - began

    def start(self) -> 'Keystone':
        """Serve the database in ``workdir`` (see :meth:`initialise`)."""
        began = time.monotonic()
        self.write_config()
        env = dict(os.environ, OS_KEYSTONE_CONFIG_DIR=self.workdir)
        env.pop('OS_KEYSTONE_CONFIG_FILES', None)
        self.stdout = open(os.path.join(self.workdir, 'gunicorn.log'), 'wb')
        self.proc = subprocess.Popen(
            [os.path.join(self.venv, 'bin', 'python'), RUNNER,
             '127.0.0.1:%d' % self.port, str(self.threads)],
            cwd=self.workdir,
            stdout=self.stdout, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise KeystoneUnavailable('gunicorn exited:\n%s' % self.log())
            try:
                if requests.get(self.url + '/v3', timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        else:
            self.stop()
            raise KeystoneUnavailable('Keystone did not answer on %s:\n%s'
                                      % (self.url, self.log()))
        self.timings['start'] = time.monotonic() - began
        return self

    def log(self) -> str:
        return log_tail(self.workdir, ('gunicorn.log', 'keystone.log'))

    def stop(self) -> None:
        stop_process(self.proc)
        if self.proc is not None:
            self.stdout.close()

    # --- the REST API ------------------------------------------------------

    def login(self, persona: Persona) -> tuple[str, dict]:
        """A fresh token for ``persona`` and the token body."""
        r = requests.post(self.url + '/v3/auth/tokens',
                          json=persona.auth_body(), timeout=60)
        if r.status_code != 201:
            raise AssertionError('login as %s: %s %s'
                                 % (persona.name, r.status_code, r.text))
        return r.headers['X-Subject-Token'], r.json()['token']

    def token(self, name: str) -> str:
        """A token for the named persona, reused while it is fresh."""
        cached = self._tokens.get(name)
        if cached and cached[1] > time.time():
            return cached[0]
        token, _ = self.login(self.personas[name])
        self._tokens[name] = (token, time.time() + 1800)
        return token

    def api(self, method: str, path: str, expect: int | tuple = (200, 201,
            204), **kw) -> requests.Response:
        """A call to Keystone as the system administrator."""
        headers = {'X-Auth-Token': self.token('system-admin')}
        headers.update(kw.pop('headers', {}))
        r = requests.request(method, self.url + path, headers=headers,
                             timeout=60, **kw)
        expect = (expect,) if isinstance(expect, int) else expect
        if r.status_code not in expect:
            raise AssertionError('%s %s: %s %s' % (method, path,
                                                   r.status_code, r.text))
        return r

    def _find(self, collection: str, key: str, **query) -> dict | None:
        found = self.api('GET', '/v3/%s' % collection,
                         params=query).json()[key]
        return found[0] if found else None

    def role_id(self, name: str) -> str:
        """The id of role ``name`` (created if missing)."""
        if name not in self._roles:
            role = self._find('roles', 'roles', name=name)
            if role is None:
                role = self.api('POST', '/v3/roles', json={
                    'role': {'name': name}}).json()['role']
            self._roles[name] = role['id']
        return self._roles[name]

    def create_project(self, name: str) -> str:
        project = self.api('POST', '/v3/projects', json={'project': {
            'name': name, 'domain_id': 'default'}}).json()['project']
        self.projects[name] = project['id']
        return project['id']

    def create_user(self, name: str, project: str | None = None) -> str:
        body = {'name': name, 'password': PASSWORD, 'domain_id': 'default'}
        if project:
            body['default_project_id'] = self.projects[project]
        return self.api('POST', '/v3/users',
                        json={'user': body}).json()['user']['id']

    def grant(self, user_id: str, role: str, project: str | None = None
              ) -> None:
        """Give ``role`` on ``project`` (or on the whole system)."""
        target = ('/v3/projects/%s' % self.projects[project]) if project \
            else '/v3/system'
        self.api('PUT', '%s/users/%s/roles/%s'
                 % (target, user_id, self.role_id(role)))

    def add_persona(self, name: str, project: str, role: str) -> Persona:
        user_id = self.create_user(name, project)
        self.grant(user_id, role, project)
        persona = Persona(name, user_id, PASSWORD, self.projects[project],
                          project)
        self.personas[name] = persona
        return persona

    def login_admin(self) -> None:
        """Log the bootstrap administrator in on the system scope; it
        becomes the ``system-admin`` persona that :meth:`api` acts as."""
        r = requests.post(self.url + '/v3/auth/tokens', json={'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': 'admin', 'domain': {'id': 'default'},
                'password': self.admin_password}}},
            'scope': {'system': {'all': True}}}}, timeout=60)
        if r.status_code != 201:
            raise KeystoneUnavailable('bootstrap admin cannot log in: %s %s'
                                      % (r.status_code, r.text))
        self.personas['system-admin'] = Persona(
            'system-admin', r.json()['token']['user']['id'],
            self.admin_password, system=True)
        self._tokens['system-admin'] = (r.headers['X-Subject-Token'],
                                        time.time() + 1800)

    # --- what the tests need ------------------------------------------------

    @property
    def image_endpoint_id(self) -> str:
        """The public image endpoint: the one ``[oslo_limit] endpoint_id``
        names."""
        return self.image_endpoint_ids['public']

    def set_image_endpoint(self, url: str) -> None:
        """Point the catalog's image service (public and internal
        endpoints) at ``url``: the glance-api under test."""
        for interface in ('public', 'internal'):
            if interface in self.image_endpoint_ids:
                self.api('PATCH', '/v3/endpoints/%s'
                         % self.image_endpoint_ids[interface],
                         json={'endpoint': {'url': url}})
            else:
                self.image_endpoint_ids[interface] = self.api(
                    'POST', '/v3/endpoints', json={'endpoint': {
                        'service_id': self.image_service_id,
                        'interface': interface, 'url': url,
                        'region_id': REGION}}).json()['endpoint']['id']

    def add_object_store(self, url: str) -> None:
        """Register Swift in the catalog (type ``object-store``), public and
        internal endpoints at ``url``; Keystone puts the token's project id
        for ``$(project_id)s`` in it."""
        service = self.api('POST', '/v3/services', json={'service': {
            'type': 'object-store', 'name': 'swift',
            'description': 'Swift under test'}}).json()['service']['id']
        for interface in ('public', 'internal'):
            self.api('POST', '/v3/endpoints', json={'endpoint': {
                'service_id': service, 'interface': interface, 'url': url,
                'region_id': REGION}})

    def client_headers(self, persona: str) -> dict[str, str]:
        """Request headers that authenticate as ``persona``."""
        return {'X-Auth-Token': self.token(persona)}

    def glance_settings(self) -> list[str]:
        """``SECTION.OPTION=VALUE`` settings for a glance-api behind this
        Keystone (keystone paste flavor, secure RBAC with scope checks)."""
        glance = self.personas['glance']
        return [
            'paste_deploy.flavor=keystone',
            'keystone_authtoken.www_authenticate_uri=%s' % self.url,
            'keystone_authtoken.auth_url=%s' % self.url,
            'keystone_authtoken.auth_type=password',
            'keystone_authtoken.username=glance',
            'keystone_authtoken.password=%s' % glance.password,
            'keystone_authtoken.user_domain_id=default',
            'keystone_authtoken.project_name=service',
            'keystone_authtoken.project_domain_id=default',
            'keystone_authtoken.region_name=%s' % REGION,
            'keystone_authtoken.interface=public',
            'keystone_authtoken.service_token_roles_required=true',
            'oslo_policy.enforce_new_defaults=True',
            'oslo_policy.enforce_scope=True',
        ]

    def limit_settings(self) -> list[str]:
        """Settings that turn on unified limits read from this Keystone as
        the glance service user (system reader)."""
        glance = self.personas['glance']
        return [
            'DEFAULT.use_keystone_limits=True',
            'oslo_limit.endpoint_id=%s' % self.image_endpoint_id,
            'oslo_limit.auth_url=%s' % self.url,
            'oslo_limit.auth_type=password',
            'oslo_limit.username=glance',
            'oslo_limit.password=%s' % glance.password,
            'oslo_limit.user_domain_id=default',
            'oslo_limit.system_scope=all',
            'oslo_limit.region_name=%s' % REGION,
            'oslo_limit.endpoint_interface=public',
        ]


#: what a provisioned Keystone leaves in its workdir, and the template keeps
STATE_FILES = ('keystone.sqlite', 'fernet-keys', 'credential-keys')


def _template(venv: str) -> tuple[str, dict]:
    """The provisioned database every test Keystone starts from.

    Initialising (db_sync, key setup, bootstrap) and provisioning the
    personas take most of a minute, so they are done once and the result
    kept in ``VENV/state`` (removed with the venv whenever it is rebuilt).
    Each test Keystone starts on a copy.
    """
    path = os.path.join(venv, 'state')
    meta = os.path.join(path, 'state.json')
    # the real path: two checkouts may share one venv through symlinks
    with held(os.path.realpath(venv) + '.lock'):
        if not os.path.exists(meta):
            work = path + '.new'
            shutil.rmtree(work, ignore_errors=True)
            ks = Keystone(work, venv=venv)
            ks.initialise()
            ks.start()
            try:
                _provision(ks)
            finally:
                ks.stop()
            with open(os.path.join(work, 'state.json'), 'w') as f:
                json.dump(ks.state(), f)
            shutil.rmtree(path, ignore_errors=True)
            os.rename(work, path)
    with open(meta) as f:
        return path, json.load(f)


def provide(workdir: str, threads: int = 4) -> Keystone:
    """Build the venv if needed and start a provisioned Keystone.

    ``threads=1`` serialises its requests: oslo.db opens SQLite
    transactions with a deferred BEGIN, so two concurrent writers can fail
    at once with "database is locked" whatever the busy timeout; heavy
    concurrent users of Keystone (Tempest creating and deleting users and
    projects for every test class) need that.
    """
    began = time.monotonic()
    venv = build_venv()
    template, state = _template(venv)
    prepared = time.monotonic() - began
    os.makedirs(workdir, exist_ok=True)
    for name in STATE_FILES:
        src = os.path.join(template, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(workdir, name))
        else:
            shutil.copy2(src, os.path.join(workdir, name))
    keystone = Keystone(workdir, state, venv=venv, threads=threads)
    keystone.start()
    try:
        keystone.timings['prepare'] = prepared
        keystone.login_admin()
        # The template's identity endpoints name the port it was made on.
        for endpoint in keystone.api('GET', '/v3/endpoints').json()[
                'endpoints']:
            if endpoint['url'].endswith('/v3'):
                keystone.api('PATCH', '/v3/endpoints/%s' % endpoint['id'],
                             json={'endpoint': {'url': keystone.url + '/v3'}})
    except Exception:
        keystone.stop()
        raise
    keystone.timings['total'] = time.monotonic() - began
    return keystone


def _provision(ks: Keystone) -> None:
    """Create the personas' projects, users and roles, and the image
    service (its endpoint comes with each glance-api under test)."""
    began = time.monotonic()
    ks.login_admin()
    admin_project = ks._find('projects', 'projects', name='admin')
    ks.projects['admin'] = admin_project['id']
    ks.personas['admin'] = Persona(
        'admin', ks.personas['system-admin'].user_id, ks.admin_password,
        admin_project['id'], 'admin')
    for name in ('alpha', 'beta', 'service'):
        ks.create_project(name)
    for project in ('alpha', 'beta'):
        for role in ('member', 'reader'):
            ks.add_persona('%s-%s' % (project, role), project, role)
    glance = ks.add_persona('glance', 'service', 'service')
    # oslo.limit reads endpoints and limits: a system reader's calls.
    ks.grant(glance.user_id, 'reader')
    ks.image_service_id = ks.api('POST', '/v3/services', json={'service': {
        'type': 'image', 'name': 'glance',
        'description': 'glance under test'}}).json()['service']['id']
    # Each glance-api under test points these at itself; their ids stay.
    ks.set_image_endpoint('http://127.0.0.1:9292')
    ks.timings['provision'] = time.monotonic() - began
