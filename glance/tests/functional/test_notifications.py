"""Notifications: which calls send which events, with which payloads.

Three brokers: oslo.messaging's ``log`` driver (events read back from the
server's log file), a real RabbitMQ consumed with oslo.messaging's
notification listener, and a broker that is down, which must neither fail
nor hang an API call.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid

from oslo_config import cfg
import oslo_messaging
import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer, free_port

RABBIT_URL = os.environ.get('GLANCE_TEST_RABBIT_URL',
                            'rabbit://guest:guest@127.0.0.1:5672/')
#: the payload of every image.* event but image.send (the documented keys)
IMAGE_PAYLOAD_KEYS = {
    'id', 'name', 'status', 'created_at', 'updated_at', 'min_disk',
    'min_ram', 'protected', 'checksum', 'owner', 'disk_format',
    'container_format', 'size', 'virtual_size', 'is_public', 'visibility',
    'properties', 'tags', 'deleted', 'deleted_at', 'os_hash_algo',
    'os_hash_value', 'os_hidden',
}
SEND_PAYLOAD_KEYS = {'image_id', 'owner_id', 'receiver_tenant_id',
                     'receiver_user_id', 'destination_ip', 'bytes_sent'}
SIZE_CAP = 65536


def wait_for(fetch, done, what: str, timeout: float = 20):
    """Poll ``fetch()`` until ``done(result)``; events are sent after the
    response (image.send once the last byte left), so they may lag it."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError('%s never happened; last seen: %s'
                                 % (what, result))
        time.sleep(0.1)


def about(image_id: str, event: dict) -> bool:
    payload = event['payload']
    if isinstance(payload, dict):
        return image_id in (payload.get('id'), payload.get('image_id'))
    return image_id in str(payload)


class LogEvents:
    """Notifications written by the ``log`` driver to glance-api.log."""

    def __init__(self, server: GlanceServer):
        self.path = os.path.join(server.workdir, 'glance-api.log')

    def all(self) -> list[dict]:
        out = []
        with open(self.path, errors='replace') as f:
            for line in f:
                start = line.find('{"message_id"')
                if 'oslo.messaging.notification.' not in line or start < 0:
                    continue        # other logs, or traceback lines
                # an ERROR line may end with the exception being handled
                event, _ = json.JSONDecoder().raw_decode(line, start)
                out.append(event)
        return out

    def of(self, image_id: str) -> list[dict]:
        return [e for e in self.all() if about(image_id, e)]


def names(events) -> list[str]:
    return [e['event_type'] for e in events]


def wait_names(events, image_id, expected: list[str]) -> list[dict]:
    """The image's events once exactly ``expected`` have been sent."""
    return wait_for(lambda: events.of(image_id),
                    lambda got: names(got) == expected,
                    'events %s for %s' % (expected, image_id))


# --- the log driver --------------------------------------------------------

@pytest.fixture(scope='module')
def log_server(tmp_path_factory):
    srv = GlanceServer(
        str(tmp_path_factory.mktemp('glance-notify-log')),
        profile='reference',
        settings=['oslo_messaging_notifications.driver=log',
                  'DEFAULT.image_size_cap=%d' % SIZE_CAP]).start()
    yield srv
    srv.stop()


@pytest.fixture
def alice(log_server):
    return Client(log_server.url, identity('notify-pa', user='alice'))


@pytest.fixture
def events(log_server):
    return LogEvents(log_server)


