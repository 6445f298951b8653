"""`shopmatch evaluate --report DIR [--baseline INDEX]` on the fixture indexes."""

from __future__ import annotations

import json

import pytest

from shopmatch.catalog import read_catalog
from shopmatch.cli import common as cli
from shopmatch.eval.evaluator import evaluate_rerank, evaluate_retrieval
from shopmatch.eval.report import read_results
from shopmatch.eval.significance import compare_metrics, format_p
from shopmatch.judgments import GainMap, read_judgments
from shopmatch.pipeline import SearchPipeline
from tests.conftest import LEXICAL
from tests.eval.test_report import PNG_MAGIC
from tests.test_cli import flat, invoke

ESCI = GainMap.esci()


@pytest.fixture(scope="module")
def judgments_file(fixtures):
    return fixtures / "catalog" / "judgments.tsv"


@pytest.fixture(scope="module")
def weaker_index(fixtures, tmp_path_factory):
    """The fixture catalog without p001, the only exact match of query en01."""
    products = [p for p in read_catalog(fixtures / "catalog" / "products.jsonl").products if p.id != "p001"]
    return SearchPipeline.build(products, LEXICAL).save(tmp_path_factory.mktemp("weaker") / "weaker-index")


@pytest.fixture(scope="module")
def hybrid_index(catalog, tiny_hybrid_config, tmp_path_factory):
    return SearchPipeline.build(catalog.products, tiny_hybrid_config).save(tmp_path_factory.mktemp("h") / "hybrid")


def _report(directory):
    return json.loads((directory / "report.json").read_text())


def test_report_single_run(index_dir, judgments_file, tmp_path):
    out = tmp_path / "report"
    result = invoke("evaluate", index_dir, judgments_file, "--report", out)
    assert result.exit_code == 0, result.output
    assert f"report written to {out / 'report.html'}" in flat(result.stderr)
    assert "ndcg@10" in result.stdout  # the table is still printed
    data = _report(out)
    assert data["baseline"] is None and list(data["runs"]) == [str(index_dir)]  # lexical only: nothing to compare
    expected = evaluate_retrieval(SearchPipeline.load(index_dir), read_judgments(judgments_file), ESCI)
    assert data["runs"][str(index_dir)]["metrics"] == expected.metrics
    assert data["runs"][str(index_dir)]["per_query"] == expected.per_query
    assert data["title"] == "judgments.tsv — retrieval mode, 8 queries"
    assert "No baseline" in (out / "report.md").read_text()
    assert (out / "plots" / "metrics.png").read_bytes()[:8] == PNG_MAGIC
    assert not (out / "plots" / "ndcg_delta.png").exists()


def test_report_with_baseline_index(index_dir, weaker_index, judgments_file, tmp_path):
    out = tmp_path / "report"
    result = invoke("evaluate", index_dir, judgments_file, "--report", out, "--baseline", weaker_index, "--json")
    assert result.exit_code == 0, result.output
    judged = read_judgments(judgments_file)
    mine = evaluate_retrieval(SearchPipeline.load(index_dir), judged, ESCI)
    theirs = evaluate_retrieval(SearchPipeline.load(weaker_index), judged, ESCI)
    # --json: this index's metrics, as before, and what was merged
    assert json.loads(result.stdout) == {
        **json.loads(mine.to_json()),
        "merged": {"policy": "mean", "pairs": 0, "rows": 0},
    }
    data = _report(out)
    assert data["baseline"] == str(weaker_index)
    assert list(data["runs"]) == [str(weaker_index), str(index_dir)]  # baseline first
    assert data["runs"][str(weaker_index)]["per_query"] == theirs.per_query
    comparison = data["comparisons"][str(index_dir)]
    deltas = {q: mine.per_query["ndcg@10"][q] - theirs.per_query["ndcg@10"][q] for q in judged.queries}
    assert comparison["better"] == sum(d > 1e-9 for d in deltas.values()) >= 1
    assert comparison["worse"] == sum(d < -1e-9 for d in deltas.values())
    assert comparison["better"] + comparison["worse"] + comparison["unchanged"] == 8
    top = comparison["improved"][0]
    assert top["query_id"] == "en01" and top["query"] == "galaxy buds P70D20TL-D4"
    assert top["delta"] == pytest.approx(max(deltas.values()))
    assert top["run"] == mine.per_query["ndcg@10"]["en01"] > top["baseline"] == theirs.per_query["ndcg@10"]["en01"]
    assert (out / "plots" / "ndcg_delta.png").read_bytes()[:8] == PNG_MAGIC
    assert "en01" in (out / "report.html").read_text()


