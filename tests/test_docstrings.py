"""The examples in the public modules' docstrings run and print what they say (doctest)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "shopmatch.settings",
    "shopmatch.extras",
    "shopmatch.hits",
    "shopmatch.filters",
    "shopmatch.config",
    "shopmatch.search",
    "shopmatch.pipeline",
    "shopmatch.query.query",
    "shopmatch.query.negation",
    "shopmatch.query.exclusion",
    "shopmatch.query.feedback",
    "shopmatch.query.spelling",
    "shopmatch.query.english",
    "shopmatch.query.pinyin",
    "shopmatch.query.suggest",
    "shopmatch.query.synonyms",
    "shopmatch.query.synonym_mining",
    "shopmatch.query.intent",
    "shopmatch.query.understanding",
    "shopmatch.retrieval.registry",
    "shopmatch.retrieval.fusion",
    "shopmatch.retrieval.adaptive_fusion",
    "shopmatch.retrieval.lexical",
    "shopmatch.retrieval.lexical_segment",
    "shopmatch.retrieval.vectors",
    "shopmatch.backends.inprocess.static",
    "shopmatch.backends.inprocess.snapshot",
    "shopmatch.backends.inprocess.delta",
    "shopmatch.backends.inprocess.wal",
    "shopmatch.backends.kinds",
    "shopmatch.backends.milvus.statistics",
    "shopmatch.backends.milvus.documents",
    "shopmatch.text.normalize",
    "shopmatch.text.highlight",
    "shopmatch.text.chinese",
    "shopmatch.index.base",
    "shopmatch.index.factory",
    "shopmatch.eval.significance",
    "shopmatch.errors",
    "shopmatch.demo",
    "shopmatch.events",
    "shopmatch.events.model",
    "shopmatch.events.io",
    "shopmatch.events.stats",
    "shopmatch.events.plots",
    "shopmatch.events.click_models",
    "shopmatch.events.labels",
    "shopmatch.service.events_log",
    "shopmatch.service.capture",
    "shopmatch.service.models",
    "shopmatch.service.experiment",
    "shopmatch.events.interleaving",
    "shopmatch.events.logdir",
    "shopmatch.rank.retrain",
    "shopmatch.rank.config",
    "shopmatch.rank.features",
    "shopmatch.rank.product_table",
    "shopmatch.rank.compiled_forest",
    "shopmatch.rank.reference_features",
    "shopmatch.rank.groups",
    "shopmatch.rank.model",
    "shopmatch.rank.selection",
    "shopmatch.rank.training",
    "shopmatch.rank.event_features",
    "shopmatch.rank.feature_groups",
    "shopmatch.rank.intent_features",
    "shopmatch.rank.from_events",
    "shopmatch.rank.plots",
    "shopmatch.personalize",
    "shopmatch.personalize.config",
    "shopmatch.personalize.profiles",
    "shopmatch.personalize.features",
    "shopmatch.personalize.model",
    "tests.events.schema_check",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} fail (run doctest on it)"
