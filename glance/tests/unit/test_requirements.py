"""requirements.txt and the extras say exactly what the service imports.

Every third-party module the service's code imports (tests aside) comes
from a declared distribution, and every declared distribution is imported
somewhere, or loaded by name: by the paste pipeline, or as the database
driver a connection URL names.  The distributions are looked up in this
test's environment, where all of them are installed.
"""
from __future__ import annotations

import ast
import configparser
import functools
from importlib import metadata
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
#: modules no package index provides: Ceph's own bindings (Debian's
#: python3-rados and python3-rbd), imported by the rbd store when used
NOT_ON_THE_INDEX = {'rados', 'rbd'}
#: modules loaded by name: SQLAlchemy's dialects for ``[database]
#: connection = postgresql+psycopg2://...`` and ``mysql+pymysql://...``
DATABASE_DRIVERS = {'psycopg2', 'pymysql'}
#: loaded by libraries by name: by taskflow, the jobboard backend of
#: ``[jobboard] backend_url = redis://...`` (glance.async_.jobs); by
#: oslo.service, the threading backend glance-worker selects
#: (glance.cmd.worker.without_eventlet), which runs on cotyledon
LOADED_BY_LIBRARIES = {'redis', 'cotyledon'}


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement line."""
    name = re.split(r'[<>=!~;\[ ]', requirement.strip(), maxsplit=1)[0]
    return re.sub(r'[-_.]+', '-', name).lower()


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    required = {_name(line) for line in
                (ROOT / 'requirements.txt').read_text().splitlines()
                if line.strip() and not line.startswith('#')}
    setup = configparser.ConfigParser()
    setup.read(ROOT / 'setup.cfg')
    extras = {extra: {_name(line) for line in value.splitlines()
                      if line.strip()}
              for extra, value in setup['options.extras_require'].items()}
    return required, extras


def _imported() -> dict[str, str]:
    """Top-level third-party module -> a file importing it."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / 'glance').rglob('*.py')):
        if 'tests' in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split('.')[0]
                if top != 'glance' and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


@functools.lru_cache(maxsize=None)
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _providers(module: str) -> set[str]:
    return {_name(d) for d in _distributions().get(module, [])}


def test_every_import_is_declared():
    required, extras = _declared()
    declared = required.union(*extras.values())
    undeclared = {}
    for module, where in _imported().items():
        if module in NOT_ON_THE_INDEX:
            continue
        if not _providers(module) & declared:
            undeclared[module] = (where, sorted(_providers(module)))
    assert undeclared == {}


def test_every_requirement_is_used():
    required, extras = _declared()
    used = set()
    for module in _imported():
        used |= _providers(module)
    paste = (ROOT / 'etc' / 'glance-api-paste.ini').read_text()
    for module in re.findall(r'factory = ([a-z_]+)', paste):
        used |= _providers(module)
    for module in DATABASE_DRIVERS | LOADED_BY_LIBRARIES:
        used |= _providers(module)
    assert required.union(*extras.values()) - used == set()


def test_optional_libraries_are_extras():
    required, extras = _declared()
    assert extras['s3'] >= {'boto3', 'botocore'}
    assert {'psycopg2-binary'} <= extras['postgresql']
    assert {'pymysql'} <= extras['mysql']
    assert not required & {'boto3', 'botocore', 'psycopg2-binary',
                           'pymysql'}
