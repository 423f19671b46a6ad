"""The runnable examples in the privacy wiring's docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["fitloop.services.privacy", "fitloop.store.sql.privacy",
                                    "fitloop.store.memory_privacy"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
