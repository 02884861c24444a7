"""/v2/schemas/*: the JSON Schemas the API validates with, served as data."""
from __future__ import annotations

from glance.common import wsgi
from glance.schemas import image as image_schemas
from glance.schemas import member as member_schemas
from glance.schemas import metadef as metadef_schemas
from glance.schemas import task as task_schemas


class Controller:
    """Each call returns a schema dict (served as JSON 200)."""

    def image(self, request: wsgi.Request) -> dict:
        """GET /v2/schemas/image"""
        return image_schemas.image_schema()

    def images(self, request: wsgi.Request) -> dict:
        """GET /v2/schemas/images"""
        return image_schemas.images_schema()

    def member(self, request: wsgi.Request) -> dict:
        """GET /v2/schemas/member"""
        return member_schemas.member_schema()

    def members(self, request: wsgi.Request) -> dict:
        """GET /v2/schemas/members"""
        return member_schemas.members_schema()

    def task(self, request: wsgi.Request) -> dict:
        """GET /v2/schemas/task"""
        return task_schemas.task_schema()

    def tasks(self, request: wsgi.Request) -> dict:
        """GET /v2/schemas/tasks"""
        return task_schemas.tasks_schema()


def _serve(name: str):
    """A controller method serving ``metadef_schemas.<name>_schema()``."""
    build = getattr(metadef_schemas, '%s_schema' % name)

    def action(self, request: wsgi.Request) -> dict:
        return build()
    action.__doc__ = 'GET /v2/schemas/metadefs/%s' % name
    return action


for _name in metadef_schemas.SCHEMA_NAMES:
    setattr(Controller, 'metadef_' + _name, _serve(_name))


def create_resource() -> wsgi.Resource:
    return wsgi.Resource(Controller())
