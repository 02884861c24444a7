"""The API node holding an image's staged data, and calls handed to it.

Staged data stays on the node that received it (``os_glance_stage_host``,
that node's worker_self_reference_url), so a glance-direct import or the
delete of a staged image that arrives elsewhere is passed on to it, with
the caller's identity and request id.  Both use this one module.
"""
from __future__ import annotations

from oslo_config import cfg
import requests

from glance.common import exception, fetcher, wsgi
from glance.services.image_import import stage_host as other_host  # noqa

CONF = cfg.CONF

#: request headers passed on (who the caller is)
IDENTITY = ('X-Auth-Token', 'X-Identity-Status', 'X-Roles', 'X-Project-Id',
            'X-Tenant-Id', 'X-User-Id', 'X-Domain-Id', 'X-Project-Domain-Id',
            'X-User-Domain-Id', 'X-Service-Catalog')
#: seconds to wait for the staging node
TIMEOUT = 60
#: what ``call`` raises when the other node cannot be reached
Unreachable = requests.RequestException


def headers_of(request: wsgi.Request, *extra: str) -> dict[str, str]:
    """The caller's identity headers (and ``extra`` ones) to pass on, with
    the request ids, so the other node logs it under the same global id."""
    out = {h: request.headers[h] for h in IDENTITY + extra
           if h in request.headers}
    out.update(fetcher.request_id_headers(request.context))
    return out


def call(request: wsgi.Request, method: str, host: str, path: str,
         extra: tuple[str, ...] = (), headers: dict | None = None,
         data: bytes | None = None) -> requests.Response:
    """Send ``method path`` to the node at ``host`` on behalf of the caller
    of ``request`` (its identity, request ids and the ``extra`` headers it
    sent, plus ``headers``).  Raises ``Unreachable`` when that node cannot
    be reached; what to do then is the caller's choice."""
    sent = headers_of(request, *extra)
    sent.update(headers or {})
    return requests.request(method, host + path, data=data, headers=sent,
                            timeout=TIMEOUT)


def refusal(answer: requests.Response) -> exception.GlanceException:
    """The other node's refusal as the answer here (same status)."""
    error = exception.GlanceException(_message(answer))
    error.code = answer.status_code
    return error


def _message(answer: requests.Response) -> str:
    """The explanation in another node's error answer, without its status
    line (the answer here gets its own)."""
    text = answer.text
    try:
        text = str(answer.json().get('message') or '')
    except (ValueError, AttributeError):
        pass
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith(str(answer.status_code)):
        lines = lines[1:]
    return ' '.join(lines) or answer.reason or 'refused'
