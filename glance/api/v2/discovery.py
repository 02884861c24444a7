"""What the service offers: import methods and stores, as response headers.

(/v2/info/* comes with the import and store capabilities.)
"""
from __future__ import annotations

from oslo_config import cfg

from glance.layers import location_stores

CONF = cfg.CONF


def add_headers(response) -> None:
    """OpenStack-image-import-methods and, with several stores, -store-ids."""
    methods = CONF.enabled_import_methods
    if methods:
        response.headers['OpenStack-image-import-methods'] = ','.join(methods)
    stores, multi = location_stores.enabled_stores()
    if multi:
        response.headers['OpenStack-image-store-ids'] = ','.join(stores)
