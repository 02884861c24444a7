"""The process-wide oslo.policy enforcer, with glance's rule defaults."""
from __future__ import annotations

import re
import threading
import time

from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_policy import _checks
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
#: decisions an enforcer remembers before it starts afresh
DECISIONS_KEPT = 4096

#: checks whose answer depends on nothing but the rules, the target and
#: the credentials (not HttpCheck, which asks a server, nor checks other
#: packages register)
_PURE_CHECKS = (_checks.TrueCheck, _checks.FalseCheck, _checks.RoleCheck,
                _checks.RuleCheck, _checks.GenericCheck)


def _pure(check) -> bool:
    """Whether ``check`` (a rule's tree) answers the same to the same
    target and credentials every time."""
    if isinstance(check, (_checks.AndCheck, _checks.OrCheck)):
        return all(_pure(c) for c in check.rules)
    if isinstance(check, _checks.NotCheck):
        return _pure(check.rule)
    return type(check) in _PURE_CHECKS


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def _frozen(values) -> tuple:
    """A caller's policy values as a dict key; TypeError for a value that
    cannot be one."""
    return tuple(sorted((key, _hashable(value))
                        for key, value in values.items()))


#: a ``%(key)s`` of a check's match: what the check reads of the target
_TARGET_KEY = re.compile(r'%\(([^)]*)\)')
#: a key the target does not have (the check then fails)
_ABSENT = object()


def _target_keys(check, rules, seen: set[str]) -> set[str]:
    """The target keys a rule's tree reads: the ``%(key)s`` of its
    checks' matches (``'%(key)s' % target`` is all a pure check does with
    the target), through the rules it names."""
    if isinstance(check, (_checks.AndCheck, _checks.OrCheck)):
        return set().union(*(_target_keys(c, rules, seen)
                             for c in check.rules))
    if isinstance(check, _checks.NotCheck):
        return _target_keys(check.rule, rules, seen)
    if isinstance(check, _checks.RuleCheck):
        if check.match in seen or check.match not in rules:
            return set()
        seen.add(check.match)
        return _target_keys(rules[check.match], rules, seen)
    return set(_TARGET_KEY.findall(getattr(check, 'match', '') or ''))


class Enforcer(policy.Enforcer):
    """oslo.policy's enforcer, looking at the policy files at most once a
    second, and remembering its decisions while the rules stay the same.

    oslo.policy looks before every decision: it searches the configuration
    directories for the policy file and for each ``policy_dirs`` entry
    (raising and catching an exception for each one missing, the usual
    case) and walks every registered rule.  A request makes two to four
    decisions, and that search was a tenth of the cost of showing an
    image.  A changed policy file still takes effect without a restart,
    within a second instead of at once.

    A decision is then a walk of the rule's tree in which each check asks
    ``inspect`` for the signature of the next: another tenth of a show.
    With only the checks of :data:`_PURE_CHECKS` in the rules a decision
    depends on nothing but the rule, the target and the caller's policy
    values, so :meth:`decide` remembers it for them, until the rules
    change (a new policy file, :meth:`set_rules`).  Nova shows the same
    image for every boot of a flavor; a caller lists with the same target
    each time.
    """

    _looked = float('-inf')
    _rules_seen: dict | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._decisions: dict = {}
        #: rule -> the target keys it reads
        self._reads: dict[str, tuple] = {}
        self._memo = False

    def load_rules(self, force_reload: bool = False) -> None:
        now = time.monotonic()
        if force_reload or not self.rules or \
                now - self._looked >= RECHECK_INTERVAL:
            super().load_rules(force_reload)
            self._looked = now
            self._rules_changed()

    def set_rules(self, *args, **kwargs) -> None:
        super().set_rules(*args, **kwargs)
        self._rules_changed()

    def _rules_changed(self) -> None:
        """Forget the decisions if the rules are not what they were."""
        seen = {name: str(rule) for name, rule in self.rules.items()}
        if seen != self._rules_seen:
            self._decisions = {}
            self._reads = {}
            self._memo = all(_pure(rule) for rule in self.rules.values())
            self._rules_seen = seen

    def _read_of(self, rule: str, target) -> tuple:
        """What ``rule`` reads of ``target``, as a dict key: two targets
        alike there get the same decision, whatever else they hold (an
        image's every field and property)."""
        keys = self._reads.get(rule)
        if keys is None:
            try:
                check = self.rules[rule]
            except KeyError:     # no such rule, nor a default: refused
                keys = ()
            else:
                keys = tuple(sorted(_target_keys(check, self.rules,
                                                 {rule})))
            self._reads[rule] = keys
        return tuple(_hashable(target[k]) if k in target else _ABSENT
                     for k in keys)

    def decide(self, rule: str, target: dict, creds) -> bool:
        """Whether ``creds`` (a context or its policy values) pass ``rule``
        on ``target``; remembered when the rules allow (see above)."""
        self.load_rules()
        key = None
        if self._memo:
            values = creds.to_policy_values() \
                if isinstance(creds, oslo_context.RequestContext) else creds
            try:
                key = (rule, self._read_of(rule, target), _frozen(values))
                hash(key)
            except TypeError:    # a value no dict key can hold: not kept
                key = None
            else:
                if key in self._decisions:
                    return self._decisions[key]
        allowed = bool(self.enforce(rule, target, creds, do_raise=False))
        if key is not None:
            if len(self._decisions) >= DECISIONS_KEPT:
                self._decisions = {}
            self._decisions[key] = allowed
        return allowed


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
        return get_enforcer().decide(rule, target, context)
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
    return get_enforcer().decide('context_is_admin', {},
                                 context.to_policy_values())
