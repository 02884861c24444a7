"""Exceptions raised by stores; glance maps them to HTTP answers."""
from __future__ import annotations


class GlanceStoreException(Exception):
    """Base of store errors."""

    message = 'An unknown store exception occurred'

    def __init__(self, message: str | None = None, **kwargs):
        if message is None:
            try:
                message = self.message % kwargs
            except (KeyError, TypeError):
                message = self.message
        self.msg = message
        super().__init__(message)


class NotFound(GlanceStoreException):
    message = 'Image %(image)s not found'


class Duplicate(GlanceStoreException):
    message = 'Image %(image)s already exists'


class StorageFull(GlanceStoreException):
    message = 'There is not enough disk space on the image storage media.'


class StorageWriteDenied(GlanceStoreException):
    message = 'Permission to write image storage media denied.'


class Forbidden(GlanceStoreException):
    message = 'The store refused access to %(image)s.'


class BadStoreConfiguration(GlanceStoreException):
    message = ('Store %(store_name)s could not be configured correctly. '
               'Reason: %(reason)s')


class BadStoreUri(GlanceStoreException):
    message = 'The Store URI was malformed: %(uri)s'


class UnknownScheme(GlanceStoreException):
    message = 'Unknown scheme %(scheme)s found in URI'


class UnknownStore(GlanceStoreException):
    message = 'Store %(store)s is not configured'


class StoreAddDisabled(GlanceStoreException):
    message = ('Configuration for store failed. Adding images to this '
               'store is disabled.')


class StoreRandomGetNotSupported(GlanceStoreException):
    message = 'Store %(store)s does not support random access reads'


class SizeLimitExceeded(GlanceStoreException):
    message = 'The image is larger than %(limit)s bytes'


class BackendException(GlanceStoreException):
    message = 'The storage backend failed: %(reason)s'


class InUseByStore(GlanceStoreException):
    message = ('The data of image %(image)s is in use in the store (a clone '
               'or a client holds it) and cannot be deleted')
