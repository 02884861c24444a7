"""The metadef_* notifications: one event per change, sent after the change
is stored, with the payload naming the namespace (and the old name of a
renamed thing); refused calls send nothing."""
from __future__ import annotations

import pytest

from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import GlanceServer
from glance.tests.functional.test_notifications import LogEvents, wait_for

NS = '/v2/metadefs/namespaces/Notify::Ns'


@pytest.fixture(scope='module')
def log_server(tmp_path_factory):
    srv = GlanceServer(
        str(tmp_path_factory.mktemp('glance-metadef-notify')),
        profile='reference',
        settings=['oslo_messaging_notifications.driver=log']).start()
    yield srv
    srv.stop()


def _metadef_events(events: LogEvents) -> list[dict]:
    return [e for e in events.all()
            if e['event_type'].startswith('metadef_')]


def test_every_change_is_announced(log_server):
    admin = Client(log_server.url, identity('notify-admin',
                                            'admin,member,reader'))
    alice = Client(log_server.url, identity('notify-pa'))
    events = LogEvents(log_server)
    calls = [
        ('POST', '/v2/metadefs/namespaces',
         {'namespace': 'Notify::Ns', 'visibility': 'public'}),
        ('PUT', NS, {'namespace': 'Notify::Ns', 'display_name': 'N',
                     'visibility': 'public'}),
        ('POST', NS + '/objects', {'name': 'o1'}),
        ('PUT', NS + '/objects/o1', {'name': 'o2'}),
        ('DELETE', NS + '/objects/o2', None),
        ('POST', NS + '/properties', {'name': 'p1', 'title': 'P',
                                      'type': 'string'}),
        ('PUT', NS + '/properties/p1', {'name': 'p1', 'title': 'Q',
                                        'type': 'string'}),
        ('DELETE', NS + '/properties/p1', None),
        ('POST', NS + '/tags/t1', None),
        ('PUT', NS + '/tags/t1', {'name': 't2'}),
        ('DELETE', NS + '/tags/t2', None),
        ('POST', NS + '/resource_types', {'name': 'OS::Glance::Image',
                                          'prefix': 'x_'}),
        ('DELETE', NS + '/resource_types/OS::Glance::Image', None),
        ('DELETE', NS + '/tags', None),
        ('DELETE', NS, None),
    ]
    # Refused first: nothing may be announced for them.
    assert alice.post('/v2/metadefs/namespaces',
                      json={'namespace': 'Notify::Ns'}).status_code == 403
    for method, path, body in calls:
        kw = {} if body is None else {'json': body}
        r = admin.request(method, path, **kw)
        assert r.status_code < 300, (method, path, r.text)
    expected = [
        'metadef_namespace.create', 'metadef_namespace.update',
        'metadef_object.create', 'metadef_object.update',
        'metadef_object.delete', 'metadef_property.create',
        'metadef_property.update', 'metadef_property.delete',
        'metadef_tag.create', 'metadef_tag.update', 'metadef_tag.delete',
        'metadef_resource_type.create', 'metadef_resource_type.delete',
        'metadef_namespace.delete_tags', 'metadef_namespace.delete']
    got = wait_for(lambda: _metadef_events(events),
                   lambda got: len(got) >= len(expected),
                   'the metadef events')
    assert [e['event_type'] for e in got] == expected
    by_type = {e['event_type']: e['payload'] for e in got}
    assert all(p['namespace'] == 'Notify::Ns' for p in by_type.values())
    assert by_type['metadef_namespace.update']['display_name'] == 'N'
    assert (by_type['metadef_object.update']['name'],
            by_type['metadef_object.update']['name_old']) == ('o2', 'o1')
    assert (by_type['metadef_tag.update']['name'],
            by_type['metadef_tag.update']['name_old']) == ('t2', 't1')
    assert by_type['metadef_property.update']['title'] == 'Q'
    assert by_type['metadef_resource_type.create']['prefix'] == 'x_'
    delete = by_type['metadef_namespace.delete']
    assert delete['deleted'] is True and delete['deleted_at']
    assert by_type['metadef_namespace.create']['deleted'] is False
    assert all(e['priority'] == 'INFO' for e in got)