def test_report_same_index_as_baseline(index_dir, judgments_file, tmp_path):
    out = tmp_path / "report"
    result = invoke("evaluate", index_dir, judgments_file, "--mode", "rerank", "--report", out, "--baseline", index_dir)
    assert result.exit_code == 0, result.output
    data = _report(out)
    assert data["baseline"] == f"{index_dir} (baseline)"  # same path, two runs: the names must differ
    comparison = data["comparisons"][str(index_dir)]
    assert (comparison["better"], comparison["worse"], comparison["unchanged"]) == (0, 0, 8)
    # the printed table shows the report's tests: the same run twice differs nowhere, p = 1
    assert set(comparison["significance"]) == {"ndcg@10", "mrr@10", "map@100"}
    cells = flat(result.stdout.replace("│", " "))
    for metric in comparison["significance"]:
        assert f"{metric} +0.0000 [+0.0000, +0.0000] 1.0000 no 0/0/8" in cells
    expected = evaluate_rerank(SearchPipeline.load(index_dir), read_judgments(judgments_file), ESCI)
    assert data["runs"][str(index_dir)]["mode"] == "rerank"
    assert data["runs"][str(index_dir)]["metrics"] == expected.metrics


def test_report_default_baseline_is_lexical_alone(
    hybrid_index, pipeline, judgments, judgments_file, tmp_path, monkeypatch
):
    monkeypatch.setattr(cli.out, "width", 300)  # long tmp paths would wrap inside the table cells
    out = tmp_path / "report"
    result = invoke("evaluate", hybrid_index, judgments_file, "--report", out)
    assert result.exit_code == 0, result.output
    name = f"{hybrid_index} (lexical only)"
    assert name in flat(result.stdout)  # both runs in the table
    back = read_results(out)
    assert list(back) == [name, str(hybrid_index)]
    # the lexical-only run is exactly the BM25F pipeline on the same catalog
    assert back[name].per_query == evaluate_retrieval(pipeline, judgments, ESCI).per_query
    hybrid = evaluate_retrieval(SearchPipeline.load(hybrid_index), judgments, ESCI)
    assert back[str(hybrid_index)].per_query == hybrid.per_query
    assert _report(out)["baseline"] == name


def test_baseline_without_report_adds_a_table_row(index_dir, weaker_index, judgments_file, monkeypatch):
    monkeypatch.setattr(cli.out, "width", 300)
    result = invoke("evaluate", index_dir, judgments_file, "--baseline", weaker_index)
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    assert str(weaker_index) in text and str(index_dir) in text
    assert "report written" not in result.stderr
    # and whether each difference is significant
    judged = read_judgments(judgments_file)
    mine = evaluate_retrieval(SearchPipeline.load(index_dir), judged, ESCI)
    theirs = evaluate_retrieval(SearchPipeline.load(weaker_index), judged, ESCI)
    assert f"{index_dir} against {weaker_index}, query by query" in text
    text = flat(result.stdout.replace("│", " ").replace("┃", " "))  # table cells, borders left out
    assert "metric Δ 95% CI p significant +/−/=" in text
    for metric, tested in compare_metrics(theirs.per_query, mine.per_query).items():
        row = (
            f"{metric} {tested.delta:+.4f} [{tested.ci_low:+.4f}, {tested.ci_high:+.4f}] "
            f"{format_p(tested.p_value)} {'yes' if tested.significant else 'no'} "
            f"{tested.improved}/{tested.worsened}/{tested.tied}"
        )
        assert row in text
    # only en01 lost its exact match: one query better, seven tied -> every flip is as extreme, p = 1
    ndcg = compare_metrics(theirs.per_query, mine.per_query)["ndcg@10"]
    assert (ndcg.improved, ndcg.worsened, ndcg.tied, ndcg.p_value) == (1, 0, 7, 1.0)


def test_no_significance_table_without_a_baseline(index_dir, judgments_file):
    result = invoke("evaluate", index_dir, judgments_file)
    assert result.exit_code == 0, result.output
    assert "query by query" not in flat(result.stdout) and "significant" not in flat(result.stdout)


def test_report_errors(index_dir, judgments_file, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    result = invoke("evaluate", index_dir, judgments_file, "--report", busy)
    assert result.exit_code == 2
    assert flat(result.stderr).startswith(f"error: {busy}: is not empty and not a shopmatch report")
    assert (busy / "notes.txt").read_text() == "keep me"
    result = invoke("evaluate", index_dir, judgments_file, "--report", tmp_path / "r", "--baseline", tmp_path / "nope")
    assert result.exit_code == 2
    assert flat(result.stderr).startswith(f"error: {tmp_path / 'nope'}: no such directory")
    assert not (tmp_path / "r").exists()
