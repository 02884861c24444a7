"""Fetching an image from another glance region (glance-download).

The other region's Images API is found in the caller's service catalog
(type ``image``, the region and interface the import names) and spoken to
with the caller's own credentials, so only an image the caller may read
there can be imported here.  The image's data is fetched, and the
properties named by ``[glance_download_properties] extra_properties``
(names or prefixes) are copied along with its formats.  Both requests go
through :mod:`glance.common.fetcher` (pinned, checked addresses; the
request id passed on).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterator

from oslo_config import cfg

from glance.common import exception, fetcher

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

download_opts = [
    cfg.ListOpt('extra_properties',
                default=['hw_', 'trait:', 'os_distro', 'os_secure_boot',
                         'os_type'],
                help='Properties (names, or prefixes ending in _ or :) '
                     'copied from the image in the other region.'),
]
CONF.register_opts(download_opts, group='glance_download_properties')

CHUNK = 1024 * 1024


def endpoint(context: Any, region: str, interface: str) -> str:
    """The other region's image endpoint from the caller's catalog."""
    for service in getattr(context, 'service_catalog', None) or []:
        if service.get('type') != 'image':
            continue
        for ep in service.get('endpoints') or []:
            if region not in (ep.get('region'), ep.get('region_id')):
                continue
            # Keystone v3 entries name an interface and a url; the v2 form
            # keystonemiddleware sends in X-Service-Catalog has publicURL,
            # internalURL and adminURL keys instead.
            url = ep.get('url') if ep.get('interface') == interface else \
                ep.get(interface + 'URL')
            if url:
                url = url.rstrip('/')
                return url[:-3] if url.endswith('/v2') else url
    raise exception.BadRequest('No %s image endpoint for region %s in the '
                               'service catalog.' % (interface, region))


def _headers(context: Any) -> dict[str, str]:
    """The caller's credentials for the other region."""
    headers = {'X-Identity-Status': 'Confirmed'}
    if getattr(context, 'auth_token', None):
        headers['X-Auth-Token'] = context.auth_token
    # Trusted front ends (and the tests) identify callers by header.
    if context.project_id:
        headers['X-Project-Id'] = headers['X-Tenant-Id'] = \
            context.project_id
    if context.user_id:
        headers['X-User-Id'] = context.user_id
    if context.roles:
        headers['X-Roles'] = ','.join(context.roles)
    return headers


def fetch(context: Any, method: dict) -> tuple[dict, Iterator[bytes]]:
    """(the remote image record, its data in chunks)."""
    base = endpoint(context, method['glance_region'],
                    method.get('glance_service_interface') or 'public')
    url = '%s/v2/images/%s' % (base, method['glance_image_id'])
    headers = _headers(context)
    policy = fetcher.region_policy()
    answer = fetcher.open_url(url, context=context, headers=headers,
                              policy=policy, what='glance-download')
    if answer.status != 200:
        answer.close()
        raise exception.BadRequest(
            'Image %s in region %s could not be read: %d'
            % (method['glance_image_id'], method['glance_region'],
               answer.status))
    try:
        remote = json.loads(answer.read())
    except ValueError:
        raise exception.ServiceUnavailable(
            'Region %s answered with something that is not JSON'
            % method['glance_region'])
    if remote.get('status') != 'active':
        raise exception.Conflict('Image %s in region %s is %s, not '
                                 'active.' % (remote.get('id'),
                                              method['glance_region'],
                                              remote.get('status')))
    data = fetcher.open_url(url + '/file', context=context,
                            headers=headers, policy=policy,
                            what='glance-download')
    if data.status != 200:
        data.close()
        raise exception.ServiceUnavailable('Data of image %s could not be '
                                           'read: %d' % (remote['id'],
                                                         data.status))
    return remote, fetcher.chunks(data, CHUNK)


def copied_properties(remote: dict) -> dict[str, str]:
    """The remote image's properties this region takes over."""
    wanted = CONF.glance_download_properties.extra_properties
    out = {}
    for key, value in remote.items():
        if key.startswith('os_glance') or not isinstance(value, str):
            continue
        for name in wanted:
            if key == name or (name.endswith(('_', ':')) and
                               key.startswith(name)):
                out[key] = value
    return out
