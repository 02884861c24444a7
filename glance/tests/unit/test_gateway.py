"""The chain: the Proxy base's forwarding rules and the gateway's order.

The order policy -> quota -> location -> notifier -> db is part of the
design (DESIGN.md, section 3); so is "every step passes all the way down",
checked here by putting the real layers over a repository that records the
calls it receives.
"""
from __future__ import annotations

import uuid

from oslo_config import cfg
import oslo_messaging
from oslo_messaging.notify import _impl_test
import pytest

from glance import context as glance_context
from glance.db import images as db_images
from glance.domain import image as domain
from glance.domain.proxy import Proxy
from glance.domain.transfer import Upload
from glance import gateway
from glance.layers import (location, notifier, policy, property_protection,
                           quota)

CONF = cfg.CONF


@pytest.fixture(autouse=True, scope='module')
def _conf(initialised_conf):
    """CONF parsed with no files: the shipped defaults only."""


# --- Proxy -----------------------------------------------------------------

class Thing:
    """A stand-in for an entity or repository at the bottom of a chain."""

    def __init__(self):
        self.name = 'thing'
        self.calls = []

    def hello(self, who):
        self.calls.append(who)
        return 'hello %s' % who


class Loud(Proxy):
    """A layer with one method of its own and one attribute of its own."""

    volume = 1

    def hello(self, who):
        return self.base.hello(who).upper()


def test_reads_and_calls_forward_to_base():
    thing = Thing()
    proxy = Proxy(thing)
    assert proxy.name == 'thing'
    assert proxy.hello('you') == 'hello you'
    assert thing.calls == ['you']
    with pytest.raises(AttributeError):
        proxy.missing


def test_writes_forward_to_base():
    thing = Thing()
    proxy = Proxy(thing)
    proxy.name = 'renamed'
    proxy.extra = 42
    assert thing.name == 'renamed' and thing.extra == 42
    assert 'name' not in vars(proxy) and 'extra' not in vars(proxy)


def test_layer_method_overrides_and_still_calls_base():
    thing = Thing()
    proxy = Loud(thing)
    assert proxy.hello('x') == 'HELLO X'
    assert thing.calls == ['x']


def test_attribute_declared_by_the_layer_stays_on_the_layer():
    thing = Thing()
    proxy = Loud(thing)
    proxy.volume = 11
    assert proxy.volume == 11
    assert not hasattr(thing, 'volume')
    assert Loud.volume == 1


def test_base_and_context_are_the_proxy_own():
    thing = Thing()
    proxy = Proxy(thing, context='ctx')
    assert proxy.base is thing and proxy.context == 'ctx'
    assert not hasattr(thing, 'context')


def test_nested_proxies_reach_the_innermost_object():
    thing = Thing()
    chain = Loud(Proxy(Loud(thing)))
    assert chain.innermost is thing
    assert chain.layers() == [Loud, Proxy, Loud, Thing]
    assert chain.hello('a') == 'HELLO A'    # upper() twice is still upper
    chain.name = 'deep'
    assert thing.name == 'deep'
    assert chain.name == 'deep'


def test_copy_of_a_proxy():
    import copy
    thing = Thing()
    proxy = Loud(thing, context='ctx')
    clone = copy.copy(proxy)
    assert clone.base is thing and clone.hello('c') == 'HELLO C'
    deep = copy.deepcopy(proxy)
    assert deep.base is not thing and deep.name == 'thing'
    assert deep.context == 'ctx'


def test_entity_fields_through_a_proxy():
    image = domain.Image(image_id='i1')
    proxy = Proxy(image)
    proxy.set_status('saving')
    proxy.name = 'via proxy'
    assert image.status == 'saving' and image.name == 'via proxy'
    assert proxy.stores == []


# --- gateway order ---------------------------------------------------------

def test_gateway_order_is_policy_quota_location_notifier_db():
    ctx = glance_context.RequestContext(project_id='p', roles=['member'])
    repo = gateway.get_repo(ctx)
    assert repo.layers() == [policy.ImageRepo, property_protection.ImageRepo,
                             quota.ImageRepo,
                             location.ImageRepo, notifier.ImageRepo,
                             db_images.ImageRepo]
    node = repo
    while isinstance(node, Proxy):
        assert node.context is ctx
        node = node.base
    assert node.context is ctx


def test_wrap_uses_the_same_order():
    bottom = Thing()
    assert gateway.wrap(bottom, None).layers() == [
        policy.ImageRepo, property_protection.ImageRepo, quota.ImageRepo,
        location.ImageRepo, notifier.ImageRepo, Thing]


