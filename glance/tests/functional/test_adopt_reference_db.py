"""A cloud switching from the reference service keeps its database.

For each backend the reference service's own database (see
``../shared/reference/upstream-db/MANIFEST.md``) is loaded, adopted by the
real ``glance-manage db sync``, and served by the real glance-api over the
same store files; every answer the reference recorded in ``expected.json``
must come back the same, except the differences listed in KNOWN with the
reason.  A new difference fails the test.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import re
import shutil
import subprocess

import pytest
import sqlalchemy as sa

from glance.db.sqlalchemy import models
from glance.tests import databases
from glance.tests import reference_db
from glance.tests.functional.conftest import Client, identity
from glance.tests.functional.server import BIN, GlanceServer

#: reference store directory -> our store (section) name in the
#: ``reference`` server profile
STORES = {'fast': 'fast', 'cheap': 'cheap',
          'staging': 'os_glance_staging_store'}

#: Differences from the recording that are not adoption's to remove:
#: pattern over a difference line (see _diff) -> why we answer differently.
#: None concerns data: the rows are compared exactly in
#: glance/tests/unit/test_adopt.py.
KNOWN: dict[str, str] = {
    # the same second in both (the back-reference checks it)
    r"^image_tasks\[[^]]+\]\[\d+\]\.(created_at|updated_at|expires_at): "
    r"want '([0-9T:-]{19})(\.\d+)?', have '\2Z'$":
        'GET /v2/images/{id}/tasks: we format timestamps as every other '
        'call does (ISO 8601 to the second, with Z); the reference prints '
        'the raw database value there',
    r"^images\[[^]]+\]\.os_glance_stage_host: unexpected ":
        'the reference leaves os_glance_stage_host (the staging node of an '
        'image mid-import) out of its image views; ours shows it (an API '
        'difference outside adoption, reported)',
    r"^metadefs\[[^]]+\]\.(namespace|properties)\.properties\.note\.name: "
    r"unexpected 'note'$":
        'a metadata property definition always carries its name here; the '
        'reference adds it only to properties created with their '
        'namespace, not to one added on its own (like "note")',
}


@contextlib.contextmanager
def _adopted_server(backend: str, work: str, settings=()):
    """glance-api on the reference database of ``backend``, adopted by
    ``glance-manage db sync``, over a copy of the reference store files."""
    facts = reference_db.expected()
    database = databases.TestDatabase(backend, work)
    try:
        reference_db.load(database)
        stores = os.path.join(work, 'stores')
        for ours in STORES.values():
            os.makedirs(os.path.join(stores, ours), exist_ok=True)
        for theirs, ours in STORES.items():
            src = os.path.join(reference_db.UPSTREAM_DB, 'store', theirs)
            for name in os.listdir(src):
                shutil.copyfile(os.path.join(src, name),
                                os.path.join(stores, ours, name))
        server = GlanceServer(work, database_url=database.url,
                              profile='reference', settings=settings)
        result = server.manage('db', 'sync')
        assert result.returncode == 0, result.stderr + result.stdout
        check = server.manage('db', 'check')
        assert check.returncode == 0, check.stderr + check.stdout
        _point_locations_at(database.url, facts, stores)
        _renew_tasks(database.url, facts['backends'][backend])
        server.start(sync_db=False)
        try:
            yield server, facts['backends'][backend], facts
        finally:
            server.stop()
    finally:
        database.drop()


@pytest.fixture(scope='module', params=databases.BACKENDS)
def adopted(request, tmp_path_factory):
    """(server, backend facts, all facts) on the adopted database."""
    work = str(tmp_path_factory.mktemp('adopt-%s' % request.param))
    with _adopted_server(request.param, work) as found:
        yield found


def _point_locations_at(url: str, facts: dict, stores: str) -> None:
    """Rewrite the recorded ``file:///var/lib/glance/...`` prefixes to the
    copy of the store files (MANIFEST.md, "Rewriting the file locations").
    """
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for old, new in _prefixes(facts, stores).items():
                conn.execute(sa.text(
                    'UPDATE image_locations SET value = '
                    'REPLACE(value, :old, :new)'), {'old': old, 'new': new})
    finally:
        engine.dispose()


def _renew_tasks(url: str, recorded: dict) -> None:
    """Serve the recorded tasks as the reference did when it answered.

    A task expires 48 hours after it ends (``task_time_to_live``), and an
    expired task is no longer listed or shown, by the reference as by us:
    from two days after the recording on, the recorded answers would no
    longer be the reference's either.  Every task's expiry moves the same
    whole number of days into the future, in the database and in the
    recorded answers, so everything else about them is compared as
    recorded."""
    table = models.Task.__table__
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(sa.select(table.c.id, table.c.expires_at)
                                .where(table.c.expires_at.isnot(None))).all()
            if not rows:
                return
            now = datetime.datetime.now(datetime.timezone.utc)
            days = (now.replace(tzinfo=None)
                    - min(r.expires_at for r in rows)).days + 2
            if days <= 0:
                return
            shift = datetime.timedelta(days=days)
            for row in rows:
                # (updated_at named, or the model's onupdate sets it)
                conn.execute(table.update().where(table.c.id == row.id)
                             .values(expires_at=row.expires_at + shift,
                                     updated_at=table.c.updated_at))
    finally:
        engine.dispose()
    answers = [*recorded['tasks'], *recorded['tasks_full'].values(),
               *(t for tasks in recorded['image_tasks'].values()
                 for t in tasks)]
    for task in answers:
        if task.get('expires_at'):
            # ISO 8601 to the second, then what follows it as recorded
            # (a fraction, Z)
            stamp, rest = task['expires_at'][:19], task['expires_at'][19:]
            moved = datetime.datetime.strptime(
                stamp, '%Y-%m-%dT%H:%M:%S') + shift
            task['expires_at'] = moved.strftime('%Y-%m-%dT%H:%M:%S') + rest


def _prefixes(facts: dict, stores: str) -> dict[str, str]:
    return {'file:///var/lib/glance/images/%s/' % theirs:
            'file://%s/' % os.path.join(stores, ours)
            for theirs, ours in STORES.items() if theirs != 'staging'}


def _as(server, who: str, facts: dict) -> Client:
    ident = facts['identities'][who]
    return Client(server.url, identity(ident['project_id'], ident['roles'],
                                       ident['user_id']))


def _diff(path: str, want, have, out: list[str]) -> None:
    """Collect the differences between two JSON values, with their path."""
    if isinstance(want, dict) and isinstance(have, dict):
        for key in sorted(set(want) | set(have)):
            if key not in have:
                out.append('%s.%s: missing (want %r)' % (path, key,
                                                         want[key]))
            elif key not in want:
                out.append('%s.%s: unexpected %r' % (path, key, have[key]))
            else:
                _diff('%s.%s' % (path, key), want[key], have[key], out)
    elif isinstance(want, list) and isinstance(have, list) and \
            len(want) == len(have):
        for i, (w, h) in enumerate(zip(want, have)):
            _diff('%s[%d]' % (path, i), w, h, out)
    elif want != have:
        out.append('%s: want %r, have %r' % (path, want, have))


def _unexpected(diffs: list[str]) -> list[str]:
    return [d for d in diffs
            if not any(re.match(known, d) for known in KNOWN)]


def _sorted(value):
    """Lists the reference returns in no fixed order (tags), sorted."""
    if isinstance(value, dict):
        return {k: sorted(v) if k == 'tags' and isinstance(v, list) and
                all(isinstance(x, str) for x in v) else _sorted(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def test_images_answer_as_recorded(adopted):
    server, backend, facts = adopted
    admin = _as(server, 'admin', facts)
    diffs: list[str] = []
    for image_id, want in backend['images'].items():
        r = admin.get('/v2/images/%s' % image_id)
        assert r.status_code == 200, (image_id, r.text)
        _diff('images[%s]' % image_id, _sorted(want), _sorted(r.json()),
              diffs)
    for image_id in backend['absent_via_api']:
        r = admin.get('/v2/images/%s' % image_id)
        if r.status_code != 404:
            diffs.append('absent[%s]: %d' % (image_id, r.status_code))
    assert not _unexpected(diffs), '\n'.join(_unexpected(diffs))


def test_lists_show_each_identity_what_they_showed(adopted):
    server, backend, facts = adopted
    diffs: list[str] = []
    for who, want in backend['list_visible'].items():
        r = _as(server, who, facts).get('/v2/images?limit=100')
        assert r.status_code == 200, r.text
        have = sorted(i['id'] for i in r.json()['images'])
        _diff('list_visible[%s]' % who, sorted(want), have, diffs)
    assert not _unexpected(diffs), '\n'.join(_unexpected(diffs))


def test_members_and_image_tasks_answer_as_recorded(adopted):
    server, backend, facts = adopted
    admin = _as(server, 'admin', facts)
    diffs: list[str] = []
    for image_id, want in backend['members'].items():
        r = admin.get('/v2/images/%s/members' % image_id)
        assert r.status_code == 200, r.text
        key = lambda m: m['member_id']  # noqa: E731
        _diff('members[%s]' % image_id, sorted(want, key=key),
              sorted(r.json()['members'], key=key), diffs)
    for image_id, want in backend['image_tasks'].items():
        r = admin.get('/v2/images/%s/tasks' % image_id)
        assert r.status_code == 200, r.text
        _diff('image_tasks[%s]' % image_id, want, r.json()['tasks'], diffs)
    assert not _unexpected(diffs), '\n'.join(_unexpected(diffs))


def test_tasks_answer_as_recorded(adopted):
    server, backend, facts = adopted
    admin = _as(server, 'admin', facts)
    diffs: list[str] = []
    r = admin.get('/v2/tasks')
    assert r.status_code == 200, r.text
    key = lambda t: t['id']  # noqa: E731
    _diff('tasks', sorted(backend['tasks'], key=key),
          sorted(r.json()['tasks'], key=key), diffs)
    for task_id, want in backend['tasks_full'].items():
        r = admin.get('/v2/tasks/%s' % task_id)
        assert r.status_code == 200, r.text
        _diff('tasks_full[%s]' % task_id, want, r.json(), diffs)
    assert not _unexpected(diffs), '\n'.join(_unexpected(diffs))


def test_locations_point_at_the_same_files(adopted):
    server, backend, facts = adopted
    svc = _as(server, 'svc', facts)
    stores = os.path.join(server.workdir, 'stores')
    back = {new: old for old, new in _prefixes(facts, stores).items()}
    diffs: list[str] = []
    for image_id, want in backend['locations'].items():
        r = svc.get('/v2/images/%s/locations' % image_id)
        assert r.status_code == 200, (image_id, r.text)
        have = r.json()
        for loc in have:
            for new, old in back.items():
                if loc.get('url', '').startswith(new):
                    loc['url'] = old + loc['url'][len(new):]
        key = lambda loc: loc['url']  # noqa: E731
        _diff('locations[%s]' % image_id, sorted(want, key=key),
              sorted(have, key=key), diffs)
    assert not _unexpected(diffs), '\n'.join(_unexpected(diffs))


def test_downloads_return_the_recorded_data(adopted):
    server, backend, facts = adopted
    admin = _as(server, 'admin', facts)
    downloaded = 0
    for image_id, image in backend['images'].items():
        if image['status'] != 'active':
            continue
        r = admin.get('/v2/images/%s/file' % image_id)
        assert r.status_code == 200, (image_id, r.text)
        assert len(r.content) == image['size'], image_id
        assert hashlib.md5(r.content).hexdigest() == image['checksum']
        assert hashlib.sha512(r.content).hexdigest() == \
            image['os_hash_value']
        downloaded += 1
    assert downloaded >= 10


def test_metadefs_answer_as_recorded(adopted):
    server, backend, facts = adopted
    admin = _as(server, 'admin', facts)
    diffs: list[str] = []
    r = admin.get('/v2/metadefs/namespaces?limit=1000')
    assert r.status_code == 200, r.text
    _diff('metadef_namespace_names', backend['metadef_namespace_names'],
          sorted(n['namespace'] for n in r.json()['namespaces']), diffs)
    r = admin.get('/v2/metadefs/resource_types')
    assert r.status_code == 200, r.text
    _diff('metadef_resource_types', backend['metadef_resource_types'],
          sorted(t['name'] for t in r.json()['resource_types']), diffs)
    for name, want in backend['metadefs'].items():
        base = '/v2/metadefs/namespaces/%s' % name
        for part, path in (('namespace', base),
                           ('objects', base + '/objects'),
                           ('properties', base + '/properties'),
                           ('tags', base + '/tags'),
                           ('resource_types', base +
                            '/resource_types')):
            r = admin.get(path)
            assert r.status_code == 200, (path, r.text)
            _diff('metadefs[%s].%s' % (name, part), _ordered(want[part]),
                  _ordered(r.json()), diffs)
    assert not _unexpected(diffs), '\n'.join(_unexpected(diffs))


def _ordered(value):
    """Lists of named things compared by name (neither side promises an
    order)."""
    if isinstance(value, dict):
        return {k: _ordered(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_ordered(v) for v in value]
        if all(isinstance(v, dict) and 'name' in v for v in items):
            return sorted(items, key=lambda v: v['name'])
        return items
    return value


def test_second_sync_changes_nothing(adopted):
    server, backend, facts = adopted
    result = server.manage('db', 'sync', '--dry-run')
    assert result.returncode == 0, result.stderr
    assert 'nothing to do' in result.stdout
    result = server.manage('db', 'sync')
    assert result.returncode == 0, result.stderr
    check = server.manage('db', 'check')
    assert check.returncode == 0, check.stdout
    version = server.manage('db', 'version')
    assert version.stdout.strip() == ', '.join(
        sorted(_heads())), version.stdout


def _heads() -> list[str]:
    from glance.db import migration
    return migration.heads()


@pytest.mark.parametrize('backend', databases.BACKENDS)
def test_writes_after_adoption(backend, tmp_path):
    """The adopted rows take writes like our own: what the reference
    soft-deleted can be added again (a property, a tag, a member), a new
    image gets data, an adopted one is deleted with its data, and the
    staged data of fixture-staged is imported by glance-direct (the node
    keeps the reference node's worker_self_reference_url, which the image
    names as its stage host)."""
    with _adopted_server(backend, str(tmp_path), settings=[
            'worker_self_reference_url=http://127.0.0.1:19800']) as found:
        server, facts_backend, facts = found
        keys = facts_backend['keys']
        admin = _as(server, 'admin', facts)
        alice = _as(server, 'alice', facts)
        bob = _as(server, 'bob', facts)

        cirros = keys['cirros-public']
        r = admin.patch('/v2/images/%s' % cirros, [
            {'op': 'add', 'path': '/fix_temp', 'value': 'again'}])
        assert r.status_code == 200, r.text
        assert r.json()['fix_temp'] == 'again'
        r = admin.put('/v2/images/%s/tags/to-be-removed' % cirros)
        assert r.status_code == 204, r.text
        assert 'to-be-removed' in admin.get(
            '/v2/images/%s' % cirros).json()['tags']

        shared = keys['shared']
        erin = facts['identities']['erin']['project_id']
        r = alice.post('/v2/images/%s/members' % shared,
                       json={'member': erin})
        assert r.status_code == 200, r.text
        assert r.json()['status'] == 'pending'
        members = alice.get('/v2/images/%s/members' % shared).json()
        assert len(members['members']) == 4

        image = alice.create(name='after-adoption', disk_format='raw',
                             container_format='bare')
        data = b'adopted' * 1000
        r = alice.upload(image['id'], data)
        assert r.status_code == 204, r.text
        r = alice.get('/v2/images/%s/file' % image['id'])
        assert r.status_code == 200 and r.content == data

        doomed = keys['shared-2']
        path = os.path.join(server.workdir, 'stores', 'cheap', doomed)
        assert os.path.exists(path)
        r = bob.delete('/v2/images/%s' % doomed)
        assert r.status_code == 204, r.text
        assert not os.path.exists(path)

        staged = keys['staged']
        r = bob.post('/v2/images/%s/import' % staged,
                     json={'method': {'name': 'glance-direct'}})
        assert r.status_code == 202, r.text
        image = _wait_for(bob, staged, 'active')
        with open(os.path.join(reference_db.UPSTREAM_DB, 'store', 'staging',
                               staged), 'rb') as f:
            data = f.read()
        assert image['size'] == len(data)
        assert image['checksum'] == hashlib.md5(data).hexdigest()
        r = bob.get('/v2/images/%s/file' % staged)
        assert r.status_code == 200 and r.content == data


def _wait_for(client: Client, image_id: str, status: str) -> dict:
    """Poll until the import finished (a generous bound, not a timing
    assertion: a stuck import fails with its last state)."""
    import time
    deadline = time.monotonic() + 120
    while True:
        image = client.get('/v2/images/%s' % image_id).json()
        if image['status'] == status or time.monotonic() > deadline:
            assert image['status'] == status, image
            return image
        time.sleep(0.2)


def test_the_scrubber_removes_the_pending_delete_data(adopted):
    """fixture-pending-delete was deleted under delayed_delete: after the
    adoption our glance-scrubber removes its data file and marks it
    deleted, as the reference scrubber would have."""
    server, backend, facts = adopted
    image_id = backend['keys']['pending-delete']
    path = os.path.join(server.workdir, 'stores', 'cheap', image_id)
    assert os.path.exists(path)
    result = subprocess.run(
        [os.path.join(BIN, 'glance-scrubber'), '--config-file',
         server.config], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    assert not os.path.exists(path)
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            status = conn.execute(sa.text(
                'SELECT status FROM images WHERE id = :i'),
                {'i': image_id}).scalar_one()
    finally:
        engine.dispose()
    assert status == 'deleted'
    r = _as(server, 'admin', facts).get('/v2/images/%s' % image_id)
    assert r.status_code == 404


def _manage(conf: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [os.path.join(BIN, 'glance-manage'), '--config-file', conf, *args],
        capture_output=True, text=True, timeout=120)


def test_the_commands_say_what_they_find(tmp_path):
    """db check / version / sync --dry-run on a reference database, and a
    refused one, through the real glance-manage."""
    from glance.tests.functional.server import write_config
    database = databases.TestDatabase('sqlite', str(tmp_path))
    reference_db.load(database)
    conf = write_config.build(str(tmp_path / 'etc'), 9292, 'default',
                              database.url)
    check = _manage(conf, 'db', 'check')
    assert check.returncode == 3, check.stdout + check.stderr
    assert 'alembic revision 2024_1_contract01' in check.stdout
    assert 'images' in check.stdout and '20 rows kept' in check.stdout
    version = _manage(conf, 'db', 'version')
    assert version.stdout.startswith('2024_1_contract01 (reference')
    dry = _manage(conf, 'db', 'sync', '--dry-run')
    assert dry.returncode == 0, dry.stderr
    assert 'Migration 2026_12_members' in dry.stdout
    assert _manage(conf, 'db', 'version').stdout == version.stdout

    engine = sa.create_engine(database.url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = "
                             "'2023_1_expand01'"))
    engine.dispose()
    for args in (('db', 'sync'), ('db', 'check'), ('db', 'sync',
                                                   '--dry-run')):
        result = _manage(conf, *args)
        assert result.returncode == 1, (args, result.stdout)
        assert '2023_1_expand01' in result.stderr
        assert 'Nothing was changed' in result.stderr
    assert _manage(conf, 'db', 'version').stdout.startswith(
        '2023_1_expand01')


@pytest.mark.parametrize('backend', databases.BACKENDS)
def test_two_syncs_at_once_adopt_once(backend, tmp_path):
    """Deployment tools run db sync on every controller: two at once must
    leave one adopted database with every row (the adoption takes an
    advisory lock, and looks again under it).  A run that loses a SQLite
    race may fail, with nothing changed; run again, it has nothing to do.
    """
    from glance.tests.functional.server import write_config
    database = databases.TestDatabase(backend, str(tmp_path))
    try:
        reference_db.load(database)
        conf = write_config.build(str(tmp_path / 'etc'), 9292, 'default',
                                  database.url)
        argv = [os.path.join(BIN, 'glance-manage'), '--config-file', conf,
                'db', 'sync']
        runs = [subprocess.Popen(argv, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
        results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
        for p in runs:
            p.stdout.close()
            p.stderr.close()
        codes = [code for code, _ in results]
        if backend == 'sqlite':
            assert 0 in codes, results
        else:
            assert codes == [0, 0], results
        again = _manage(conf, 'db', 'sync')
        assert again.returncode == 0, again.stderr
        check = _manage(conf, 'db', 'check')
        assert check.returncode == 0, check.stdout + check.stderr
        facts = reference_db.expected()['backends'][backend]['db']
        engine = sa.create_engine(database.url)
        try:
            with engine.connect() as conn:
                for table in ('images', 'image_properties', 'image_tags',
                              'image_locations', 'image_members', 'tasks',
                              'metadef_properties'):
                    count = conn.execute(sa.text(
                        'SELECT COUNT(*) FROM %s' % table)).scalar_one()
                    assert count == facts['tables'][table]['rows'], table
        finally:
            engine.dispose()
    finally:
        database.drop()
