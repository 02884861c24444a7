"""The metadefs repository chain: its order, and that the policy layer
guards every call the database repository offers (a method it did not
define would be forwarded by the Proxy base unchecked)."""
from __future__ import annotations

import inspect

import pytest

from glance import context as glance_context
from glance.db import metadefs as db_metadefs
from glance import gateway
from glance.layers import notifier, policy


@pytest.fixture(autouse=True, scope='module')
def _conf(initialised_conf):
    """CONF parsed with no files: the shipped defaults only."""


def _public(cls) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith('_')}


def test_gateway_order_is_policy_notifier_db():
    ctx = glance_context.RequestContext(project_id='p', roles=['reader'])
    repo = gateway.get_metadef_repo(ctx)
    assert repo.layers() == [policy.MetadefRepo, notifier.MetadefRepo,
                             db_metadefs.MetadefRepo]
    assert repo.base.context is ctx and repo.innermost.context is ctx


def test_policy_layer_guards_every_call():
    assert _public(db_metadefs.MetadefRepo) <= \
        _public(policy.MetadefRepo) | {'list_associations'}


def test_notifier_announces_every_change():
    changes = {name for name in _public(db_metadefs.MetadefRepo)
               if name.split('_')[0] in ('add', 'save', 'remove')}
    assert changes <= _public(notifier.MetadefRepo)


def test_every_metadef_rule_is_declared_and_documented():
    from glance.policies import metadef
    rules = {r.name: r for r in metadef.list_rules()
             if r not in metadef.LEGACY}
    called = set()
    source = inspect.getsource(policy.MetadefRepo)
    for name in rules:
        if "'%s'" % name in source:
            called.add(name)
    # entries' rules are named by their kind's declaration
    from glance.domain.metadef import KINDS
    called |= {name for kind in KINDS for name in kind.rules.values()}
    assert called == set(rules), set(rules) - called
    for rule in rules.values():
        assert rule.description and rule.operations
        assert rule.scope_types == ['project']


def test_legacy_defaults_when_new_defaults_are_off():
    """enforce_new_defaults=False: upstream's metadef_default (anyone
    reads) and metadef_admin (the admin role writes) apply again."""
    from oslo_config import cfg

    from glance.common import policy as common_policy

    def ctx(roles):
        return glance_context.RequestContext(project_id='p', roles=roles)

    target = {'project_id': 'other', 'owner': 'other',
              'visibility': 'private', 'namespace': 'N'}
    assert not common_policy.check(ctx([]), 'get_metadef_namespace', target)
    cfg.CONF.set_override('enforce_new_defaults', False, group='oslo_policy')
    try:
        common_policy.reset()
        assert common_policy.check(ctx([]), 'get_metadef_namespace', target)
        assert not common_policy.check(ctx(['member']),
                                       'add_metadef_namespace', target)
        assert common_policy.check(ctx(['admin']), 'add_metadef_namespace',
                                   target)
    finally:
        cfg.CONF.clear_override('enforce_new_defaults', group='oslo_policy')
        common_policy.reset()
