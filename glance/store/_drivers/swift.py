"""The swift store: image bytes as objects in an OpenStack Swift container.

Single-tenant: every image goes to one account, the one the configured
credentials open (tempauth / auth v1, or Keystone v3 with a project).  The
location names the credentials instead of holding them:
``swift+config://<reference>/<container>/<image id>``, where the reference
is the backend id (credentials from its section) or a section of
``swift_store_config_file``.  Locations written by other deployments as
``swift+http(s)://user:key@auth-host/path/<container>/<object>`` are read
with the credentials they carry.

Images larger than ``swift_store_large_object_size`` (or of unknown size)
are written as segments of ``swift_store_large_object_chunk_size`` to the
``<container>_segments`` container, joined by a static large object
manifest; deleting the image deletes its segments.  Whatever stops an
upload (the client going away, a quota raising from the data iterator, a
Swift error) removes what was written before the error goes on.

Multi-tenant (``swift_store_multi_tenant``): every image goes to the
account of the project that uploads it, written and read with the caller's
own token (the request context's ``auth_token``) at the object-store
endpoint of the context's service catalog (or ``swift_store_endpoint``).
Each image has a container of its own, ``<swift_store_container>_<image
id>``, holding the object and, for a large image, its segments
(``<image id>/00001``...); the location is the plain storage URL,
``swift+http(s)://<host>/v1/AUTH_<project>/<container>/<image id>``, with
no credentials in it.  Other readers get in through the container's read
ACL: the projects of ``swift_store_admin_tenants`` always, everyone
(``.r:*``) while the image is public or community, the projects glance
names through :meth:`Store.set_acls`.

Logging in, and finding storage URLs in catalogs, is swift_auth's part;
listing what the store holds (orphan sweeps) is swift_listing's.
"""
from __future__ import annotations

import configparser
import json
import logging
import urllib.parse
from typing import Any, Iterable, Iterator

from oslo_config import cfg
import requests

from glance.store import driver, exceptions
from glance.store import location as loc_mod
from glance.store._drivers import pieces, swift_auth, swift_listing
from glance.store._drivers.swift_auth import Credentials

LOG = logging.getLogger(__name__)
MiB = 1024 * 1024

