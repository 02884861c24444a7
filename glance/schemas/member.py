"""The member and members schemas of the Images API v2."""
from __future__ import annotations

from typing import Any

from glance.domain.member import STATUSES
from glance.schemas.image import UUID_PATTERN


def _properties() -> dict[str, Any]:
    return {
        'created_at': {'type': 'string',
                       'description': 'When the image was shared with the '
                                      'member (ISO 8601, UTC).'},
        'image_id': {'type': 'string', 'pattern': UUID_PATTERN,
                     'description': 'The image that is shared.'},
        'member_id': {'type': 'string',
                      'description': 'The project the image is shared '
                                     'with.'},
        'schema': {'readOnly': True, 'type': 'string'},
        'status': {'type': 'string', 'enum': list(STATUSES),
                   'description': 'Whether the member project has accepted '
                                  'the image into its image list.'},
        'updated_at': {'type': 'string',
                       'description': 'When the membership last changed '
                                      '(ISO 8601, UTC).'},
    }


def member_schema() -> dict[str, Any]:
    """GET /v2/schemas/member"""
    return {'name': 'member', 'properties': _properties()}


def members_schema() -> dict[str, Any]:
    """GET /v2/schemas/members"""
    return {
        'name': 'members',
        'properties': {
            'members': {'items': member_schema(), 'type': 'array'},
            'schema': {'type': 'string'},
        },
        'links': [{'href': '{schema}', 'rel': 'describedby'}],
    }
