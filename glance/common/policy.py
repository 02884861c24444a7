"""The process-wide oslo.policy enforcer, with glance's rule defaults."""
from __future__ import annotations

import threading

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


def get_enforcer(conf: cfg.ConfigOpts | None = None) -> policy.Enforcer:
    """The enforcer (entry point for oslopolicy-* tools)."""
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is None:
            _ENFORCER = policy.Enforcer(conf or CONF)
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
