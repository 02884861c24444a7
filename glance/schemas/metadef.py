"""The metadata definitions schemas: /v2/schemas/metadefs/*.

A property definition is itself a small JSON Schema (title, type, enum,
minimum...), so the namespace and object schemas embed the definition of a
property under ``definitions``; clients use these documents to build
forms, and the API validates request bodies with the very same dicts.
"""
from __future__ import annotations

import copy
from typing import Any

#: the JSON types a property (or its array items) may declare; ``None``
#: (JSON null) is listed because the recorded schemas of the reference list
#: it, and clients that build forms from the enum expect it there
PROPERTY_TYPES = ['array', 'boolean', 'integer', 'number', 'object',
                  'string', None]
VISIBILITIES = ['public', 'private']
#: the schemas served as /v2/schemas/metadefs/<name>
SCHEMA_NAMES = ('namespace', 'namespaces', 'object', 'objects', 'property',
                'properties', 'tag', 'tags', 'resource_type',
                'resource_types')
#: longest name of a namespace, object, property, tag or resource type
#: (and of a prefix or properties target): their database columns' size
NAME_MAX = 80
#: request keys the server owns; a body carrying one is refused
READ_ONLY = ('self', 'schema', 'created_at', 'updated_at')


def _timestamp(what: str) -> dict[str, Any]:
    return {'type': 'string', 'readOnly': True, 'format': 'date-time',
            'description': 'When the %s was %s (ISO 8601, UTC).'
                           % tuple(what.split(' ', 1))}


def _definitions(min_required: bool = False) -> dict[str, Any]:
    string_array = {'type': 'array', 'items': {'type': 'string'},
                    'uniqueItems': True}
    if min_required:
        # A standalone property lists at least one required item name
        # when it says "required" at all.
        string_array['minItems'] = 1
    return {
        'positiveInteger': {'type': 'integer', 'minimum': 0},
        'positiveIntegerDefault0': {
            'allOf': [{'$ref': '#/definitions/positiveInteger'},
                      {'default': 0}]},
        'stringArray': string_array,
    }


def _property_fields() -> dict[str, Any]:
    """The keys of one property definition (a JSON Schema fragment)."""
    return {
        'name': {'type': 'string', 'maxLength': 80},
        'title': {'type': 'string'},
        'description': {'type': 'string'},
        'operators': {'type': 'array', 'items': {'type': 'string'}},
        'type': {'type': 'string', 'enum': list(PROPERTY_TYPES)},
        'required': {'$ref': '#/definitions/stringArray'},
        'minimum': {'type': 'number'},
        'maximum': {'type': 'number'},
        'maxLength': {'$ref': '#/definitions/positiveInteger'},
        'minLength': {'$ref': '#/definitions/positiveIntegerDefault0'},
        'pattern': {'type': 'string', 'format': 'regex'},
        'enum': {'type': 'array'},
        'readonly': {'type': 'boolean'},
        'default': {},
        'items': {'type': 'object', 'properties': {
            'type': {'type': 'string', 'enum': list(PROPERTY_TYPES)},
            'enum': {'type': 'array'}}},
        'maxItems': {'$ref': '#/definitions/positiveInteger'},
        'minItems': {'$ref': '#/definitions/positiveIntegerDefault0'},
        'uniqueItems': {'type': 'boolean', 'default': False},
        'additionalItems': {'type': 'boolean'},
    }


def _property_map_definition() -> dict[str, Any]:
    """``{name: property definition}``, as namespaces and objects hold."""
    return {'type': 'object', 'additionalProperties': {
        'type': 'object', 'required': ['title', 'type'],
        'properties': _property_fields()}}


def _with_property_map(defs: dict[str, Any]) -> dict[str, Any]:
    defs = dict(defs)
    defs['property'] = _property_map_definition()
    return defs


def _links() -> list[dict[str, str]]:
    return [{'rel': 'first', 'href': '{first}'},
            {'rel': 'next', 'href': '{next}'},
            {'rel': 'describedby', 'href': '{schema}'}]


def _collection(name: str, item: dict[str, Any], key: str | None = None,
                as_map: bool = False,
                definitions: dict[str, Any] | None = None) -> dict[str, Any]:
    """A list schema: ``key`` holds the items (a map when ``as_map``)."""
    member = copy.deepcopy(item)
    member.pop('definitions', None)
    holder = ({'type': 'object', 'additionalProperties': member} if as_map
              else {'type': 'array', 'items': member})
    schema = {'name': name, 'links': _links(), 'properties': {
        key or name: holder, 'first': {'type': 'string'},
        'next': {'type': 'string'}, 'schema': {'type': 'string'}}}
    if definitions is not None:
        schema['definitions'] = definitions
    return schema


