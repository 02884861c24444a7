"""The HTTP contract as data: gabbi suites in ``gabbits/``.

Each YAML file is one ordered conversation with its own real glance-api
(the replay profile: identity headers, two file stores, glance-direct,
web-download and copy-image, plus the cache management calls), so a file
reads top to bottom like a session with the service.  The files say what
is asked and what the answer is; nothing here knows about resources.

``test_every_route_is_exercised`` keeps the suites honest: every path and
method in the route table (``glance.api.v2.router.ROUTES``) is asked by at
least one gabbi test.
"""
from __future__ import annotations

import io
import os
import re
import unittest

import pytest
from gabbi import handlers, suitemaker, utils

from glance.api.v2.router import ROUTES
from glance.tests.functional.server import GlanceServer

GABBITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gabbits')
SUITES = sorted(name[:-len('.yaml')] for name in os.listdir(GABBITS)
                if name.endswith('.yaml'))


def _settings(workdir: str) -> list[str]:
    return ['paste_deploy.flavor=trusted-auth+cachemanagement',
            'image_cache_dir=%s' % os.path.join(workdir, 'cache'),
            'image_cache_driver=sqlite', 'cache_prefetcher_interval=0']


def _load(name: str) -> dict:
    with open(os.path.join(GABBITS, name + '.yaml')) as handle:
        return utils.load_yaml(handle)


@pytest.mark.parametrize('name', SUITES)
def test_gabbits(name, tmp_path):
    server = GlanceServer(str(tmp_path), profile='reference',
                          settings=_settings(str(tmp_path))).start()
    try:
        suite = suitemaker.test_suite_from_dict(
            unittest.TestLoader(), name.replace('-', '_'), _load(name),
            GABBITS, '127.0.0.1', server.port, None, None,
            handlers=[handler() for handler in handlers.RESPONSE_HANDLERS])
        out = io.StringIO()
        result = unittest.TextTestRunner(stream=out, verbosity=2).run(suite)
    finally:
        server.stop()
    assert result.testsRun, 'no test ran from %s.yaml' % name
    failed = ['%s: %s' % (test.test_data['name'], _reason(trace))
              for test, trace in result.failures + result.errors]
    assert result.wasSuccessful(), '\n'.join(failed)


def _reason(trace: str) -> str:
    """The assertion's own line from a gabbi failure's traceback (the
    body gabbi appends may be long)."""
    lines = trace.strip().splitlines()
    for line in lines:
        if line.startswith(('AssertionError', 'gabbi.', 'TypeError',
                            'KeyError', 'ValueError')):
            return line[:500]
    return lines[-1][:500]


#: a gabbi substitution ($RESPONSE['$.id'], $HISTORY['x'].$RESPONSE[...],
#: $ENVIRON[...]) stands for one path segment
_SUBSTITUTION = re.compile(r"\$[A-Z_]+(\[[^\]]*\])?(\.\$[A-Z_]+(\[[^\]]*\]))*")


def _route_patterns() -> list[tuple[re.Pattern, str, str]]:
    out = []
    for template, methods in ROUTES.items():
        pattern = re.compile('^' + re.sub(r'\\\{[a-z_]+\\\}', '[^/]+',
                                          re.escape(template)) + '$')
        for method in methods:
            out.append((pattern, method, template))
    return out


def test_every_route_is_exercised():
    asked = set()
    for name in SUITES:
        suite = _load(name)
        default_method = suite.get('defaults', {}).get('method', 'GET')
        for test in suite['tests']:
            url = _SUBSTITUTION.sub('X', test['url']).split('?')[0]
            asked.add((test.get('method', default_method).upper(), url))
    missing = sorted(
        '%s %s' % (method, template)
        for pattern, method, template in _route_patterns()
        if not any(m == method and pattern.match(url) for m, url in asked))
    assert not missing, 'routes no gabbi test asks: %s' % missing
