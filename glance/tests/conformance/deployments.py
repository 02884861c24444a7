"""The glance deployments the conformance suite runs against.

Each is a glance-api configuration (``SECTION.OPTION=VALUE`` settings for
tools/write_config.py, on top of the Keystone fixture's keystone-flavor
settings) together with the ``[image-feature-enabled]`` flags that tell
Tempest what that configuration serves, so that Tempest neither skips
what we offer nor tests what we do not.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable

from glance.tests.conformance.web import ImageServer

#: cache tests (test_image_caching) need the cache management API
FLAVOR = 'keystone+cachemanagement'

#: Tempest's image API tests
TEMPEST_TESTS = r'^tempest\.api\.image'
#: and the plugin's: its API tests are the secure-RBAC persona tests under
#: tests.rbac (tests.api is empty)
PLUGIN_TESTS = r'^glance_tempest_plugin\.tests\.(api|rbac)'


@dataclasses.dataclass(frozen=True)
class Deployment:
    """One glance configuration under Tempest.

    ``profile`` is the tools/write_config.py profile it starts from;
    ``settings(workdir, web)`` the overrides; ``import_methods`` what
    ``enabled_import_methods`` offers; ``features`` the tempest.conf
    ``[image-feature-enabled]`` values; ``regex`` the tests it runs.
    With ``remote`` a second glance-api shares its database and stores
    (not its staging area or cache) and is in the catalog as
    ``image_remote``: Tempest's cross-node import and delete tests.
    """

    name: str
    description: str
    profile: str
    settings: Callable[[str, ImageServer], list[str]]
    import_methods: tuple[str, ...]
    features: dict[str, bool]
    regex: str
    remote: bool = False
    shared: Callable[[str], list[str]] = lambda primary_dir: []

    def glance_settings(self, workdir: str, web: ImageServer) -> list[str]:
        """Everything but Keystone's settings, for a glance-api whose
        configuration and data live in ``workdir``."""
        return [
            'paste_deploy.flavor=%s' % FLAVOR,
            'DEFAULT.enabled_import_methods=[%s]'
            % ','.join(self.import_methods),
            'DEFAULT.image_cache_dir=%s' % os.path.join(workdir, 'cache'),
            'DEFAULT.image_cache_driver=sqlite',
            # web-download and the http store fetch from the loopback
            # image server, and nowhere else.
            'import_filtering_opts.allowed_schemes=[http]',
            'import_filtering_opts.allowed_hosts=[127.0.0.1]',
            'import_filtering_opts.allowed_ports=[%d]' % web.port,
            # the legacy import task (POST /v2/tasks) works in it
            'task.work_dir=%s' % os.path.join(workdir, 'tasks'),
            # Tempest's ListUserImagesTest uploads random bytes as qcow2,
            # vhd and the like ("bogus image data"): data that does not
            # match its declared format is accepted (the safety checks of
            # what it really is still apply), and Tempest is told so
            # (image_format_enforcement below), so those tests run.
            'image_format.require_image_format_match=False',
        ] + self.settings(workdir, web)


def _single(workdir: str, web: ImageServer) -> list[str]:
    return [
        # A file store for the data, and the (read-only) http store that
        # locations on the web are served from.
        'glance_store.stores=file,http',
        'glance_store.default_store=file',
        # locations added on the loopback image server are read from it
        'glance_store.http_store_allowed_hosts=127.0.0.1',
        'glance_store.filesystem_store_datadir=%s'
        % os.path.join(workdir, 'images'),
        'DEFAULT.node_staging_uri=file://%s'
        % os.path.join(workdir, 'staging'),
    ]


def _single_shared(primary_dir: str) -> list[str]:
    return ['glance_store.filesystem_store_datadir=%s'
            % os.path.join(primary_dir, 'images')]


#: the file stores of the multi-store deployment (the reference profile's)
MULTISTORE_FILE_STORES = ('cheap', 'fast')


def _multistore_shared(primary_dir: str) -> list[str]:
    return ['%s.filesystem_store_datadir=%s'
            % (store, os.path.join(primary_dir, 'stores', store))
            for store in MULTISTORE_FILE_STORES]


def _multistore(workdir: str, web: ImageServer) -> list[str]:
    # The reference profile already defines the fast and cheap file
    # stores and the staging and tasks stores under workdir.  The stores
    # are listed in name order: an image's ``stores`` follows the order it
    # was imported in (all_stores: this one), and Tempest compares it with
    # the sorted list of writable stores.
    return [
        'DEFAULT.enabled_backends=cheap:file, fast:file, web:http',
        'glance_store.default_backend=fast',
        # locations added on the loopback image server are read from it
        'web.http_store_allowed_hosts=127.0.0.1',
    ]


#: the features both deployments offer alike
_COMMON = {
    'api_v2': True,
    'import_image': True,
    'os_glance_reserved': True,
    # show_multiple_locations stays off, as in a default deployment
    'manage_locations': False,
    'image_conversion': False,
    'image_format_enforcement': False,
    'do_secure_hash': True,
    'http_store_enabled': True,
    'store_weight_enabled': False,
}

SINGLE = Deployment(
    name='single',
    description='one file store (and the http store for web locations)',
    profile='default', settings=_single,
    import_methods=('glance-direct', 'web-download'),
    features=dict(_COMMON),
    regex='%s|%s' % (TEMPEST_TESTS, PLUGIN_TESTS),
    remote=True, shared=_single_shared)

MULTISTORE = Deployment(
    name='multistore',
    description='fast and cheap file stores, a web http store; '
                'glance-download and copy-image enabled',
    profile='reference', settings=_multistore,
    import_methods=('glance-direct', 'web-download', 'copy-image',
                    'glance-download'),
    features=dict(_COMMON),
    # Every deployment runs the plugin's tests too, as the reference's
    # multi-store runs do: the persona tests import, copy and delete
    # across stores.
    regex='%s|%s' % (TEMPEST_TESTS, PLUGIN_TESTS),
    remote=True, shared=_multistore_shared)

DEPLOYMENTS = {d.name: d for d in (SINGLE, MULTISTORE)}
