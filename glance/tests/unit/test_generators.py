"""The operator's tools: config and policy generators, and option coverage.

The generators run as the operator runs them (console scripts, entry points
from setup.cfg).  The coverage tests import every module and compare what
the code registers and reads with what the generators list, so an option
added without a line in ``glance/opts.py`` fails here, not in production.
"""
from __future__ import annotations

import configparser
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)
ETC = os.path.join(ROOT, 'etc')
CONFIG_GENERATORS = os.path.join(ETC, 'oslo-config-generator')


def run(*args: str, cwd: str = ROOT) -> subprocess.CompletedProcess:
    result = subprocess.run([os.path.join(BIN, args[0]), *args[1:]],
                            cwd=cwd, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def rule_names() -> list[str]:
    from glance import policies
    return [r.name for r in policies.list_rules()]


# --- entry points ----------------------------------------------------------

@pytest.mark.parametrize('group,name,value', [
    ('oslo.config.opts', 'glance.api', 'glance.opts:list_api_opts'),
    ('oslo.config.opts', 'glance.manage', 'glance.opts:list_manage_opts'),
    ('oslo.config.opts', 'glance.scrubber',
     'glance.opts:list_scrubber_opts'),
    ('oslo.config.opts', 'glance.store', 'glance.store.backend:list_opts'),
    ('oslo.config.opts.defaults', 'glance.api',
     'glance.common.config:set_config_defaults'),
    ('oslo.policy.policies', 'glance', 'glance.policies:list_rules'),
    ('oslo.policy.enforcer', 'glance', 'glance.common.policy:get_enforcer'),
])
def test_entry_points_installed_and_loadable(group, name, value):
    found = [ep for ep in importlib.metadata.entry_points(group=group)
             if ep.name == name]
    assert [ep.value for ep in found] == [value], (
        'setup.cfg declares %s = %s in [%s]; reinstall (pip install -e .) '
        'if it is missing' % (name, value, group))
    # Loaded in a child: glance.opts pulls in eventlet, whose hub left in
    # this process stalls later tests that serve HTTP from a thread.
    check = ('import importlib.metadata as m, sys; '
             'ep = [e for e in m.entry_points(group=sys.argv[1]) '
             'if e.name == sys.argv[2]][0]; assert callable(ep.load())')
    run('python', '-W', 'ignore', '-c', check, group, name)
    setup = configparser.ConfigParser()
    setup.read(os.path.join(ROOT, 'setup.cfg'))
    assert '%s = %s' % (name, value) in setup['options.entry_points'][group]


# --- oslo-config-generator -------------------------------------------------

@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    """name -> the sample oslo-config-generator writes (made once)."""
    made: dict[str, str] = {}

    def generate(name: str) -> str:
        if name not in made:
            out = tmp_path_factory.mktemp('gen') / (name + '.sample')
            run('oslo-config-generator', '--config-file',
                os.path.join(CONFIG_GENERATORS, name + '.conf'),
                '--output-file', str(out))
            made[name] = out.read_text()
        return made[name]
    return generate


def _sections(text: str) -> dict[str, str]:
    """Section name -> its text, from a generated sample."""
    out: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r'^\[(.+)\]$', line)
        if m:
            current = m.group(1)
            out[current] = ''
        elif current:
            out[current] += line + '\n'
    return out


API_SAMPLE_EXPECTS = {
    'DEFAULT': ['#image_size_cap = 1099511627776', '#bind_port = 9292',
                '#workers = <None>', '#enabled_backends = <None>',
                '#user_storage_quota = 0', '#disabled_notifications =',
                '#show_image_direct_url = false', '#debug = false',
                '#transport_url = rabbit://', '#upload_chunk_size = '],
    'paste_deploy': ['#flavor = <None>', '#config_file = <None>'],
    'glance_store': ['#default_backend = <None>', '#stores = file',
                     '#filesystem_store_datadir = '],
    'image_format': ['#disk_formats = ', '#container_formats = '],
    'database': ['#connection = <None>'],
    'keystone_authtoken': ['#www_authenticate_uri = <None>'],
    'oslo_policy': ['#enforce_new_defaults = true',
                    '#policy_file = policy.yaml'],
    'oslo_messaging_notifications': ['#driver =', '#retry = -1'],
    'cors': ['#allowed_origin = <None>'],
}


def test_api_config_generator(generated):
    sections = _sections(generated('glance-api'))
    for section, lines in API_SAMPLE_EXPECTS.items():
        assert section in sections, section
        for line in lines:
            assert line in sections[section], (section, line)


def test_api_config_defaults_hook_applies(generated):
    """set_config_defaults (our CORS headers) shows in the sample."""
    cors = _sections(generated('glance-api'))['cors']
    assert 'X-OpenStack-Request-ID' in cors
    assert 'X-Image-Meta-Checksum' in cors


