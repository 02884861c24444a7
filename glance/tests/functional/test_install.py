"""The distribution, installed the way an operator installs it.

One clean virtualenv per test session (no system site-packages) gets the
project's wheel, built from a copy of this checkout, and its requirements
from ``.wheelhouse``, offline: ``make wheelhouse`` (which ``make test``
runs) downloads them beforehand, as ``make venv`` does its own.  The
tests then look at what was installed and run it with nothing in
/etc/glance: the sample configuration, paste file, schema and metadata
definitions come from ``<venv>/etc/glance``.  A second, bare virtualenv
holds a stand-in for an installed glance_store, which installing and
uninstalling glance must leave as it was.
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import requests

from glance.tests.daemons import held
from glance.tests.functional.server import GlanceServer

ROOT = pathlib.Path(__file__).resolve().parents[3]
WHEELHOUSE = ROOT / '.wheelhouse'
SCRIPTS = ('glance-api', 'glance-wsgi-api', 'glance-manage',
           'glance-scrubber', 'glance-cache-prefetcher',
           'glance-cache-pruner', 'glance-cache-cleaner',
           'glance-replicator', 'glance-status')
#: files of etc/ installed as they are into <prefix>/etc/glance
ETC_FILES = ('glance-api.conf.sample', 'glance-manage.conf.sample',
             'glance-scrubber.conf.sample', 'glance-cache.conf',
             'glance-api-paste.ini', 'policy.yaml.sample',
             'property-protections-policies.conf.sample',
             'property-protections-roles.conf.sample', 'schema-image.json',
             'glance-api-uwsgi.ini', 'glance-api-gunicorn.conf.py')
#: top-level names of the checkout the build needs not (or must not see)
NOT_COPIED = ('data', 'build', 'dist', 'doc', 'api-ref', 'releasenotes')


def _env() -> dict[str, str]:
    """The environment of a process of another installation: this test
    run's PYTHONPATH (which may name the checkout) left out."""
    return {k: v for k, v in os.environ.items()
            if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}


def _run(*cmd, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=600)


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, '%s\n%s\n%s' % (
        result.args, result.stdout[-3000:], result.stderr[-3000:])
    return result.stdout


@dataclasses.dataclass
class Venv:
    """A virtualenv and a scratch directory to run its commands from (never
    the checkout, which ``python -c`` would put on sys.path)."""

    path: pathlib.Path
    scratch: pathlib.Path

    @property
    def bin(self) -> pathlib.Path:
        return self.path / 'bin'

    @property
    def site_packages(self) -> pathlib.Path:
        found = glob.glob(str(self.path / 'lib' / 'python*' /
                              'site-packages'))
        assert len(found) == 1, found
        return pathlib.Path(found[0])

    def run(self, *args) -> subprocess.CompletedProcess:
        return _run(*args, cwd=self.scratch)

    def python(self, code: str, *args) -> subprocess.CompletedProcess:
        return self.run(self.bin / 'python', '-c', code, *args)

    def pip(self, *args) -> subprocess.CompletedProcess:
        return self.run(self.bin / 'python', '-m', 'pip', *args)


def _make_venv(path: pathlib.Path) -> Venv:
    scratch = path.parent / (path.name + '-scratch')
    scratch.mkdir(exist_ok=True)
    # sys.executable is a virtualenv's; venv bases the new one on the
    # interpreter beneath it, and without --system-site-packages
    _ok(_run(sys.executable, '-m', 'venv', path, cwd=scratch))
    return Venv(path, scratch)


def _ignore(directory: str, names: list[str]) -> set[str]:
    ignored = {n for n in names if n == '__pycache__'}
    if pathlib.Path(directory) == ROOT:
        ignored |= {n for n in names if n.startswith('.') or
                    n in NOT_COPIED or n.endswith('.egg-info')}
    return ignored


def _build(root: pathlib.Path) -> None:
    """The wheel (from a copy: pip builds in the source tree) and the clean
    virtualenv with it and its requirements installed."""
    for name in ('src', 'dist', 'venv', 'venv-scratch'):
        shutil.rmtree(root / name, ignore_errors=True)
    shutil.copytree(ROOT, root / 'src', ignore=_ignore)
    _ok(_run(sys.executable, '-m', 'pip', 'wheel', '--no-deps',
             '--no-index', '--find-links', WHEELHOUSE,
             '--wheel-dir', root / 'dist', root / 'src', cwd=root))
    venv = _make_venv(root / 'venv')
    # --no-compile: modules are compiled when first imported instead, and
    # only those the tests import
    _ok(venv.pip('install', '--no-index', '--no-compile', '--find-links',
                 WHEELHOUSE, _wheel(root)))


