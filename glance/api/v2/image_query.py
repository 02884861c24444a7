"""Parsing of GET /v2/images query strings into a validated ListQuery."""
from __future__ import annotations

from typing import Any

from oslo_config import cfg
from oslo_utils import strutils, timeutils

from glance.common import exception
from glance.db.sqlalchemy.image_list import ListQuery

CONF = cfg.CONF

SORT_KEYS = ('name', 'status', 'container_format', 'disk_format', 'size',
             'id', 'created_at', 'updated_at')
SORT_DIRS = ('asc', 'desc')
VISIBILITIES = ('public', 'private', 'shared', 'community', 'all')
MEMBER_STATUSES = ('pending', 'accepted', 'rejected', 'all')
OPERATORS = ('eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in')
DATE_FIELDS = ('created_at', 'updated_at')
INT_FIELDS = ('min_ram', 'min_disk', 'size', 'virtual_size')
#: query keys that steer the list and are not filters
CONTROL_KEYS = ('limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'tag',
                'visibility', 'member_status', 'os_hidden', 'size_min',
                'size_max')


def _bad(param: str, value: str, why: str) -> exception.InvalidParameterValue:
    return exception.InvalidParameterValue(value=value, param=param,
                                           extra_msg=why)


def _split_in(value: str) -> list[str]:
    out = []
    for item in value.split(','):
        item = item.strip()
        if len(item) >= 2 and item[0] == item[-1] == '"':
            item = item[1:-1]
        out.append(item)
    return out


def _operator(key: str, raw: str) -> tuple[str, str]:
    """Split ``op:value``; plain values mean ``eq``."""
    op, sep, rest = raw.partition(':')
    if sep and op in OPERATORS:
        return op, rest
    if sep and key in DATE_FIELDS:
        raise exception.InvalidFilterOperatorValue(
            'Unable to filter on %s with operator %s.' % (key, op))
    return 'eq', raw


def _typed(key: str, raw: str) -> Any:
    if key in DATE_FIELDS:
        try:
            return timeutils.normalize_time(timeutils.parse_isotime(raw))
        except ValueError:
            raise _bad(key, raw, 'it is not an ISO 8601 date and time')
    if key in INT_FIELDS:
        try:
            return int(raw)
        except ValueError:
            raise _bad(key, raw, 'an integer is required')
    if key == 'protected':
        try:
            return strutils.bool_from_string(raw, strict=True)
        except ValueError:
            raise _bad(key, raw, 'true or false is required')
    return raw


def _filter(key: str, raw: str) -> tuple[str, str, Any]:
    op, value = _operator(key, raw)
    if key in DATE_FIELDS and op == 'in':
        raise exception.InvalidFilterOperatorValue(
            'Unable to filter on %s with operator in.' % key)
    if op == 'in':
        return key, op, [_typed(key, v) for v in _split_in(value)]
    if op != 'eq' and key not in DATE_FIELDS + INT_FIELDS:
        # Range operators only mean something on dates and numbers.
        return key, 'eq', raw
    return key, op, _typed(key, value)


def _limit(raw: str | None) -> int:
    if raw is None:
        return CONF.limit_param_default
    try:
        limit = int(raw)
    except ValueError:
        raise _bad('limit', raw, 'limit must be an integer')
    if limit < 0:
        raise _bad('limit', raw, 'limit must be a non-negative integer')
    return min(limit, CONF.api_limit_max)


def _sort(params) -> list[tuple[str, str]]:
    keys = params.getall('sort_key')
    dirs = params.getall('sort_dir')
    sort = params.get('sort')
    if sort is not None:
        if keys or dirs:
            raise exception.BadRequest('The sort parameter cannot be '
                                       'combined with sort_key or sort_dir.')
        out = []
        for item in sort.split(','):
            key, _, direction = item.strip().partition(':')
            direction = direction or 'desc'
            if key not in SORT_KEYS:
                raise exception.InvalidSortKey(
                    'Invalid sort key %s; use one of %s.'
                    % (key, ', '.join(SORT_KEYS)))
            if direction not in SORT_DIRS:
                raise exception.InvalidSortDir(
                    'Invalid sort direction %s; use asc or desc.' % direction)
            out.append((key, direction))
        return out
    for key in keys:
        if key not in SORT_KEYS:
            raise exception.InvalidSortKey(
                'Invalid sort key %s; use one of %s.'
                % (key, ', '.join(SORT_KEYS)))
    for direction in dirs:
        if direction not in SORT_DIRS:
            raise exception.InvalidSortDir(
                'Invalid sort direction %s; use asc or desc.' % direction)
    keys = keys or ['created_at']
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
            try:
                q.filters.append(('size', op, int(raw)))
            except ValueError:
                raise _bad(key, raw, 'an integer is required')
    for key in set(params.keys()) - set(CONTROL_KEYS):
        q.filters.append(_filter(key, params.get(key)))
    return q
