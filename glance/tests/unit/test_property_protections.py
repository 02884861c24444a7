"""The property protection rules engine: parsing and decisions."""
from __future__ import annotations

import pytest

from glance.common import exception
from glance.common import property_protections as pp
from glance import context as glance_context


@pytest.fixture(autouse=True, scope='module')
def _conf(initialised_conf):
    """CONF parsed with no files: the shipped defaults only."""


ROLES_FILE = """
[^x_admin_.*]
create = admin
read = admin,member
update = admin
delete = !

[^x_none_.*]
create = !
read = !
update = !
delete = !

[.*]
create = @
read = @
update = @
delete = @
"""


def _write(tmp_path, text: str) -> str:
    path = tmp_path / 'protections.conf'
    path.write_text(text)
    return str(path)


def _ctx(*roles: str):
    return glance_context.RequestContext(project_id='p', roles=list(roles))


def test_roles_first_matching_section_decides(tmp_path):
    rules = pp.parse(_write(tmp_path, ROLES_FILE), 'roles')
    admin, member = _ctx('admin'), _ctx('member', 'reader')
    assert rules.allows(admin, 'x_admin_code', 'create')
    assert not rules.allows(member, 'x_admin_code', 'create')
    assert rules.allows(member, 'x_admin_code', 'read')
    assert not rules.allows(_ctx('reader'), 'x_admin_code', 'read')
    assert not rules.allows(admin, 'x_admin_code', 'delete')
    assert not rules.allows(admin, 'x_none_thing', 'read')
    # falls through to the catch-all
    assert rules.allows(_ctx('reader'), 'anything', 'update')
    # roles compare without case
    assert rules.allows(_ctx('ADMIN'), 'x_admin_code', 'update')


def test_reserved_properties_are_never_protected(tmp_path):
    rules = pp.parse(_write(tmp_path, '[^x_.*]\ncreate = !\nread = !\n'
                                      'update = !\ndelete = !\n'), 'roles')
    assert rules.allows(_ctx('member'), 'os_glance_import_task', 'update')
    # and a property no section matches is closed to everyone
    assert not rules.allows(_ctx('admin'), 'unmatched', 'read')


def test_missing_operation_is_refused(tmp_path, caplog):
    rules = pp.parse(_write(tmp_path, '[.*]\ncreate = @\nread = @\n'),
                     'roles')
    assert rules.allows(_ctx('member'), 'k', 'read')
    assert not rules.allows(_ctx('admin'), 'k', 'update')
    assert 'has no' in caplog.text


@pytest.mark.parametrize('text, words', [
    ('[(unclosed]\nread = @\n', 'regular expression'),
    ('[.*]\nread = @,admin\n', 'mixes'),
    ('[.*]\nsteal = @\n', 'unknown operations'),
    ('no section header\n', 'cannot be used'),
    ('', 'no sections'),
])
def test_invalid_files_are_refused(tmp_path, text, words):
    with pytest.raises(exception.InvalidPropertyProtectionConfiguration) \
            as info:
        pp.parse(_write(tmp_path, text), 'roles')
    assert words in str(info.value)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(exception.InvalidPropertyProtectionConfiguration) \
            as info:
        pp.parse(str(tmp_path / 'nope.conf'), 'roles')
    assert 'nope.conf' in str(info.value)


def test_policies_format(tmp_path):
    text = ('[^x_.*]\ncreate = context_is_admin\nread = @\n'
            'update = context_is_admin\ndelete = !\n')
    rules = pp.parse(_write(tmp_path, text), 'policies')
    assert rules.allows(_ctx('admin'), 'x_a', 'create')
    assert not rules.allows(_ctx('member'), 'x_a', 'create')
    assert rules.allows(_ctx('member'), 'x_a', 'read')
    with pytest.raises(exception.InvalidPropertyProtectionConfiguration):
        pp.parse(_write(tmp_path, '[.*]\nread = a,b\n'), 'policies')


@pytest.mark.parametrize('name', ['property-protections-roles.conf.sample',
                                  'property-protections-policies.conf.sample'])
def test_shipped_samples_parse(name):
    import os
    path = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'etc',
                        name)
    fmt = 'policies' if 'policies' in name else 'roles'
    rules = pp.parse(path, fmt)
    assert rules.allows(_ctx('admin'), 'x_billing_code_1', 'create')
    assert not rules.allows(_ctx('member'), 'x_billing_code_1', 'create')


def test_an_empty_role_list_grants_nobody(tmp_path, caplog):
    """The reference accepts ``read =``: nobody may; we warn."""
    rules = pp.parse(_write(tmp_path, '[.*]\ncreate = @\nread =\n'
                                      'update = @\ndelete = @\n'), 'roles')
    assert not rules.allows(_ctx('admin'), 'k', 'read')
    assert rules.allows(_ctx('member'), 'k', 'update')
    assert 'is empty; nobody may read' in caplog.text


def test_an_undefined_policy_rule_is_decided_by_the_default_rule(
        tmp_path, caplog):
    """Accepted as by the reference; oslo.policy applies the default rule
    to a rule it does not know, and the operator is warned."""
    from glance.common import policy
    rules = pp.parse(_write(tmp_path, '[.*]\ncreate = @\n'
                                      'read = no_such_rule\nupdate = !\n'
                                      'delete = !\n'), 'policies')
    assert 'no_such_rule' in caplog.text and 'not defined' in caplog.text
    member = _ctx('member')
    assert rules.allows(member, 'k', 'read') == \
        policy.check(member, 'default', {})
