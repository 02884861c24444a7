"""Parsing of GET /v2/images query strings into a validated ListQuery.

Which operators a filter takes depends on the field, as the Images API
reference documents them: ``created_at``/``updated_at`` compare
(``gt:2024-01-01T00:00:00Z``), ``id``, ``name``, ``status``,
``container_format`` and ``disk_format`` take ``eq:`` and ``in:``, and every
other key (core field or extra property) is matched exactly, colon and all.
"""
from __future__ import annotations

from typing import Any

from oslo_config import cfg
from oslo_utils import strutils, timeutils

from glance.common import exception, json_input
from glance.domain import image_fields
from glance.domain.listing import FILTER_COLUMNS, SORT_KEYS, ListQuery

CONF = cfg.CONF

SORT_DIRS = ('asc', 'desc')
VISIBILITIES = ('public', 'private', 'shared', 'community', 'all')
MEMBER_STATUSES = ('pending', 'accepted', 'rejected', 'all')
DATE_FIELDS = image_fields.filtered('date')
DATE_OPERATORS = ('eq', 'neq', 'gt', 'gte', 'lt', 'lte')
#: fields filtered with eq: (the default) or in:
IN_FIELDS = image_fields.filtered('in')
INT_FIELDS = image_fields.filtered('int')
BOOL_FIELDS = image_fields.filtered('bool')
#: query keys that steer the list and are not filters
CONTROL_KEYS = ('limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'tag',
                'visibility', 'member_status', 'os_hidden', 'size_min',
                'size_max')


def _bad(param: str, value: str, why: str) -> exception.InvalidParameterValue:
    return exception.InvalidParameterValue(value=value, param=param,
                                           extra_msg=why)


def split_in(param: str, value: str) -> list[str]:
    """The items of an ``in:`` list: comma separated, optionally quoted.

    A quoted item may hold commas; inside it a backslash escapes the next
    character.  Quotes must enclose a whole item, so ``a"b"`` and an
    unclosed quote are refused rather than guessed at.
    """
    items: list[str] = []
    i, n = 0, len(value)
    while True:
        while i < n and value[i] == ' ':
            i += 1
        if i < n and value[i] == '"':
            i += 1
            chars = []
            while i < n and value[i] != '"':
                if value[i] == '\\' and i + 1 < n:
                    i += 1
                chars.append(value[i])
                i += 1
            if i >= n:
                raise _bad(param, value, 'a quotation mark is not closed')
            i += 1
            while i < n and value[i] == ' ':
                i += 1
            if i < n and value[i] != ',':
                raise _bad(param, value, 'a closing quotation mark must be '
                                         'followed by a comma')
            items.append(''.join(chars))
        else:
            end = value.find(',', i)
            end = n if end < 0 else end
            item = value[i:end]
            if '"' in item:
                raise _bad(param, value, 'an opening quotation mark must '
                                         'follow a comma')
            items.append(item.strip())
            i = end
        if i >= n:
            return items
        i += 1  # the comma


def _split_operator(raw: str) -> tuple[str | None, str]:
    """``op:value`` -> (op, value); (None, raw) without a colon.

    A bare ISO 8601 time has colons of its own and is an ``eq`` value.
    """
    op, sep, rest = raw.partition(':')
    if not sep:
        return None, raw
    try:
        timeutils.parse_isotime(raw)
        return None, raw
    except ValueError:
        return op, rest


def _date(key: str, raw: str):
    try:
        return timeutils.normalize_time(timeutils.parse_isotime(raw.strip()))
    except (ValueError, OverflowError):
        # OverflowError: a time zone offset moving year 1 or 9999 out of
        # the range datetime can represent in UTC.
        raise _bad(key, raw, 'use an ISO 8601 date and time between '
                             'years 1 and 9999 in UTC')


def _typed(key: str, raw: str) -> Any:
    if key in INT_FIELDS:
        # 64 bits at most: the database cannot compare with more.
        return json_input.parse_int(raw, key)
    if key in BOOL_FIELDS:
        try:
            return strutils.bool_from_string(raw, strict=True)
        except ValueError:
            raise _bad(key, raw, 'true or false is required')
    return raw


