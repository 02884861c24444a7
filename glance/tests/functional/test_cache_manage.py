"""glance-cache-manage run as a process against a real glance-api.

Every command goes over HTTP to the node's cache API; its effect is
checked through GET /v2/cache and on disk, its output and exit status as
an operator's script would read them.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from glance.tests.functional.conftest import Client, keystone_glance
from glance.tests.functional.test_cache import (active_image, cache_dir,
                                                cache_server)


def manage(server, *args: str, stdin: str = '',
           node: tuple[str, ...] | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the command; ``env`` holds the OS_* variables it sees (none of
    the test runner's own)."""
    if node is None:
        node = ('--host', '127.0.0.1', '--port', str(server.port))
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, '-m', 'glance.cmd.cache_manage', *node, *args],
        input=stdin, capture_output=True, text=True, timeout=120,
        env=environ)


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    server = cache_server(str(tmp_path_factory.mktemp('manage'))).start()
    yield server
    server.stop()


def state(server) -> dict:
    return Client(server.url).get('/v2/cache').json()


def test_queue_list_and_delete_one_by_one(srv):
    client = Client(srv.url)
    client.delete('/v2/cache')
    cached = active_image(client, b'm' * 4096)
    queued = active_image(client, b'q' * 10)
    assert client.get('/v2/images/%s/file' % cached['id']).status_code == 200

    r = manage(srv, 'list-cached')
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == 'Found 1 cached images...'
    [row] = [line for line in r.stdout.splitlines() if cached['id'] in line]
    cells = [c.strip() for c in row.strip('|').split('|')]
    assert cells[0] == cached['id'] and cells[3:] == ['4096', '0']

    assert manage(srv, 'list-queued').stdout == 'No queued images.\n'
    r = manage(srv, '-v', 'queue-image', queued['id'])
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'Queued image %s for caching\n' % queued['id']
    assert state(srv)['queued_images'] == [queued['id']]
    r = manage(srv, 'list-queued')
    assert r.stdout.splitlines()[0] == 'Found 1 queued images...'
    assert '| %s |' % queued['id'] in r.stdout

    r = manage(srv, 'delete-queued-image', queued['id'])
    assert (r.returncode, r.stdout) == (0, '')
    assert state(srv)['queued_images'] == []
    r = manage(srv, 'delete-cached-image', cached['id'])
    assert r.returncode == 0, r.stderr
    assert state(srv)['cached_images'] == []
    assert not os.path.exists(os.path.join(cache_dir(srv), cached['id']))
    assert manage(srv, 'list-cached').stdout == 'No cached images.\n'


def test_delete_all_asks_unless_forced(srv):
    client = Client(srv.url)
    cached = active_image(client, b'a' * 100)
    queued = active_image(client, b'b' * 100)
    client.get('/v2/images/%s/file' % cached['id'])
    client.put('/v2/cache/%s' % queued['id'])

    r = manage(srv, 'delete-all-queued-images', stdin='n\n')
    assert r.returncode == 0
    assert 'Delete all queued images? [y/N]' in r.stdout
    assert 'Nothing deleted.' in r.stdout
    assert state(srv)['queued_images'] == [queued['id']]

    r = manage(srv, 'delete-all-queued-images', stdin='y\n')
    assert r.returncode == 0, r.stderr
    now = state(srv)
    assert now['queued_images'] == []
    assert [e['image_id'] for e in now['cached_images']] == [cached['id']]

    r = manage(srv, '--force', 'delete-all-cached-images')
    assert (r.returncode, r.stdout) == (0, '')
    assert state(srv)['cached_images'] == []


