"""Domain exceptions, each carrying the HTTP status it maps to.

Code anywhere below ``glance.api`` raises these;
``glance.common.wsgi.Resource`` is the one place that turns them into HTTP
responses.  That keeps ``webob.exc``
out of the domain, the layers and the database code.
"""
from __future__ import annotations


class GlanceException(Exception):
    """Base of all glance errors; ``code`` is the HTTP status to answer
    with."""

    code = 500
    message = "An unknown exception occurred"

    def __init__(self, message: str | None = None, **kwargs):
        if message is None:
            try:
                message = self.message % kwargs
            except (KeyError, TypeError):
                message = self.message
        self.msg = message
        self.kwargs = kwargs
        super().__init__(message)

    def __str__(self) -> str:
        return self.msg


class BadRequest(GlanceException):
    code = 400
    message = "The request is invalid"


class Invalid(BadRequest):
    message = "Data supplied was not valid."


class InvalidParameterValue(Invalid):
    message = (
        "Invalid value '%(value)s' for parameter '%(param)s': %(extra_msg)s")


class InvalidSortKey(Invalid):
    message = "Sort key supplied is invalid."


class InvalidSortDir(Invalid):
    message = "Sort direction supplied is invalid."


class InvalidFilterOperatorValue(Invalid):
    message = "Unable to filter using the specified operator."


class InvalidFilterRangeValue(Invalid):
    message = "Unable to filter using the specified range."


class InvalidJsonPatchBody(Invalid):
    message = (
        "The provided body %(body)s is invalid under given schema: %(schema)s")


class InvalidJsonPatchPath(Invalid):
    message = "The provided path '%(path)s' is invalid: %(explanation)s"


class SchemaValidationError(Invalid):
    message = "Provided object does not match schema: %(reason)s"


class InvalidImageStatusTransition(GlanceException):
    code = 409
    message = (
        "Image status transition from %(cur_status)s to %(new_status)s is not "
        "allowed")


class InvalidImageStatus(GlanceException):
    code = 409
    message = (
        "Image is in status %(status)s, which does not allow this operation")


class Conflict(GlanceException):
    code = 409
    message = "The request conflicts with the current state of the resource"


class Duplicate(Conflict):
    message = "An object with the same identifier already exists."


class Forbidden(GlanceException):
    code = 403
    message = "You are not authorized to complete this action."


class ForbiddenPublicImage(Forbidden):
    message = "You are not authorized to complete this action."


class ReadonlyProperty(Forbidden):
    message = "Attribute '%(property)s' is read-only."


class ReservedProperty(Forbidden):
    message = "Attribute '%(property)s' is reserved."


class ProtectedImageDelete(Forbidden):
    message = "Image %(image_id)s is protected and cannot be deleted."


class NotAuthenticated(GlanceException):
    code = 401
    message = "You are not authenticated."


class NotFound(GlanceException):
    code = 404
    message = "An object with the specified identifier was not found."


class ImageNotFound(NotFound):
    message = "No image found with ID %(image_id)s"


class ImageDataNotFound(NotFound):
    message = "No image data could be found"


class Gone(GlanceException):
    code = 410
    message = "The resource is gone."


class ImageDeletedDuringUpload(Gone):
    message = ("Image %(image_id)s was deleted while its data was "
               "uploading; the data was discarded.")


class LimitExceeded(GlanceException):
    code = 413
    message = "The request returned a 413 Request Entity Too Large."


class ImagePropertyLimitExceeded(LimitExceeded):
    message = (
        "The limit has been exceeded on the number of allowed image "
        "properties. Attempted: %(attempted)s, Maximum: %(maximum)s")


class ImageTagLimitExceeded(LimitExceeded):
    message = (
        "The limit has been exceeded on the number of allowed image tags. "
        "Attempted: %(attempted)s, Maximum: %(maximum)s")


class ImageLocationLimitExceeded(LimitExceeded):
    message = (
        "The limit has been exceeded on the number of allowed image "
        "locations. Attempted: %(attempted)s, Maximum: %(maximum)s")


class ImageSizeLimitExceeded(LimitExceeded):
    message = "The provided image is too large."


class StorageQuotaFull(LimitExceeded):
    message = (
        "The size of the data %(image_size)s will exceed the limit. "
        "%(remaining)s bytes remaining.")


class StorageFull(LimitExceeded):
    message = "There is not enough disk space on the image storage media."


class UnsupportedMediaType(GlanceException):
    code = 415
    message = "The request media type is not supported."


class ImageUnsafe(UnsupportedMediaType):
    """Image data refused by the format inspection
    (glance.common.format_inspector)."""

    message = "Image failed safety checks: %(reason)s"


class SignatureVerificationFailed(BadRequest):
    """Image data that its signature properties do not vouch for
    (glance.common.signature)."""

    message = "Signature verification failed: %(reason)s"


class RangeNotSatisfiable(GlanceException):
    code = 416
    message = "The requested range is not satisfiable."


class UploadInterrupted(BadRequest):
    message = "The image upload was interrupted: %(reason)s"


class ServiceUnavailable(GlanceException):
    code = 503
    message = "The service is temporarily unavailable."


class InvalidPropertyProtectionConfiguration(GlanceException):
    message = "Invalid configuration in property protection file."


class ImageMemberLimitExceeded(LimitExceeded):
    message = (
        "The limit has been exceeded on the number of allowed image members "
        "for this image. Attempted: %(attempted)s, Maximum: %(maximum)s")
