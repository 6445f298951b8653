"""`shopmatch train ranker`, then `search --ranker` and `evaluate --ranker`, on the fixture catalog
with the hybrid pipeline on the tiny model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from shopmatch.cli import app
from shopmatch.pipeline import SearchPipeline
from shopmatch.rank.features import FEATURE_NAMES

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def hybrid_index(catalog, tiny_hybrid_config, tmp_path_factory):
    return SearchPipeline.build(catalog.products, tiny_hybrid_config).save(tmp_path_factory.mktemp("h") / "hybrid")


@pytest.fixture(scope="module")
def trained(hybrid_index, fixtures, tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "ranker"
    judgments = fixtures / "catalog" / "judgments.tsv"
    result = invoke("train", "ranker", hybrid_index, "--judgments", judgments, "-o", out, "--folds", "2")
    return result, out


def test_train_ranker_writes_a_directory_and_prints_importances(trained):
    result, out = trained
    assert result.exit_code == 0, result.output
    assert "Feature importance" in result.stdout and "2-fold NDCG@10" in result.stdout
    manifest = json.loads((out / "ranker.json").read_text())
    assert manifest["summary"]["queries"] > 0 and manifest["summary"]["cross_validation"]["folds"] == 2
    assert "dense_cosine" in manifest["features"]


def test_search_with_the_ranker(hybrid_index, trained):
    _, ranker = trained
    result = invoke("search", hybrid_index, "usb cable", "-k", "3", "--json", "--explain", "--ranker", ranker)
    assert result.exit_code == 0, result.output
    page = json.loads(result.stdout)
    first = page["results"][0]
    assert first["retrievers"]["ranker"]["rank"] == 1
    assert {"lexical", "dense", "fusion"} <= set(first["retrievers"])
    contributions = first["explanation"]["ranker"]["contributions"]
    assert "dense_cosine" in contributions and "bias" in contributions
    plain = json.loads(invoke("search", hybrid_index, "usb cable", "-k", "3", "--json").stdout)
    assert "ranker" not in plain["results"][0]["retrievers"]


def test_explain_gives_the_ranker_contributions(hybrid_index, trained):
    _, ranker = trained
    pipeline = SearchPipeline.load(hybrid_index)
    second = pipeline.with_ranker(ranker).search("usb cable", k=2)[0][1]
    explained = pipeline.with_ranker(ranker).explain("usb cable", second.product_id)
    assert explained["rank"] == 2
    contributions = explained["ranker"]["contributions"]
    assert sum(contributions.values()) == pytest.approx(second.score, abs=1e-3)
    assert "ranker" not in pipeline.explain("usb cable", second.product_id)


@pytest.mark.parametrize("mode", ["retrieval", "rerank"])
def test_evaluate_with_the_ranker(hybrid_index, trained, fixtures, mode):
    _, ranker = trained
    judgments = fixtures / "catalog" / "judgments.tsv"
    result = invoke("evaluate", hybrid_index, judgments, "--mode", mode, "--ranker", ranker)
    assert result.exit_code == 0, result.output
    assert "(without the ranker)" in result.stdout  # compared with the same index without it


def test_a_bad_ranker_directory_is_a_clear_error(hybrid_index, tmp_path):
    manifest = {"kind": "shopmatch-ranker", "features": list(FEATURE_NAMES)}
    (tmp_path / "ranker.json").write_text(json.dumps(manifest))  # but no model.txt
    result = invoke("search", hybrid_index, "usb", "--ranker", tmp_path)
    assert result.exit_code == 2
    assert "model.txt: not found" in result.output
    result = invoke("evaluate", hybrid_index, tmp_path / "judgments.tsv", "--ranker", tmp_path / "nope")
    assert result.exit_code == 2
    assert "nope: no such ranker directory" in result.output
    (tmp_path / "ranker.json").write_text(json.dumps({**manifest, "features": ["other"]}))
    result = invoke("search", hybrid_index, "usb", "--ranker", tmp_path)
    assert result.exit_code == 2 and "ranker.json: the model reads other features" in result.output
