"""Fixtures shared by the in-process tests."""
from __future__ import annotations

from oslo_config import cfg
import pytest

from glance.common import policy


@pytest.fixture(scope='module')
def initialised_conf():
    """The global CONF parsed with no files (the shipped defaults), and a
    fresh policy enforcer before and after: the policy layer and the
    enforcer read through CONF."""
    try:
        cfg.CONF.find_file('policy.yaml')
    except cfg.NotInitializedError:
        cfg.CONF([], project='glance', default_config_files=[])
    policy.reset()
    yield cfg.CONF
    policy.reset()
