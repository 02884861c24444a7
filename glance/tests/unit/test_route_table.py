"""The route table and the resources agree: every route names a
controller method that exists (with the path's variables as parameters),
every public controller method is routed, and the deserializer and
serializer define nothing that no route uses."""
from __future__ import annotations

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
    return router.resource(module)


def _takes(handler, resource, name: str) -> bool:
    """Does ``handler`` take the path variable ``name``: as a parameter,
    or (one controller serving several metadef kinds) as the keyword its
    kind declares?"""
    params = inspect.signature(handler).parameters
    if name in params:
        return True
    kind = getattr(resource.controller, 'kind', None)
    return kind is not None and name == kind.path_var and any(
        p.kind is p.VAR_KEYWORD for p in params.values())


@pytest.mark.parametrize('path,method,module,action', list(_routes()),
                         ids=lambda v: str(v))
def test_every_route_reaches_a_controller_method(path, method, module,
                                                 action):
    resource = _resource(module)
    handler = getattr(resource.controller, action, None)
    assert callable(handler), '%s %s: %s.%s' % (method, path, module, action)
    for name in re.findall(r'{(\w+)}', path):
        assert _takes(handler, resource, name), '%s %s: %s.%s lacks %s' % (
            method, path, module, action, name)


def _public(obj) -> set[str]:
    return {name for name, value in inspect.getmembers(type(obj))
            if not name.startswith('_') and callable(value)}


def test_every_controller_method_is_routed():
    # A module serving several resources (metadefs:objects...) is
    # one set of classes: a method is routed if any of them routes it.
    routed: dict[str, set[str]] = {}
    spec: dict[str, str] = {}
    for _path, _method, name, action in _routes():
        module = name.partition(':')[0]
        routed.setdefault(module, set()).add(action)
        spec[module] = name
    for module, actions in routed.items():
        resource = _resource(spec[module])
        for part in (resource.controller, resource.deserializer,
                     resource.serializer):
            if part is None:
                continue
            stray = {name for name in _public(part) - actions
                     if (module, name) not in UNROUTED}
            assert stray == set(), '%s.%s: %s' % (
                module, type(part).__name__, sorted(stray))
