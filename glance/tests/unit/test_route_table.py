"""The route table and the resources agree: every route names a
controller method that exists (with the path's variables as parameters),
every public controller method is routed, and the deserializer and
serializer define nothing that no route uses."""
from __future__ import annotations

import importlib
import inspect
import re

import pytest

from glance.api.v2 import router

#: controller methods reached otherwise than by the route table
UNROUTED: dict[tuple[str, str], str] = {}


def _routes():
    for path, methods in router.ROUTES.items():
        for method, (module, action) in methods.items():
            yield path, method, module, action


def _resource(module: str):
    return importlib.import_module(
        'glance.api.v2.%s' % module).create_resource()


@pytest.mark.parametrize('path,method,module,action', list(_routes()),
                         ids=lambda v: str(v))
def test_every_route_reaches_a_controller_method(path, method, module,
                                                 action):
    resource = _resource(module)
    handler = getattr(resource.controller, action, None)
    assert callable(handler), '%s %s: %s.%s' % (method, path, module, action)
    params = inspect.signature(handler).parameters
    for name in re.findall(r'{(\w+)}', path):
        assert name in params, '%s %s: %s.%s lacks %s' % (
            method, path, module, action, name)


def _public(obj) -> set[str]:
    return {name for name, value in inspect.getmembers(type(obj))
            if not name.startswith('_') and callable(value)}


def test_every_controller_method_is_routed():
    routed: dict[str, set[str]] = {}
    for _path, _method, module, action in _routes():
        routed.setdefault(module, set()).add(action)
    for module, actions in routed.items():
        resource = _resource(module)
        for part in (resource.controller, resource.deserializer,
                     resource.serializer):
            if part is None:
                continue
            stray = {name for name in _public(part) - actions
                     if (module, name) not in UNROUTED}
            assert stray == set(), '%s.%s: %s' % (
                module, type(part).__name__, sorted(stray))