def test_url_option_and_errors(srv):
    url = ('--url', srv.url)
    r = manage(srv, 'list-queued', node=url)
    assert r.returncode == 0, r.stderr

    missing = '4a0d1ef6-2c5b-4a2e-9a0c-3a8f6f3a1c55'
    r = manage(srv, 'queue-image', missing, node=url)
    assert r.returncode == 1
    assert r.stderr.startswith(
        'glance-cache-manage: PUT /v2/cache/%s answered 404: ' % missing)
    assert '<' not in r.stderr      # the server's words, not its HTML

    image = active_image(Client(srv.url), b'x')
    Client(srv.url).post('/v2/images/%s/actions/deactivate' % image['id'])
    r = manage(srv, 'queue-image', image['id'], node=url)
    assert r.returncode == 1 and 'answered 400' in r.stderr
    assert 'active' in r.stderr

    r = manage(srv, 'queue-image')
    assert r.returncode == 2
    assert 'queue-image takes one IMAGE_ID' in r.stderr
    r = manage(srv, 'list-cached', 'extra')
    assert r.returncode == 2 and 'takes no arguments' in r.stderr
    r = manage(srv, 'frobnicate')
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr

    # nobody listening
    r = manage(srv, 'list-cached', node=('--url', 'http://127.0.0.1:9'))
    assert r.returncode == 1
    assert r.stderr.startswith('glance-cache-manage: cannot reach '
                               'http://127.0.0.1:9')


def test_help():
    r = manage(None, 'help', node=())
    assert r.returncode == 0
    for command in ('list-cached', 'list-queued', 'queue-image IMAGE_ID',
                    'delete-cached-image IMAGE_ID',
                    'delete-all-cached-images', 'delete-queued-image',
                    'delete-all-queued-images', '--host', '--port',
                    '--auth_token', '--force', '--insecure'):
        assert command in r.stdout
    r = manage(None, 'help', 'queue-image', node=())
    assert r.stdout.startswith('glance-cache-manage [options] queue-image '
                               'IMAGE_ID')


def test_keystone_tokens(keystone, tmp_path):
    """Behind a real Keystone: an administrator's token (-A) lists the
    cache; a member's gets the node's 403 with its reason; no token, 401."""
    workdir = str(tmp_path)
    server = keystone_glance(keystone, workdir, [
        'paste_deploy.flavor=keystone+cachemanagement',
        'image_cache_dir=%s' % os.path.join(workdir, 'cache'),
        'image_cache_driver=sqlite', 'cache_prefetcher_interval=0'])
    try:
        r = manage(server, '-A', keystone.token('admin'), 'list-cached')
        assert (r.returncode, r.stdout) == (0, 'No cached images.\n'), \
            r.stderr
        r = manage(server, '--auth_token', keystone.token('alpha-member'),
                   'list-queued')
        assert r.returncode == 1
        assert 'GET /v2/cache answered 403' in r.stderr
        assert 'cache_list' in r.stderr
        r = manage(server, '--debug', 'list-cached')
        assert r.returncode == 1
        assert 'GET http://127.0.0.1:%d/v2/cache' % server.port in r.stderr
        assert 'answered 401' in r.stderr
    finally:
        server.stop()


@pytest.fixture(scope='module')
def ks_cache_server(keystone, tmp_path_factory):
    """A caching glance-api behind the real Keystone, the catalogue's
    image endpoint."""
    workdir = str(tmp_path_factory.mktemp('manage-ks'))
    server = keystone_glance(keystone, workdir, [
        'paste_deploy.flavor=keystone+cachemanagement',
        'image_cache_dir=%s' % os.path.join(workdir, 'cache'),
        'image_cache_driver=sqlite', 'cache_prefetcher_interval=0'])
    yield server
    server.stop()


@pytest.fixture
def catalogued(keystone, ks_cache_server):
    """ks_cache_server, made the catalogue's image endpoint again (other
    modules' servers in this process may have taken it meanwhile)."""
    keystone.set_image_endpoint(ks_cache_server.url)
    return ks_cache_server


def _login(keystone, persona: str = 'admin') -> dict[str, str]:
    """The OS_* variables of an openrc file for ``persona``."""
    who = keystone.personas[persona]
    return {'OS_AUTH_URL': keystone.url + '/v3', 'OS_USERNAME': who.name,
            'OS_PASSWORD': who.password,
            'OS_PROJECT_NAME': who.project_name,
            'OS_USER_DOMAIN_NAME': 'Default',
            'OS_PROJECT_DOMAIN_NAME': 'Default',
            'OS_REGION_NAME': 'RegionOne'}


