"""The format inspection every stored byte stream goes through
(glance.common.format_inspector): images made by the real qemu-img (and
sgdisk for partition tables) in temporary directories, judged as the
service judges them, however the bytes are cut into chunks.
"""
from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess

import pytest
from oslo_config import cfg

from glance.common import config  # noqa: F401 - registers [image_format]
from glance.common import exception, format_inspector

CONF = cfg.CONF

pytestmark = pytest.mark.skipif(shutil.which('qemu-img') is None,
                                reason='qemu-img missing: run make '
                                       'test-deps')
MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def _defaults():
    yield
    for name in ('require_image_format_match', 'vmdk_allowed_types',
                 'gpt_safety_checks_nonfatal'):
        CONF.clear_override(name, group='image_format')


def _set(**overrides) -> None:
    for name, value in overrides.items():
        CONF.set_override(name, value, group='image_format')


def qemu_img(tmp_path, fmt: str, *options: str, size: str = '10M',
             name: str | None = None) -> bytes:
    """The bytes of a fresh image made by qemu-img."""
    path = tmp_path / (name or 'disk.%s' % fmt)
    subprocess.run(['qemu-img', 'create', '-f', fmt, *options, str(path),
                    size], check=True, capture_output=True)
    return path.read_bytes()


def _cut(data: bytes, size: int):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def judge(data: bytes, disk_format: str | None,
          container_format: str | None = 'bare',
          chunk: int = 65536) -> format_inspector.Verdict:
    inspection = format_inspector.Inspection('img-1', disk_format,
                                             container_format)
    out = b''.join(inspection.feed(_cut(data, chunk)))
    assert out == data                              # passed through as is
    return inspection.judge()


def refused(data: bytes, disk_format: str | None, **kwargs) -> str:
    with pytest.raises(exception.ImageUnsafe) as info:
        judge(data, disk_format, **kwargs)
    assert info.value.code == 415
    assert str(info.value).startswith('Image failed safety checks: ')
    return str(info.value)


# -- qcow2 -------------------------------------------------------------------

@pytest.mark.parametrize('chunk', [1, 511, 65536, 4 * MiB])
def test_plain_qcow2_accepted_with_its_virtual_size(tmp_path, chunk):
    data = qemu_img(tmp_path, 'qcow2', size='10M')
    if chunk == 1:
        data = data[:4096]        # the header is all a qcow2 check needs
    verdict = judge(data, 'qcow2', chunk=chunk)
    assert verdict == format_inspector.Verdict('qcow2', 10 * MiB)


def test_qcow2_with_backing_file_refused(tmp_path):
    data = qemu_img(tmp_path, 'qcow2', '-b', '/etc/hostname', '-F', 'raw')
    assert 'it has a backing file' in refused(data, 'qcow2')


def test_qcow2_with_external_data_file_refused(tmp_path):
    data = qemu_img(tmp_path, 'qcow2', '-o',
                    'data_file=%s' % (tmp_path / 'ext.raw'))
    assert 'it has an external data file' in refused(data, 'qcow2')


@pytest.mark.parametrize('match', [True, False])
def test_unsafe_qcow2_refused_whatever_it_claims(tmp_path, match):
    """Declaring the data raw must not smuggle a backing file in."""
    _set(require_image_format_match=match)
    data = qemu_img(tmp_path, 'qcow2', '-b', '/etc/hostname', '-F', 'raw')
    message = refused(data, 'raw')
    assert ('claims disk_format raw' if match else 'backing file') in message


# -- format mismatch ---------------------------------------------------------

def test_qcow2_declared_raw_refused(tmp_path):
    data = qemu_img(tmp_path, 'qcow2')
    assert 'its data is qcow2 but the image claims disk_format raw' in \
        refused(data, 'raw')


@pytest.mark.parametrize('disk_format', ['qcow2', 'vmdk', 'vhd', 'vhdx',
                                         'vdi', 'iso'])
