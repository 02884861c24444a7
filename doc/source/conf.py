# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Sphinx configuration of the glance documentation (operators and
contributors).

The OpenStack theme is used when it is installed and the tree is a git
checkout with at least one commit; otherwise Sphinx's bundled alabaster
theme, so that ``pip install sphinx`` alone is enough to build the pages.
The documentation does not import glance, so building it needs none of the
service's dependencies.
"""

import configparser
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def _importable(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def _git_has_commit():
    try:
        subprocess.run(['git', 'rev-parse', '--verify', '-q', 'HEAD'],
                       cwd=HERE, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


def _project_version():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(TOP, 'setup.cfg'))
    return parser.get('metadata', 'version', fallback='')


project = 'glance'
copyright = 'glance contributors'
author = 'glance contributors'
release = _project_version()
version = '.'.join(release.split('.')[:2])

master_doc = 'index'
root_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
pygments_style = 'default'
language = 'en'
extensions = []

if _importable('openstackdocstheme') and _git_has_commit():
    extensions.append('openstackdocstheme')
    html_theme = 'openstackdocs'
    html_theme_options = {'sidebar_mode': 'toc'}
    openstackdocs_repo_name = 'openstack/glance'
    openstackdocs_bug_project = 'glance'
    openstackdocs_auto_name = False
    # The version comes from setup.cfg above, not from an installed package.
    openstackdocs_auto_version = False
else:
    html_theme = 'alabaster'
    html_theme_options = {}

html_title = 'glance %s documentation' % release if release else 'glance'
html_static_path = []
htmlhelp_basename = 'glance-doc'
