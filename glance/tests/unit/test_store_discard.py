"""glance_store: removing what a killed write left (Store.discard).

Recovery (glance.async_.recovery) calls it once the writer's lease has
expired; the filesystem driver finds the partial file in whichever of its
directories the write went to.
"""
from __future__ import annotations

import uuid

from glance.tests.unit.test_filesystem_store import _store


def test_discard_removes_the_partial_file_in_any_directory(tmp_path):
    store = _store(tmp_path, filesystem_store_datadirs=[
        '%s:1' % (tmp_path / 'a'), '%s:2' % (tmp_path / 'b')])
    image_id = str(uuid.uuid4())
    partial = tmp_path / 'a' / image_id
    partial.write_bytes(b'half of it')
    other = tmp_path / 'b' / str(uuid.uuid4())
    other.write_bytes(b'another image')
    removed = store.discard(image_id)
    assert removed == ['file://%s' % partial]
    assert not partial.exists() and other.exists()
    # Nothing left: nothing to do, and no error.
    assert store.discard(image_id) == []


def test_a_new_write_succeeds_once_the_partial_file_is_discarded(tmp_path):
    store = _store(tmp_path)
    image_id = str(uuid.uuid4())
    (tmp_path / 'images' / image_id).write_bytes(b'partial')
    store.discard(image_id)
    uri, size, _meta = store.add(image_id, iter([b'whole data']), 10)
    assert size == 10 and uri.endswith(image_id)