def test_image_lifecycle_events(log_server, alice, events):
    image = alice.create(name='lifecycle', disk_format='raw',
                         container_format='bare', tags=['t1'],
                         os_distro='cirros')
    image_id = image['id']
    (create,) = wait_names(events, image_id, ['image.create'])
    payload = create['payload']
    assert set(payload) == IMAGE_PAYLOAD_KEYS
    assert create['priority'] == 'INFO'
    assert create['publisher_id'].startswith('image.')
    assert uuid.UUID(create['message_id'])
    assert payload['id'] == image_id and payload['name'] == 'lifecycle'
    assert payload['status'] == 'queued'
    assert payload['owner'] == 'notify-pa'
    assert payload['visibility'] == 'shared' and payload['is_public'] is False
    assert payload['size'] is None and payload['checksum'] is None
    assert payload['properties'] == {'os_distro': 'cirros'}
    assert payload['tags'] == ['t1']
    assert payload['deleted'] is False and payload['deleted_at'] is None
    assert payload['created_at'] == image['created_at']

    r = alice.patch('/v2/images/%s' % image_id,
                    [{'op': 'replace', 'path': '/name', 'value': 'renamed'}])
    assert r.status_code == 200, r.text
    update = wait_names(events, image_id,
                        ['image.create', 'image.update'])[-1]
    assert update['payload']['name'] == 'renamed'
    assert update['payload']['status'] == 'queued'

    data = os.urandom(3000)
    r = alice.upload(image_id, data)
    assert r.status_code == 204, r.text
    got = wait_names(events, image_id, [
        'image.create', 'image.update', 'image.prepare', 'image.upload',
        'image.activate'])
    prepare, upload, activate = got[2:]
    assert prepare['payload']['status'] == 'saving'
    assert prepare['payload']['size'] is None
    for event in (upload, activate):
        assert set(event['payload']) == IMAGE_PAYLOAD_KEYS
        assert event['priority'] == 'INFO'
        assert event['payload']['status'] == 'active'
        assert event['payload']['size'] == 3000
        assert event['payload']['checksum'] == hashlib.md5(data).hexdigest()
        assert event['payload']['os_hash_algo'] == 'sha512'
        assert event['payload']['os_hash_value'] == hashlib.sha512(
            data).hexdigest()

    r = alice.delete('/v2/images/%s' % image_id)
    assert r.status_code == 204
    delete = wait_names(events, image_id, [
        'image.create', 'image.update', 'image.prepare', 'image.upload',
        'image.activate', 'image.delete'])[-1]
    assert set(delete['payload']) == IMAGE_PAYLOAD_KEYS
    assert delete['payload']['deleted'] is True
    assert delete['payload']['deleted_at']
    assert delete['payload']['status'] == 'deleted'
    assert delete['payload']['name'] == 'renamed'


def test_image_send(log_server, alice, events):
    image = alice.create(name='sent', disk_format='raw',
                         container_format='bare', visibility='community')
    data = os.urandom(5000)
    assert alice.upload(image['id'], data).status_code == 204
    bob = Client(log_server.url, identity('notify-pb', user='bob'))
    r = bob.get('/v2/images/%s/file' % image['id'])
    assert r.status_code == 200 and r.content == data
    sends = wait_for(
        lambda: [e for e in events.of(image['id'])
                 if e['event_type'] == 'image.send'],
        lambda got: len(got) == 1, 'image.send')
    (send,) = sends
    assert send['priority'] == 'INFO'
    assert set(send['payload']) == SEND_PAYLOAD_KEYS
    assert send['payload'] == {
        'image_id': image['id'], 'owner_id': 'notify-pa',
        'receiver_tenant_id': 'notify-pb', 'receiver_user_id': 'bob',
        'destination_ip': '127.0.0.1', 'bytes_sent': 5000}

    # a byte range counts the bytes of the range
    r = bob.get('/v2/images/%s/file' % image['id'],
                headers={'Range': 'bytes=100-199'})
    assert r.status_code == 206 and r.content == data[100:200]
    sends = wait_for(
        lambda: [e for e in events.of(image['id'])
                 if e['event_type'] == 'image.send'],
        lambda got: len(got) == 2, 'second image.send')
    assert sends[1]['payload']['bytes_sent'] == 100
    assert sends[1]['priority'] == 'INFO'


def test_failed_upload_sends_an_error(alice, events):
    image = alice.create(name='too big', disk_format='raw',
                         container_format='bare')
    r = alice.upload(image['id'], os.urandom(SIZE_CAP + 1))
    assert r.status_code == 413
    got = wait_for(lambda: events.of(image['id']),
                   lambda got: 'image.upload' in names(got),
                   'image.upload error')
    assert names(got) == ['image.create', 'image.prepare', 'image.upload']
    error = got[-1]
    assert error['priority'] == 'ERROR'
    assert image['id'] in error['payload']
    # nothing claims the image became active, and it is queued again
    assert alice.get('/v2/images/%s' % image['id']).json()['status'] == \
        'queued'


def test_refused_calls_send_nothing(log_server, alice, events):
    image = alice.create(name='guarded', disk_format='raw',
                         container_format='bare')
    reader = Client(log_server.url, identity('notify-pa', roles='reader'))
    assert reader.delete('/v2/images/%s' % image['id']).status_code == 403
    r = reader.patch('/v2/images/%s' % image['id'],
                     [{'op': 'replace', 'path': '/name', 'value': 'x'}])
    assert r.status_code == 403
    assert reader.post('/v2/images', json={'name': 'no'}).status_code == 403
    # a later event proves the earlier (refused) ones had time to appear
    assert alice.delete('/v2/images/%s' % image['id']).status_code == 204
    wait_names(events, image['id'], ['image.create', 'image.delete'])


