"""JSON Schemas as data: served under /v2/schemas and used to validate."""
from __future__ import annotations

import jsonschema

from glance.common import exception


def validate(schema: dict, obj) -> None:
    """Raise a 400 naming the first problem when ``obj`` breaks ``schema``."""
    check(jsonschema.Draft4Validator(schema), obj)


def check(validator: jsonschema.protocols.Validator, obj) -> None:
    """:func:`validate` with a validator built beforehand (the image
    schema's, used by every create and patch, is built once)."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    if error is not None:
        where = '/'.join(str(p) for p in error.absolute_path)
        reason = error.message if not where else '%s (at %s)' % (
            error.message, where)
        raise exception.SchemaValidationError(reason=reason)
