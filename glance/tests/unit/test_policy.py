"""Policy defaults: who may do what to which image (the persona matrix).

Each rule is checked through ``glance.common.policy.check`` with the target
the policy layer builds (``layers.policy.image_target``), so the matrix
tests the defaults and the target together, in the manner of keystone's
protection tests.
"""
from __future__ import annotations

import os
import uuid

from oslo_config import cfg
import pytest

from glance import context as glance_context
from glance.common import exception
from glance.common import policy
from glance.domain import image as domain
from glance.layers import policy as policy_layer
from glance import policies
from glance.policies import image as image_policies

CONF = cfg.CONF
OWNER = 'project-a'


@pytest.fixture(autouse=True, scope='module')
def _conf(initialised_conf):
    """CONF parsed with no files: the shipped defaults only."""


@pytest.fixture(autouse=True)
def _fresh_enforcer():
    policy.reset()
    yield
    policy.reset()


def ctx(project, roles, **kw):
    return glance_context.RequestContext(
        project_id=project, roles=list(roles), user_id='u-' + str(project),
        **kw)


PERSONAS = {
    'admin': lambda: ctx('admin-project', ['admin', 'member', 'reader']),
    'member': lambda: ctx(OWNER, ['reader', 'member']),
    'reader': lambda: ctx(OWNER, ['reader']),
    'no_roles': lambda: ctx(OWNER, []),
    'other': lambda: ctx('project-b', ['reader', 'member']),
    'other_reader': lambda: ctx('project-b', ['reader']),
    # project-b is a member of the shared image (see _image)
    'image_member': lambda: ctx('project-b', ['reader', 'member']),
    'image_member_reader': lambda: ctx('project-b', ['reader']),
}
ALL = set(PERSONAS)
OWNERS = {'admin', 'member'}
READERS = {'admin', 'member', 'reader'}


def _image(visibility, persona):
    image = domain.Image(image_id=str(uuid.uuid4()), owner=OWNER,
                         visibility=visibility, status='active',
                         loaded_status='active', loaded_owner=OWNER,
                         loaded_visibility=visibility)
    if visibility == 'shared' and persona.startswith('image_member'):
        image.member_status = 'accepted'
    return image


#: rule -> visibility of the image -> personas allowed
EXPECTED = {
    'add_image': {v: OWNERS for v in ('private', 'shared')},
    'modify_image': {v: OWNERS for v in ('private', 'shared', 'public',
                                         'community')},
    'delete_image': {v: OWNERS for v in ('private', 'shared', 'public',
                                         'community')},
    'upload_image': {v: OWNERS for v in ('private', 'shared', 'public')},
    'communitize_image': {'private': OWNERS, 'community': OWNERS},
    'publicize_image': {'private': {'admin'}, 'public': {'admin'}},
    'get_image': {
        'private': READERS,
        'shared': READERS | {'image_member', 'image_member_reader'},
        'public': ALL - {'no_roles'},
        'community': ALL - {'no_roles'},
    },
    'download_image': {
        'private': OWNERS,
        'shared': OWNERS | {'image_member'},
        'public': {'admin', 'member', 'other', 'image_member'},
        'community': {'admin', 'member', 'other', 'image_member'},
    },
    'deactivate': {v: OWNERS for v in ('private', 'shared', 'public')},
    'reactivate': {v: OWNERS for v in ('private', 'shared', 'public')},
    'get_image_location': {v: READERS for v in ('private', 'shared',
                                                'public')},
    'set_image_location': {v: OWNERS for v in ('private', 'shared',
                                               'public')},
    'delete_image_location': {v: {'admin'} for v in ('private', 'public')},
    'copy_image': {v: {'admin'} for v in ('private', 'shared', 'public')},
    # the 2.17 locations API: adding takes a service or a member of the
    # owning project (the reference default; the policy layer then limits
    # such members to http store locations); listing takes a service.  See
    # test_locations_api_takes_the_service_role
    'add_image_location': {v: {'member'} for v in ('private', 'public')},
    'fetch_image_location': {v: set() for v in ('private', 'public')},
}
#: rules an administrator does not pass by being admin
LOCATIONS_API = ('add_image_location', 'fetch_image_location')
CASES = [(rule, vis, persona) for rule, by_vis in EXPECTED.items()
         for vis in by_vis for persona in PERSONAS]