def test_password_login_finds_the_node_in_the_catalogue(keystone,
                                                        catalogued):
    """As the reference command: --os-username/--os-password/
    --os-project-name/--os-auth-url log in to Keystone (keystoneauth1),
    and with no --host/--url the image endpoint of the catalogue is the
    node asked."""
    admin = keystone.personas['admin']
    admin_client = Client(catalogued.url,
                          headers=keystone.client_headers('admin'))
    image = active_image(admin_client, b'k' * 9)
    login = ('--os-username', 'admin', '--os-password', admin.password,
             '--os-project-name', 'admin', '--os-user-domain-id', 'default',
             '--os-project-domain-name', 'Default',
             '--os-auth-url', keystone.url, '--os-region-name', 'RegionOne')
    r = manage(None, *login, '--debug', '-v', 'queue-image', image['id'],
               node=())
    assert r.returncode == 0, r.stderr
    assert 'PUT %s/v2/cache/%s' % (catalogued.url, image['id']) \
        in r.stderr
    assert r.stdout == 'Queued image %s for caching\n' % image['id']
    # the legacy short options name the same things
    r = manage(None, '-I', 'admin', '-K', admin.password, '-T', 'admin',
               '-N', keystone.url + '/v3', 'list-queued', node=())
    assert r.returncode == 0, r.stderr
    assert '| %s |' % image['id'] in r.stdout
    # an explicit node wins over the catalogue
    r = manage(None, *login, 'list-queued',
               node=('--url', 'http://127.0.0.1:9'))
    assert r.returncode == 1
    assert 'cannot reach http://127.0.0.1:9' in r.stderr
    manage(None, *login, '--force', 'delete-all-queued-images', node=())


def test_environment_variables_are_the_defaults(keystone, catalogued):
    """OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME and the
    domain variables log in as an openrc file would; an option given
    on the command line wins over its variable."""
    r = manage(None, 'list-cached', node=(), env=_login(keystone))
    assert (r.returncode, r.stdout) == (0, 'No cached images.\n'), r.stderr
    # a member of another project logs in too, and is refused by policy
    r = manage(None, 'list-cached', node=(),
               env=_login(keystone, 'alpha-member'))
    assert r.returncode == 1
    assert 'GET /v2/cache answered 403' in r.stderr
    r = manage(None, '--os-username', 'admin', '--os-project-name', 'admin',
               '--os-password', keystone.personas['admin'].password,
               'list-cached', node=(), env=_login(keystone, 'alpha-member'))
    assert r.returncode == 0, r.stderr


def test_wrong_password_is_a_clear_error(keystone, catalogued):
    """A refused login is told as such, with a non-zero exit status, and
    nothing is asked of the node."""
    env = dict(_login(keystone), OS_PASSWORD='not-the-password')
    r = manage(None, '--debug', 'list-cached', node=(), env=env)
    assert r.returncode == 1
    assert r.stderr.startswith('glance-cache-manage: authentication failed '
                               'at %s/v3' % keystone.url), r.stderr
    assert '/v2/cache' not in r.stderr
    assert r.stdout == ''
    # a user without a password or identity service is a usage error
    env = {'OS_USERNAME': 'admin', 'OS_AUTH_URL': keystone.url}
    r = manage(None, 'list-cached', node=(), env=env)
    assert r.returncode == 2
    assert 'needs --os-password' in r.stderr
    # Keystone not there
    env = dict(_login(keystone), OS_AUTH_URL='http://127.0.0.1:9/v3')
    r = manage(None, 'list-cached', node=(), env=env)
    assert r.returncode == 1
    assert 'cannot reach the identity service at http://127.0.0.1:9/v3' \
        in r.stderr
