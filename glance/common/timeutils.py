"""Timestamps as the Images API writes them."""
from __future__ import annotations

import datetime


def isotime(value: datetime.datetime | None) -> str | None:
    """``2026-01-31T12:00:00Z`` (UTC, whole seconds), or None."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value.strftime('%Y-%m-%dT%H:%M:%SZ')
