"""Who the swift store acts as: credentials, their tokens, storage URLs.

Single-tenant stores log in with configured credentials, by Swift's auth
v1 protocol (tempauth, swauth) or Keystone v3 with a password and a
project; the storage URL comes with the v1 answer or from the token's
service catalog.  Multi-tenant stores never log in: they use the caller's
token on the storage URL of the caller's catalog, as keystonemiddleware
passes it to glance.
"""
from __future__ import annotations

from typing import Any

import requests

from glance.store import exceptions


class Credentials:
    """How to reach one Swift account, and its current token."""

    def __init__(self, auth_address: str, user: str, key: str,
                 version: str = '1', user_domain: str = 'Default',
                 project_domain: str = 'Default'):
        self.auth_address = auth_address
        self.user, self.key = user, key
        self.version = str(version).lstrip('v').split('.')[0] or '1'
        self.user_domain, self.project_domain = user_domain, project_domain
        self.storage_url: str | None = None
        self.token: str | None = None

    @classmethod
    def of_caller(cls, storage_url: str, token: str) -> 'Credentials':
        """A caller's token on an account: used as it is, never renewed."""
        creds = cls('', '', '')
        creds.storage_url, creds.token = storage_url.rstrip('/'), token
        return creds

    @property
    def renewable(self) -> bool:
        """Whether a new token can be had (configured credentials)."""
        return bool(self.auth_address)


def catalog_url(catalog: list, service_type: str, endpoint_type: str,
                region: str | None) -> str | None:
    """The URL of a ``service_type`` endpoint of ``endpoint_type``
    (``publicURL``...) in ``region`` (any when None), or None.

    Reads a Keystone v3 catalog (endpoints with ``interface`` and ``url``)
    and the v2 form keystonemiddleware puts in X-Service-Catalog
    (``publicURL``, ``internalURL``, ``adminURL`` keys).
    """
    interface = endpoint_type.replace('URL', '')
    for service in catalog or []:
        if service.get('type') != service_type:
            continue
        for ep in service.get('endpoints') or []:
            if region and region not in (ep.get('region'),
                                         ep.get('region_id')):
                continue
            if 'url' in ep and ep.get('interface') == interface:
                return ep['url']
            if ep.get(endpoint_type):
                return ep[endpoint_type]
    return None


def caller(context: Any, backend: str, endpoint: str | None,
           service_type: str, endpoint_type: str, region: str | None
           ) -> Credentials:
    """The caller's token on the caller's own account (multi-tenant).

    The account is ``endpoint`` with the caller's project for
    ``$(project_id)s`` when given, else the caller's catalog's endpoint.
    Forbidden without a project-scoped token; BackendException when the
    catalog has no such endpoint.
    """
    token = getattr(context, 'auth_token', None)
    project = getattr(context, 'project_id', None)
    if not token or not project:
        raise exceptions.Forbidden(
            'store %s keeps images in the accounts of their projects and '
            'needs the caller\'s project-scoped token' % backend)
    if endpoint:
        url = endpoint.replace('$(project_id)s', project).replace(
            '$(tenant_id)s', project)
    else:
        url = catalog_url(getattr(context, 'service_catalog', None) or [],
                          service_type, endpoint_type, region)
        if url is None:
            raise exceptions.BackendException(
                reason='no %s endpoint of type %s%s in the service catalog '
                       'of project %s' % (
                           endpoint_type.replace('URL', ''), service_type,
                           ' in region %s' % region if region else '',
                           project))
    return Credentials.of_caller(url, token)


def authenticate(session: requests.Session, creds: Credentials,
                 timeout: int, verify, service_type: str,
                 endpoint_type: str, region: str | None,
                 need_endpoint: bool = True) -> None:
    """Log in; set ``creds.token`` and ``creds.storage_url``.

    BackendException when the login fails, or (``need_endpoint``) when a
    Keystone catalog lacks the endpoint.
    """
    try:
        if creds.version == '3':
            _keystone_v3(session, creds, timeout, verify)
            creds.storage_url = catalog_url(
                creds.catalog, service_type, endpoint_type, region)
            if creds.storage_url is None and need_endpoint:
                raise exceptions.BackendException(
                    reason='no %s endpoint of type %s in the catalog'
                    % (endpoint_type.replace('URL', ''), service_type))
            return
        r = session.get(creds.auth_address, timeout=timeout, verify=verify,
                        headers={'X-Auth-User': creds.user,
                                 'X-Auth-Key': creds.key})
        if r.status_code >= 300:
            raise exceptions.BackendException(
                reason='Swift authentication as %s failed: %d'
                % (creds.user, r.status_code))
        creds.token = r.headers['X-Auth-Token']
        creds.storage_url = r.headers['X-Storage-Url']
    except requests.RequestException as exc:
        raise exceptions.BackendException(
            reason='Swift authentication failed: %s' % exc)
    except KeyError as exc:
        raise exceptions.BackendException(
            reason='Swift authentication answered without %s' % exc)


def _keystone_v3(session: requests.Session, creds: Credentials,
                 timeout: int, verify) -> None:
    """Password login scoped to the project of ``project:user``."""
    project, _, user = creds.user.rpartition(':')
    body = {'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'name': user, 'password': creds.key,
            'domain': {'name': creds.user_domain}}}},
        'scope': {'project': {'name': project, 'domain': {
            'name': creds.project_domain}}}}}
    url = creds.auth_address.rstrip('/')
    if not url.endswith('/v3'):
        url += '/v3'
    r = session.post(url + '/auth/tokens', json=body, timeout=timeout,
                     verify=verify)
    if r.status_code != 201:
        raise exceptions.BackendException(
            reason='Keystone authentication as %s failed: %d'
            % (creds.user, r.status_code))
    creds.token = r.headers['X-Subject-Token']
    creds.catalog = r.json()['token'].get('catalog', [])
