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

"""Sphinx configuration of the glance release notes.

The notes live in ``releasenotes/notes/`` as reno YAML files; the
``release-notes`` directive of reno's Sphinx extension collects them from
the git history.  As for the other documents, the OpenStack theme is used
when available and Sphinx's alabaster theme otherwise.
"""

import subprocess


def _importable(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def _git_has_commit():
    try:
        subprocess.run(['git', 'rev-parse', '--verify', '-q', 'HEAD'],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


project = 'glance Release Notes'
copyright = 'glance contributors'
author = 'glance contributors'
version = ''
release = ''

master_doc = 'index'
root_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
pygments_style = 'default'
language = 'en'

extensions = ['reno.sphinxext']

if _importable('openstackdocstheme') and _git_has_commit():
    extensions.append('openstackdocstheme')
    html_theme = 'openstackdocs'
    openstackdocs_repo_name = 'openstack/glance'
    openstackdocs_bug_project = 'glance'
    openstackdocs_auto_name = False
    openstackdocs_auto_version = False
else:
    html_theme = 'alabaster'

html_static_path = []
htmlhelp_basename = 'glance-releasenotes'