def test_manage_config_generator(generated):
    sections = _sections(generated('glance-manage'))
    assert '#connection = <None>' in sections['database']
    assert '#debug = false' in sections['DEFAULT']
    assert 'paste_deploy' not in sections


def _glance_options(text: str) -> set[tuple[str, str, str]]:
    """(section, option, default) of the options glance.* namespaces list.

    Library options are left out: a new library release may add some, and
    the shipped sample need not follow every release.
    """
    out = set()
    for section, body in _sections(text).items():
        namespace = None
        for line in body.splitlines():
            m = re.match(r'^# From (\S+)$', line)
            if m:
                namespace = m.group(1)
                continue
            m = re.match(r'^#([a-z0-9_]+) = ?(.*)$', line)
            if m and namespace and namespace.startswith('glance'):
                out.add((section, m.group(1), m.group(2)))
    return out


def test_scrubber_config_generator(generated):
    sections = _sections(generated('glance-scrubber'))
    for line in ('#scrub_time = 0', '#scrub_pool_size = 1',
                 '#wakeup_time = 300', '#daemon = false',
                 '#restore = <None>', '#debug = false'):
        assert line in sections['DEFAULT'], line
    assert '#connection = <None>' in sections['database']
    assert '#filesystem_store_datadir = ' in sections['glance_store']
    assert 'paste_deploy' not in sections


def test_delayed_delete_is_a_glance_api_option(generated):
    assert '#delayed_delete = false' in _sections(
        generated('glance-api'))['DEFAULT']


@pytest.mark.parametrize('name', ['glance-api', 'glance-manage',
                                  'glance-scrubber'])
def test_shipped_config_sample_is_current(name, generated):
    """etc/*.conf.sample shows glance's options as the code declares them:
    regenerate with `make genconfig`."""
    ours = _glance_options(generated(name))
    assert ours
    with open(os.path.join(ETC, name + '.conf.sample')) as f:
        shipped = _glance_options(f.read())
    assert ours == shipped, (
        'etc/%s.conf.sample is stale (missing %s, extra %s); run '
        'oslo-config-generator --config-file '
        'etc/oslo-config-generator/%s.conf'
        % (name, sorted(ours - shipped), sorted(shipped - ours), name))


def test_generated_api_sample_is_a_valid_config(generated):
    """Uncommenting nothing, the sample parses and sets nothing."""
    text = generated('glance-api')
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    assert all(not parser[s] for s in parser.sections())


# --- policy generators -----------------------------------------------------

def test_policy_sample_generator(tmp_path):
    out = tmp_path / 'policy.yaml.sample'
    run('oslopolicy-sample-generator', '--config-file',
        os.path.join(ETC, 'glance-policy-generator.conf'),
        '--output-file', str(out))
    text = out.read_text()
    for name in rule_names():
        assert re.search(r'^#"%s": ' % re.escape(name), text, re.M), name
    # the defaults are commented out: the sample, used as is, changes nothing
    uncommented = [line for line in text.splitlines()
                   if line.strip() and not line.startswith('#')]
    assert uncommented == []
    assert '#"publicize_image": "rule:context_is_admin"' in text
    assert 'POST  /v2/images' in text      # operations are documented


def _sample_rules(text: str) -> dict[str, str]:
    """Rule -> default check string, from a policy sample."""
    return {m.group(1): m.group(2)
            for m in re.finditer(r'^#"([^"]+)": "(.*)"$', text, re.M)}


def test_shipped_policy_sample_is_current(tmp_path):
    """etc/policy.yaml.sample holds today's defaults: `make genpolicy`."""
    out = tmp_path / 'policy.yaml.sample'
    run('oslopolicy-sample-generator', '--config-file',
        os.path.join(ETC, 'glance-policy-generator.conf'),
        '--output-file', str(out))
    with open(os.path.join(ETC, 'policy.yaml.sample')) as f:
        shipped = _sample_rules(f.read())
    assert shipped == _sample_rules(out.read_text()), 'run `make genpolicy`'
    assert set(shipped) == set(rule_names())


def _effective_rules(output: str) -> dict[str, str]:
    """oslopolicy-policy-generator prints '"name": "check"' lines (not
    always valid YAML: a check may hold double quotes)."""
    rules = {}
    for line in output.splitlines():
        m = re.match(r'^"([^"]+)": "(.*)"$', line)
        assert m, line
        rules[m.group(1)] = m.group(2)
    return rules


def test_policy_generator_effective_rules(tmp_path):
    rules = _effective_rules(run('oslopolicy-policy-generator',
                                 '--namespace', 'glance').stdout)
    assert set(rules) == set(rule_names())
    assert rules['context_is_admin'] == 'role:admin'
    assert rules['publicize_image'] == 'rule:context_is_admin'
    assert 'role:member' in rules['add_image']