@pytest.fixture(scope='module')
def quiet_server(tmp_path_factory):
    srv = GlanceServer(
        str(tmp_path_factory.mktemp('glance-notify-quiet')),
        profile='reference',
        settings=['oslo_messaging_notifications.driver=log',
                  'DEFAULT.disabled_notifications=image.send,image.up'
                  ]).start()
    yield srv
    srv.stop()


def test_disabled_notifications(quiet_server):
    """disabled_notifications names events, or prefixes of whole parts."""
    client = Client(quiet_server.url, identity('quiet'))
    image = client.create(name='q', disk_format='raw',
                          container_format='bare')
    data = b'x' * 100
    assert client.upload(image['id'], data).status_code == 204
    assert client.get('/v2/images/%s/file' % image['id']).content == data
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    events = LogEvents(quiet_server)
    # "image.up" is no prefix of image.upload/update: they are still sent
    wait_names(events, image['id'], [
        'image.create', 'image.prepare', 'image.upload', 'image.activate',
        'image.delete'])


# --- a real RabbitMQ -------------------------------------------------------

def _rabbit_reachable() -> None:
    url = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), RABBIT_URL)
    host = url.hosts[0]
    try:
        socket.create_connection((host.hostname, host.port or 5672),
                                 timeout=3).close()
    except OSError as exc:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail('RabbitMQ must be reachable under CI=true: %s' % exc)
        pytest.skip('RabbitMQ not reachable at %s: %s' % (RABBIT_URL, exc))


class Collector:
    """A notification listener endpoint keeping everything it hears."""

    def __init__(self):
        self.events: list[dict] = []
        self.lock = threading.Lock()

    def _keep(self, priority, ctxt, publisher_id, event_type, payload,
              metadata):
        with self.lock:
            self.events.append({
                'priority': priority, 'context': ctxt,
                'publisher_id': publisher_id, 'event_type': event_type,
                'payload': payload, 'metadata': metadata})

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep('INFO', ctxt, publisher_id, event_type, payload,
                   metadata)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep('ERROR', ctxt, publisher_id, event_type, payload,
                   metadata)

    def of(self, image_id):
        with self.lock:
            return [e for e in self.events if about(image_id, e)]


@pytest.fixture(scope='module')
def rabbit(tmp_path_factory):
    """glance-api notifying a real RabbitMQ on a topic of its own, and a
    listener on that topic in this process."""
    _rabbit_reachable()
    topic = 'glance_test_%s' % uuid.uuid4().hex[:12]
    srv = GlanceServer(
        str(tmp_path_factory.mktemp('glance-notify-rabbit')),
        profile='reference',
        settings=['oslo_messaging_notifications.driver=messagingv2',
                  'oslo_messaging_notifications.transport_url=' +
                  RABBIT_URL,
                  'oslo_messaging_notifications.topics=' + topic]).start()
    conf = cfg.ConfigOpts()
    conf([], project='glance-test')
    transport = oslo_messaging.get_notification_transport(conf,
                                                          url=RABBIT_URL)
    collector = Collector()
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=topic)], [collector],
        executor='threading')
    listener.start()
    yield srv, collector
    listener.stop()
    listener.wait()
    transport.cleanup()
    srv.stop()
    _delete_queues(topic)


def _delete_queues(topic: str) -> None:
    """Remove the queues the test topic left on the shared broker."""
    import kombu
    url = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), RABBIT_URL)
    host = url.hosts[0]
    with kombu.Connection(hostname=host.hostname, port=host.port or 5672,
                          userid=host.username, password=host.password,
                          virtual_host=url.virtual_host or '/',
                          connect_timeout=5) as conn:
        channel = conn.channel()
        for priority in ('audit', 'debug', 'info', 'warn', 'error',
                         'critical', 'sample'):
            try:
                channel.queue_delete('%s.%s' % (topic, priority))
            except Exception:  # noqa: BLE001 - absent queue: nothing to do
                channel = conn.channel()