def test_random_bytes_declared_as_a_format_refused(disk_format):
    data = os.urandom(70000)
    assert 'its data is raw but the image claims disk_format %s' \
        % disk_format in refused(data, disk_format)


def test_mismatch_allowed_when_the_match_is_not_required(tmp_path):
    _set(require_image_format_match=False)
    data = qemu_img(tmp_path, 'qcow2')
    assert judge(data, 'raw').format == 'qcow2'
    assert judge(os.urandom(1000), 'qcow2').format == 'raw'


@pytest.mark.parametrize('container', ['compressed', 'ova', 'docker'])
def test_archive_containers_hold_the_declared_format_inside(container):
    packed = gzip.compress(os.urandom(5000))
    assert judge(packed, 'qcow2', container_format=container).format == \
        'raw'


@pytest.mark.parametrize('fmt, size', [('vhd', None), ('vhdx', 10 * MiB),
                                       ('vdi', 10 * MiB)])
def test_other_qemu_formats_accepted_as_themselves(tmp_path, fmt, size):
    qemu = {'vhd': 'vpc'}.get(fmt, fmt)
    data = qemu_img(tmp_path, qemu, name='disk.' + fmt)
    verdict = judge(data, fmt)
    assert verdict.format == fmt
    # A dynamic VHD rounds its size up to whole cylinders.
    assert verdict.virtual_size == size or \
        verdict.virtual_size >= 10 * MiB
    assert 'claims disk_format raw' in refused(data, 'raw')


# -- vmdk --------------------------------------------------------------------

@pytest.mark.parametrize('subformat', ['monolithicSparse', 'streamOptimized'])
def test_single_file_vmdk_accepted(tmp_path, subformat):
    data = qemu_img(tmp_path, 'vmdk', '-o', 'subformat=' + subformat)
    assert judge(data, 'vmdk') == format_inspector.Verdict('vmdk', 10 * MiB)


@pytest.mark.parametrize('subformat', ['monolithicFlat',
                                       'twoGbMaxExtentSparse'])
def test_vmdk_naming_other_files_refused(tmp_path, subformat):
    # The descriptor file: its extents live in files beside it.
    data = qemu_img(tmp_path, 'vmdk', '-o', 'subformat=' + subformat)
    assert 'VMDK descriptor is refused' in refused(data, 'vmdk')


def test_vmdk_create_type_outside_the_allowed_list_refused(tmp_path):
    _set(vmdk_allowed_types=['monolithicSparse'])
    sparse = qemu_img(tmp_path, 'vmdk', name='a.vmdk')
    stream = qemu_img(tmp_path, 'vmdk', '-o', 'subformat=streamOptimized',
                      name='b.vmdk')
    assert judge(sparse, 'vmdk').format == 'vmdk'
    assert 'VMDK createType streamoptimized is not allowed' in \
        refused(stream, 'vmdk')


def test_no_vmdk_at_all_when_the_list_is_empty(tmp_path):
    _set(vmdk_allowed_types=[])
    data = qemu_img(tmp_path, 'vmdk')
    assert 'allowed: none' in refused(data, 'vmdk')


# -- partition tables (GPT, MBR) ---------------------------------------------

needs_sgdisk = pytest.mark.skipif(shutil.which('sgdisk') is None,
                                  reason='sgdisk missing')


def _raw_disk(tmp_path, size: int = 2 * MiB) -> str:
    path = str(tmp_path / 'disk.raw')
    with open(path, 'wb') as f:
        f.truncate(size)
    return path


@needs_sgdisk
@pytest.mark.parametrize('declared', ['raw', 'ami'])
def test_gpt_disk_is_raw(tmp_path, declared):
    path = _raw_disk(tmp_path)
    subprocess.run(['sgdisk', '-n', '1:2048:0', path], check=True,
                   capture_output=True)
    with open(path, 'rb') as f:
        data = f.read()
    verdict = judge(data, declared)
    assert verdict == format_inspector.Verdict('gpt', 2 * MiB)
    assert 'its data is gpt' in refused(data, 'qcow2')


