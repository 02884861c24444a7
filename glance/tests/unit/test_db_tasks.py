"""The task repository on SQLite, PostgreSQL and MariaDB."""
from __future__ import annotations

import datetime
import uuid

import pytest

from glance import context
from glance.common import exception
from glance.db import tasks as db_tasks
from glance.domain import task as domain

pytestmark = pytest.mark.usefixtures('migrated_database')


def repo(project: str | None = 'p1', admin: bool = False):
    return db_tasks.TaskRepo(context.RequestContext(
        project_id=project, is_admin=admin))


def add(owner: str = 'p1', **kw) -> domain.Task:
    task = domain.new_task(kw.pop('type', 'import'), owner,
                           kw.pop('task_input', {'import_from': 'x'}), **kw)
    return repo(owner).add(task)


def test_round_trip_keeps_input_result_and_message():
    task_input = {'import_req': {'method': {'name': 'glance-direct'}},
                  'backend': ['fast', 'cheap'], 'name': 'caf\u00e9 \U0001F600'}
    task = add(type='api_image_import', task_input=task_input,
               image_id=str(uuid.uuid4()), request_id='req-1', user_id='u')
    got = repo().get(task.task_id)
    assert got.task_input == task_input
    assert (got.status, got.result, got.message) == ('pending', None, '')
    assert (got.image_id, got.request_id, got.user_id) == \
        (task.image_id, 'req-1', 'u')
    got.begin_processing()
    repo().save(got)
    got.fail('the source answered 404 \u2013 gone')
    repo().save(got)
    again = repo().get(task.task_id)
    assert again.status == 'failure'
    assert again.message == 'the source answered 404 \u2013 gone'
    assert again.expires_at > again.created_at


def test_transitions_are_guarded():
    task = add()
    with pytest.raises(exception.Conflict):
        task.succeed({})
    task.begin_processing()
    task.succeed({'image_id': 'i'})
    with pytest.raises(exception.Conflict):
        task.fail('late')


def test_expired_tasks_are_gone():
    task = add()
    task.begin_processing()
    task.succeed(None)
    task.expires_at = datetime.datetime(2000, 1, 1)
    repo().save(task)
    with pytest.raises(exception.NotFound):
        repo().get(task.task_id)
    assert task.task_id not in [t.task_id for t in repo(admin=True).list({})]


def test_list_is_per_project_filtered_sorted_and_paged():
    mine = [add('p-list') for _ in range(3)]
    add('p-other')
    tasks = repo('p-list').list({}, 'created_at', 'asc', 10)
    assert [t.task_id for t in tasks] == [t.task_id for t in mine]
    first = repo('p-list').list({}, 'created_at', 'asc', 2)
    rest = repo('p-list').list({}, 'created_at', 'asc', 2,
                               marker=first[-1].task_id)
    assert [t.task_id for t in first + rest] == [t.task_id for t in mine]
    assert repo('p-list').list({'status': 'success'}) == []
    assert len(repo(admin=True).list({'type': 'import'}, limit=1000)) >= 4
    # as the reference: a marker naming no listable task is a bad request
    with pytest.raises(exception.BadRequest):
        repo('p-list').list({}, marker=str(uuid.uuid4()))
    with pytest.raises(exception.BadRequest):   # another project's task
        repo('p-list').list({}, marker=add('p-other').task_id)


def test_for_image_shows_own_project_tasks_unless_admin():
    image_id = str(uuid.uuid4())
    add('p-a', type='api_image_import', image_id=image_id)
    add('p-b', type='api_image_import', image_id=image_id)
    assert [t.owner for t in repo('p-a').for_image(image_id)] == ['p-a']
    assert sorted(t.owner for t in repo(admin=True).for_image(image_id)) \
        == ['p-a', 'p-b']
