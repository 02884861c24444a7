"""Where the service finds the files its configuration names without a
directory: beside the configuration file, /etc/glance, then the copies
installed under the prefix (glance/tests/functional/test_install.py runs
an installation that has only those)."""
from __future__ import annotations

import os
import sysconfig

from oslo_config import cfg
import pytest

from glance.common import config
from glance.common import exception
from glance.common import property_protections as pp
from glance.db import metadef_files

CONF = cfg.CONF


@pytest.fixture
def conf_dir(tmp_path):
    """CONF parsed from glance-api.conf in a temporary directory; parsed
    with no files again afterwards (what the other unit tests expect)."""
    path = tmp_path / 'glance-api.conf'
    path.write_text('[DEFAULT]\n')
    CONF(['--config-file', str(path)], project='glance',
         default_config_files=[])
    yield tmp_path
    CONF.clear_override('property_protection_file')
    CONF([], project='glance', default_config_files=[])
    pp.load()


def test_search_order(conf_dir):
    installed = os.path.join(sysconfig.get_path('data'), 'etc', 'glance')
    assert config.installed_config_dir() == installed
    assert config.config_search_dirs() == [str(conf_dir), '/etc/glance',
                                           installed]


def test_a_file_beside_the_configuration_comes_first(conf_dir):
    (conf_dir / 'glance-api-paste.ini').write_text('[pipeline:x]\n')
    assert config.find_config_file('glance-api-paste.ini') == str(
        conf_dir / 'glance-api-paste.ini')
    assert config.find_config_file('no-such-file.ini') is None


def test_metadefs_beside_the_configuration_come_first(conf_dir):
    (conf_dir / 'metadefs').mkdir()
    assert metadef_files.default_path() == str(conf_dir / 'metadefs')


def test_a_relative_property_protection_file(conf_dir):
    (conf_dir / 'protections.conf').write_text(
        '[.*]\ncreate = @\nread = @\nupdate = @\ndelete = @\n')
    CONF.set_override('property_protection_file', 'protections.conf')
    rules = pp.load()
    assert rules is not None and len(rules.rules) == 1

    CONF.set_override('property_protection_file', 'elsewhere.conf')
    with pytest.raises(exception.InvalidPropertyProtectionConfiguration,
                       match='elsewhere.conf'):
        pp.load()
