"""The Image entity: state machine, property rules, create-time defaults."""
from __future__ import annotations

import datetime
import uuid

import pytest

from glance.common import exception
from glance.domain import image as domain

#: every (from, to) move the service makes on purpose; written out by hand
#: so that a change to the state table is a visible change to this test
ALLOWED = {
    ('queued', 'saving'), ('queued', 'uploading'), ('queued', 'importing'),
    ('queued', 'active'), ('queued', 'deleted'), ('queued', 'killed'),
    ('saving', 'active'), ('saving', 'killed'), ('saving', 'deleted'),
    ('saving', 'queued'),
    ('uploading', 'importing'), ('uploading', 'queued'),
    ('uploading', 'deleted'), ('uploading', 'active'),
    ('importing', 'active'), ('importing', 'deleted'),
    ('importing', 'queued'), ('importing', 'killed'),
    ('active', 'pending_delete'), ('active', 'deleted'),
    ('active', 'deactivated'),
    ('killed', 'deleted'),
    ('pending_delete', 'deleted'), ('pending_delete', 'active'),
    ('deactivated', 'active'), ('deactivated', 'deleted'),
}
#: moves that would break a promise the API makes, each for a reason
FORBIDDEN_SAMPLE = [
    ('deleted', 'active'),        # a deleted image never comes back
    ('deleted', 'queued'),
    ('active', 'queued'),         # active data is immutable
    ('active', 'saving'),
    ('active', 'killed'),
    ('killed', 'active'),         # a failed upload cannot become active
    ('killed', 'queued'),
    ('deactivated', 'queued'),
    ('deactivated', 'pending_delete'),
    ('pending_delete', 'queued'),
    ('saving', 'uploading'),
    ('uploading', 'saving'),
    ('importing', 'saving'),
]


def _image(status='queued', **kw) -> domain.Image:
    return domain.Image(image_id=str(uuid.uuid4()), status=status, **kw)


def test_allowed_table_is_the_state_table():
    table = {(a, b) for a, targets in domain.TRANSITIONS.items()
             for b in targets}
    assert table == ALLOWED
    assert set(domain.STATUSES) == {
        'queued', 'saving', 'uploading', 'importing', 'active', 'killed',
        'pending_delete', 'deleted', 'deactivated'}


@pytest.mark.parametrize('current,new', sorted(ALLOWED))
def test_allowed_transition(current, new):
    image = _image(current)
    image.set_status(new)
    assert image.status == new


@pytest.mark.parametrize('current,new', FORBIDDEN_SAMPLE)
def test_forbidden_transition(current, new):
    image = _image(current)
    with pytest.raises(exception.InvalidImageStatusTransition) as err:
        image.set_status(new)
    assert err.value.code == 409
    assert current in str(err.value) and new in str(err.value)
    assert image.status == current


def test_every_pair_outside_the_table_is_refused():
    for current in domain.STATUSES:
        for new in domain.STATUSES:
            if current == new or (current, new) in ALLOWED:
                continue
            image = _image(current)
            with pytest.raises(exception.InvalidImageStatusTransition):
                image.set_status(new)


@pytest.mark.parametrize('status', domain.STATUSES)
def test_same_status_is_a_no_op(status):
    image = _image(status)
    image.set_status(status)
    assert image.status == status


def test_unknown_status_is_refused():
    with pytest.raises(exception.InvalidImageStatusTransition):
        _image('queued').set_status('frozen')
    with pytest.raises(exception.InvalidImageStatusTransition):
        _image('frozen').set_status('active')


def test_delete_marks_deleted():
    image = _image('active')
    image.delete()
    assert image.status == 'deleted'


def test_delete_protected_is_forbidden_and_changes_nothing():
    image = _image('active', protected=True)
    with pytest.raises(exception.ProtectedImageDelete) as err:
        image.delete()
    assert err.value.code == 403
    assert image.image_id in str(err.value)
    assert image.status == 'active'


def test_delete_of_deleted_image_is_refused():
    image = _image('deleted')
    image.delete()                      # same status: nothing to do
    assert image.status == 'deleted'


def test_stores_follow_location_order_without_duplicates():
    image = _image('active', locations=[
        {'url': 'file:///a', 'metadata': {'store': 'fast'}},
        {'url': 'file:///b', 'metadata': {}},
        {'url': 'file:///c', 'metadata': {'store': 'cheap'}},
        {'url': 'file:///d', 'metadata': {'store': 'fast'}},
        {'url': 'file:///e', 'metadata': None},
    ])
    assert image.stores == ['fast', 'cheap']
    assert _image().stores == []


@pytest.mark.parametrize('name', sorted(domain.READONLY_FIELDS))
def test_readonly_fields_are_never_settable(name):
    for creating in (True, False):
        with pytest.raises(exception.ReadonlyProperty) as err:
            domain.check_settable(name, creating=creating)
        assert err.value.code == 403
        assert name in str(err.value)


