"""A real Barbican for the signature verification tests.

Barbican runs from its own virtualenv (``.barbican-venv`` in the
repository root, built by ``tools/barbican_venv.sh``) under gunicorn on a
free loopback port: SQLite (tables made at start), the ``store_crypto``
secret store with the ``simple_crypto`` plugin and a key-encryption key
made for this run, and keystonemiddleware validating tokens of the test
Keystone (glance/tests/functional/keystone.py).  It is registered in that
Keystone's catalog as the ``key-manager`` service, which is how castellan
finds it with the caller's token, exactly as in a cloud.

Certificates are stored through Barbican's REST API with a persona's token
(``store_certificate``), as a user would with ``openstack secret store``.
"""
from __future__ import annotations

import base64
import configparser
import os
import subprocess
import time

import requests

from glance.tests.functional import keystone as keystone_fixture
from glance.tests.functional.server import ROOT, free_port

VENV = os.environ.get('GLANCE_BARBICAN_VENV',
                      os.path.join(ROOT, '.barbican-venv'))
BUILD_SCRIPT = os.path.join(ROOT, 'tools', 'barbican_venv.sh')
RUNNER = os.path.join(ROOT, 'tools', 'barbican_wsgi.py')


class BarbicanUnavailable(Exception):
    """Barbican could not be provided (no venv, or it would not start)."""


def build_venv(timeout: int = 900) -> str:
    """Build (or reuse) the Barbican virtualenv; returns its path."""
    return keystone_fixture.build_pinned_venv(BUILD_SCRIPT, VENV,
                                              BarbicanUnavailable, timeout)


class Barbican:
    """One Barbican server, its configuration and database in ``workdir``,
    validating tokens of ``keystone``."""

    def __init__(self, workdir: str, keystone: keystone_fixture.Keystone,
                 venv: str = VENV):
        self.workdir = workdir
        self.keystone = keystone
        self.venv = venv
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.proc: subprocess.Popen | None = None

    def write_config(self) -> None:
        """barbican.conf where Barbican looks first (``~/.barbican/``, HOME
        being the work directory)."""
        os.makedirs(os.path.join(self.workdir, '.barbican'), exist_ok=True)
        ks = self.keystone
        conf = configparser.ConfigParser(interpolation=None)
        conf['DEFAULT'] = {
            'host_href': self.url,
            'db_auto_create': 'true',
            'log_file': os.path.join(self.workdir, 'barbican.log'),
            'use_stderr': 'false'}
        conf['database'] = {'connection': 'sqlite:///%s' % os.path.join(
            self.workdir, 'barbican.sqlite')}
        conf['secretstore'] = {'enabled_secretstore_plugins': 'store_crypto'}
        conf['crypto'] = {'enabled_crypto_plugins': 'simple_crypto'}
        # A Fernet key made for this Barbican: it encrypts the projects' keys.
        conf['simple_crypto_plugin'] = {
            'kek': base64.urlsafe_b64encode(os.urandom(32)).decode()}
        conf['keystone_authtoken'] = {
            'www_authenticate_uri': ks.url,
            'auth_url': ks.url,
            'auth_type': 'password',
            'username': 'glance',
            'password': ks.personas['glance'].password,
            'user_domain_id': 'default',
            'project_name': 'service',
            'project_domain_id': 'default',
            'region_name': keystone_fixture.REGION,
            'interface': 'public'}
        conf['oslo_policy'] = {'enforce_new_defaults': 'true',
                               'enforce_scope': 'true'}
        with open(os.path.join(self.workdir, '.barbican', 'barbican.conf'),
                  'w') as f:
            conf.write(f)

    def start(self) -> 'Barbican':
        self.write_config()
        env = dict(os.environ, HOME=self.workdir)
        self.stdout = open(os.path.join(self.workdir, 'gunicorn.log'), 'wb')
        self.proc = subprocess.Popen(
            [os.path.join(self.venv, 'bin', 'python'), RUNNER,
             '127.0.0.1:%d' % self.port,
             # the pipeline Barbican ships (/v1 behind keystonemiddleware)
             os.path.join(self.venv, 'etc', 'barbican',
                          'barbican-api-paste.ini')],
            cwd=self.workdir, stdout=self.stdout, stderr=subprocess.STDOUT,
            env=env, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise BarbicanUnavailable('gunicorn exited:\n%s' % self.log())
            try:
                # The versions document answers once the app is loaded.
                if requests.get(self.url + '/', timeout=2).status_code \
                        in (200, 300):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise BarbicanUnavailable('Barbican did not answer on %s:\n%s'
                                  % (self.url, self.log()))

    def log(self) -> str:
        return keystone_fixture.log_tail(self.workdir,
                                         ('gunicorn.log', 'barbican.log'))

    def stop(self) -> None:
        keystone_fixture.stop_process(self.proc)
        if self.proc is not None:
            self.stdout.close()

    def register(self) -> None:
        """Make this Barbican the catalog's ``key-manager`` service."""
        ks = self.keystone
        services = ks.api('GET', '/v3/services',
                          params={'type': 'key-manager'}).json()['services']
        for service in services:
            ks.api('DELETE', '/v3/services/%s' % service['id'])
        service = ks.api('POST', '/v3/services', json={'service': {
            'type': 'key-manager', 'name': 'barbican',
            'description': 'Barbican under test'}}).json()['service']['id']
        for interface in ('public', 'internal'):
            ks.api('POST', '/v3/endpoints', json={'endpoint': {
                'service_id': service, 'interface': interface,
                'url': self.url, 'region_id': keystone_fixture.REGION}})

    def store_certificate(self, persona: str, pem: bytes,
                          name: str = 'signing-cert') -> str:
        """Store an X.509 certificate as ``persona``, PEM sent base64 as
        ``openstack secret store`` does; its uuid."""
        r = requests.post(self.url + '/v1/secrets', timeout=60, json={
            'name': name,
            'secret_type': 'certificate',
            'payload': base64.b64encode(pem).decode(),
            'payload_content_type': 'application/octet-stream',
            'payload_content_encoding': 'base64'},
            headers=self.keystone.client_headers(persona))
        if r.status_code != 201:
            raise AssertionError('storing a certificate as %s: %s %s'
                                 % (persona, r.status_code, r.text))
        return r.json()['secret_ref'].rstrip('/').rsplit('/', 1)[-1]

    def glance_settings(self) -> list[str]:
        """glance-api settings that verify signatures with this Barbican,
        found in the catalog with the caller's token."""
        return ['key_manager.backend=barbican',
                'barbican.auth_endpoint=%s/v3' % self.keystone.url,
                'barbican.barbican_endpoint_type=public',
                'barbican.barbican_region_name=%s' % keystone_fixture.REGION]


def provide(workdir: str, keystone: keystone_fixture.Keystone) -> Barbican:
    """Build the venv if needed, start a Barbican and put it in the
    catalog."""
    venv = build_venv()
    os.makedirs(workdir, exist_ok=True)
    barbican = Barbican(workdir, keystone, venv=venv).start()
    try:
        barbican.register()
    except Exception:
        barbican.stop()
        raise
    return barbican