def _mbr(boot_flag: int = 0x80, os_type: int = 0x83) -> bytes:
    """A disk with one classic MBR partition."""
    mbr = bytearray(512)
    struct.pack_into('<B3BB3BII', mbr, 446, boot_flag, 0, 2, 0, os_type,
                     0, 0, 0, 1, 100)
    mbr[510:512] = b'\x55\xaa'
    return bytes(mbr) + bytes(100 * 512)


def test_mbr_disk_is_raw():
    assert judge(_mbr(), 'raw').format == 'gpt'


def test_bad_partition_table_logged_by_default():
    assert judge(_mbr(boot_flag=0x42), 'raw').format == 'gpt'


def test_bad_partition_table_refused_when_fatal():
    _set(gpt_safety_checks_nonfatal=False)
    assert 'partition table is invalid' in refused(_mbr(boot_flag=0x42),
                                                   'raw')


# -- iso ---------------------------------------------------------------------

def iso_image(blocks: int = 40, system_area: bytes = b'') -> bytes:
    """An ISO 9660 volume: 16 system sectors, then the primary volume
    descriptor (sizes stored both-endian, as the standard asks)."""
    pvd = bytearray(2048)
    pvd[0:6] = b'\x01CD001'
    struct.pack_into('<I', pvd, 80, blocks)
    struct.pack_into('>I', pvd, 84, blocks)
    struct.pack_into('<H', pvd, 128, 2048)
    struct.pack_into('>H', pvd, 130, 2048)
    head = system_area + bytes(16 * 2048 - len(system_area))
    return head + bytes(pvd) + bytes((blocks - 17) * 2048)


@pytest.mark.parametrize('chunk', [1000, 65536])
def test_iso_accepted_with_its_virtual_size(chunk):
    assert judge(iso_image(), 'iso', chunk=chunk) == \
        format_inspector.Verdict('iso', 40 * 2048)


def test_bootable_iso_with_a_partition_table():
    hybrid = iso_image(system_area=_mbr()[:512])
    assert judge(hybrid, 'iso').format == 'iso'
    assert 'several formats (gpt, iso)' in refused(hybrid, 'raw')


def test_iso_declared_raw_refused():
    assert 'its data is iso' in refused(iso_image(), 'raw')


# -- raw ---------------------------------------------------------------------

@pytest.mark.parametrize('chunk', [7, 65536])
def test_raw_is_its_own_size(chunk):
    data = os.urandom(12345)
    assert judge(data, 'raw', chunk=chunk) == \
        format_inspector.Verdict('raw', 12345)


def test_empty_raw_has_no_virtual_size():
    assert judge(b'', 'raw') == format_inspector.Verdict('raw', None)


def test_consumer_stopping_at_the_announced_size_still_judged(tmp_path):
    """A store may stop reading once it has the announced bytes."""
    data = qemu_img(tmp_path, 'qcow2', '-b', '/etc/hostname', '-F', 'raw')
    inspection = format_inspector.Inspection('img-1', 'qcow2')
    feed = inspection.feed(_cut(data, 4096))
    for _ in range(len(data) // 4096):
        next(feed)
    with pytest.raises(exception.ImageUnsafe):
        inspection.judge()


def test_inspect_file(tmp_path):
    qemu_img(tmp_path, 'qcow2', name='x.qcow2')
    verdict = format_inspector.inspect_file(str(tmp_path / 'x.qcow2'),
                                            'img-1', 'qcow2')
    assert verdict == format_inspector.Verdict('qcow2', 10 * MiB)
    with pytest.raises(exception.ImageUnsafe):
        format_inspector.inspect_file(str(tmp_path / 'x.qcow2'), 'img-1',
                                      'raw')