def test_policy_generator_merges_the_operator_file(tmp_path):
    (tmp_path / 'policy.yaml').write_text(
        '"get_images": "rule:context_is_admin"\n')
    conf = tmp_path / 'glance-api.conf'
    conf.write_text('[oslo_policy]\npolicy_file = policy.yaml\n')
    rules = _effective_rules(run(
        'oslopolicy-policy-generator', '--namespace', 'glance',
        '--config-file', str(conf)).stdout)
    assert rules['get_images'] == 'rule:context_is_admin'
    assert rules['get_image'].startswith('rule:context_is_admin or')


def _validate(tmp_path, rules: str) -> subprocess.CompletedProcess:
    policy_file = tmp_path / 'policy.yaml'
    policy_file.write_text(rules)
    conf = tmp_path / 'glance-api.conf'
    conf.write_text('[oslo_policy]\npolicy_file = %s\n' % policy_file)
    return subprocess.run(
        [os.path.join(BIN, 'oslopolicy-validator'), '--namespace', 'glance',
         '--config-file', str(conf)], capture_output=True, text=True,
        timeout=120)


def test_policy_validator_accepts_a_good_file(tmp_path):
    result = _validate(tmp_path, '"get_images": "rule:context_is_admin"\n')
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('rules', [
    '"get_images": "rule:no_such_rule"\n',      # dangling reference
    '"no_such_api": "role:admin"\n',            # not a glance rule
])
def test_policy_validator_catches_mistakes(tmp_path, rules):
    assert _validate(tmp_path, rules).returncode != 0


# --- option coverage -------------------------------------------------------

#: what the service registers at run time, and what the generators list.
#: Runs in a child process: importing every module (glance.cmd.api patches
#: eventlet in) must not touch the test process.
_INVENTORY = textwrap.dedent('''
    import importlib, json, os, pkgutil, sys, glob, traceback, warnings
    warnings.simplefilter('ignore')
    from oslo_config import cfg

    root = sys.argv[1]
    ours = (os.path.join(root, 'glance') + os.sep,)
    registered = {}
    real_register = cfg.ConfigOpts.register_opt

    def register_opt(self, opt, group=None, cli=False, **kwargs):
        # Who asked?  The first caller outside oslo.config: glance's own
        # options must be listed by glance.*, a library's by its namespace.
        by = 'library'
        for frame in reversed(traceback.extract_stack()[:-1]):
            if os.sep + 'oslo_config' + os.sep in frame.filename:
                continue
            by = 'glance' if frame.filename.startswith(ours) else 'library'
            break
        if self is cfg.CONF:
            name = getattr(group, 'name', group) or 'DEFAULT'
            registered.setdefault('%s.%s' % (name, opt.dest), by)
        return real_register(self, opt, group, cli, **kwargs)
    cfg.ConfigOpts.register_opt = register_opt

    CONF = cfg.CONF
    errors = []
    for pkg in ('glance',):
        mod = importlib.import_module(pkg)
        for info in pkgutil.walk_packages(mod.__path__, pkg + '.'):
            name = info.name
            if '.tests' in name or 'alembic_migrations' in name or \
                    name == 'glance.wsgi.api':
                # glance.wsgi.api builds the application as it is imported
                # (a WSGI server's start-up), from /etc/glance
                continue
            try:
                importlib.import_module(name)
            except Exception as exc:
                errors.append('%s: %r' % (name, exc))
    # what start-up and the paste pipeline register at run time
    import oslo_messaging
    import keystonemiddleware.auth_token  # noqa
    from glance import store as glance_store
    glance_store.register_opts(CONF)
    oslo_messaging.get_notification_transport(CONF)

    namespaces = set()
    for path in glob.glob(os.path.join(root, 'etc', 'oslo-config-generator',
                                       '*.conf')):
        with open(path) as f:
            for line in f:
                if line.strip().startswith('namespace'):
                    namespaces.add(line.split('=', 1)[1].strip())
    from stevedore import named
    mgr = named.NamedExtensionManager(
        'oslo.config.opts', sorted(namespaces), invoke_on_load=True,
        on_missing_entrypoints_callback=lambda names: errors.append(
            'no entry point for namespaces %s' % sorted(names)))
    listed = {}
    for ext in mgr:
        for group, opts in ext.obj:
            group = getattr(group, 'name', group) or 'DEFAULT'
            for opt in opts:
                listed.setdefault('%s.%s' % (group, opt.dest), []).append(
                    ext.name)
    print(json.dumps({'registered': registered, 'listed': listed,
                      'errors': errors}))
''')

#: registered on the command line only; no configuration file sets them
CLI_ONLY = {'config_file', 'config_dir', 'config_source',
            'shell_completion', 'command'}