_OPTS = [
    cfg.StrOpt('swift_store_auth_address',
               help='Authentication URL: the tempauth/auth v1 URL '
                    '(http://host:8080/auth/v1.0) or Keystone '
                    '(http://host:5000/v3).'),
    cfg.StrOpt('swift_store_user',
               help='User to authenticate as, "account:user" (v1) or '
                    '"project:user" (v3).'),
    cfg.StrOpt('swift_store_key', secret=True,
               help='Password (key) of swift_store_user.'),
    cfg.StrOpt('swift_store_auth_version', default='1',
               choices=['1', '3'],
               help='Authentication protocol: 1 (tempauth, swauth) or 3 '
                    '(Keystone v3).'),
    cfg.StrOpt('swift_store_user_domain_name', default='Default',
               help='Keystone v3: domain of swift_store_user.'),
    cfg.StrOpt('swift_store_project_domain_name', default='Default',
               help='Keystone v3: domain of the project.'),
    cfg.StrOpt('swift_store_config_file',
               help='File of credential references, one section each '
                    '(auth_address, user, key, auth_version, '
                    'user_domain_name, project_domain_name); used with '
                    'default_swift_reference instead of the swift_store_'
                    'auth_address/user/key options.'),
    cfg.StrOpt('default_swift_reference', default='ref1',
               help='Section of swift_store_config_file new images are '
                    'written with.'),
    cfg.StrOpt('swift_store_endpoint',
               help='Storage URL to use instead of the one authentication '
                    'returns (e.g. http://host:8080/v1/AUTH_account).  In '
                    'multi-tenant mode it replaces the service catalog: '
                    '$(project_id)s in it stands for the caller\'s project '
                    '(http://host:8080/v1/AUTH_$(project_id)s).'),
    cfg.StrOpt('swift_store_region',
               help='Keystone v3: region of the object-store endpoint.'),
    cfg.StrOpt('swift_store_endpoint_type', default='publicURL',
               choices=['publicURL', 'internalURL', 'adminURL'],
               help='Keystone v3: interface of the object-store endpoint.'),
    cfg.StrOpt('swift_store_service_type', default='object-store',
               help='Keystone v3: catalog type of the Swift service.'),
    cfg.StrOpt('swift_store_container', default='glance',
               help='Container image objects are written to.'),
    cfg.BoolOpt('swift_store_create_container_on_put', default=False,
                help='Create the container (and its _segments container) '
                     'when missing; otherwise a missing container is a '
                     'configuration error.'),
    cfg.IntOpt('swift_store_large_object_size', default=5 * 1024, min=1,
               help='Images larger than this many MiB (and images of '
                    'unknown size) are written as segments.'),
    cfg.IntOpt('swift_store_large_object_chunk_size', default=200, min=1,
               help='Size of one segment in MiB.'),
    cfg.IntOpt('swift_store_retry_get_count', default=0, min=0,
               help='How often a download that breaks off is resumed from '
                    'where it stopped.'),
    cfg.BoolOpt('swift_store_multi_tenant', default=False,
                help='Store each image in the Swift account of the project '
                     'uploading it, with the caller\'s token and the '
                     'object-store endpoint of the request\'s service '
                     'catalog (or swift_store_endpoint), one container per '
                     'image named swift_store_container + "_" + image id. '
                     'No credentials are configured for this mode.'),
    cfg.ListOpt('swift_store_admin_tenants', default=[],
                help='Multi-tenant mode: projects (ids) that get read '
                     'access to every image container glance writes '
                     '(e.g. the project of a service that must read all '
                     'images).'),
    cfg.BoolOpt('swift_store_auth_insecure', default=False,
                help='Do not verify the certificate of an https Swift or '
                     'Keystone.'),
    cfg.StrOpt('swift_store_cacert',
               help='CA bundle to verify https Swift and Keystone with.'),
    cfg.IntOpt('swift_store_timeout', default=60, min=1,
               help='Seconds to wait for Swift to answer a request.'),
]