def _wheel(root: pathlib.Path) -> pathlib.Path:
    wheels = list((root / 'dist').glob('glance-*.whl'))
    assert len(wheels) == 1, wheels
    return wheels[0]


@dataclasses.dataclass
class Installation:
    """The clean virtualenv glance was installed into, and its wheel."""

    venv: Venv
    wheel: pathlib.Path

    @property
    def etc(self) -> pathlib.Path:
        return self.venv.path / 'etc' / 'glance'

    @property
    def dist_info(self) -> pathlib.Path:
        found = list(self.venv.site_packages.glob('glance-*.dist-info'))
        assert len(found) == 1, found
        return found[0]


def _wheelhouse_problem() -> str | None:
    """Why .wheelhouse cannot serve this checkout, if it cannot: missing,
    or made for other requirements (its stamp is tools/wheelhouse.sh's)."""
    stamp = WHEELHOUSE / '.downloaded'
    if not stamp.is_file():
        return 'no %s: run `make wheelhouse`' % WHEELHOUSE
    want = hashlib.sha256((ROOT / 'requirements.txt').read_bytes() +
                          (ROOT / 'tools' / 'wheelhouse.sh').read_bytes())
    if stamp.read_text().strip() != want.hexdigest():
        return '%s is stale: run `make wheelhouse`' % WHEELHOUSE
    return None


@pytest.fixture(scope='session')
def installation(tmp_path_factory) -> Installation:
    """Built once per test session: under xdist the workers share the
    session's temporary directory and take turns on a lock."""
    reason = _wheelhouse_problem()
    if reason:
        if os.environ.get('CI') == 'true':
            pytest.fail(reason)
        pytest.skip(reason)
    base = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        base = base.parent
    root = base / 'glance-install'
    root.mkdir(exist_ok=True)
    with held(str(root / 'lock')):
        if not (root / 'ready').exists():
            _build(root)
            (root / 'ready').touch()
    return Installation(Venv(root / 'venv', root / 'venv-scratch'),
                        _wheel(root))


def test_glance_is_the_only_package_installed(installation):
    """The RECORD names files of the glance package, its dist-info and
    (outside site-packages) scripts and data files: no glance_store."""
    record = (installation.dist_info / 'RECORD').read_text().splitlines()
    tops = {line.split(',')[0].split('/')[0] for line in record}
    outside = {line.split(',')[0] for line in record
               if line.startswith('../')}
    assert tops - {'..'} == {'glance', installation.dist_info.name}
    assert (installation.dist_info / 'top_level.txt').read_text().split() \
        == ['glance']
    assert not any('glance_store' in path for path in outside)
    out = _ok(installation.venv.python(
        'import importlib.util as u; print(u.find_spec("glance_store"))'))
    assert out.strip() == 'None'
    # the installed copy is what runs, not this checkout
    out = _ok(installation.venv.python(
        'import glance; print(glance.__file__)'))
    assert out.startswith(str(installation.venv.site_packages))


def test_console_scripts(installation):
    for name in SCRIPTS:
        script = installation.venv.bin / name
        assert os.access(script, os.X_OK), name
    out = _ok(installation.venv.run(installation.venv.bin / 'glance-api',
                                    '--help'))
    assert out.startswith('usage: glance-api') and '--config-file' in out
    # --help before the application is built (it needs a configuration)
    out = _ok(installation.venv.run(
        installation.venv.bin / 'glance-wsgi-api', '--help'))
    assert out.startswith('usage: glance-wsgi-api') and '--port' in out
    out = _ok(installation.venv.run(installation.venv.bin / 'glance-manage',
                                    'db', '--help'))
    assert 'load_metadefs' in out


def test_requirements_are_consistent(installation):
    _ok(installation.venv.pip('check'))
    metadata = (installation.dist_info / 'METADATA').read_text()
    extras = {line.split(': ', 1)[1] for line in metadata.splitlines()
              if line.startswith('Provides-Extra: ')}
    assert extras == {'postgresql', 'mysql', 's3'}
    # optional drivers are not installed without their extra
    out = _ok(installation.venv.python(
        'import importlib.util as u; '
        'print([m for m in ("boto3", "psycopg2", "pymysql") '
        'if u.find_spec(m)])'))
    assert out.strip() == '[]'