def _filter(key: str, raw: str) -> tuple[str, str, Any]:
    """One (key, operator, value) filter of a query parameter."""
    if key in DATE_FIELDS:
        op, value = _split_operator(raw)
        op = op or 'eq'
        if op not in DATE_OPERATORS:
            raise exception.InvalidFilterOperatorValue(
                'Unable to filter on %s with operator %s; use one of %s.'
                % (key, op, ', '.join(DATE_OPERATORS)))
        return key, op, _date(key, value)
    if key in IN_FIELDS:
        op, value = _split_operator(raw)
        if op == 'in':
            return key, 'in', split_in(key, value)
        if op not in (None, 'eq'):
            raise exception.InvalidFilterOperatorValue(
                'Unable to filter on %s with operator %s; use eq or in.'
                % (key, op))
        return key, 'eq', value.strip() if op else value
    if key in FILTER_COLUMNS:
        return key, 'eq', _typed(key, raw)
    # Any other key names an extra property, compared as stored.
    return key, 'eq', raw


def _limit(raw: str | None) -> int:
    if raw is None:
        return CONF.limit_param_default
    limit = json_input.parse_int(raw, 'limit')
    if limit < 0:
        raise _bad('limit', raw, 'limit must be a non-negative integer')
    return min(limit, CONF.api_limit_max)


def _sort_key(key: str) -> str:
    key = key.strip()
    if key not in SORT_KEYS:
        raise exception.InvalidSortKey(
            'Invalid sort key %r; use one of %s.'
            % (key, ', '.join(SORT_KEYS)))
    return key


def _sort_dir(direction: str) -> str:
    direction = direction.strip()
    if direction not in SORT_DIRS:
        raise exception.InvalidSortDir(
            'Invalid sort direction %r; use asc or desc.' % direction)
    return direction


def _sort(params) -> list[tuple[str, str]]:
    """``sort=k:dir,...`` or ``sort_key=k&sort_dir=dir`` (repeatable)."""
    keys = params.getall('sort_key')
    dirs = params.getall('sort_dir')
    sort = params.get('sort')
    if sort is not None:
        if keys or dirs:
            raise exception.BadRequest('The sort parameter cannot be '
                                       'combined with sort_key or sort_dir.')
        out = []
        for item in sort.strip().split(','):
            key, _, direction = item.partition(':')
            out.append((_sort_key(key), _sort_dir(direction or 'desc')))
        return out
    keys = [_sort_key(k) for k in keys] or ['created_at']
    dirs = [_sort_dir(d) for d in dirs]
    if len(dirs) > 1 and len(dirs) != len(keys):
        raise exception.BadRequest('Give one sort_dir, or one per sort_key.')
    if len(dirs) <= 1:
        dirs = [dirs[0] if dirs else 'desc'] * len(keys)
    return list(zip(keys, dirs))


def _bool_param(params, key: str) -> bool | None:
    raw = params.get(key)
    if raw is None:
        return None
    try:
        return strutils.bool_from_string(raw, strict=True)
    except ValueError:
        raise _bad(key, raw, 'true or false is required')


def parse(params) -> ListQuery:
    """Build the ListQuery of a webob MultiDict of query parameters."""
    q = ListQuery(limit=_limit(params.get('limit')), sort=_sort(params))
    marker = params.get('marker')
    if marker is not None:
        if not marker:
            raise exception.BadRequest('The marker must not be empty.')
        q.marker = marker
    visibility = params.get('visibility')
    if visibility is not None:
        if visibility not in VISIBILITIES:
            raise _bad('visibility', visibility,
                       'use one of %s' % ', '.join(VISIBILITIES))
        q.visibility = visibility
    member_status = params.get('member_status')
    if member_status is not None:
        if member_status not in MEMBER_STATUSES:
            raise _bad('member_status', member_status,
                       'use one of %s' % ', '.join(MEMBER_STATUSES))
        q.member_status = member_status
    q.os_hidden = _bool_param(params, 'os_hidden')
    q.tags = params.getall('tag')
    for key, op in (('size_min', 'gte'), ('size_max', 'lte')):
        raw = params.get(key)
        if raw is not None:
            q.filters.append(('size', op, json_input.parse_int(raw, key)))
    # As for every parameter but tag, the last of repeated values counts.
    for key in dict.fromkeys(params.keys()):
        if key not in CONTROL_KEYS:
            q.filters.append(_filter(key, params.get(key)))
    return q