class Store(swift_listing.Listing, driver.Store):
    """Reads and writes ``swift+config://`` (and reads ``swift+http(s)``)."""

    schemes = ('swift+config', 'swift+http', 'swift+https', 'swift')
    TYPE = 'swift'
    OPTIONS = _OPTS
    capabilities = (driver.Capability.RW_ACCESS |
                    driver.Capability.DRIVER_REUSABLE)

    # --- configuration ----------------------------------------------------

    def configure(self) -> None:
        opts = self.opts
        self.multi_tenant = opts.swift_store_multi_tenant
        self.controls_access = self.multi_tenant
        self.admin_tenants = [t.strip() for t in
                              opts.swift_store_admin_tenants if t.strip()]
        self.container = opts.swift_store_container
        self.segments = self.container + '_segments'
        self.large_size = opts.swift_store_large_object_size * MiB
        self.chunk_size = opts.swift_store_large_object_chunk_size * MiB
        self.retries = opts.swift_store_retry_get_count
        self.timeout = opts.swift_store_timeout
        self.verify = False if opts.swift_store_auth_insecure else (
            opts.swift_store_cacert or True)
        self.session = requests.Session()
        self.references = self._load_references(opts.swift_store_config_file)
        self.create_container = opts.swift_store_create_container_on_put
        self._containers_ready = False
        if self.multi_tenant:
            # Writes act as the caller; references configured beside serve
            # only to read swift+config locations written before.
            self.reference = None
            return
        if opts.swift_store_config_file:
            self.reference = opts.default_swift_reference
            if self.reference not in self.references:
                self._bad('default_swift_reference %s is not a section of '
                          '%s' % (self.reference,
                                  opts.swift_store_config_file))
        else:
            if not (opts.swift_store_auth_address and opts.swift_store_user
                    and opts.swift_store_key):
                self._bad('swift_store_auth_address, swift_store_user and '
                          'swift_store_key are required')
            self.reference = self.backend
            self.references[self.reference] = Credentials(
                opts.swift_store_auth_address, opts.swift_store_user,
                opts.swift_store_key, opts.swift_store_auth_version,
                opts.swift_store_user_domain_name,
                opts.swift_store_project_domain_name)

    def _bad(self, reason: str):
        raise exceptions.BadStoreConfiguration(store_name=self.backend,
                                               reason=reason)

    def _load_references(self, path: str | None) -> dict[str, Credentials]:
        if not path:
            return {}
        parser = configparser.ConfigParser()
        try:
            with open(path) as f:
                parser.read_file(f)
        except (OSError, configparser.Error) as exc:
            self._bad('swift_store_config_file %s: %s' % (path, exc))
        refs = {}
        for name in parser.sections():
            sec = parser[name]
            missing = [k for k in ('auth_address', 'user', 'key')
                       if not sec.get(k)]
            if missing:
                self._bad('reference %s in %s lacks %s'
                          % (name, path, ', '.join(missing)))
            refs[name] = Credentials(
                sec['auth_address'], sec['user'], sec['key'],
                sec.get('auth_version', '1'),
                sec.get('user_domain_name', sec.get('user_domain_id',
                                                    'Default')),
                sec.get('project_domain_name',
                        sec.get('project_domain_id', 'Default')))
        return refs

    def properties(self) -> dict:
        """The container and segmenting sizes (never credentials)."""
        props = {'container': self.container,
                 'large_object_size': self.large_size,
                 'large_object_chunk_size': self.chunk_size}
        if self.multi_tenant:
            props['multi_tenant'] = True
        return props

    # --- talking to Swift ---------------------------------------------------

    def _authenticate(self, creds: Credentials) -> None:
        opts = self.opts
        default = creds is self.references.get(self.reference)
        swift_auth.authenticate(
            self.session, creds, self.timeout, self.verify,
            opts.swift_store_service_type, opts.swift_store_endpoint_type,
            opts.swift_store_region,
            need_endpoint=not (default and opts.swift_store_endpoint))
        if default and opts.swift_store_endpoint:
            creds.storage_url = opts.swift_store_endpoint

    def _request(self, creds: Credentials, method: str, path: str,
                 ok: Iterable[int] = (), **kw) -> requests.Response:
        """A request on the account; re-authenticates once on 401.

        404 becomes NotFound; other errors BackendException, unless their
        status is in ``ok``.
        """
        for attempt in (1, 2):
            if creds.token is None:
                self._authenticate(creds)
            headers = dict(kw.get('headers') or {},
                           **{'X-Auth-Token': creds.token})
            try:
                r = self.session.request(
                    method, creds.storage_url + path,
                    timeout=self.timeout, verify=self.verify,
                    **dict(kw, headers=headers))
            except requests.RequestException as exc:
                raise exceptions.BackendException(
                    reason='Swift %s %s: %s' % (method, path, exc))
            if r.status_code == 401 and attempt == 1 and \
                    creds.renewable and not \
                    hasattr(kw.get('data'), '__next__'):
                r.close()
                creds.token = None
                continue
            break
        if r.status_code in ok or r.status_code < 300:
            return r
        r.close()
        if r.status_code == 404:
            raise exceptions.NotFound(image=path)
        if r.status_code in (401, 403) and not creds.renewable:
            raise exceptions.Forbidden(image=path)
        raise exceptions.BackendException(
            reason='Swift %s %s answered %d' % (method, path, r.status_code))

    def _ensure_containers(self, creds: Credentials) -> None:
        if self._containers_ready:
            return
        for name in (self.container, self.segments):
            r = self._request(creds, 'HEAD', '/' + _q(name), ok=(404,))
            if r.status_code == 404:
                if not self.create_container:
                    raise exceptions.BadStoreConfiguration(
                        store_name=self.backend,
                        reason='container %s does not exist and '
                               'swift_store_create_container_on_put is '
                               'False' % name)
                self._request(creds, 'PUT', '/' + _q(name))
                LOG.info('Store %s: created container %s', self.backend,
                         name)
        self._containers_ready = True

    # --- the caller's account (multi-tenant) --------------------------------

    def _caller(self, context: Any) -> Credentials:
        """The caller's token on the caller's own account."""
        opts = self.opts
        return swift_auth.caller(
            context, self.backend, opts.swift_store_endpoint,
            opts.swift_store_service_type, opts.swift_store_endpoint_type,
            opts.swift_store_region)

    def _acl_headers(self, public: bool, read_tenants: Iterable[str]
                     ) -> dict[str, str]:
        readers = ['.r:*'] if public else []
        for project in list(self.admin_tenants) + list(read_tenants or ()):
            entry = '%s:*' % project
            if entry not in readers:
                readers.append(entry)
        return {'X-Container-Read': ','.join(readers)}

    # --- locations ----------------------------------------------------------

    def _parse(self, location: loc_mod.Location, context: Any = None
               ) -> tuple[Credentials, str, str]:
        """(credentials, container, object) a location names."""
        parts = urllib.parse.urlsplit(location.uri)
        segments = [urllib.parse.unquote(p)
                    for p in parts.path.strip('/').split('/')]
        if len(segments) < 2 or not all(segments[-2:]):
            raise exceptions.BadStoreUri(uri=location.uri)
        container, obj = segments[-2], segments[-1]
        if parts.scheme == 'swift+config':
            ref = parts.netloc
            creds = self.references.get(ref)
            if creds is None:
                raise exceptions.BadStoreUri(
                    '%s names the unknown swift reference %s'
                    % (location.uri, ref))
            if len(segments) != 2:
                raise exceptions.BadStoreUri(uri=location.uri)
            return creds, container, obj
        http = 'https' if parts.scheme in ('swift', 'swift+https') \
            else 'http'
        host = parts.hostname + (':%d' % parts.port if parts.port else '')
        base = '%s://%s/%s' % (http, host, '/'.join(
            urllib.parse.quote(p) for p in segments[:-2]))
        if parts.username is None and self.multi_tenant:
            # swift+http(s)://host/v1/AUTH_<project>/<container>/<object>:
            # a storage URL, opened with the caller's token -- which goes
            # only to the Swift the caller's catalog names (a location
            # added through the API may point anywhere).
            own = self._caller(context)
            mine = urllib.parse.urlsplit(own.storage_url)
            if (mine.scheme, mine.netloc) != (http, host):
                raise exceptions.BadStoreUri(
                    '%s is not on the Swift of the service catalog (%s); '
                    'the caller\'s token is not sent there'
                    % (location.uri, mine.netloc))
            return Credentials.of_caller(base, own.token), container, obj
        # swift+http(s)://user:key@host/auth/path/<container>/<object>
        if parts.username is None or parts.password is None:
            raise exceptions.BadStoreUri(
                '%s carries no credentials' % location.uri)
        key = (base, urllib.parse.unquote(parts.username),
               urllib.parse.unquote(parts.password))
        cache = self.__dict__.setdefault('_uri_creds', {})
        if key not in cache:
            cache[key] = Credentials(*key)
        return cache[key], container, obj

    def owns(self, location: loc_mod.Location) -> bool:
        """Locations of this store's references (any container of theirs)."""
        if location.scheme not in self.schemes:
            return False
        if location.scheme != 'swift+config':
            return True
        return urllib.parse.urlsplit(location.uri).netloc in self.references

    def _uri(self, image_id: str) -> str:
        return 'swift+config://%s/%s/%s' % (
            urllib.parse.quote(self.reference, safe=''),
            _q(self.container), _q(image_id))

    def _tenant_uri(self, creds: Credentials, container: str,
                    image_id: str) -> str:
        scheme, rest = creds.storage_url.split('://', 1)
        return 'swift+%s://%s/%s/%s' % (scheme, rest, _q(container),
                                        _q(image_id))

    # --- the data path ---------------------------------------------------

    def add(self, image_id: str, data: Iterable[bytes], size: int | None,
            context: Any = None) -> tuple[str, int, dict]:
        """Write the image as one object, or as segments and a manifest.

        Nothing stays behind when the write fails, whatever the reason.
        """
        if self.multi_tenant:
            creds = self._caller(context)
            container = '%s_%s' % (self.container, image_id)
            segments = container
            # PUT is idempotent: a container of this image is ours to use.
            self._request(creds, 'PUT', '/' + _q(container),
                          headers=self._acl_headers(False, ())).close()
            uri = self._tenant_uri(creds, container, image_id)
        else:
            creds = self.references[self.reference]
            self._ensure_containers(creds)
            container, segments = self.container, self.segments
            uri = self._uri(image_id)
        path = '/%s/%s' % (_q(container), _q(image_id))
        r = self._request(creds, 'HEAD', path, ok=(404,))
        r.close()
        if r.status_code != 404:
            raise exceptions.Duplicate(image=uri)
        source = pieces.Pieces(data)
        written: list[str] = []
        try:
            if size is not None and size <= self.large_size:
                self._put(creds, path, source.read(None))
            else:
                self._put_segments(creds, container, segments, image_id,
                                   source, written)
        except BaseException:
            self._cleanup(creds, path, written)
            if self.multi_tenant:
                self._delete_quietly(creds, '/' + _q(container))
            raise
        LOG.debug('Store %s: wrote %d bytes to %s', self.backend,
                  source.count, path)
        return uri, source.count, {}

    def _put(self, creds: Credentials, path: str, body: Iterator[bytes],
             ) -> dict:
        r = self._request(creds, 'PUT', path, data=body,
                          headers={'Content-Type':
                                   'application/octet-stream'})
        r.close()
        return r.headers

    def _put_segments(self, creds: Credentials, container: str,
                      segments: str, image_id: str, source: pieces.Pieces,
                      written: list[str]) -> None:
        manifest = []
        number = 0
        while True:
            number += 1
            name = '%s/%05d' % (image_id, number)
            seg_path = '/%s/%s' % (_q(segments), _q(name))
            start = source.count
            written.append(seg_path)
            headers = self._put(creds, seg_path, source.read(self.chunk_size))
            length = source.count - start
            if length == 0:
                # The data ended on a segment boundary: this one is empty.
                self._delete_quietly(creds, seg_path)
                written.pop()
                if manifest:
                    break
                # An empty image still needs an object (a manifest of
                # nothing is refused): write it plainly.
                self._put(creds, '/%s/%s' % (_q(container), _q(image_id)),
                          iter([b'']))
                return
            manifest.append({'path': '/%s/%s' % (segments, name),
                             'etag': headers.get('Etag', '').strip('"'),
                             'size_bytes': length})
            if source.exhausted:
                break
        self._request(creds, 'PUT', '/%s/%s?multipart-manifest=put'
                      % (_q(container), _q(image_id)),
                      data=json.dumps(manifest).encode(),
                      headers={'Content-Type': 'application/json'}).close()

    def _cleanup(self, creds: Credentials, path: str,
                 segments: list[str]) -> None:
        for seg in [path] + segments:
            self._delete_quietly(creds, seg)
        if segments:
            LOG.warning('Store %s: upload of %s failed; removed %d segments',
                        self.backend, path, len(segments))

    def _delete_quietly(self, creds: Credentials, path: str) -> None:
        try:
            self._request(creds, 'DELETE', path, ok=(404,)).close()
        except exceptions.GlanceStoreException as exc:
            LOG.error('Store %s: could not remove %s after a failed upload: '
                      '%s; remove it by hand.', self.backend, path, exc)

    def get(self, location: loc_mod.Location, offset: int = 0,
            chunk_size: int | None = None, length: int | None = None,
            context: Any = None) -> tuple[Iterator[bytes], int]:
        """Stream the object (a range of it with ``offset``/``length``)."""
        creds, container, obj = self._parse(location, context)
        path = '/%s/%s' % (_q(container), _q(obj))
        offset = max(0, offset or 0)
        if length is not None and length <= 0:
            return iter(()), 0
        r = self._get_from(creds, path, offset, length)
        if offset or length is not None:
            if r.status_code != 206:
                r.close()
                if r.status_code == 416:
                    return iter(()), 0
                raise exceptions.StoreRandomGetNotSupported(
                    store=self.backend)
        size = int(r.headers.get('Content-Length', 0))
        return _Download(self, creds, path, r, offset, size,
                         chunk_size or self.READ_CHUNKSIZE), size

    def _get_from(self, creds: Credentials, path: str, offset: int,
                  length: int | None) -> requests.Response:
        headers = {}
        if offset or length is not None:
            end = '' if length is None else str(offset + length - 1)
            headers['Range'] = 'bytes=%d-%s' % (offset, end)
        return self._request(creds, 'GET', path, headers=headers,
                             stream=True, ok=(416,))

    def get_size(self, location: loc_mod.Location,
                 context: Any = None) -> int:
        """Content-Length of the object (the whole image for a manifest)."""
        creds, container, obj = self._parse(location, context)
        r = self._request(creds, 'HEAD', '/%s/%s' % (_q(container), _q(obj)))
        r.close()
        return int(r.headers.get('Content-Length', 0))

    def delete(self, location: loc_mod.Location,
               context: Any = None) -> None:
        """Delete the object, and its segments when it is a manifest."""
        creds, container, obj = self._parse(location, context)
        path = '/%s/%s' % (_q(container), _q(obj))
        r = self._request(creds, 'HEAD', path)
        r.close()
        if r.headers.get('X-Static-Large-Object', '').lower() == 'true':
            path += '?multipart-manifest=delete'
        self._request(creds, 'DELETE', path).close()
        if not creds.renewable and container == '%s_%s' % (self.container,
                                                           obj):
            # The image's own container goes with it (409: someone put
            # more into it; it stays, and so does what they put).
            self._request(creds, 'DELETE', '/' + _q(container),
                          ok=(404, 409)).close()

    def set_acls(self, location: loc_mod.Location, public: bool = False,
                 read_tenants: list[str] | None = None,
                 context: Any = None) -> None:
        """Set the read ACL of an image's own container (multi-tenant).

        The list replaces the one before: ``swift_store_admin_tenants``,
        ``read_tenants``, and everyone (``.r:*``) when ``public``.
        """
        if not self.multi_tenant:
            return
        creds, container, obj = self._parse(location, context)
        if creds.renewable or container != '%s_%s' % (self.container, obj):
            return
        self._request(creds, 'POST', '/' + _q(container),
                      headers=self._acl_headers(public, read_tenants)
                      ).close()


