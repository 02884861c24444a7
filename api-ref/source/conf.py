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

"""Sphinx configuration of the Images API v2 reference.

The pages use the ``rest_method``, ``rest_parameters`` and
``rest_status_code`` directives of os-api-ref.  The OpenStack theme is used
when it is installed and the tree is a git checkout with at least one
commit (the theme asks git for the commit it documents); otherwise the
build falls back to Sphinx's bundled alabaster theme.  When os-api-ref
itself is missing, small stand-ins for its directives keep the build
working with plain output, so a bare ``pip install sphinx`` is enough to
proofread the text.
"""

import os
import subprocess

from docutils import nodes
from docutils.parsers.rst import Directive

HERE = os.path.dirname(os.path.abspath(__file__))

project = 'glance'
copyright = 'glance contributors'
author = 'glance contributors'
version = ''
release = ''

master_doc = 'index'
root_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
exclude_patterns = ['samples/*']
pygments_style = 'default'
language = 'en'

extensions = []


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


HAVE_API_REF = _importable('os_api_ref')
if HAVE_API_REF:
    extensions.append('os_api_ref')

if _importable('openstackdocstheme') and _git_has_commit():
    extensions.append('openstackdocstheme')
    html_theme = 'openstackdocs'
    html_theme_options = {'sidebar_mode': 'toc'}
    openstackdocs_repo_name = 'openstack/glance'
    openstackdocs_bug_project = 'glance'
    openstackdocs_auto_name = False
    openstackdocs_auto_version = False
else:
    html_theme = 'alabaster'
    html_theme_options = {}

html_title = 'Image Service API v2 Reference'
html_static_path = []
htmlhelp_basename = 'glance-api-ref'


class _Placeholder(Directive):
    """Stand-in for an os-api-ref directive when the extension is absent.

    It shows the directive's argument (the method and path) and keeps the
    body out of the page, so the prose still reads and the build passes.
    """

    has_content = True
    optional_arguments = 10
    final_argument_whitespace = True

    def run(self):
        if self.name != 'rest_method' or not self.arguments:
            return []
        text = ' '.join(self.arguments)
        return [nodes.paragraph('', '', nodes.literal(text, text))]


def setup(app):
    """Register the stand-in directives when os-api-ref is not installed."""
    if not HAVE_API_REF:
        for name in ('rest_method', 'rest_parameters', 'rest_status_code',
                     'rest_expand_all'):
            app.add_directive(name, _Placeholder)
