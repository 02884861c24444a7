"""What every /v2/metadefs resource module shares: reading a request body
against its schema, and loading the namespace a call is about."""
from __future__ import annotations

from typing import Any

from glance.common import exception, wsgi
from glance import gateway
from glance import schemas
from glance.schemas import metadef as metadef_schemas


def metadef_body(request: wsgi.Request, schema: dict[str, Any]
                 ) -> dict[str, Any]:
    """The JSON object body of ``request``, checked against ``schema``.

    Keys the server owns (self, schema, timestamps) are refused with 403,
    as for images, rather than silently dropped: a client sending them
    believes it can set them.
    """
    body = request.json_body_or_400()
    if not isinstance(body, dict):
        raise exception.BadRequest('The request body must be a JSON object.')
    for key in metadef_schemas.READ_ONLY:
        if key in body:
            raise exception.Forbidden("Attribute '%s' is read-only." % key)
    schemas.validate(schema, body)
    return body


def load(request: wsgi.Request, namespace: str):
    """(repository, namespace) for a call on ``namespace`` or its contents;
    404 when the caller may not see the namespace."""
    repo = gateway.get_metadef_repo(request.context)
    return repo, repo.get_namespace(namespace)