def test_id_settable_only_on_create():
    domain.check_settable('id', creating=True)
    with pytest.raises(exception.ReadonlyProperty):
        domain.check_settable('id', creating=False)


@pytest.mark.parametrize('name', ['os_glance_importing_to_stores',
                                  'os_glance_foo', 'os_glance'])
def test_reserved_prefix_is_refused(name):
    for creating in (True, False):
        with pytest.raises(exception.ReservedProperty) as err:
            domain.check_settable(name, creating=creating)
        assert err.value.code == 403


@pytest.mark.parametrize('name', ['name', 'visibility', 'protected',
                                  'os_hidden', 'min_disk', 'tags',
                                  'os_distro', 'os_glanc', 'glance_os',
                                  'hw_disk_bus'])
def test_ordinary_properties_are_settable(name):
    domain.check_settable(name, creating=True)
    domain.check_settable(name, creating=False)


def test_new_image_defaults():
    image = domain.new_image({'name': 'cirros'}, 'proj')
    assert image.status == 'queued'
    assert image.owner == 'proj'
    assert image.visibility == 'shared'
    assert image.protected is False and image.os_hidden is False
    assert image.min_disk == 0 and image.min_ram == 0
    assert image.size is None and image.checksum is None
    assert image.tags == set() and image.locations == []
    assert image.extra_properties == {}
    assert uuid.UUID(image.image_id)
    assert image.created_at == image.updated_at
    assert abs(image.created_at - domain.utcnow()) < datetime.timedelta(
        minutes=1)
    # A new image has not been loaded from anywhere: the policy layer
    # judges it as it is.
    assert image.loaded_status is None


def test_new_image_splits_core_and_extra_properties():
    image = domain.new_image({
        'id': '1c6e4a8f-1e0f-4a5f-9d3a-7d1b1a0e2f11', 'name': 'x',
        'disk_format': 'qcow2', 'container_format': 'bare', 'min_ram': 512,
        'visibility': 'private', 'protected': True, 'tags': ['a', 'b', 'a'],
        'owner': 'someone-else', 'os_distro': 'ubuntu', 'hw_qemu': 'yes',
    }, 'proj')
    assert image.image_id == '1c6e4a8f-1e0f-4a5f-9d3a-7d1b1a0e2f11'
    assert image.owner == 'someone-else'
    assert image.disk_format == 'qcow2' and image.container_format == 'bare'
    assert image.min_ram == 512 and image.visibility == 'private'
    assert image.protected is True
    assert image.tags == {'a', 'b'}
    assert image.extra_properties == {'os_distro': 'ubuntu',
                                      'hw_qemu': 'yes'}


def test_new_image_null_means_default():
    image = domain.new_image({'min_disk': None, 'min_ram': None,
                              'protected': None, 'os_hidden': None,
                              'visibility': None, 'tags': None}, 'p')
    assert (image.min_disk, image.min_ram, image.protected,
            image.os_hidden, image.visibility) == (0, 0, False, False,
                                                   'shared')
    assert image.tags == set()


def test_new_image_does_not_change_the_request():
    attrs = {'id': str(uuid.uuid4()), 'name': 'n', 'tags': ['t']}
    before = dict(attrs)
    domain.new_image(attrs, 'p')
    assert attrs == before


@pytest.mark.parametrize('attrs,error', [
    ({'status': 'active'}, exception.ReadonlyProperty),
    ({'size': 5}, exception.ReadonlyProperty),
    ({'checksum': 'abc'}, exception.ReadonlyProperty),
    ({'os_glance_x': '1'}, exception.ReservedProperty),
    ({'locations': []}, exception.Forbidden),
])
def test_new_image_refuses(attrs, error):
    with pytest.raises(error) as err:
        domain.new_image(attrs, 'p')
    assert err.value.code == 403


def test_check_values_accepts_ordinary_values():
    domain.check_values({'name': 'x' * 255, 'min_ram': 0, 'min_disk': 10,
                         'k' * 255: 'v'})


def test_check_values_property_name_too_long():
    with pytest.raises(exception.BadRequest) as err:
        domain.check_values({'k' * 256: 'v'})
    assert err.value.code == 400
    assert '255' in str(err.value)


@pytest.mark.parametrize('key', ['min_ram', 'min_disk'])
def test_check_values_negative_minimums(key):
    with pytest.raises(exception.BadRequest) as err:
        domain.check_values({key: -1})
    assert err.value.code == 400
    assert key in str(err.value)


def test_utcnow_is_naive_utc():
    now = domain.utcnow()
    assert now.tzinfo is None
    aware = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs(aware - now) < datetime.timedelta(minutes=1)