#: options libraries register as a side effect of being imported, for
#: features glance does not use, and which upstream's sample omits too
LIBRARY_SIDE_EFFECTS = {
    # oslo.cache, set up by keystonemiddleware; token caching is
    # configured in [keystone_authtoken] (listed)
    'cache': 'keystonemiddleware',
    # oslo.service imports lockutils; glance takes no external locks
    'oslo_concurrency': 'oslo.service',
    # registered by oslo.messaging's transport, absent from its namespace
    'oslo_messaging_metrics': 'oslo.messaging',
    'oslo_messaging_tracing': 'oslo.messaging',
    # basic auth is not in any glance pipeline
    'oslo_middleware.http_basic_auth_user_file': 'oslo.middleware',
    # keystoneauth's plugin choice, registered by oslo.limit but left out
    # of its namespace (it depends on the plugin); doc/source/quotas.rst
    # tells operators to set it
    'oslo_limit.auth_type': 'oslo.limit',
    'oslo_limit.auth_section': 'oslo.limit',
}
GLANCE_NAMESPACES = ('glance.api', 'glance.manage', 'glance.scrubber',
                     'glance.store')


@pytest.fixture(scope='module')
def inventory():
    result = subprocess.run([sys.executable, '-c', _INVENTORY, ROOT],
                            capture_output=True, text=True, timeout=300,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_module_imports(inventory):
    assert inventory['errors'] == []


def test_every_glance_option_is_listed_by_glance_opts(inventory):
    missing = sorted(
        key for key, by in inventory['registered'].items()
        if by == 'glance' and key.split('.', 1)[1] not in CLI_ONLY
        and not set(inventory['listed'].get(key, ())) & set(
            GLANCE_NAMESPACES))
    assert not missing, ('glance registers %s but the generators do not '
                         'list them: add them to glance/opts.py' % missing)


def test_every_library_option_is_listed(inventory):
    missing = sorted(
        key for key, by in inventory['registered'].items()
        if by == 'library' and key not in inventory['listed']
        and key.split('.', 1)[0] not in LIBRARY_SIDE_EFFECTS
        and key not in LIBRARY_SIDE_EFFECTS
        and key.split('.', 1)[1].replace('-', '_') not in CLI_ONLY)
    assert not missing, (
        'library options registered at run time but absent from the '
        'sample: %s. Add the library namespace to etc/oslo-config-'
        'generator/glance-api.conf, or explain in LIBRARY_SIDE_EFFECTS why '
        'glance does not use them.' % missing)


def driver_option_keys() -> set[str]:
    """Options of every installed store driver (registered on first use)."""
    keys = set()
    for ep in importlib.metadata.entry_points(group='glance.store.drivers'):
        keys.update('glance_store.' + opt.dest
                    for opt in getattr(ep.load(), 'OPTIONS', ()))
    return keys


def test_every_glance_option_listed_is_registered(inventory):
    """No dead options: whatever glance.* lists, the code registers."""
    driver_opts = driver_option_keys()
    assert 'glance_store.filesystem_store_datadir' in driver_opts
    for key, namespaces in inventory['listed'].items():
        if not set(namespaces) & set(GLANCE_NAMESPACES):
            continue
        if key in driver_opts:
            continue        # driver options: registered once a store is made
        assert key in inventory['registered'], (namespaces, key)


#: ``CONF.x``, ``CONF.group.x`` and the same through a ``conf`` argument
_CONF_READ = re.compile(
    r'(?<![\w.])(?:CONF|conf)((?:\.[A-Za-z_][A-Za-z0-9_]*){1,2})')


def _conf_reads():
    """(file, [names]) for every option read in the code."""
    for base in ('glance',):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, base)):
            dirnames[:] = [d for d in dirnames
                           if d not in ('tests', '__pycache__')]
            for filename in filenames:
                if not filename.endswith('.py'):
                    continue
                path = os.path.join(dirpath, filename)
                with open(path) as f:
                    for m in _CONF_READ.finditer(f.read()):
                        yield (os.path.relpath(path, ROOT),
                               m.group(1).lstrip('.').split('.'))


def test_every_option_the_code_reads_is_listed(inventory):
    from oslo_config import cfg
    listed = {tuple(key.split('.', 1)) for key in inventory['listed']}
    groups = {group for group, _ in listed}
    unknown = []
    for path, names in _conf_reads():
        first = names[0]
        if first in groups and first != 'DEFAULT' and len(names) > 1:
            key = (first, names[1])
        elif hasattr(cfg.ConfigOpts, first) or first in CLI_ONLY:
            continue                    # a method (register_opts, ...)
        else:
            key = ('DEFAULT', first)
        if key not in listed:
            unknown.append('%s: CONF.%s' % (path, '.'.join(names)))
    assert not unknown, ('read but not listed for the generator: %s'
                         % unknown)