def test_data_files_installed_under_the_prefix(installation):
    for name in ETC_FILES:
        assert (installation.etc / name).read_bytes() == \
            (ROOT / 'etc' / name).read_bytes(), name
    catalog = sorted(p.name for p in (ROOT / 'etc' / 'metadefs').glob(
        '*.json'))
    assert sorted(p.name for p in (installation.etc / 'metadefs').glob(
        '*.json')) == catalog
    for name in catalog:
        assert (installation.etc / 'metadefs' / name).read_bytes() == \
            (ROOT / 'etc' / 'metadefs' / name).read_bytes()
    units = sorted(p.name for p in (ROOT / 'etc' / 'systemd').iterdir())
    assert sorted(p.name for p in (installation.etc / 'systemd').iterdir()
                  ) == units


_DRIVERS = r'''
import json, sys
from importlib import metadata
from oslo_config import cfg
from glance.store import backend, exceptions

out = {'entry_points': {}, 'errors': {}}
for ep in metadata.entry_points(group='glance.store.drivers'):
    try:
        out['entry_points'][ep.name] = ep.load().__module__
    except ImportError as exc:
        out['entry_points'][ep.name] = 'ImportError: %s' % exc
for name, path in zip(('registry', 's3'), sys.argv[1:]):
    conf = cfg.ConfigOpts()
    backend.register_opts(conf)
    conf([], project='glance-install-test', default_config_files=[path])
    try:
        registry = backend.create_stores(conf)
        out[name] = {k: type(v).__module__
                     for k, v in registry.stores.items()}
    except exceptions.BadStoreConfiguration as exc:
        out['errors'][name] = str(exc)
print(json.dumps(out))
'''


def test_store_drivers_load_through_entry_points(installation, tmp_path):
    registry, s3 = tmp_path / 'registry.conf', tmp_path / 's3.conf'
    registry.write_text(
        '[DEFAULT]\nenabled_backends = fs:file, web:http\n'
        '[glance_store]\ndefault_backend = fs\n'
        '[fs]\nfilesystem_store_datadir = %s\n' % (tmp_path / 'images'))
    s3.write_text('[DEFAULT]\nenabled_backends = obj:s3\n'
                  '[glance_store]\ndefault_backend = obj\n')
    out = json.loads(_ok(installation.venv.python(_DRIVERS, registry, s3)))
    drivers = 'glance.store._drivers.'
    want = {'file': drivers + 'filesystem', 'http': drivers + 'http',
            'swift': drivers + 'swift', 'rbd': drivers + 'rbd'}
    for name, module in want.items():
        assert out['entry_points'][name] == module
        assert out['entry_points']['glance.store.%s.Store' % (
            'filesystem' if name == 'file' else name)] == module
    # s3 is there, and needs the [s3] extra (boto3) to load
    assert out['entry_points']['s3'] == "ImportError: No module named 'boto3'"
    assert out['registry'] == {'fs': want['file'], 'web': want['http']}
    assert 'boto3' in out['errors']['s3']
    assert 'pip install "glance[s3]"' in out['errors']['s3']


def test_service_runs_on_the_installed_files(installation, tmp_path):
    """Nothing beside the configuration but glance-api.conf: the paste
    file, image schema and metadata definitions are the installed ones."""
    venv = installation.venv
    server = GlanceServer(str(tmp_path / 'node'), profile='run',
                          settings=['paste_deploy.config_file='],
                          env={'PYTHONPATH': ''}, bin_dir=str(venv.bin))
    for name in ('glance-api-paste.ini', 'schema-image.json'):
        os.unlink(os.path.join(server.workdir, name))
    assert os.listdir(server.workdir) == ['glance-api.conf']
    if os.path.exists('/etc/glance'):
        pytest.skip('/etc/glance exists here; it would be found first')
    _ok(server.manage('db', 'sync'))

    result = server.manage('db', 'load_metadefs')
    _ok(result)
    assert 'from %s' % (installation.etc / 'metadefs') in result.stderr
    catalog = sorted(json.loads(p.read_text())['namespace']
                     for p in (ROOT / 'etc' / 'metadefs').glob('*.json'))
    assert sorted(result.stdout.splitlines()) == sorted(
        'Created namespace %s' % n for n in catalog)

    server.start(sync_db=False)
    try:
        log = pathlib.Path(server.workdir, 'glance-api.log').read_text()
        assert 'from %s' % (installation.etc / 'glance-api-paste.ini') in log
        assert 'Image properties from %s' % (
            installation.etc / 'schema-image.json') in log
        url = server.url
        schema = requests.get(url + '/v2/schemas/image', timeout=30).json()
        assert schema['properties']['os_distro']['is_base'] is False
        listed = requests.get(url + '/v2/metadefs/namespaces?limit=100',
                              timeout=30).json()['namespaces']
        assert sorted(n['namespace'] for n in listed) == catalog
        r = requests.post(url + '/v2/images', timeout=30, json={
            'name': 'installed', 'disk_format': 'raw',
            'container_format': 'bare', 'os_distro': 'debian'})
        assert r.status_code == 201, r.text
        image = r.json()['id']
        r = requests.put(url + '/v2/images/%s/file' % image, data=b'x' * 99,
                         timeout=30, headers={
                             'Content-Type': 'application/octet-stream'})
        assert r.status_code == 204, r.text
        r = requests.get(url + '/v2/images/%s/file' % image, timeout=30)
        assert r.status_code == 200 and r.content == b'x' * 99
    finally:
        server.stop()


