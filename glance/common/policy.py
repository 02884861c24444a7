"""The process-wide oslo.policy enforcer, with glance's rule defaults."""
from __future__ import annotations

import threading
import time

from oslo_config import cfg
from oslo_policy import opts as policy_opts
from oslo_policy import policy

from glance import policies

CONF = cfg.CONF
_LOCK = threading.Lock()
_ENFORCER: policy.Enforcer | None = None

# Secure RBAC is the default: the new personas.  (oslo.policy always checks
# the token scope against each rule's scope_types; every image rule is
# project scoped.)
policy_opts.set_defaults(CONF, policy_file='policy.yaml',
                         enforce_new_defaults=True)


#: seconds between two looks for a changed (or new) policy file
RECHECK_INTERVAL = 1.0


class Enforcer(policy.Enforcer):
    """oslo.policy's enforcer, looking at the policy files at most once a
    second.

    oslo.policy looks before every decision: it searches the configuration
    directories for the policy file and for each ``policy_dirs`` entry
    (raising and catching an exception for each one missing, the usual
    case) and walks every registered rule.  A request makes two to four
    decisions, and that search was a tenth of the cost of showing an
    image.  A changed policy file still takes effect without a restart,
    within a second instead of at once.
    """

    _looked = float('-inf')

    def load_rules(self, force_reload: bool = False) -> None:
        now = time.monotonic()
        if force_reload or not self.rules or \
                now - self._looked >= RECHECK_INTERVAL:
            super().load_rules(force_reload)
            self._looked = now


def get_enforcer(conf: cfg.ConfigOpts | None = None) -> policy.Enforcer:
    """The enforcer (entry point for oslopolicy-* tools)."""
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is None:
            _ENFORCER = Enforcer(conf or CONF)
            _ENFORCER.register_defaults(policies.list_rules())
        return _ENFORCER


def reset() -> None:
    global _ENFORCER
    with _LOCK:
        _ENFORCER = None


def check(context, rule: str, target: dict) -> bool:
    """Whether ``context`` passes ``rule`` on ``target`` (no exception)."""
    if _trusted(context):
        return True
    try:
        return get_enforcer().enforce(rule, target, context, do_raise=False)
    except policy.InvalidScope:
        return False


def _trusted(context) -> bool:
    # The unauthenticated pipeline (and maintenance tools) make one trusted
    # caller with no scope at all: the operator of a single-user server, so
    # every rule passes.  A token always has a scope, so a Keystone caller
    # can never look like this one, however many roles it holds.
    return bool(getattr(context, 'is_admin', False)) \
        and not context.project_id and not context.domain_id \
        and not context.system_scope


def is_admin(context) -> bool:
    """The context_is_admin rule for this caller's credentials."""
    creds = context.to_policy_values()
    return get_enforcer().enforce('context_is_admin', {}, creds,
                                  do_raise=False)
