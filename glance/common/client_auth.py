"""OpenStack authentication for glance's command-line clients.

The options every OpenStack command takes (``--os-username``,
``--os-password``, ``--os-project-name``, ``--os-auth-url``... with the
``OS_*`` environment variables as defaults), turned into a keystoneauth1
session that logs in once, keeps its token fresh and finds the image
service in the catalogue.  A command that only has a token
(``--os-auth-token``) sends it as it is; with ``--os-auth-strategy
noauth`` nothing is sent.
"""
from __future__ import annotations

import argparse
import dataclasses
import os

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import generic

#: the catalogue's service type of the Images API
IMAGE_SERVICE = 'image'
#: domain of users and projects named without one (Keystone's own)
DEFAULT_DOMAIN = 'default'

#: option -> (environment variables, in order of preference; help)
_OPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    'os_username': (('OS_USERNAME',), 'User name to log in as.'),
    'os_user_id': (('OS_USER_ID',), 'User id to log in as.'),
    'os_password': (('OS_PASSWORD',), 'Password of the user.'),
    'os_project_name': (('OS_PROJECT_NAME', 'OS_TENANT_NAME'),
                        'Project to scope the token to.'),
    'os_project_id': (('OS_PROJECT_ID', 'OS_TENANT_ID'),
                      'Project id to scope the token to.'),
    'os_user_domain_name': (('OS_USER_DOMAIN_NAME',),
                            'Domain of the user.'),
    'os_user_domain_id': (('OS_USER_DOMAIN_ID',), 'Domain id of the user.'),
    'os_project_domain_name': (('OS_PROJECT_DOMAIN_NAME',),
                               'Domain of the project.'),
    'os_project_domain_id': (('OS_PROJECT_DOMAIN_ID',),
                             'Domain id of the project.'),
    'os_auth_url': (('OS_AUTH_URL',), 'Identity service (Keystone) URL.'),
    'os_region_name': (('OS_REGION_NAME',),
                       'Region of the image endpoint in the catalogue.'),
    'os_interface': (('OS_INTERFACE', 'OS_ENDPOINT_TYPE'),
                     'Catalogue interface of the image endpoint '
                     '(public, internal or admin; default public).'),
    'os_cacert': (('OS_CACERT',), 'CA bundle to verify https with.'),
}

#: short forms the older glance tools had
_SHORT = {'os_username': '-I', 'os_password': '-K', 'os_region_name': '-R',
          'os_auth_url': '-N'}


class AuthFailed(Exception):
    """Logging in, or finding the image service, failed; says why."""


def _env(names: tuple[str, ...]) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``--os-*`` options (and ``-A``/``--os-auth-token``,
    ``-S``/``--os-auth-strategy``) to ``parser``."""
    group = parser.add_argument_group(
        'authentication', 'OpenStack credentials; each defaults to its '
        'OS_* environment variable.  With a user and --os-auth-url the '
        'command logs in to Keystone and, unless --url/--host say where '
        'the node is, takes the image endpoint from the catalogue.  A user '
        'or project named without a domain is in the "default" domain.')
    for dest, (env, text) in _OPTIONS.items():
        flags = ['--' + dest.replace('_', '-')]
        if dest in _SHORT:
            flags.insert(0, _SHORT[dest])
        if dest == 'os_project_name':
            flags += ['-T', '--os-tenant-name']
        if dest == 'os_project_id':
            flags.append('--os-tenant-id')
        group.add_argument(*flags, dest=dest, default=_env(env),
                           metavar=dest[3:].upper(),
                           help='%s (env %s)' % (text, ', '.join(env)))
    group.add_argument('-A', '--os-auth-token', '--auth_token',
                       dest='auth_token', default=_env(('OS_AUTH_TOKEN',)),
                       metavar='TOKEN',
                       help='A Keystone token to send as it is, instead of '
                            'logging in (env OS_AUTH_TOKEN).')
    group.add_argument('-S', '--os-auth-strategy', dest='auth_strategy',
                       choices=('keystone', 'noauth'),
                       default=_env(('OS_AUTH_STRATEGY',)),
                       help='keystone: authenticate (the default when '
                            'credentials are given); noauth: send no '
                            'credentials (env OS_AUTH_STRATEGY).')


@dataclasses.dataclass
class Auth:
    """How a command authenticates: a keystoneauth1 session, and whether
    it can look endpoints up in a catalogue."""

    session: ks_session.Session
    #: whether the session logs in (and so has a catalogue)
    logged_in: bool
    interface: str
    region: str | None

    def image_endpoint(self) -> str:
        """The image service's URL from the catalogue of the login."""
        if not self.logged_in:
            raise AuthFailed('no image endpoint: give --url (or --host and '
                             '--port), or credentials and --os-auth-url to '
                             'find it in the catalogue')
        try:
            url = self.session.get_endpoint(
                service_type=IMAGE_SERVICE, interface=self.interface,
                region_name=self.region)
        except ks_exc.ClientException as exc:
            raise AuthFailed(_login_error(self.session, exc))
        if not url:
            raise AuthFailed(
                'the catalogue has no %s image endpoint%s' % (
                    self.interface, ' in region %s' % self.region
                    if self.region else ''))
        return url

    def check(self) -> None:
        """Log in now (if the session logs in), so that bad credentials
        are told as such rather than as the first call's failure."""
        if self.logged_in:
            try:
                self.session.get_token()
            except ks_exc.ClientException as exc:
                raise AuthFailed(_login_error(self.session, exc))