_STAND_IN = {
    'glance_store/__init__.py': '"""A stand-in for an installed '
                                'glance_store (test)."""\nSTAND_IN = 1\n',
    'glance_store/backend.py': 'def create_stores(conf):\n    return 0\n',
    'glance_store/_drivers/__init__.py': '',
    'glance_store/_drivers/filesystem.py': 'class Store:\n    pass\n',
    'glance_store-4.8.1.dist-info/METADATA':
        'Metadata-Version: 2.1\nName: glance_store\nVersion: 4.8.1\n',
    'glance_store-4.8.1.dist-info/INSTALLER': 'pip\n',
    'glance_store-4.8.1.dist-info/top_level.txt': 'glance_store\n',
    'glance_store-4.8.1.dist-info/entry_points.txt':
        '[glance_store.drivers]\n'
        'file = glance_store._drivers.filesystem:Store\n',
}


def _snapshot(site: pathlib.Path) -> dict[str, str]:
    """Every file of the stand-in (and any other) under its two
    directories, with a digest of its content."""
    found = {}
    for top in ('glance_store', 'glance_store-4.8.1.dist-info'):
        for path in sorted((site / top).rglob('*')):
            if path.is_file():
                found[str(path.relative_to(site))] = hashlib.sha256(
                    path.read_bytes()).hexdigest()
    return found


_ENTRY_POINTS = r'''
import json
from importlib import metadata
import glance_store
print(json.dumps({
    'stand_in': glance_store.STAND_IN,
    'dists': sorted(d.metadata['Name'] for d in metadata.distributions()),
    'groups': {g: sorted(ep.name for ep in metadata.entry_points(group=g))
               for g in ('glance_store.drivers', 'glance.store.drivers')}}))
'''


def test_installs_beside_glance_store(installation, tmp_path):
    venv = _make_venv(tmp_path / 'venv')
    site = venv.site_packages
    for name, text in _STAND_IN.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    record = ''.join('%s,,\n' % name for name in _STAND_IN) + \
        'glance_store-4.8.1.dist-info/RECORD,,\n'
    (site / 'glance_store-4.8.1.dist-info' / 'RECORD').write_text(record)
    before = _snapshot(site)
    assert len(before) == len(_STAND_IN) + 1

    # the wheel alone: what it writes and removes is the question here
    _ok(venv.pip('install', '--no-deps', '--no-index', installation.wheel))
    assert _snapshot(site) == before
    seen = json.loads(_ok(venv.python(_ENTRY_POINTS)))
    assert seen['stand_in'] == 1
    assert {'glance', 'glance_store'} <= set(seen['dists'])
    assert seen['groups']['glance_store.drivers'] == ['file']
    assert 'file' in seen['groups']['glance.store.drivers']
    assert (site / 'glance' / 'store' / 'backend.py').is_file()

    _ok(venv.pip('uninstall', '--yes', 'glance'))
    assert _snapshot(site) == before
    seen = json.loads(_ok(venv.python(_ENTRY_POINTS)))
    assert seen['stand_in'] == 1 and 'glance' not in seen['dists']
    assert seen['groups'] == {'glance_store.drivers': ['file'],
                              'glance.store.drivers': []}
    assert not (site / 'glance').exists()
    assert not (venv.bin / 'glance-api').exists()
    assert not [p for p in venv.path.glob('etc/**/*') if p.is_file()]
