"""The examples in the events modules' docstrings run and print what they say (doctest)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "shopmatch.events",
    "shopmatch.events.model",
    "shopmatch.events.io",
    "shopmatch.events.stats",
    "shopmatch.events.plots",
    "shopmatch.events.click_models",
    "shopmatch.events.labels",
    "tests.events.schema_check",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} fail (run doctest on it)"
