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
    rules = {r.name: r for r in metadef.list_rules()}
    called = set()
    source = inspect.getsource(policy.MetadefRepo)
    for name in rules:
        if "'%s'" % name in source:
            called.add(name)
    assert called == set(rules), set(rules) - called
    for rule in rules.values():
        assert rule.description and rule.operations
        assert rule.scope_types == ['project']
