"""The examples in the privacy modules' docstrings run and stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["manifest", "consent", "gate", "pseudonym", "vault", "tiers", "retention", "ropa", "compliance", "dp",
           "scrub"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"fitloop.privacy.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
