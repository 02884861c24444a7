"""``make tempest``: Tempest's image API tests and glance-tempest-plugin's
against our glance-api behind a real Keystone.

    python -m glance.tests.conformance.run [--deployment single|multistore]
        [--workdir DIR] [--concurrency 2] [--regex REGEX]

For each deployment (glance.tests.conformance.deployments) it starts a
glance-api in the keystone+cachemanagement paste flavor, points the
catalog's image endpoints at it, writes a tempest.conf and runs
``tempest run`` from .tempest-venv (tools/tempest_venv.sh builds it) on
the deployment's tests (``--regex`` for others), with
tools/tempest/known-failures.txt as the exclude list.  One Keystone (the
functional tests' fixture) and one loopback image server serve all the
deployments.  It prints passed/failed/skipped per deployment and exits 1
if any test failed.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time

from glance.tests.conformance import tempest_conf
from glance.tests.conformance.deployments import (
    DEPLOYMENTS, PLUGIN_TESTS, TEMPEST_TESTS, Deployment)
from glance.tests.conformance.web import ImageServer
from glance.tests.daemons import held
from glance.tests.functional import keystone as keystone_fixture
from glance.tests.functional.server import ROOT, GlanceServer, write_config

VENV = os.environ.get('GLANCE_TEMPEST_VENV',
                      os.path.join(ROOT, '.tempest-venv'))
BUILD_SCRIPT = os.path.join(ROOT, 'tools', 'tempest_venv.sh')
KNOWN_FAILURES = os.path.join(ROOT, 'tools', 'tempest', 'known-failures.txt')
METADEFS = os.path.join(ROOT, 'etc', 'metadefs')


class TempestUnavailable(Exception):
    """The Tempest virtualenv could not be built."""


def build_venv(timeout: int = 900) -> str:
    """Build (or reuse) .tempest-venv; returns its path.

    Serialised with a lock file beside it: pytest-xdist workers (one test
    per deployment) may both get here on a fresh machine.
    """
    with held(VENV + '.lock'):
        try:
            result = subprocess.run(['bash', BUILD_SCRIPT, VENV],
                                    capture_output=True, text=True,
                                    timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TempestUnavailable('building %s took over %ds'
                                     % (VENV, timeout))
    if result.returncode != 0:
        raise TempestUnavailable('tools/tempest_venv.sh failed:\n%s'
                                 % result.stderr[-3000:])
    return VENV


def known_failures(deployment: str, path: str = KNOWN_FAILURES
                   ) -> list[str]:
    """The exclude-list lines (``REGEX # reason``) for ``deployment``.

    Each line of the file is ``DEPLOYMENT TEST_ID  # reason; waits for``
    where DEPLOYMENT is a deployment name or ``*`` for all of them.
    """
    lines = []
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith('#'):
                continue
            where, _, rest = line.partition(' ')
            if where in ('*', deployment):
                test_id, _, reason = rest.strip().partition('#')
                # test ids carry their idempotent id: name[id-...]
                lines.append(r'^%s(\[.*)?$ # %s' % (test_id.strip().replace(
                    '.', r'\.'), reason.strip()))
    return lines


@dataclasses.dataclass
class Result:
    """What one deployment's tempest run came to."""

    deployment: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    excluded: int = 0
    seconds: float = 0.0
    returncode: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    details: str = ''
    workdir: str = ''

    @property
    def ok(self) -> bool:
        """No test failed, at least one passed, and tempest agreed."""
        return self.failed == 0 and self.passed > 0 and self.returncode == 0

    def summary(self) -> str:
        return ('tempest %s: %d passed, %d failed, %d skipped '
                '(%d known failures excluded) in %.0fs'
                % (self.deployment, self.passed, self.failed, self.skipped,
                   self.excluded, self.seconds))


def _tempest_env() -> dict[str, str]:
    """The environment of the tempest processes: ours without our
    PYTHONPATH (Tempest must not import this tree) or OS_* credentials."""
    return {k: v for k, v in os.environ.items()
            if k not in ('PYTHONPATH', 'VIRTUAL_ENV')
            and not k.startswith('OS_')}


def _results(venv: str, cwd: str) -> dict[str, str]:
    """test id -> status (success, fail, skip, xfail, uxsuccess) of the
    last stestr run in ``cwd``."""
    env = _tempest_env()
    stream = subprocess.run([os.path.join(venv, 'bin', 'stestr'), 'last',
                             '--subunit'], cwd=cwd, env=env,
                            capture_output=True, timeout=300).stdout
    table = subprocess.run([os.path.join(venv, 'bin', 'subunit2csv')],
                           input=stream, env=env, capture_output=True,
                           timeout=300).stdout.decode(errors="replace")
    statuses = {}
    for row in csv.DictReader(io.StringIO(table)):
        # setUpClass/tearDownClass failures are reported as their own ids
        test_id = row['test'].split('[')[0]
        statuses[test_id] = row['status']
    return statuses


def run_deployment(deployment: Deployment, keystone: keystone_fixture.Keystone,
                   web: ImageServer, workdir: str, venv: str = VENV,
                   concurrency: int = 2, regex: str | None = None
                   ) -> Result:
    """Start glance-api for ``deployment`` and run Tempest against it:
    the tests ``regex`` selects (default: the deployment's own)."""
    began = time.monotonic()
    result = Result(deployment.name, workdir=workdir)
    tempest_dir = os.path.join(workdir, 'tempest')
    os.makedirs(tempest_dir, exist_ok=True)
    servers = _glance_servers(deployment, keystone, web, workdir)
    srv = servers[0]
    keystone.set_image_endpoint(srv.url)
    if deployment.remote:
        _set_remote_endpoint(keystone, servers[1].url)
    try:
        for server in servers:
            server.start()
        # the metadata definitions catalogue a deployment starts with
        # (Tempest's metadefs tests look for resource types in it)
        loaded = srv.manage('db', 'load_metadefs', '--path', METADEFS)
        if loaded.returncode != 0:
            raise RuntimeError('glance-manage db load_metadefs failed:\n%s'
                               % (loaded.stdout + loaded.stderr))
        config = tempest_conf.build(tempest_dir, keystone, deployment, web)
        excludes = known_failures(deployment.name)
        result.excluded = len(excludes)
        exclude_list = os.path.join(tempest_dir, 'known-failures.txt')
        with open(exclude_list, 'w') as f:
            f.write(''.join(line + '\n' for line in excludes))
        with open(os.path.join(tempest_dir, 'tempest-run.log'), 'wb') as log:
            proc = subprocess.run(
                [os.path.join(venv, 'bin', 'tempest'), 'run',
                 '--config-file', config,
                 '--regex', regex or deployment.regex,
                 '--exclude-list', exclude_list,
                 '--concurrency', str(concurrency)],
                cwd=tempest_dir, env=_tempest_env(), stdout=log,
                stderr=subprocess.STDOUT, timeout=3600)
        result.returncode = proc.returncode
        for test_id, status in sorted(_results(venv, tempest_dir).items()):
            if status in ('success', 'xfail'):
                result.passed += 1
            elif status == 'skip':
                result.skipped += 1
            else:
                result.failed += 1
                result.failures.append(test_id)
        if result.failures or result.returncode:
            result.details = subprocess.run(
                [os.path.join(venv, 'bin', 'stestr'), 'failing'],
                cwd=tempest_dir, env=_tempest_env(), capture_output=True,
                timeout=300).stdout.decode(errors='replace')
    finally:
        for server in servers:
            server.stop()
    result.seconds = time.monotonic() - began
    return result


def _glance_servers(deployment: Deployment,
                    keystone: keystone_fixture.Keystone, web: ImageServer,
                    workdir: str) -> list[GlanceServer]:
    """The deployment's glance-api, and with ``remote`` a second one on
    the same database and stores; each knows its own URL
    (worker_self_reference_url) so that an import reaching the node that
    did not stage the data is handed to the one that did."""
    primary_dir = os.path.join(workdir, 'glance')
    servers = []
    for name in ('glance', 'glance-remote')[:1 + deployment.remote]:
        directory = os.path.join(workdir, name)
        settings = keystone.glance_settings() + \
            deployment.glance_settings(directory, web)
        database = None
        if servers:
            database = 'sqlite:///%s' % os.path.join(primary_dir,
                                                     'glance.sqlite')
            settings += deployment.shared(primary_dir)
        srv = GlanceServer(directory, database, deployment.profile,
                           settings)
        if deployment.remote:
            srv.config = write_config.build(
                directory, srv.port, deployment.profile, database,
                settings + ['DEFAULT.worker_self_reference_url=%s'
                            % srv.url])
        servers.append(srv)
    return servers


def _set_remote_endpoint(keystone: keystone_fixture.Keystone,
                         url: str) -> None:
    """Put ``url`` in the catalog as the public ``image_remote``
    endpoint (Tempest's ``[image] alternate_image_endpoint``)."""
    found = keystone.api('GET', '/v3/services', params={
        'type': tempest_conf.REMOTE_SERVICE}).json()['services']
    if found:
        service = found[0]['id']
    else:
        service = keystone.api('POST', '/v3/services', json={'service': {
            'type': tempest_conf.REMOTE_SERVICE, 'name': 'glance-remote',
            'description': 'second glance-api under Tempest'}}).json()[
            'service']['id']
    endpoints = keystone.api('GET', '/v3/endpoints', params={
        'service_id': service, 'interface': 'public'}).json()['endpoints']
    if endpoints:
        keystone.api('PATCH', '/v3/endpoints/%s' % endpoints[0]['id'],
                     json={'endpoint': {'url': url}})
    else:
        keystone.api('POST', '/v3/endpoints', json={'endpoint': {
            'service_id': service, 'interface': 'public', 'url': url,
            'region_id': keystone_fixture.REGION}})


def run(names: list[str], workdir: str, concurrency: int = 2,
        regex: str | None = None) -> list[Result]:
    """Run Tempest against each named deployment in turn, with one
    Keystone and one image server for all; their files under
    ``workdir``."""
    venv = build_venv()
    # One request at a time: Tempest's user and project churn would meet
    # SQLite's "database is locked" otherwise (see keystone.provide).
    keystone = keystone_fixture.provide(os.path.join(workdir, 'keystone'),
                                        threads=1)
    web = ImageServer(os.path.join(workdir, 'web')).start()
    try:
        return [run_deployment(DEPLOYMENTS[name], keystone, web,
                               os.path.join(workdir, name), venv,
                               concurrency, regex)
                for name in names]
    finally:
        web.stop()
        keystone.stop()


def report(result: Result, out=sys.stdout) -> None:
    """Print a deployment's summary, and what failed and why."""
    print(result.summary(), file=out)
    for test_id in result.failures:
        print('  FAILED %s' % test_id, file=out)
    if result.details:
        print(result.details[-20000:], file=out)
    if result.returncode and not result.failures:
        print('  tempest run exited %d; see %s/tempest/tempest-run.log'
              % (result.returncode, result.workdir), file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--deployment', action='append',
                        choices=sorted(DEPLOYMENTS),
                        help='deployment to run (repeatable; default: all)')
    parser.add_argument('--workdir', help='keep the files here (default: '
                        'a temporary directory, removed if all passed)')
    parser.add_argument('--concurrency', type=int, default=2)
    parser.add_argument('--regex', help='the tests to run in every '
                        'deployment (default: each deployment\'s own); '
                        '--regex \'%s|%s\' runs all of them everywhere'
                        % (TEMPEST_TESTS, PLUGIN_TESTS))
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix='glance-tempest-')
    began = time.monotonic()
    results = run(args.deployment or list(DEPLOYMENTS), workdir,
                  args.concurrency, args.regex)
    for result in results:
        report(result)
    ok = all(r.ok for r in results)
    print('tempest: %s in %.0fs (files: %s)' % (
        'all passed' if ok else 'FAILED', time.monotonic() - began,
        workdir if args.workdir or not ok else 'removed'))
    if ok and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
