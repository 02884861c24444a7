"""Replication of images between glance deployments, over the Images API.

glance-replicator copies the active images of one glance to another (or to
a directory and back) keeping their ids, metadata and data, so that a new
region or a standby deployment serves the same images.  Everything goes
through the public API of both sides; nothing here touches a database or
a store.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import sys
from typing import Any, Callable, Iterable, Iterator

import requests

LOG = logging.getLogger(__name__)

#: fields the API computes or owns: never sent when creating or updating
READ_ONLY = frozenset({
    'status', 'size', 'virtual_size', 'checksum', 'os_hash_algo',
    'os_hash_value', 'created_at', 'updated_at', 'self', 'file', 'schema',
    'direct_url', 'locations', 'stores', 'tags'})
#: what ``--dontreplicate`` leaves out by default (the historical list)
DEFAULT_DONT_REPLICATE = ('created_at', 'date', 'deleted_at', 'location',
                          'updated_at')
PATCH_MEDIA = 'application/openstack-images-v2.1-json-patch'


class ReplicationError(Exception):
    """A glance answered something the replicator cannot go on with."""


def _base_url(server: str) -> str:
    """``host:port`` (the historical form) or a full URL, without '/'."""
    if '://' not in server:
        server = 'http://' + server
    return server.rstrip('/')


class ImageService:
    """The few Images API calls replication needs, on one glance."""

    def __init__(self, server: str, token: str | None = None,
                 timeout: float = 60):
        self.url = _base_url(server)
        self.session = requests.Session()
        if token:
            self.session.headers['X-Auth-Token'] = token
        self.timeout = timeout

    def _call(self, method: str, path: str, ok: Iterable[int] = (200,),
              **kw) -> requests.Response:
        try:
            r = self.session.request(method, self.url + path,
                                     timeout=self.timeout, **kw)
        except requests.ConnectionError:
            raise ReplicationError('cannot reach glance at %s (is glance-api '
                                   'running there?)' % self.url)
        except requests.RequestException as exc:
            raise ReplicationError('%s %s: %s' % (method, self.url + path,
                                                  exc))
        if r.status_code not in ok:
            raise ReplicationError('%s %s answered %d: %s' % (
                method, self.url + path, r.status_code, r.text[:300]))
        return r

    def images(self) -> Iterator[dict]:
        """Every image the caller can see, following the pages."""
        path = '/v2/images?limit=100'
        while path:
            body = self._call('GET', path).json()
            yield from body.get('images', [])
            path = body.get('next')

    def get(self, image_id: str) -> dict | None:
        r = self._call('GET', '/v2/images/%s' % image_id, ok=(200, 404))
        return r.json() if r.status_code == 200 else None

    def create(self, image: dict) -> dict:
        return self._call('POST', '/v2/images', ok=(201,), json=image).json()

    def update(self, image_id: str, changes: list[dict]) -> dict:
        return self._call('PATCH', '/v2/images/%s' % image_id,
                          data=json.dumps(changes),
                          headers={'Content-Type': PATCH_MEDIA}).json()

    def add_tag(self, image_id: str, tag: str) -> None:
        self._call('PUT', '/v2/images/%s/tags/%s' % (image_id, tag),
                   ok=(204,))

    def download(self, image_id: str, chunk_size: int) -> Iterator[bytes]:
        r = self._call('GET', '/v2/images/%s/file' % image_id, stream=True)
        try:
            yield from r.iter_content(chunk_size)
        finally:
            r.close()

    def upload(self, image_id: str, data: Iterable[bytes]) -> None:
        self._call('PUT', '/v2/images/%s/file' % image_id, ok=(204,),
                   data=data,
                   headers={'Content-Type': 'application/octet-stream'})


class Progress:
    """One line per image on stderr, and a running byte count for data."""

    def __init__(self, total: int, verbose: bool = True,
                 stream=sys.stderr):
        self.total, self.done = total, 0
        self.verbose, self.stream = verbose, stream

    def image(self, image: dict, action: str) -> None:
        self.done += 1
        if self.verbose:
            print('[%d/%d] %s %s (%s)' % (self.done, self.total, action,
                                          image['id'], image.get('name')),
                  file=self.stream, flush=True)

    def count(self, chunks: Iterable[bytes], size: int | None
              ) -> Iterator[bytes]:
        """Pass the data through, showing how much of it has gone by."""
        sent, shown = 0, -1
        for chunk in chunks:
            sent += len(chunk)
            percent = sent * 100 // size if size else 100
            if self.verbose and percent // 10 != shown:
                shown = percent // 10
                print('    %d of %s bytes (%d%%)' % (sent, size, percent),
                      file=self.stream, flush=True)
            yield chunk


def replicable(image: dict) -> bool:
    """Only active images have what a replica needs (data and checksum)."""
    return image.get('status') == 'active'


def metadata(image: dict, dont_replicate: Iterable[str]) -> dict:
    """The fields of ``image`` a replica is created or updated with."""
    skip = READ_ONLY | set(dont_replicate)
    # os_glance_* properties are the service's own bookkeeping (import
    # locks, stores): the target keeps its own and refuses ours.
    return {k: v for k, v in image.items()
            if k not in skip and not k.startswith('os_glance_')}


def differences(source: dict, target: dict,
                dont_replicate: Iterable[str]) -> dict[str, tuple]:
    """field -> (source value, target value) where the replica differs."""
    wanted = metadata(source, dont_replicate)
    have = metadata(target, dont_replicate)
    out = {k: (v, have.get(k)) for k, v in wanted.items()
           if have.get(k) != v}
    out.update({k: (None, v) for k, v in have.items() if k not in wanted})
    if set(source.get('tags', [])) != set(target.get('tags', [])):
        out['tags'] = (sorted(source.get('tags', [])),
                       sorted(target.get('tags', [])))
    return out


def size(source: ImageService) -> tuple[int, int]:
    """(number of replicable images, their total bytes)."""
    images = [i for i in source.images() if replicable(i)]
    return len(images), sum(i.get('size') or 0 for i in images)


def compare(source: ImageService, target: ImageService,
            dont_replicate: Iterable[str]) -> list[str]:
    """What the target lacks or has differently, one line per finding."""
    findings = []
    for image in source.images():
        if not replicable(image):
            continue
        replica = target.get(image['id'])
        if replica is None:
            findings.append('Image %s (%s) is missing from the target'
                            % (image['id'], image.get('name')))
            continue
        for field, (want, have) in sorted(
                differences(image, replica, dont_replicate).items()):
            findings.append('Image %s (%s): %s is %r on the source, %r on '
                            'the target' % (image['id'], image.get('name'),
                                            field, want, have))
    return findings


def _write_replica(target: ImageService, image: dict,
                   dont_replicate: Iterable[str],
                   data: Callable[[], Iterable[bytes]] | None,
                   progress: Progress) -> str:
    """Create or update ``image`` on the target; upload its data if new.

    Returns what was done: 'created', 'updated' or 'unchanged'.  An image
    created without its data (metaonly, or a failed upload) stays queued on
    the target and takes its data on a later run.
    """
    replica = target.get(image['id'])
    action = 'unchanged'
    if replica is None:
        body = metadata(image, dont_replicate)
        body['id'] = image['id']
        body['tags'] = image.get('tags', [])
        replica = target.create(body)
        action = 'created'
    else:
        changes = differences(image, replica, dont_replicate)
        patch = []
        for field, (want, have) in changes.items():
            if field == 'tags':
                patch.append({'op': 'replace', 'path': '/tags',
                              'value': want})
            elif want is None:
                patch.append({'op': 'remove', 'path': '/' + field})
            else:
                patch.append({'op': 'add', 'path': '/' + field,
                              'value': want})
        if patch:
            replica = target.update(image['id'], patch)
            action = 'updated'
    progress.image(image, action)
    if data is not None and replica.get('status') == 'queued':
        target.upload(image['id'], progress.count(data(), image.get('size')))
    return action


def livecopy(source: ImageService, target: ImageService,
             dont_replicate: Iterable[str], metaonly: bool, chunk_size: int,
             progress_factory: Callable[[int], Progress] = Progress
             ) -> dict[str, int]:
    """Replicate every active image of the source onto the target."""
    images = [i for i in source.images() if replicable(i)]
    progress = progress_factory(len(images))
    counts: dict[str, int] = {}
    for image in images:
        data = None if metaonly else (
            lambda i=image: source.download(i['id'], chunk_size))
        action = _write_replica(target, image, dont_replicate, data, progress)
        counts[action] = counts.get(action, 0) + 1
    return counts


def dump(source: ImageService, path: str, metaonly: bool, chunk_size: int,
         progress_factory: Callable[[int], Progress] = Progress) -> int:
    """Write each active image to ``path``: ``<id>`` (JSON) and
    ``<id>.img`` (data).  Data already dumped whole is not fetched again;
    data is written to a temporary name and renamed once complete."""
    os.makedirs(path, exist_ok=True)
    images = [i for i in source.images() if replicable(i)]
    progress = progress_factory(len(images))
    for image in images:
        base = os.path.join(path, image['id'])
        with open(base + '.json.part', 'w') as f:
            json.dump(image, f, indent=2, sort_keys=True)
        os.replace(base + '.json.part', base)
        have = os.path.getsize(base + '.img') \
            if os.path.exists(base + '.img') else -1
        if metaonly or have == image.get('size'):
            progress.image(image, 'dumped metadata of')
            continue
        progress.image(image, 'dumping')
        with open(base + '.img.part', 'wb') as f:
            for chunk in progress.count(
                    source.download(image['id'], chunk_size),
                    image.get('size')):
                f.write(chunk)
        os.replace(base + '.img.part', base + '.img')
    return len(images)


def load(path: str, target: ImageService, dont_replicate: Iterable[str],
         metaonly: bool, chunk_size: int,
         progress_factory: Callable[[int], Progress] = Progress
         ) -> dict[str, int]:
    """Create (or update) on the target every image dumped in ``path``."""
    names = sorted(n for n in os.listdir(path)
                   if '.' not in n and os.path.isfile(os.path.join(path, n)))
    progress = progress_factory(len(names))
    counts: dict[str, int] = {}
    for name in names:
        with open(os.path.join(path, name)) as f:
            image = json.load(f)
        data_path = os.path.join(path, name + '.img')
        data = None
        if not metaonly and os.path.exists(data_path):
            data = functools.partial(_read_file, data_path, chunk_size)
        action = _write_replica(target, image, dont_replicate, data, progress)
        counts[action] = counts.get(action, 0) + 1
    return counts


def _read_file(path: str, chunk_size: int) -> Iterator[bytes]:
    with open(path, 'rb') as f:
        yield from iter(functools.partial(f.read, chunk_size), b'')


def human_size(num: float) -> str:
    for unit in ('bytes', 'KiB', 'MiB', 'GiB', 'TiB'):
        if num < 1024 or unit == 'TiB':
            return ('%d %s' if unit == 'bytes' else '%.1f %s') % (num, unit)
        num /= 1024
    return str(num)


def describe(counts: dict[str, Any]) -> str:
    return ', '.join('%d %s' % (n, action)
                     for action, n in sorted(counts.items())) or 'nothing'