def test_member_chain_keeps_the_order():
    """Members pass the location layer too: stores that control access
    (swift multi-tenant) learn who may read."""
    from glance.db import members as db_members
    ctx = glance_context.RequestContext(project_id='p', roles=['member'])
    image = domain.Image(image_id=str(uuid.uuid4()), owner='p')
    assert gateway.get_member_repo(ctx, image).layers() == [
        policy.MemberRepo, quota.MemberRepo, location.MemberRepo,
        notifier.MemberRepo, db_members.MemberRepo]


# --- every call reaches the bottom ----------------------------------------

class RecordingRepo:
    """The bottom of a chain: remembers what arrived and hands it back."""

    def __init__(self, image):
        self.image = image
        self.calls = []

    def get(self, image_id):
        self.calls.append('get')
        return self.image

    def list(self, query):
        self.calls.append('list')
        return [self.image]

    def add(self, image):
        self.calls.append('add')
        return image

    def save(self, image, from_state=None):
        self.calls.append('save')
        image.loaded_status = image.status
        return image

    def remove(self, image):
        self.calls.append('remove')
        return image

    def begin_upload(self, image):
        self.calls.append('begin_upload')
        return image

    def finish_upload(self, image, upload):
        self.calls.append('finish_upload')
        return image

    def abort_upload(self, image, upload, error):
        self.calls.append('abort_upload')
        return image

    def storage_used(self, owner, exclude=None):
        return 0


@pytest.fixture
def events():
    """Notifications sent while the test runs, via oslo.messaging's test
    driver."""
    oslo_messaging.get_notification_transport(CONF)   # registers the group
    CONF.set_override('driver', ['test'], group='oslo_messaging_notifications')
    notifier.reset()
    _impl_test.reset()
    yield _impl_test
    CONF.clear_override('driver', group='oslo_messaging_notifications')
    notifier.reset()


def _sent(driver):
    return [(m['event_type'], m['priority'], m['payload'])
            for _ctx, m, _prio, _retry in driver.NOTIFICATIONS]


def test_every_call_passes_every_layer(events):
    # the unauthenticated operator: every policy rule passes
    ctx = glance_context.RequestContext(is_admin=True)
    image = domain.Image(image_id=str(uuid.uuid4()), name='n',
                         owner='p', disk_format='raw',
                         container_format='bare')
    bottom = RecordingRepo(image)
    repo = gateway.wrap(bottom, ctx)

    assert repo.add(image) is image
    assert repo.get(image.image_id) is image
    assert repo.list(None) == [image]
    image.name = 'renamed'
    repo.save(image)
    image.set_status('saving')
    repo.begin_upload(image)
    upload = Upload(data=iter([]), size=3, checksum='c',
                    os_hash_algo='sha512', os_hash_value='h',
                    location={'url': 'file:///x', 'metadata': {},
                              'status': 'active'})
    repo.finish_upload(image, upload)
    assert image.status == 'active' and image.size == 3
    image.set_status('deleted')
    repo.remove(image)
    assert bottom.calls == ['add', 'get', 'list', 'save', 'begin_upload',
                            'finish_upload', 'remove']
    assert [e[0] for e in _sent(events)] == [
        'image.create', 'image.update', 'image.prepare', 'image.upload',
        'image.activate', 'image.delete']


def test_abort_passes_every_layer(events):
    ctx = glance_context.RequestContext(is_admin=True)
    image = domain.Image(image_id=str(uuid.uuid4()), status='saving',
                         owner='p')
    bottom = RecordingRepo(image)
    repo = gateway.wrap(bottom, ctx)
    repo.abort_upload(image, None, IOError('client went away'))
    assert image.status == 'queued'
    assert bottom.calls == ['abort_upload']
    (event, priority, payload), = _sent(events)
    assert (event, priority) == ('image.upload', 'ERROR')
    assert 'client went away' in payload


def test_policy_refusal_stops_before_the_bottom(events):
    reader = glance_context.RequestContext(project_id='p', roles=['reader'])
    image = domain.Image(image_id=str(uuid.uuid4()), owner='p')
    bottom = RecordingRepo(image)
    repo = gateway.wrap(bottom, reader)
    from glance.common import exception
    with pytest.raises(exception.Forbidden):
        repo.add(image)
    assert bottom.calls == []
    assert _sent(events) == []


def test_quota_refusal_stops_before_the_bottom(events):
    CONF.set_override('image_tag_quota', 1)
    try:
        ctx = glance_context.RequestContext(is_admin=True)
        image = domain.Image(image_id=str(uuid.uuid4()), owner='p',
                             tags={'a', 'b'})
        bottom = RecordingRepo(image)
        from glance.common import exception
        with pytest.raises(exception.ImageTagLimitExceeded):
            gateway.wrap(bottom, ctx).add(image)
        assert bottom.calls == []
        assert _sent(events) == []
    finally:
        CONF.clear_override('image_tag_quota')
