"""django-flowr: dynamic state machines for Django."""

from __future__ import annotations

from typing import Any

__version__ = "1.0.0.dev0"

# Names importable from the package itself, loaded on first use (PEP 562):
# importing ``flowr`` must not import models before Django's app registry is
# ready (``INSTALLED_APPS`` imports this package first).
_LAZY = {"migrate_states": "flowr.versions", "simulate": "flowr.simulator", "NodeSettings": "flowr.nodesettings"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowr' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
