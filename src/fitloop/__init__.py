"""fitloop: lawful precision marketing for fashion e-commerce.

The curated public API. Names are imported lazily so that ``import fitloop``
stays cheap (the web stack loads only when you ask for it).

>>> import fitloop
>>> fitloop.Item.__name__, fitloop.__version__
('Item', '0.1.0')
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # configuration and assembly
    "Settings": "fitloop.config",
    "build": "fitloop.wiring",
    "create_app": "fitloop.api",
    # pure data types
    "Event": "fitloop.data",
    "EventType": "fitloop.data",
    "Item": "fitloop.data",
    "Variant": "fitloop.data",
    "User": "fitloop.data",
    "Consent": "fitloop.data",
    "Context": "fitloop.data",
    "ScoredItem": "fitloop.data",
    "Recommendations": "fitloop.data",
    # errors
    "FitloopError": "fitloop.errors",
    "InvalidInput": "fitloop.errors",
    "NotFound": "fitloop.errors",
    "NotTrained": "fitloop.errors",
    "ConsentRequired": "fitloop.errors",
    "StoreUnavailable": "fitloop.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fitloop' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
