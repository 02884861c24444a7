"""Property protections: who may create, read, update, delete which
extra image properties.

An operator names a file (``[DEFAULT] property_protection_file``) in INI
form.  Each section is a regular expression over property names; the first
section, in file order, whose expression matches a property decides.  Its
``create``, ``read``, ``update`` and ``delete`` options each hold:

- with ``property_protection_rule_format = roles``: comma-separated role
  names, any of which grants the operation;
- with ``policies``: the name of one oslo.policy rule to check;
- in both formats ``@`` (everyone) or ``!`` (no one).

A property no section matches cannot be touched or seen at all, and an
operation a section leaves out (or leaves empty) is refused; both are
logged when the file is loaded so the operator knows, as is a policies-
format rule that names an undefined rule (oslo.policy applies its default
rule).  A file that cannot be used (unreadable, no sections, a bad
expression, an unknown operation) stops the service from starting:
running unprotected by mistake would be worse.
"""
from __future__ import annotations

import configparser
import dataclasses
import logging
import os
import re

from oslo_config import cfg

from glance.common import config, exception, policy

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

opts = [
    cfg.StrOpt('property_protection_file',
               help='INI file of property protection rules; unset: every '
                    'extra property is open to whoever may change the '
                    'image. A relative name is looked for beside the '
                    'configuration file, then in /etc/glance, then in the '
                    'etc/glance directory of the installation prefix.'),
    cfg.StrOpt('property_protection_rule_format', default='roles',
               choices=['roles', 'policies'],
               help='What the rules in property_protection_file name: '
                    'roles, or oslo.policy rules.'),
]
CONF.register_opts(opts)

OPERATIONS = ('create', 'read', 'update', 'delete')
EVERYONE, NO_ONE = '@', '!'
#: reserved properties the service itself maintains are never protected
RESERVED_PREFIX = 'os_glance'


@dataclasses.dataclass
class Rule:
    """One section: a name pattern and who may do each operation."""

    pattern: re.Pattern
    allowed: dict[str, list[str]]


class Protections:
    """The loaded rules of one file."""

    def __init__(self, rules: list[Rule], rule_format: str):
        self.rules = rules
        self.rule_format = rule_format

    def allows(self, context, name: str, operation: str) -> bool:
        """May ``context`` do ``operation`` to the property ``name``?"""
        if name.startswith(RESERVED_PREFIX):
            return True
        for rule in self.rules:
            if rule.pattern.search(name):
                return self._grants(context, rule.allowed[operation])
        return False

    def _grants(self, context, allowed: list[str]) -> bool:
        if allowed == [EVERYONE]:
            return True
        if allowed == [NO_ONE]:
            return False
        if self.rule_format == 'policies':
            return policy.check(context, allowed[0], {})
        roles = {r.lower() for r in getattr(context, 'roles', []) or []}
        return any(r.lower() in roles for r in allowed)


def _invalid(path: str, reason: str) -> exception.GlanceException:
    return exception.InvalidPropertyProtectionConfiguration(
        'Property protection file %s cannot be used: %s' % (path, reason))


def _values(path: str, section: str, operation: str, raw: str | None,
            rule_format: str) -> list[str]:
    if raw is None:
        LOG.warning('Property protection file %s: section [%s] has no %r '
                    'rule; nobody may %s matching properties.', path,
                    section, operation, operation)
        return [NO_ONE]
    values = [v.strip() for v in raw.split(',') if v.strip()]
    if not values:
        # The reference service accepts an empty list and grants the
        # operation to nobody: the same here, said out loud.
        LOG.warning('Property protection file %s: [%s] %s is empty; nobody '
                    'may %s matching properties (write ! to say so).',
                    path, section, operation, operation)
        return [NO_ONE]
    if (EVERYONE in values or NO_ONE in values) and len(values) > 1:
        raise _invalid(path, '[%s] %s mixes @ or ! with other entries'
                       % (section, operation))
    if rule_format == 'policies' and values not in ([EVERYONE], [NO_ONE]):
        if len(values) > 1:
            raise _invalid(path, '[%s] %s: the policies format takes one '
                           'rule name' % (section, operation))
        enforcer = policy.get_enforcer()
        if values[0] not in enforcer.registered_rules and \
                values[0] not in enforcer.rules:
            # Accepted, as by the reference service: oslo.policy decides an
            # undefined rule by its default rule (policy_default_rule).
            LOG.warning('Property protection file %s: [%s] %s names the '
                        'policy rule %r, which is not defined; oslo.policy '
                        'applies the default rule %r to it instead.', path,
                        section, operation, values[0],
                        CONF.oslo_policy.policy_default_rule)
    return values


def parse(path: str, rule_format: str) -> Protections:
    """Read and check ``path``; InvalidPropertyProtectionConfiguration says
    exactly what is wrong."""
    parser = configparser.ConfigParser(interpolation=None,
                                       default_section='\x00none')
    parser.optionxform = str.lower
    try:
        with open(path) as f:
            parser.read_file(f)
    except (OSError, configparser.Error) as exc:
        raise _invalid(path, str(exc))
    if not parser.sections():
        raise _invalid(path, 'it has no sections')
    if rule_format == 'policies':
        policy.get_enforcer().load_rules()
    rules = []
    for section in parser.sections():
        try:
            pattern = re.compile(section)
        except re.error as exc:
            raise _invalid(path, '[%s] is not a valid regular expression: '
                           '%s' % (section, exc))
        unknown = set(parser[section]) - set(OPERATIONS)
        if unknown:
            raise _invalid(path, '[%s] has unknown operations: %s'
                           % (section, ', '.join(sorted(unknown))))
        allowed = {op: _values(path, section, op, parser[section].get(op),
                               rule_format) for op in OPERATIONS}
        rules.append(Rule(pattern, allowed))
    return Protections(rules, rule_format)


_LOADED: Protections | None = None


def load() -> Protections | None:
    """Load the configured file (None when there is none); called at
    start-up and on reload, so a bad file is found before serving."""
    global _LOADED
    path = CONF.property_protection_file
    if path and not os.path.isabs(path):
        # a bare name: where the other companion files are found (and,
        # when it is nowhere, the name as given, so the error names it)
        path = config.find_config_file(path) or path
    _LOADED = parse(path, CONF.property_protection_rule_format) \
        if path else None
    if _LOADED is not None:
        LOG.info('Property protections from %s (%s format, %d sections)',
                 path, CONF.property_protection_rule_format,
                 len(_LOADED.rules))
    return _LOADED


def current() -> Protections | None:
    """The protections in force (loaded on first use in tools and tests)."""
    if _LOADED is None and CONF.property_protection_file:
        return load()
    return _LOADED
