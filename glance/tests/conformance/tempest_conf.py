"""tempest.conf for one deployment behind the Keystone fixture.

Tempest makes its own users and projects for each test class (dynamic
credentials) as Keystone's bootstrap administrator, system scoped so that
it can also make the system-scoped administrators the plugin's RBAC tests
use.  Only the image service is declared available, so nothing waits for
compute, volumes or networks that do not run here.
"""
from __future__ import annotations

import configparser
import os

from glance.tests.conformance.deployments import Deployment
from glance.tests.conformance.web import ImageServer
from glance.tests.functional.keystone import REGION, Keystone

#: the catalog's service type of a deployment's second glance-api
REMOTE_SERVICE = 'image_remote'
#: every service Tempest knows of; only glance runs here
SERVICES = ('cinder', 'neutron', 'glance', 'swift', 'nova', 'horizon',
            'placement', 'keystone')


def build(workdir: str, keystone: Keystone, deployment: Deployment,
          web: ImageServer, build_timeout: int = 120) -> str:
    """Write ``workdir/etc/tempest.conf``; returns its path.

    ``build_timeout`` bounds each wait for an image or task state: every
    import here is of a small image over loopback, so a wait that lasts
    longer is a failure and should say so before CI's time runs out.
    """
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str
    conf['DEFAULT'] = {
        'log_file': os.path.join(workdir, 'tempest.log'),
        'use_stderr': 'False',
    }
    conf['oslo_concurrency'] = {'lock_path': os.path.join(workdir, 'locks')}
    conf['auth'] = {
        'use_dynamic_credentials': 'True',
        'admin_username': 'admin',
        'admin_password': keystone.admin_password,
        'admin_project_name': 'admin',
        'admin_domain_name': 'Default',
        'admin_user_domain_name': 'Default',
        'admin_project_domain_name': 'Default',
        # a system-scoped administrator: it may assign system roles
        'admin_system': 'all',
        'create_isolated_networks': 'False',
    }
    conf['identity'] = {
        'uri_v3': keystone.url + '/v3',
        'auth_version': 'v3',
        'region': REGION,
        'admin_role': 'admin',
        'default_domain_id': 'default',
        'v3_endpoint_type': 'public',
    }
    conf['service_available'] = {name: str(name in ('glance', 'keystone'))
                                 for name in SERVICES}
    conf['enforce_scope'] = {'glance': 'True', 'keystone': 'True'}
    # glance, like upstream's, acts on projects: system scope is refused
    conf['glance_api'] = {'system_scope_supported': 'False'}
    conf['image'] = {
        'region': REGION,
        'endpoint_type': 'publicURL',
        'http_image': web.raw_url,
        'http_qcow2_image': web.qcow2_url,
        'build_timeout': str(build_timeout),
        'build_interval': '1',
        'image_caching_enabled': 'True',
        'hashing_algorithm': 'sha512',
        # Tempest's default list with raw first: the add-location tests
        # create their image with the first format and point it at
        # http_image, which is raw data here, and glance checks that data
        # is what the image declares ([image_format]
        # require_image_format_match)
        'disk_formats': 'raw,qcow2,ami,ari,aki,vhd,vmdk,vdi,iso,vhdx',
    }
    if deployment.remote:
        conf['image']['alternate_image_endpoint'] = REMOTE_SERVICE
        conf['image']['alternate_image_endpoint_type'] = 'publicURL'
    conf['image-feature-enabled'] = {
        key: str(value) for key, value in deployment.features.items()}
    os.makedirs(os.path.join(workdir, 'etc'), exist_ok=True)
    os.makedirs(os.path.join(workdir, 'locks'), exist_ok=True)
    path = os.path.join(workdir, 'etc', 'tempest.conf')
    with open(path, 'w') as f:
        conf.write(f)
    return path