def test_matrix_covers_every_image_rule():
    # get_images has no image target: test_get_images_... covers it
    assert set(EXPECTED) | {'get_images'} == {
        r.name for r in image_policies.rules}


def test_every_image_rule_is_project_scoped_and_documented():
    for rule in image_policies.rules:
        assert rule.scope_types == ['project'], rule.name
        assert rule.operations and rule.description, rule.name


def test_rule_names_are_unique():
    names = [r.name for r in policies.list_rules()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize('rule,visibility,persona', CASES)
def test_image_rule(rule, visibility, persona):
    context = PERSONAS[persona]()
    image = _image(visibility, persona)
    target = policy_layer.image_target(context, image)
    allowed = persona in EXPECTED[rule][visibility]
    assert policy.check(context, rule, target) is allowed, (
        '%s on a %s image as %s should be %s' % (
            rule, visibility, persona, 'allowed' if allowed else 'refused'))


@pytest.mark.parametrize('persona', sorted(PERSONAS))
def test_get_images_needs_a_reader_in_own_project(persona):
    context = PERSONAS[persona]()
    allowed = persona != 'no_roles'
    assert policy.check(context, 'get_images',
                        {'project_id': context.project_id}) is allowed


@pytest.mark.parametrize('persona', sorted(PERSONAS))
def test_is_admin(persona):
    assert policy.is_admin(PERSONAS[persona]()) is (persona == 'admin')


@pytest.mark.parametrize('persona', sorted(PERSONAS))
def test_context_is_admin_and_default_rules(persona):
    context = PERSONAS[persona]()
    assert policy.check(context, 'context_is_admin', {}) is \
        (persona == 'admin')
    # "default" is the empty check: anyone
    assert policy.check(context, 'default', {}) is True


def test_admin_role_in_another_project_is_still_admin():
    admin = ctx('elsewhere', ['admin'])
    target = policy_layer.image_target(admin, _image('private', 'admin'))
    for rule in EXPECTED:
        assert policy.check(admin, rule, target) is (
            rule not in LOCATIONS_API), rule


def test_locations_api_takes_the_service_role():
    service = ctx('service-project', ['service'])
    target = policy_layer.image_target(service, _image('private', 'x'))
    for rule in LOCATIONS_API:
        assert policy.check(service, rule, target), rule
    assert not policy.check(service, 'get_image', target)


def test_unauthenticated_trusted_context_passes_every_rule():
    trusted = glance_context.RequestContext(is_admin=True)
    assert trusted.project_id is None
    target = policy_layer.image_target(trusted, _image('private', 'x'))
    for rule in [r.name for r in policies.list_rules()] + ['not_a_rule']:
        assert policy.check(trusted, rule, target), rule


def test_admin_context_of_the_tools_is_trusted():
    admin = glance_context.get_admin_context()
    target = policy_layer.image_target(admin, _image('private', 'x'))
    assert policy.check(admin, 'publicize_image', target)


@pytest.mark.parametrize('kwargs', [
    # is_admin set by hand does not bypass the rules of a scoped caller
    {'project_id': OWNER, 'roles': ['member']},
    {'domain_id': 'default', 'roles': ['admin']},
    {'system_scope': 'all', 'roles': ['admin']},
])
def test_scoped_callers_are_never_trusted(kwargs):
    context = glance_context.RequestContext(is_admin=True, **kwargs)
    target = policy_layer.image_target(context, _image('private', 'x'))
    assert not policy.check(context, 'publicize_image', target)


@pytest.mark.parametrize('rule', ['add_image', 'get_image', 'get_images',
                                  'publicize_image'])
def test_system_and_domain_scope_are_refused(rule):
    """Image rules are project scoped (oslo.policy always checks scope)."""
    for context in (ctx(None, ['admin', 'member', 'reader'],
                        system_scope='all'),
                    ctx(None, ['admin', 'member', 'reader'],
                        domain_id='default')):
        target = policy_layer.image_target(context,
                                           _image('public', 'admin'))
        assert policy.check(context, rule, target) is False


def test_target_uses_owner_and_visibility_as_loaded():
    """Proposing a new owner or visibility does not pass a check."""
    member = PERSONAS['other']()
    image = _image('private', 'other')
    image.owner = 'project-b'
    image.visibility = 'public'
    target = policy_layer.image_target(member, image)
    assert target['project_id'] == OWNER
    assert target['visibility'] == 'private'
    assert not policy.check(member, 'modify_image', target)
    current = policy_layer.image_target(member, image, current=True)
    assert current['project_id'] == 'project-b'


def test_forbidden_read_is_reported_as_not_found():
    """The policy layer hides an image the caller may not see."""
    class Bottom:
        def get(self, image_id):
            return _image('private', 'other')
    repo = policy_layer.ImageRepo(Bottom(), PERSONAS['other']())
    with pytest.raises(exception.ImageNotFound) as err:
        repo.get('some-id')
    assert err.value.code == 404
    repo = policy_layer.ImageRepo(Bottom(), PERSONAS['reader']())
    assert repo.get('some-id').owner == OWNER


def test_policy_file_changes_decisions(tmp_path):
    path = tmp_path / 'policy.yaml'
    path.write_text('"context_is_admin": "role:superuser"\n'
                    '"get_images": "rule:context_is_admin"\n')
    CONF.set_override('policy_file', str(path), group='oslo_policy')
    try:
        policy.reset()
        superuser = ctx('p', ['superuser'])
        admin = PERSONAS['admin']()
        member = PERSONAS['member']()
        assert policy.is_admin(superuser) and not policy.is_admin(admin)
        # every admin-only default follows the redefined administrator
        target = policy_layer.image_target(superuser,
                                           _image('private', 'x'))
        assert policy.check(superuser, 'publicize_image', target)
        assert not policy.check(admin, 'publicize_image', target)
        assert not policy.check(member, 'get_images',
                                {'project_id': member.project_id})
        # untouched rules keep their defaults
        assert policy.check(member, 'add_image',
                            {'project_id': member.project_id})
    finally:
        CONF.clear_override('policy_file', group='oslo_policy')
        policy.reset()


def test_a_changed_policy_file_is_looked_at_once_a_second(tmp_path,
                                                          monkeypatch):
    """The policy files are searched for at most once a RECHECK_INTERVAL,
    not before every decision, and a change still takes effect without a
    restart once the interval has passed."""
    path = tmp_path / 'policy.yaml'
    path.write_text('"context_is_admin": "role:superuser"\n')
    CONF.set_override('policy_file', str(path), group='oslo_policy')
    clock = [1000.0]
    monkeypatch.setattr(policy.time, 'monotonic', lambda: clock[0])
    looks = []
    real = policy.policy.Enforcer._get_policy_path
    monkeypatch.setattr(policy.policy.Enforcer, '_get_policy_path',
                        lambda self, p: looks.append(p) or real(self, p))
    try:
        policy.reset()
        superuser, admin = ctx('p', ['superuser']), PERSONAS['admin']()
        assert policy.is_admin(superuser) and not policy.is_admin(admin)
        first = len(looks)
        assert first >= 1
        path.write_text('"context_is_admin": "role:admin"\n')
        # oslo.policy rereads a file whose mtime grew: make sure it did
        later = os.stat(path).st_mtime + 10
        os.utime(path, (later, later))
        clock[0] += policy.RECHECK_INTERVAL / 2
        for _ in range(5):
            assert policy.is_admin(superuser)
        assert len(looks) == first      # nothing searched in between
        clock[0] += policy.RECHECK_INTERVAL
        assert policy.is_admin(admin) and not policy.is_admin(superuser)
        assert len(looks) > first
    finally:
        CONF.clear_override('policy_file', group='oslo_policy')
        policy.reset()


def _counting_enforce(monkeypatch) -> list:
    """The rules oslo.policy walks from now on, in order."""
    walked = []
    real = policy.policy.Enforcer.enforce

    def enforce(self, rule, *args, **kwargs):
        walked.append(rule)
        return real(self, rule, *args, **kwargs)
    monkeypatch.setattr(policy.policy.Enforcer, 'enforce', enforce)
    return walked


def test_a_decision_is_remembered_until_the_rules_change(monkeypatch):
    """The same rule, target and caller: the rules are walked once.  Any
    of the three differing is a decision of its own, and new rules (here
    set directly; a changed file in the test above) forget them all."""
    walked = _counting_enforce(monkeypatch)
    member, other = PERSONAS['member'](), PERSONAS['other']()
    image = _image('private', 'member')
    target = policy_layer.image_target(member, image)
    for _ in range(3):
        assert policy.check(member, 'get_image', target)
    assert walked == ['get_image']
    assert not policy.check(other, 'get_image',
                            policy_layer.image_target(other, image))
    assert policy.check(member, 'modify_image', target)
    assert not policy.check(member, 'get_image',
                            {**target, 'project_id': 'project-b',
                             'owner': 'project-b'})
    assert len(walked) == 4
    enforcer = policy.get_enforcer()
    enforcer.set_rules(policy.policy.Rules.from_dict(
        {'get_image': '!'}), overwrite=False)
    assert not policy.check(member, 'get_image', target)
    assert len(walked) == 5


def test_a_decision_is_kept_for_what_the_rule_reads_of_the_target(
        monkeypatch):
    """Targets alike in the keys a rule's checks read (through the rules
    it names) share a decision, whatever else differs (an image's name,
    its properties); a difference in one of those keys, or the key
    missing, is a decision of its own, and the right one."""
    walked = _counting_enforce(monkeypatch)
    member = PERSONAS['member']()
    enforcer = policy.get_enforcer()
    enforcer.set_rules(policy.policy.Rules.from_dict({
        'mine': 'project_id:%(owner)s',
        'shown': 'rule:mine or "public":%(visibility)s'}), overwrite=False)
    mine = {'owner': member.project_id, 'visibility': 'private'}
    assert policy.check(member, 'shown', {**mine, 'name': 'a'})
    assert policy.check(member, 'shown', {**mine, 'name': 'b', 'x_k': 'v'})
    assert walked == ['shown']
    assert not policy.check(member, 'shown', {**mine, 'owner': 'other'})
    assert policy.check(member, 'shown', {**mine, 'owner': 'other',
                                          'visibility': 'public'})
    assert not policy.check(member, 'shown', {'visibility': 'private'})
    assert not policy.check(member, 'shown', {'owner': 'other'})
    assert len(walked) == 5


def test_rules_that_ask_a_server_are_never_remembered(tmp_path,
                                                      monkeypatch):
    """An ``http:`` check's answer may change from one call to the next,
    so with one in the rules every decision walks them (the check is on a
    rule these decisions do not reach: no request is sent)."""
    path = tmp_path / 'policy.yaml'
    path.write_text('"cache_list": "http://127.0.0.1:9/allowed"\n')
    CONF.set_override('policy_file', str(path), group='oslo_policy')
    try:
        policy.reset()
        walked = _counting_enforce(monkeypatch)
        member = PERSONAS['member']()
        target = policy_layer.image_target(member, _image('private', 'member'))
        for _ in range(3):
            assert policy.check(member, 'get_image', target)
        assert walked == ['get_image'] * 3
    finally:
        CONF.clear_override('policy_file', group='oslo_policy')
        policy.reset()


def test_legacy_defaults_when_new_defaults_are_off():
    """enforce_new_defaults=False honours the deprecated owner checks too."""
    CONF.set_override('enforce_new_defaults', False, group='oslo_policy')
    try:
        policy.reset()
        no_roles = ctx(OWNER, [])
        target = policy_layer.image_target(no_roles,
                                           _image('private', 'x'))
        # legacy: the owner may modify whatever its roles
        assert policy.check(no_roles, 'modify_image', target)
        assert not policy.check(ctx('b', []), 'modify_image', target)
        # publicize has no legacy alternative
        assert not policy.check(no_roles, 'publicize_image', target)
    finally:
        CONF.clear_override('enforce_new_defaults', group='oslo_policy')
        policy.reset()
