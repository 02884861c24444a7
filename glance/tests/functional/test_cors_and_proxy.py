"""CORS and proxy headers through a real glance-api, as oslo.middleware
defines them (glance passes by them only where they have nothing to do,
see glance/api/middleware/oslo.py)."""
from __future__ import annotations

import pytest
import requests

from glance.tests.functional.server import GlanceServer

ORIGIN = 'http://dashboard.example'


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    server = GlanceServer(str(tmp_path_factory.mktemp('cors')), settings=[
        'cors.allowed_origin=%s' % ORIGIN,
        'cors.allow_methods=GET,POST,PATCH,DELETE',
        'oslo_middleware.enable_proxy_headers_parsing=True']).start()
    yield server
    server.stop()


def test_an_allowed_origin_gets_the_cors_headers(srv):
    r = requests.get(srv.url + '/v2/images', headers={'Origin': ORIGIN})
    assert r.status_code == 200
    assert r.headers['Access-Control-Allow-Origin'] == ORIGIN
    assert 'Origin' in r.headers['Vary']


def test_another_origin_and_no_origin_get_none(srv):
    for headers in ({'Origin': 'http://elsewhere.example'}, {}):
        r = requests.get(srv.url + '/v2/images', headers=headers)
        assert r.status_code == 200
        assert 'Access-Control-Allow-Origin' not in r.headers
        assert r.json()['images'] == []


def test_a_preflight_is_answered_by_cors(srv):
    r = requests.options(srv.url + '/v2/images', headers={
        'Origin': ORIGIN, 'Access-Control-Request-Method': 'POST'})
    assert r.status_code == 200
    assert r.headers['Access-Control-Allow-Origin'] == ORIGIN
    assert 'POST' in r.headers['Access-Control-Allow-Methods']


def test_options_without_an_origin_is_made_a_200(srv):
    """oslo.middleware's CORS answers 200 to an OPTIONS request the
    application refused (here a path that does not exist)."""
    r = requests.options(srv.url + '/v2/nowhere')
    assert r.status_code == 200
    assert 'Access-Control-Allow-Origin' not in r.headers


@pytest.mark.parametrize('headers,base', [
    ({'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'images.example'},
     'https://images.example/'),
    ({'Forwarded': 'proto=https;host=glance.example:8443'},
     'https://glance.example:8443/'),
    ({}, None),
])
def test_proxy_headers_set_the_links_of_the_versions(srv, headers, base):
    r = requests.get(srv.url + '/versions', headers=headers)
    assert r.status_code == 200
    hrefs = [link['href'] for v in r.json()['versions']
             for link in v['links']]
    expected = base or srv.url + '/'
    assert hrefs and all(h.startswith(expected) for h in hrefs), hrefs
