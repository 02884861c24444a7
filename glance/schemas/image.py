"""The image and images schemas of the Images API v2.

The base properties are declared here; operators add their own in
``schema-image.json`` beside the configuration file (marked ``is_base:
false``), and those are validated exactly like the base ones.
"""
from __future__ import annotations

import copy
import functools
import json
import logging

import jsonschema
from oslo_config import cfg

from glance.common import config

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

UUID_PATTERN = ('^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}'
                '-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$')

#: largest min_ram / min_disk: their database columns are 32-bit integers
INT32_MAX = 2 ** 31 - 1
#: limits of the storage that requests are validated against on top of the
#: served schema, which stays exactly the API reference's document
STORAGE_LIMITS = {'min_ram': {'maximum': INT32_MAX},
                  'min_disk': {'maximum': INT32_MAX}}

#: every status of ``domain.TRANSITIONS``, in the order clients have always
#: been shown them (the life cycle first, then the later additions)
STATUS_ENUM = ('queued', 'saving', 'active', 'killed', 'deleted', 'uploading',
               'importing', 'pending_delete', 'deactivated')


#: hashes a caller vouches for when it adds a location; checked against the
#: data when [DEFAULT] do_secure_hash is on
VALIDATION_DATA: dict = {
    'description': 'Hashes of the data at this location, checked when it '
                   'is added.',
    'type': 'object', 'writeOnly': True,
    'additionalProperties': False,
    'properties': {
        'checksum': {'type': 'string', 'minLength': 32, 'maxLength': 32},
        'os_hash_algo': {'type': 'string', 'maxLength': 64},
        'os_hash_value': {'type': 'string', 'maxLength': 128},
    },
    'required': ['os_hash_algo', 'os_hash_value'],
}


def new_location_schema() -> dict:
    """The body of POST /v2/images/{image_id}/locations (API 2.17)."""
    return {
        'name': 'location',
        'type': 'object',
        'additionalProperties': False,
        'properties': {
            'url': {'type': 'string', 'minLength': 1, 'maxLength': 255},
            'validation_data': VALIDATION_DATA,
        },
        'required': ['url'],
    }


def _base_properties() -> dict:
    disk = [None] + list(CONF.image_format.disk_formats)
    container = [None] + list(CONF.image_format.container_formats)
    nullable_str = ['null', 'string']
    return {
        'id': {'type': 'string', 'pattern': UUID_PATTERN,
               'description': 'Identifier of the image (a UUID).'},
        'name': {'type': nullable_str, 'maxLength': 255,
                 'description': 'Human-readable name; need not be unique.'},
        'status': {'type': 'string', 'readOnly': True,
                   'enum': list(STATUS_ENUM),
                   'description': 'Where the image is in its life cycle.'},
        'visibility': {'type': 'string',
                       'enum': ['community', 'public', 'private', 'shared'],
                       'description': 'Who may see and use the image.'},
        'protected': {'type': 'boolean',
                      'description': 'A protected image cannot be deleted.'},
        'os_hidden': {'type': 'boolean',
                      'description': 'Hidden images stay out of image lists '
                                     'unless asked for.'},
        'checksum': {'type': nullable_str, 'readOnly': True, 'maxLength': 32,
                     'description': 'MD5 of the image data (legacy).'},
        'os_hash_algo': {'type': nullable_str, 'readOnly': True,
                         'maxLength': 64,
                         'description': 'hashlib algorithm of '
                                        'os_hash_value.'},
        'os_hash_value': {'type': nullable_str, 'readOnly': True,
                          'maxLength': 128,
                          'description': 'Secure hash of the image data.'},
        'owner': {'type': nullable_str, 'maxLength': 255,
                  'description': 'Project that owns the image.'},
        'size': {'type': ['null', 'integer'], 'readOnly': True,
                 'description': 'Size of the image data in bytes.'},
        'virtual_size': {'type': ['null', 'integer'], 'readOnly': True,
                         'description': 'Size of the virtual disk the image '
                                        'holds, in bytes.'},
        'container_format': {'type': nullable_str, 'enum': container,
                             'description': 'Envelope around the disk '
                                            'data.'},
        'disk_format': {'type': nullable_str, 'enum': disk,
                        'description': 'Format of the disk data.'},
        'created_at': {'type': 'string', 'readOnly': True,
                       'description': 'When the image was created.'},
        'updated_at': {'type': 'string', 'readOnly': True,
                       'description': 'When the image last changed.'},
        'tags': {'type': 'array', 'items': {'type': 'string',
                                            'maxLength': 255},
                 'description': 'Free-form labels.'},
        'direct_url': {'type': 'string', 'readOnly': True,
                       'description': 'Store URL of the image data, when '
                                      'the operator shows it.'},
        'min_ram': {'type': 'integer',
                    'description': 'RAM in MB needed to boot the image.'},
        'min_disk': {'type': 'integer',
                     'description': 'Disk in GB needed to boot the image.'},
        'self': {'type': 'string', 'readOnly': True,
                 'description': 'Link to this image.'},
        'file': {'type': 'string', 'readOnly': True,
                 'description': 'Link to the image data.'},
        'stores': {'type': 'string', 'readOnly': True,
                   'description': 'Comma-separated ids of the stores holding '
                                  'the data.'},
        'schema': {'type': 'string', 'readOnly': True,
                   'description': 'Link to this schema.'},
        'locations': {
            'type': 'array',
            'items': {
                'type': 'object',
                'properties': {
                    'url': {'type': 'string', 'maxLength': 255},
                    'metadata': {'type': 'object'},
                    'validation_data': VALIDATION_DATA,
                },
                'required': ['url', 'metadata'],
            },
            'description': 'Where the image data lives, when the operator '
                           'shows it.'},
    }


