"""Unified limits enforced through the repository chain against a real
database, with Keystone's limits from oslo.limit's own fixture."""
from __future__ import annotations

from oslo_config import cfg
from oslo_limit import fixture as limit_fixture
import pytest

from glance.common import exception, limits
from glance import context as glance_context
from glance.domain import image as domain
from glance import gateway

CONF = cfg.CONF
MIB = 1024 * 1024


@pytest.fixture(autouse=True, scope='module')
def _conf(initialised_conf):
    """CONF parsed with no files: the shipped defaults only."""


@pytest.fixture
def unified(migrated_database):
    """use_keystone_limits on; ``set(reg, proj)`` installs Keystone's
    limits."""
    CONF.set_override('use_keystone_limits', True)
    CONF.set_override('endpoint_id', 'glance-endpoint', group='oslo_limit')
    fixtures = []

    def install(reglimits: dict, projlimits: dict | None = None):
        fix = limit_fixture.LimitFixture(reglimits, projlimits or {})
        fix.setUp()
        fixtures.append(fix)
    yield install
    for fix in fixtures:
        fix.cleanUp()
    CONF.clear_override('use_keystone_limits')
    CONF.clear_override('endpoint_id', group='oslo_limit')


def _ctx(project: str = 'p1'):
    return glance_context.RequestContext(project_id=project,
                                         roles=['member', 'reader'])


def _create(ctx, **extra):
    repo = gateway.get_repo(ctx)
    attrs = {'name': 'l', 'disk_format': 'raw', 'container_format': 'bare'}
    attrs.update(extra)
    return repo.add(domain.new_image(attrs, ctx.project_id))


def test_image_count_total_refuses_the_next_create(unified):
    unified({'image_count_total': 2, 'image_count_uploading': 10,
             'image_size_total': 10, 'image_stage_total': 10},
            {'p2': {'image_count_total': 3}})
    for _ in range(2):
        _create(_ctx())
    with pytest.raises(exception.LimitExceeded) as info:
        _create(_ctx())
    assert info.value.code == 413
    assert 'image_count_total 3 of 2' in str(info.value)
    # another project has its own count (and its own, higher, limit)
    for _ in range(3):
        _create(_ctx('p2'))
    with pytest.raises(exception.LimitExceeded):
        _create(_ctx('p2'))


def test_deleted_images_no_longer_count(unified):
    unified({'image_count_total': 1, 'image_count_uploading': 1,
             'image_size_total': 1, 'image_stage_total': 1})
    image = _create(_ctx())
    with pytest.raises(exception.LimitExceeded):
        _create(_ctx())
    repo = gateway.get_repo(_ctx())
    image = repo.get(image.image_id)
    image.delete()
    repo.remove(image)
    _create(_ctx())


def test_upload_refused_when_already_over_size_total(unified, tmp_path):
    unified({'image_count_total': 10, 'image_count_uploading': 10,
             'image_size_total': 1, 'image_stage_total': 10})
    repo = gateway.get_repo(_ctx())
    first = _create(_ctx())
    # 2 MiB recorded as stored: over the 1 MiB limit
    first.status, first.size = 'active', 2 * MIB
    repo.innermost.save(first, 'queued')
    second = _create(_ctx())
    with pytest.raises(exception.LimitExceeded) as info:
        repo.begin_upload(repo.get(second.image_id))
    assert 'image_size_total' in str(info.value)
    assert repo.get(second.image_id).status == 'queued'


def test_count_uploading_and_stage_total(unified):
    unified({'image_count_total': 10, 'image_count_uploading': 1,
             'image_size_total': 10, 'image_stage_total': 10})
    repo = gateway.get_repo(_ctx())
    staging = repo.get(_create(_ctx()).image_id)
    staging.set_status('uploading')
    repo.save(staging)                       # the first may stage
    other = repo.get(_create(_ctx()).image_id)
    other.set_status('uploading')
    with pytest.raises(exception.LimitExceeded) as info:
        repo.save(other)                     # a second one may not
    assert 'image_count_uploading' in str(info.value)
    assert repo.get(other.image_id).status == 'queued'


def test_usage_document(unified):
    unified({'image_count_total': 5, 'image_count_uploading': 2,
             'image_size_total': 100, 'image_stage_total': 50})
    _create(_ctx())
    assert limits.usage('p1') == {
        'image_count_total': {'limit': 5, 'usage': 1},
        'image_count_uploading': {'limit': 2, 'usage': 0},
        'image_size_total': {'limit': 100, 'usage': 0},
        'image_stage_total': {'limit': 50, 'usage': 0}}


def test_off_by_default_nothing_is_enforced(migrated_database):
    assert limits.usage('p1') == {}
    limits.enforce('p1', image_count_total=10 ** 9)