def test_rabbitmq_receives_the_events(rabbit):
    srv, collector = rabbit
    client = Client(srv.url, dict(identity('rabbit-pa', user='carol'),
                                  **{'X-Auth-Token': 'secret-token'}))
    image = client.create(name='over amqp', disk_format='raw',
                          container_format='bare')
    data = os.urandom(2048)
    assert client.upload(image['id'], data).status_code == 204
    assert client.get('/v2/images/%s/file' % image['id']).content == data
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    expected = ['image.create', 'image.prepare', 'image.upload',
                'image.activate', 'image.send', 'image.delete']
    got = wait_for(lambda: collector.of(image['id']),
                   lambda got: sorted(names(got)) == sorted(expected),
                   'events over RabbitMQ')
    by_name = {e['event_type']: e for e in got}
    create = by_name['image.create']
    assert set(create['payload']) == IMAGE_PAYLOAD_KEYS
    assert create['payload']['owner'] == 'rabbit-pa'
    assert create['publisher_id'].startswith('image.')
    assert create['metadata']['message_id']
    # messagingv2 carries the caller's context with the event
    assert create['context']['project_id'] == 'rabbit-pa'
    assert create['context']['user'] == 'carol'
    assert create['context']['roles'] == ['reader', 'member']
    # ... but never the caller's token
    assert 'secret-token' not in json.dumps(got)
    assert by_name['image.activate']['payload']['size'] == 2048
    assert by_name['image.send']['payload']['bytes_sent'] == 2048
    assert by_name['image.send']['payload']['receiver_user_id'] == 'carol'
    assert by_name['image.delete']['payload']['deleted'] is True


def test_rabbitmq_member_and_task_events(rabbit):
    """Sharing and an import over the broker: image.member.* with their
    statuses, task.* in order with their priorities."""
    srv, collector = rabbit
    owner = Client(srv.url, identity('rabbit-owner', user='olga'))
    bob = Client(srv.url, identity('rabbit-bob', user='bob'))
    image = owner.create(name='shared over amqp', disk_format='raw',
                         container_format='bare', visibility='shared')
    path = '/v2/images/%s/members' % image['id']
    assert owner.post(path, json={'member': 'rabbit-bob'}).status_code == 200
    assert bob.put(path + '/rabbit-bob',
                   json={'status': 'accepted'}).status_code == 200
    assert owner.delete(path + '/rabbit-bob').status_code == 204
    member_events = ['image.member.create', 'image.member.update',
                     'image.member.delete']
    got = wait_for(
        lambda: [e for e in collector.of(image['id'])
                 if e['event_type'].startswith('image.member.')],
        lambda got: names(got) == member_events, 'member events')
    assert [e['priority'] for e in got] == ['INFO'] * 3
    assert [e['payload']['status'] for e in got] == [
        'pending', 'accepted', 'accepted']
    assert got[1]['context']['project_id'] == 'rabbit-bob'
    for event in got:
        assert set(event['payload']) == {
            'image_id', 'member_id', 'status', 'created_at', 'updated_at',
            'deleted', 'deleted_at'}

    # An import: its task announces itself from creation to success.
    staged = owner.put('/v2/images/%s/stage' % image['id'], data=b'z' * 512,
                       headers={'Content-Type': 'application/octet-stream'})
    assert staged.status_code == 204, staged.text
    r = owner.post('/v2/images/%s/import' % image['id'],
                   json={'method': {'name': 'glance-direct'}})
    assert r.status_code == 202, r.text
    task_events = ['task.create', 'task.run', 'task.processing',
                   'task.progress', 'task.progress', 'task.success']
    # (task.progress: the copy into the store at 0 and at 512 bytes)
    got = wait_for(
        lambda: [e for e in collector.of(image['id'])
                 if e['event_type'].startswith('task.')],
        lambda got: names(got) == task_events, 'task events')
    assert {e['payload']['id'] for e in got} == {got[0]['payload']['id']}
    assert got[0]['payload']['type'] == 'api_image_import'
    assert got[-1]['payload']['status'] == 'success'
    image_events = wait_for(
        lambda: names(e for e in collector.of(image['id'])
                      if e['event_type'] in ('image.upload',
                                             'image.activate')),
        lambda got: got == ['image.upload', 'image.activate'],
        'import image events')
    assert image_events