def _login_error(session: ks_session.Session, exc: Exception) -> str:
    url = getattr(session.auth, 'auth_url', '?')
    if isinstance(exc, ks_exc.Unauthorized):
        return ('authentication failed at %s: the user name, password or '
                'project was refused (%s)' % (url, _message(exc)))
    if isinstance(exc, ks_exc.ConnectionError):
        return 'cannot reach the identity service at %s: %s' % (
            url, _message(exc))
    return 'logging in at %s failed: %s' % (url, _message(exc))


def _message(exc: Exception) -> str:
    return ' '.join(str(exc).split())[:300]


def from_options(opts: argparse.Namespace, verify: bool = True) -> Auth:
    """The session ``opts`` (see :func:`add_arguments`) ask for.

    Password login when a user is named (``--os-auth-url`` and a password
    are then required); else the token of ``--os-auth-token`` if any;
    else no credentials.  ``--os-auth-strategy noauth`` forces the last.
    Raises ValueError for options that cannot work together.
    """
    if opts.os_cacert and verify:
        verify = opts.os_cacert
    interface = (opts.os_interface or 'public').lower().replace('url', '')
    user = opts.os_username or opts.os_user_id
    strategy = opts.auth_strategy or ('keystone' if user else None)
    if strategy == 'noauth' or not user:
        session = ks_session.Session(verify=verify)
        if strategy != 'noauth' and opts.auth_token:
            session.additional_headers['X-Auth-Token'] = opts.auth_token
        return Auth(session, False, interface, opts.os_region_name)
    missing = [flag for flag, value in (
        ('--os-auth-url', opts.os_auth_url),
        ('--os-password', opts.os_password)) if not value]
    if missing:
        raise ValueError('logging in as %s needs %s (or %s)' % (
            user, ' and '.join(missing), ' and '.join(
                _OPTIONS[m[2:].replace('-', '_')][0][0] for m in missing)))
    # A side named without a domain is in Keystone's default domain.
    user_domain_id = opts.os_user_domain_id or (
        DEFAULT_DOMAIN if opts.os_username and not opts.os_user_domain_name
        else None)
    project_domain_id = opts.os_project_domain_id or (
        DEFAULT_DOMAIN if opts.os_project_name and
        not opts.os_project_domain_name else None)
    plugin = generic.Password(
        auth_url=opts.os_auth_url, username=opts.os_username,
        user_id=opts.os_user_id, password=opts.os_password,
        user_domain_name=opts.os_user_domain_name,
        user_domain_id=user_domain_id,
        project_name=opts.os_project_name, project_id=opts.os_project_id,
        project_domain_name=opts.os_project_domain_name,
        project_domain_id=project_domain_id)
    return Auth(ks_session.Session(auth=plugin, verify=verify), True,
                interface, opts.os_region_name)