def namespace_schema() -> dict[str, Any]:
    """GET /v2/schemas/metadefs/namespace"""
    return {
        'name': 'namespace',
        'additionalProperties': False,
        'required': ['namespace'],
        'definitions': _with_property_map(_definitions()),
        'properties': {
            'namespace': {'type': 'string', 'maxLength': 80,
                          'description': 'Unique name of the namespace, '
                                         'conventionally '
                                         'Vendor::Area::Subject.'},
            'display_name': {'type': 'string', 'maxLength': 80,
                             'description': 'A name for people to read.'},
            'description': {'type': 'string', 'maxLength': 500,
                            'description': 'What the namespace defines, '
                                           'for people to read.'},
            'visibility': {'type': 'string', 'enum': list(VISIBILITIES),
                           'description': 'private: seen only by the '
                                          'owner (and administrators); '
                                          'public: seen by everyone.'},
            'protected': {'type': 'boolean',
                          'description': 'A protected namespace cannot be '
                                         'deleted, nor can its contents.'},
            'owner': {'type': 'string', 'maxLength': 255,
                      'description': 'The project that owns the '
                                     'namespace.'},
            'created_at': _timestamp('namespace created'),
            'updated_at': _timestamp('namespace last changed'),
            'schema': {'type': 'string', 'readOnly': True},
            'self': {'type': 'string', 'readOnly': True},
            'resource_type_associations': {'type': 'array', 'items': {
                'type': 'object', 'properties': {
                    'name': {'type': 'string'},
                    'prefix': {'type': 'string'},
                    'properties_target': {'type': 'string'}}}},
            'properties': {'$ref': '#/definitions/property'},
            'objects': {'type': 'array', 'items': {
                'type': 'object', 'properties': {
                    'name': {'type': 'string'},
                    'description': {'type': 'string'},
                    'required': {'$ref': '#/definitions/stringArray'},
                    'properties': {'$ref': '#/definitions/property'}}}},
            'tags': {'type': 'array', 'items': {
                'type': 'object',
                'properties': {'name': {'type': 'string'}}}},
        },
    }


def namespaces_schema() -> dict[str, Any]:
    """GET /v2/schemas/metadefs/namespaces"""
    return _collection('namespaces', namespace_schema(),
                       definitions=_with_property_map(_definitions()))


def object_schema() -> dict[str, Any]:
    """GET /v2/schemas/metadefs/object"""
    return {
        'name': 'object',
        'additionalProperties': False,
        'required': ['name'],
        'definitions': _with_property_map(_definitions()),
        'properties': {
            'name': {'type': 'string', 'maxLength': 80},
            'description': {'type': 'string'},
            'required': {'$ref': '#/definitions/stringArray'},
            'properties': {'$ref': '#/definitions/property'},
            'schema': {'type': 'string', 'readOnly': True},
            'self': {'type': 'string', 'readOnly': True},
            'created_at': _timestamp('object created'),
            'updated_at': _timestamp('object last changed'),
        },
    }


def objects_schema() -> dict[str, Any]:
    """GET /v2/schemas/metadefs/objects"""
    return _collection('objects', object_schema(),
                       definitions=_with_property_map(_definitions()))


def property_schema() -> dict[str, Any]:
    """GET /v2/schemas/metadefs/property"""
    return {
        'name': 'property',
        'additionalProperties': False,
        'required': ['type', 'title', 'name'],
        'definitions': _definitions(min_required=True),
        'properties': _property_fields(),
    }


def properties_schema() -> dict[str, Any]:
    """GET /v2/schemas/metadefs/properties"""
    item = property_schema()
    # In the map the name is the key, so an entry need not repeat it.
    item['required'] = ['type', 'title']
    return _collection('properties', item, as_map=True,
                       definitions=_definitions(min_required=True))


def tag_schema() -> dict[str, Any]:
    """GET /v2/schemas/metadefs/tag"""
    return {
        'name': 'tag',
        'additionalProperties': False,
        'required': ['name'],
        'properties': {
            'name': {'type': 'string', 'maxLength': 80},
            'created_at': _timestamp('tag created'),
            'updated_at': _timestamp('tag last changed'),
        },
    }


def tags_schema() -> dict[str, Any]:
    """GET /v2/schemas/metadefs/tags"""
    return _collection('tags', tag_schema())


def resource_type_schema() -> dict[str, Any]:
    """GET /v2/schemas/metadefs/resource_type (an association)"""
    return {
        'name': 'resource_type_association',
        'additionalProperties': False,
        'required': ['name'],
        'properties': {
            'name': {'type': 'string', 'maxLength': 80,
                     'description': 'The resource type, e.g. '
                                    'OS::Glance::Image or '
                                    'OS::Nova::Flavor.'},
            'prefix': {'type': 'string', 'maxLength': 80,
                       'description': 'Put before every property name of '
                                      'the namespace when applied to this '
                                      'resource type (e.g. hw_ for '
                                      'images, hw: for flavors).'},
            'properties_target': {'type': 'string', 'maxLength': 80,
                                  'description': 'Where on the resource '
                                                 'the properties go, when '
                                                 'it has several places '
                                                 '(e.g. a Cinder volume\'s '
                                                 'image metadata).'},
            'created_at': _timestamp('association created'),
            'updated_at': _timestamp('association last changed'),
        },
    }


def resource_types_schema() -> dict[str, Any]:
    """GET /v2/schemas/metadefs/resource_types"""
    return _collection('resource_type_associations', resource_type_schema())
