"""The conformance suite (Tempest + glance-tempest-plugin, see
glance/tests/conformance/run.py), one test per deployment, so that
``make test`` and CI run it.

It needs .tempest-venv (tools/tempest_venv.sh, built on first use) and a
Keystone of its own (glance/tests/functional/keystone.py, serving one
request at a time: see ``keystone.provide``).  Under CI=true a Tempest or
Keystone that cannot be provided fails; elsewhere the tests are skipped
with the reason.  A test fails when any
Tempest test fails, and its message lists them with their tracebacks;
known failures are excluded by tools/tempest/known-failures.txt.
"""
from __future__ import annotations

import os

import pytest

from glance.tests.conformance import run
from glance.tests.conformance.deployments import DEPLOYMENTS
from glance.tests.conformance.web import ImageServer
from glance.tests.functional import keystone as keystone_fixture


def _unavailable(what: str, exc: Exception) -> None:
    if os.environ.get('CI', '').lower() == 'true':
        pytest.fail('CI=true and %s cannot be provided: %s' % (what, exc),
                    pytrace=False)
    pytest.skip('%s cannot be provided: %s' % (what, str(exc)[:500]))


@pytest.fixture(scope='module')
def tempest_venv() -> str:
    try:
        return run.build_venv()
    except run.TempestUnavailable as exc:
        _unavailable('Tempest (tools/tempest_venv.sh)', exc)


@pytest.fixture(scope='module')
def tempest_keystone(tempest_venv, tmp_path_factory):
    """A Keystone for Tempest alone: its users and projects come and go
    by the hundred, and the catalog's image endpoint is Tempest's glance."""
    try:
        ks = keystone_fixture.provide(
            str(tmp_path_factory.mktemp('tempest-keystone')), threads=1)
    except keystone_fixture.KeystoneUnavailable as exc:
        _unavailable('Keystone', exc)
    yield ks
    ks.stop()


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    web = ImageServer(str(tmp_path_factory.mktemp('tempest-web'))).start()
    yield web
    web.stop()


@pytest.mark.parametrize('name', sorted(DEPLOYMENTS))
def test_tempest(name, tempest_venv, tempest_keystone, images, tmp_path):
    result = run.run_deployment(DEPLOYMENTS[name], tempest_keystone, images,
                                str(tmp_path), tempest_venv)
    print(result.summary())
    if not result.ok:
        pytest.fail('%s\n%s\n%s' % (
            result.summary(), '\n'.join(result.failures),
            result.details[-20000:] or 'tempest run exited %d: see %s'
            % (result.returncode, tmp_path)), pytrace=False)


def test_known_failures_are_explained():
    """Every excluded test names a deployment, a reason and what it waits
    for, and is a valid exclude-list regex (no Tempest needed)."""
    import re
    for name in DEPLOYMENTS:
        for line in run.known_failures(name):
            regex, _, reason = line.partition(' # ')
            re.compile(regex)
            assert regex.startswith(r'^tempest\.') or regex.startswith(
                r'^glance_tempest_plugin\.'), line
            assert 'waits for' in reason, line
    with open(run.KNOWN_FAILURES) as f:
        for raw in f:
            if raw.strip() and not raw.startswith('#'):
                assert raw.split()[0] in ('*', *DEPLOYMENTS), raw
