"""The one proxy base every layer of the chain is built on.

A layer wraps the layer below it.  ``Proxy`` forwards every attribute and
method it does not define to the object it wraps, so a layer writes only the
methods where it has work to do: reading ``glance/layers/quota.py`` shows the
quota rules and nothing else.  Every overriding method must still call
``self.base`` so that no layer silently ends the chain.
"""
from __future__ import annotations

from typing import Any


class Proxy:
    """Forward attribute reads and writes to ``base`` unless defined here."""

    def __init__(self, base: Any, context: Any = None):
        object.__setattr__(self, 'base', base)
        object.__setattr__(self, 'context', context)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: i.e. not defined by the layer.
        if name in ('base', 'context'):
            # Not set yet (copy, pickle build objects without __init__):
            # asking ``base`` for them would recurse for ever.
            raise AttributeError(name)
        return getattr(self.base, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(type(self), name) or name in self.__dict__:
            object.__setattr__(self, name, value)
        else:
            setattr(self.base, name, value)

    @property
    def innermost(self) -> Any:
        """The object at the bottom of the chain (for tests and debugging)."""
        node = self
        while isinstance(node, Proxy):
            node = node.base
        return node

    def layers(self) -> list[type]:
        """Classes of the layers from this one down, in call order."""
        out = []
        node: Any = self
        while isinstance(node, Proxy):
            out.append(type(node))
            node = node.base
        out.append(type(node))
        return out
