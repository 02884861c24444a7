"""ImageCache with the sqlite driver on a temporary directory: filling,
verification, discarding partial copies, queue, pruning and cleaning."""
from __future__ import annotations

import hashlib
import os
import time

import pytest

from glance.domain.image import Image
from glance import image_cache


@pytest.fixture
def cache(initialised_conf, tmp_path):
    conf = initialised_conf
    conf.set_override('image_cache_dir', str(tmp_path / 'cache'))
    conf.set_override('image_cache_driver', 'sqlite')
    yield image_cache.ImageCache()
    conf.clear_override('image_cache_dir')
    conf.clear_override('image_cache_driver')


def image_of(data: bytes, image_id: str = 'img-1') -> Image:
    return Image(image_id=image_id, status='active', size=len(data),
                 checksum=hashlib.md5(data).hexdigest(),
                 os_hash_algo='sha512',
                 os_hash_value=hashlib.sha512(data).hexdigest())


def chunks(data: bytes, size: int = 1000):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def read(cache, image, offset=0, length=None) -> bytes | None:
    hit = cache.open(image, offset, length)
    return None if hit is None else b''.join(hit[0])


def test_tee_passes_the_data_and_caches_a_verified_copy(cache):
    data = os.urandom(10_000)
    image = image_of(data)
    assert b''.join(cache.tee(image, chunks(data))) == data
    assert cache.is_cached(image.image_id)
    assert read(cache, image) == data
    assert read(cache, image, 100, 10) == data[100:110]
    [entry] = cache.cached()
    assert (entry.image_id, entry.size, entry.hits) == ('img-1', 10_000, 2)


def test_closed_midway_leaves_nothing(cache):
    data = os.urandom(10_000)
    image = image_of(data)
    stream = iter(cache.tee(image, chunks(data)))
    next(stream)
    assert os.listdir(os.path.join(cache.base, 'incomplete')) == ['img-1']
    stream.close()
    assert os.listdir(os.path.join(cache.base, 'incomplete')) == []
    assert not cache.is_cached('img-1') and cache.cached() == []


def test_store_error_midway_leaves_nothing(cache):
    data = os.urandom(10_000)

    def failing():
        yield data[:1000]
        raise IOError('store went away')
    with pytest.raises(IOError):
        b''.join(cache.tee(image_of(data), failing()))
    assert os.listdir(os.path.join(cache.base, 'incomplete')) == []
    assert cache.cached() == []


def test_data_not_matching_the_image_goes_to_invalid(cache):
    data = os.urandom(10_000)
    image = image_of(data)
    bad = b'x' + data[1:]
    assert b''.join(cache.tee(image, chunks(bad))) == bad
    assert not cache.is_cached('img-1')
    assert os.listdir(os.path.join(cache.base, 'invalid')) == ['img-1']


def test_changed_file_is_verified_again(cache):
    data = os.urandom(10_000)
    image = image_of(data)
    cache.fill(image, chunks(data))
    path = cache.path('img-1')
    os.utime(path, ns=(1, 1))          # changed stamp, same bytes
    assert read(cache, image) == data   # verified again, still good
    with open(path, 'r+b') as f:
        f.write(b'\0')
    assert read(cache, image) is None
    assert not os.path.exists(path) and not cache.is_cached('img-1')
    assert os.path.exists(cache.path('img-1', 'invalid'))


def test_images_that_cannot_be_verified_are_not_cached(cache):
    data = b'abc'
    image = image_of(data)
    image.checksum = image.os_hash_value = None
    assert cache.tee(image, chunks(data)) is not None
    assert not cache.fill(image, chunks(data))
    queued = image_of(data)
    queued.status = 'deactivated'
    assert not cache.fill(queued, chunks(data))


def test_queue(cache):
    assert cache.queue('a') and cache.queue('b')
    assert sorted(cache.queued()) == ['a', 'b']
    assert cache.dequeue('a') and not cache.dequeue('a')
    assert cache.delete_queue() == 1 and cache.queued() == []
    data = b'q' * 10
    cache.fill(image_of(data, 'c'), [data])
    assert not cache.queue('c')         # cached already


def test_prune_least_recently_used_first(cache):
    for name in ('a', 'b', 'c'):
        cache.fill(image_of(name.encode() * 100, name), [name.encode() * 100])
        time.sleep(0.01)
    read(cache, image_of(b'a' * 100, 'a'))
    assert cache.prune(200) == ['b']
    assert cache.total_size() == 200
    assert cache.prune(0) == ['c', 'a']


def test_clean(cache):
    for sub, name in (('invalid', 'x'), ('incomplete', 'old'),
                      ('incomplete', 'new')):
        open(cache.path(name, sub), 'wb').close()
    os.utime(cache.path('old', 'incomplete'), (1, 1))
    assert sorted(cache.clean(3600)) == ['incomplete/old', 'invalid/x']
    assert os.listdir(os.path.join(cache.base, 'incomplete')) == ['new']


def test_unusable_configuration(initialised_conf, tmp_path):
    with pytest.raises(image_cache.CacheNotConfigured):
        image_cache.ImageCache()
    initialised_conf.set_override('image_cache_dir', str(tmp_path))
    try:
        with pytest.raises(ValueError, match='worker_self_reference_url'):
            image_cache.ImageCache()
    finally:
        initialised_conf.clear_override('image_cache_dir')