def _custom_properties() -> dict:
    path = config.find_config_file('schema-image.json')
    if not path:
        return {}
    try:
        with open(path) as f:
            props = json.load(f)
    except (OSError, ValueError) as exc:
        raise RuntimeError('Could not load %s: %s' % (path, exc))
    LOG.info('Image properties from %s', path)
    for prop in props.values():
        prop['is_base'] = False
    return props


@functools.lru_cache(maxsize=None)
def _image_schema() -> dict:
    props = _base_properties()
    for name, prop in _custom_properties().items():
        if name in props:
            LOG.warning('schema-image.json cannot redefine base property %s',
                        name)
            continue
        props[name] = prop
    return {
        'name': 'image',
        'properties': props,
        'additionalProperties': {'type': 'string'},
        'links': [{'rel': 'self', 'href': '{self}'},
                  {'rel': 'enclosure', 'href': '{file}'},
                  {'rel': 'describedby', 'href': '{schema}'}],
    }


def image_schema() -> dict:
    """The image schema (a fresh copy the caller may change)."""
    return copy.deepcopy(_image_schema())


@functools.lru_cache(maxsize=None)
def image_validator() -> jsonschema.Draft4Validator:
    """A validator of the image schema with ``STORAGE_LIMITS`` added,
    built once: validation only reads the schema, and copying and
    compiling it cost a create 5%."""
    schema = image_schema()
    for name, limits in STORAGE_LIMITS.items():
        schema['properties'][name].update(limits)
    return jsonschema.Draft4Validator(schema)


def images_schema() -> dict:
    """The image-list schema."""
    return {
        'name': 'images',
        'properties': {
            'images': {'type': 'array', 'items': image_schema()},
            'schema': {'type': 'string'},
            'first': {'type': 'string'},
            'next': {'type': 'string'},
        },
        'links': [{'rel': 'first', 'href': '{first}'},
                  {'rel': 'next', 'href': '{next}'},
                  {'rel': 'describedby', 'href': '{schema}'}],
    }


def reset_cache() -> None:
    """Forget the loaded schema (after a configuration reload)."""
    _image_schema.cache_clear()
    image_validator.cache_clear()
