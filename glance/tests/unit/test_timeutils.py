"""Timestamps as the API writes them."""
from __future__ import annotations

import datetime

import pytest

from glance.common import timeutils

UTC = datetime.timezone.utc


@pytest.mark.parametrize('value, text', [
    (datetime.datetime(2026, 1, 31, 12, 0, 5, 999999), '2026-01-31T12:00:05Z'),
    (datetime.datetime(2026, 1, 31), '2026-01-31T00:00:00Z'),
    (datetime.datetime(2026, 1, 31, 1, 2, 3, tzinfo=datetime.timezone(
        datetime.timedelta(hours=2))), '2026-01-30T23:02:03Z'),
    (datetime.datetime(2026, 1, 31, 1, 2, 3, tzinfo=UTC),
     '2026-01-31T01:02:03Z'),
    # strftime's %Y, which the reference writes, does not pad such a year
    (datetime.datetime(5, 1, 31, 12, 0, 5), '5-01-31T12:00:05Z'),
    (None, None),
])
def test_isotime_writes_whole_seconds_in_utc(value, text):
    assert timeutils.isotime(value) == text
