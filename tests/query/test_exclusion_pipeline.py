"""The exclusion stage in the pipeline: search, rerank-mode scores, config files, the live index."""

from __future__ import annotations

import numpy as np
import pytest

from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.pipeline import SearchPipeline

PRODUCTS = [
    Product("chicken1", "Chicken cat treats, chicken and chicken"),
    Product("chicken2", "Crunchy cat treats with chicken"),
    Product("salmon", "Salmon cat treats"),
    Product("free", "Chicken-free cat treats"),
    Product("dog", "Dog treats, no chicken"),
]
QUERY = "cat treats without chicken"


def lexical(**negation) -> SearchPipeline:
    config = PipelineConfig.from_dict({"pipeline": {"retrievers": ["lexical"]}, "negation": negation})
    return SearchPipeline.build(PRODUCTS, config)


def ids(pipeline, query, k):
    return [r.product_id for r in pipeline.search(query, k=k)[0]]


def test_search_puts_what_the_query_excludes_last():
    excluded = {"chicken1", "chicken2"}
    off = ids(lexical(enabled=False), QUERY, 5)
    assert off[0] in excluded  # the words alone favour chicken
    on = ids(lexical(), QUERY, 5)
    assert set(on[3:]) == excluded
    assert on == [i for i in off if i not in excluded] + [i for i in off if i in excluded]  # order kept in each group


def test_search_brings_products_up_from_beyond_k():
    top = ids(lexical(), QUERY, 2)
    assert not {"chicken1", "chicken2"} & set(top)
    results = lexical().search(QUERY, k=5)[0]
    assert [r.sources["excluded"]["rank"] is not None for r in results] == [False] * 3 + [True] * 2


def test_queries_without_an_exclusion_are_unchanged():
    assert ids(lexical(), "chicken cat treats", 5) == ids(lexical(enabled=False), "chicken cat treats", 5)
    (result,) = lexical().search("salmon", k=1)[0]
    assert "excluded" not in result.sources


def test_rerank_mode_scores_excluded_products_below_the_others():
    pipeline = lexical()
    candidates = ["chicken1", "salmon", "chicken2", "free"]
    scores = pipeline.score_candidates(QUERY, candidates)
    assert min(scores[[1, 3]]) > max(scores[[0, 2]])
    plain = lexical(enabled=False).score_candidates(QUERY, candidates)
    assert np.allclose(scores[[1, 3]], plain[[1, 3]])
    assert scores[0] - scores[2] == pytest.approx(plain[0] - plain[2])  # their order is kept


def test_negation_config_from_toml_and_saved_with_the_index(tmp_path):
    path = tmp_path / "shop.toml"
    path.write_text('[pipeline]\nretrievers = ["lexical"]\n[negation]\nenabled = false\n', encoding="utf-8")
    config = PipelineConfig.from_toml(path)
    assert config.negation.enabled is False
    SearchPipeline.build(PRODUCTS, config).save(tmp_path / "index")
    assert SearchPipeline.load(tmp_path / "index").config.negation.enabled is False
    path.write_text("[negation]\nenabled = 1\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"shop.toml: negation.enabled must be true or false"):
        PipelineConfig.from_toml(path)
