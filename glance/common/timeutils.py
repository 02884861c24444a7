"""Timestamps as the Images API writes them."""
from __future__ import annotations

import datetime


def isotime(value: datetime.datetime | None) -> str | None:
    """``2026-01-31T12:00:00Z`` (UTC, whole seconds), or None."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    if value.year < 1000:   # strftime writes such a year unpadded
        return value.strftime('%Y-%m-%dT%H:%M:%SZ')
    # the same text, at a third of strftime's cost (two per image listed)
    return value.isoformat(timespec='seconds') + 'Z'