def test_rabbitmq_metadef_events(rabbit):
    """The catalog's events travel the same way (admin writes)."""
    srv, collector = rabbit
    admin = Client(srv.url, identity('rabbit-admin', 'admin,member,reader'))
    name = 'Rabbit::%s' % uuid.uuid4().hex[:8]
    ns = '/v2/metadefs/namespaces/' + name
    calls = [
        ('POST', '/v2/metadefs/namespaces', {'namespace': name}),
        ('POST', ns + '/objects', {'name': 'o1'}),
        ('POST', ns + '/properties', {'name': 'p1', 'title': 'P',
                                      'type': 'string'}),
        ('POST', ns + '/tags/t1', None),
        ('POST', ns + '/resource_types', {'name': 'OS::Glance::Image'}),
        ('DELETE', ns, None),
    ]
    for method, path, body in calls:
        r = admin.request(method, path, **({} if body is None else
                                           {'json': body}))
        assert r.status_code < 300, (method, path, r.text)
    expected = ['metadef_namespace.create', 'metadef_object.create',
                'metadef_property.create', 'metadef_tag.create',
                'metadef_resource_type.create', 'metadef_namespace.delete']

    def mine():
        with collector.lock:
            return [e for e in collector.events
                    if e['event_type'].startswith('metadef_')
                    and e['payload'].get('namespace') == name]
    got = wait_for(mine, lambda got: names(got) == expected,
                   'metadef events over RabbitMQ')
    assert {e['priority'] for e in got} == {'INFO'}
    assert got[0]['payload']['visibility'] == 'private'
    assert got[1]['payload']['name'] == 'o1'
    assert got[4]['payload']['name'] == 'OS::Glance::Image'
    assert all(e['publisher_id'].startswith('image.') for e in got)


# --- a broker that is down -------------------------------------------------

#: a hang, not a slow answer: a notifier retrying for ever never returns
HANG = 30


def exercise(client: Client) -> None:
    """Every event-sending call, each of which must answer."""
    image = client.create(name='no broker', disk_format='raw',
                          container_format='bare')
    r = client.patch('/v2/images/%s' % image['id'],
                     [{'op': 'add', 'path': '/k', 'value': 'v'}],
                     timeout=HANG)
    assert r.status_code == 200, r.text
    data = os.urandom(1024)
    r = client.put('/v2/images/%s/file' % image['id'], data=data,
                   headers={'Content-Type': 'application/octet-stream'},
                   timeout=HANG)
    assert r.status_code == 204, r.text
    r = client.get('/v2/images/%s/file' % image['id'], timeout=HANG)
    assert r.status_code == 200 and r.content == data
    r = client.get('/v2/images/%s' % image['id'], timeout=HANG)
    assert r.json()['status'] == 'active'
    r = client.delete('/v2/images/%s' % image['id'], timeout=HANG)
    assert r.status_code == 204


def test_broker_down_does_not_fail_calls(tmp_path):
    closed = free_port()        # nothing listens there
    srv = GlanceServer(
        str(tmp_path), profile='reference',
        settings=['oslo_messaging_notifications.driver=messagingv2',
                  'oslo_messaging_notifications.transport_url='
                  'rabbit://guest:guest@127.0.0.1:%d/' % closed]).start()
    try:
        client = Client(srv.url, identity('down-pa'))
        client.request = _with_timeout(client.request)
        exercise(client)
        with open(os.path.join(srv.workdir, 'glance-api.log')) as f:
            assert 'Could not send notification' in f.read()
    finally:
        srv.stop()


def _with_timeout(request):
    def call(method, path, **kw):
        kw.setdefault('timeout', HANG)
        return request(method, path, **kw)
    return call


class Proxy:
    """A TCP relay to RabbitMQ that the test can cut, as if the broker
    went away after glance connected to it."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        """Close the port and every connection through it."""
        self.closed = True
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_broker_lost_after_connecting_does_not_hang_calls(tmp_path):
    """The notifier had a connection and the broker vanishes: the next
    events must not wait for it (glance bounds oslo.messaging's retry;
    requests' timeout turns a hang into a failure)."""
    _rabbit_reachable()
    url = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), RABBIT_URL)
    host = url.hosts[0]
    proxy = Proxy((host.hostname, host.port or 5672))
    topic = 'glance_test_%s' % uuid.uuid4().hex[:12]
    srv = GlanceServer(
        str(tmp_path), profile='reference',
        settings=['oslo_messaging_notifications.driver=messagingv2',
                  'oslo_messaging_notifications.topics=' + topic,
                  'oslo_messaging_notifications.transport_url='
                  'rabbit://%s:%s@127.0.0.1:%d/' % (
                      host.username, host.password, proxy.port)]).start()
    try:
        client = Client(srv.url, identity('lost-pa'))
        client.request = _with_timeout(client.request)
        client.create(name='while the broker is up')   # connects
        proxy.cut()
        exercise(client)
    finally:
        srv.stop()
        proxy.cut()
        _delete_queues(topic)
