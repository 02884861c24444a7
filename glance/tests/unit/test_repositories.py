"""The repository interfaces (glance.domain.repositories) hold the chain to
account: the database implements every operation, so every call can reach
the bottom, and every guarding layer answers for every write."""
from __future__ import annotations

import inspect

import pytest

from glance.db import images as db_images
from glance.db import members as db_members
from glance.db import metadefs as db_metadefs
from glance.db import tasks as db_tasks
from glance.domain import repositories as repos
from glance.domain.proxy import Proxy
from glance import gateway
from glance.layers import (location, notifier, policy, property_protection,
                           quota)

PROTOCOLS = [
    (repos.ImageRepository, repos.IMAGE_WRITES, db_images.ImageRepo),
    (repos.MemberRepository, repos.MEMBER_WRITES, db_members.MemberRepo),
    (repos.TaskRepository, repos.TASK_WRITES, db_tasks.TaskRepo),
    (repos.MetadefRepository, repos.METADEF_WRITES,
     db_metadefs.MetadefRepo),
]

#: the layers that decide whether a write may happen, per protocol
GUARDS = {
    repos.ImageRepository: [policy.ImageRepo, property_protection.ImageRepo,
                            quota.ImageRepo],
    repos.MemberRepository: [policy.MemberRepo, quota.MemberRepo],
    repos.TaskRepository: [policy.TaskRepo],
    repos.MetadefRepository: [policy.MetadefRepo],
}

#: every layer of each chain (the guards and the rest)
LAYERS = {
    repos.ImageRepository: list(gateway.IMAGE_LAYERS),
    repos.MemberRepository: [policy.MemberRepo, quota.MemberRepo,
                             location.MemberRepo, notifier.MemberRepo],
    repos.TaskRepository: [policy.TaskRepo, notifier.TaskRepo],
    repos.MetadefRepository: [policy.MetadefRepo, notifier.MetadefRepo],
}

#: layer methods that are no repository operation, and why
LAYER_EXTRAS = {
    (policy.TaskRepo, 'check_add'): 'the tasks API asks before creating',
    (notifier.TaskRepo, 'run'): 'runs a task and reports its end',
}


@pytest.mark.parametrize('protocol,writes,db_repo', PROTOCOLS,
                         ids=lambda p: getattr(p, '__name__', ''))
def test_the_database_implements_every_operation(protocol, writes, db_repo):
    ops = repos.operations(protocol)
    assert writes <= ops
    missing = {op for op in ops if not callable(getattr(db_repo, op, None))}
    assert missing == set()
    for op in ops:
        wanted = list(inspect.signature(getattr(protocol, op)).parameters)
        have = list(inspect.signature(getattr(db_repo, op)).parameters)
        assert have == wanted, op


@pytest.mark.parametrize('protocol', list(GUARDS),
                         ids=lambda p: p.__name__)
def test_every_guarding_layer_answers_for_every_write(protocol):
    writes = dict((p, w) for p, w, _db in PROTOCOLS)[protocol]
    for layer in GUARDS[protocol]:
        assert repos.unguarded(layer, writes) == frozenset(), layer
        passes = getattr(layer, 'PASSES', {})
        # no stale excuses: a write the layer guards is not also excused,
        # and every excuse names a real write and says why
        assert not {op for op in passes if op in vars(layer)}, layer
        assert set(passes) <= writes, layer
        assert all(isinstance(why, str) and why for why in passes.values())


@pytest.mark.parametrize('protocol', list(LAYERS), ids=lambda p: p.__name__)
def test_layers_define_only_repository_operations(protocol):
    """A layer method outside the protocol is a call nothing below knows
    (a typo, or an operation someone forgot to declare)."""
    ops = repos.operations(protocol)
    for layer in LAYERS[protocol]:
        public = {name for name, value in vars(layer).items()
                  if callable(value) and not name.startswith('_')
                  and name != 'PASSES'}
        extra = {name for name in public - ops
                 if (layer, name) not in LAYER_EXTRAS}
        assert extra == set(), layer


def test_unguarded_sees_a_missing_write():
    class Careless(Proxy):
        PASSES = {'remove': 'because'}

        def add(self, image):
            return self.base.add(image)

    assert repos.unguarded(Careless, frozenset({'add', 'remove', 'save'})) \
        == frozenset({'save'})


def test_layers_pass_overridden_writes_down_under_the_same_name():
    """No layer turns an operation into another (add_location into save,
    say): the layers below would guard or announce the wrong thing."""
    for layers in LAYERS.values():
        for layer in layers:
            source = inspect.getsource(layer)
            for name, value in vars(layer).items():
                if name.startswith('_') or not callable(value) or \
                        (layer, name) in LAYER_EXTRAS or name == 'PASSES':
                    continue
                assert 'self.base.%s(' % name in source or \
                    'self.base.%s,' % name in source, (layer, name)