class _Download:
    """Iterator over an object's bytes that resumes a broken download.

    ``swift_store_retry_get_count`` times, a read that fails part-way asks
    Swift again for the rest (a Range from where it stopped).
    """

    def __init__(self, store: Store, creds: Credentials, path: str,
                 response: requests.Response, offset: int, size: int,
                 chunk_size: int):
        self.store, self.creds, self.path = store, creds, path
        self.response = response
        self.offset, self.size, self.chunk_size = offset, size, chunk_size

    def __iter__(self) -> Iterator[bytes]:
        done = 0
        retries = self.store.retries
        try:
            while True:
                try:
                    for chunk in self.response.iter_content(self.chunk_size):
                        done += len(chunk)
                        yield chunk
                    if done >= self.size:
                        return
                    raise requests.ConnectionError(
                        'response ended after %d of %d bytes'
                        % (done, self.size))
                except requests.RequestException as exc:
                    self.response.close()
                    if retries <= 0:
                        raise exceptions.BackendException(
                            reason='Swift download of %s broke off: %s'
                            % (self.path, exc))
                    retries -= 1
                    LOG.warning('Store %s: resuming %s at byte %d (%s)',
                                self.store.backend, self.path,
                                self.offset + done, exc)
                    self.response = self.store._get_from(
                        self.creds, self.path, self.offset + done,
                        self.size - done)
        finally:
            self.response.close()

    def close(self) -> None:
        self.response.close()


def _q(name: str) -> str:
    # '/' stays: segment names are <image id>/<number>
    return urllib.parse.quote(name, safe='/')
