"""The `shopmatch` command: CliRunner on shopmatch.cli.app, plus real subprocess runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopmatch.cli import app
from shopmatch.cli import common as cli
from shopmatch.eval.evaluator import evaluate_rerank, evaluate_retrieval
from shopmatch.judgments import GainMap, read_judgments
from shopmatch.pipeline import SearchPipeline
from tests.test_catalog import BAD_FILES

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    """Output with rich's line wrapping undone (whitespace runs collapsed to one space)."""
    return " ".join(text.split())


# --------------------------------------------------------------------------- index


def test_index_ok(fixtures, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("index", fixtures / "catalog" / "products.csv", "--output", "idx")
    assert result.exit_code == 0, result.output
    assert re.search(
        r"indexed 32 products into idx in \d+\.\d s \(lexical \+ dense all-MiniLM-L6-v2 \(onnx-int8\), rrf fusion\)$",
        flat(result.stderr),
    )
    assert "skipped" not in result.stderr
    loaded = SearchPipeline.load(tmp_path / "idx")
    assert len(loaded) == 32 and loaded.search("65w charger", k=1)[0][0].product_id == "p004"


@pytest.mark.parametrize("row", [pytest.param(r, id=r[0]) for r in BAD_FILES if r[3] == "catalog"])
def test_index_bad_file_exit_2_with_location(fixtures, tmp_path, monkeypatch, row):
    name, line, field, _, fragment, _ = row
    monkeypatch.chdir(fixtures)
    result = invoke("index", f"bad/{name}", "-o", tmp_path / "idx")
    assert result.exit_code == 2
    # (known field bugs are covered by test_catalog; here only the location prefix CLI users see)
    location = f"bad/{name}:{line}: " + (f"field '{field}': " if field else "")
    assert flat(result.stderr).startswith(f"error: {location}")
    assert fragment in flat(result.stderr)
    assert result.stdout == ""
    assert not (tmp_path / "idx").exists()


def test_index_skip_bad_rows_reports_count(fixtures, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(fixtures)
    result = invoke("index", "bad/missing_title.jsonl", "-o", tmp_path / "idx", "--skip-bad-rows")
    assert result.exit_code == 0, result.output
    assert "indexed 4 products" in flat(result.stderr)
    assert "; 1 bad rows skipped" in flat(result.stderr)
    # the reason goes to the log (stderr in a real run)
    assert "bad/missing_title.jsonl:4: field 'title': is required" in caplog.text
    assert len(SearchPipeline.load(tmp_path / "idx")) == 4


def test_index_nothing_left(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("all_bad.jsonl").write_text('{"id": "a"}\n{"title": "t"}\n')
    result = invoke("index", "all_bad.jsonl", "-o", "idx", "--skip-bad-rows")
    assert result.exit_code == 2
    assert "all_bad.jsonl: no products to index" in flat(result.stderr)
    assert not Path("idx").exists()


def test_index_missing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("index", "nope.jsonl", "-o", "idx")
    assert result.exit_code == 2
    assert flat(result.stderr) == "error: nope.jsonl: file not found"


def test_index_with_config(fixtures, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("cfg.toml").write_text(
        '[pipeline]\nretrievers = ["lexical"]\n\n'
        "[lexical]\nk1 = 2.0\n\n[lexical.fields]\ntitle = { weight = 1.0, b = 0.5 }\n"
    )
    result = invoke("index", fixtures / "catalog" / "products.jsonl", "-o", "idx", "--config", "cfg.toml")
    assert result.exit_code == 0, result.output
    manifest = json.loads(Path("idx/manifest.json").read_text())
    assert manifest["config"]["lexical"]["k1"] == 2.0
    assert manifest["config"]["lexical"]["fields"] == {"title": {"weight": 1.0, "b": 0.5}}
    # brand is not indexed: a brand-only word matches nothing
    assert SearchPipeline.load("idx").search("ironhearth") == [[]]


def test_index_with_shipped_config(fixtures, tmp_path):
    result = invoke(
        "index", fixtures / "catalog" / "products.jsonl", "-o", tmp_path / "idx", "-c", REPO / "configs" / "bm25.toml"
    )
    assert result.exit_code == 0, result.output


def test_index_broken_config(fixtures, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("cfg.toml").write_text("[lexical\nk1 = 2.0\n")
    result = invoke("index", fixtures / "catalog" / "products.jsonl", "-o", "idx", "--config", "cfg.toml")
    assert result.exit_code == 2
    assert flat(result.stderr).startswith("error: cfg.toml: invalid TOML")
    assert not Path("idx").exists()
    Path("bad.toml").write_text("[lexical.fields]\nprice = 1\n")
    result = invoke("index", fixtures / "catalog" / "products.jsonl", "-o", "idx", "--config", "bad.toml")
    assert result.exit_code == 2
    assert "bad.toml: unknown field(s) ['price']" in flat(result.stderr)
    result = invoke("index", fixtures / "catalog" / "products.jsonl", "-o", "idx", "--config", "missing.toml")
    assert result.exit_code == 2
    assert "missing.toml: config file not found" in flat(result.stderr)


# --------------------------------------------------------------------------- search


def test_search_table(index_dir):
    result = invoke("search", index_dir, "65w usb c charger", "-k", "3")
    assert result.exit_code == 0, result.output
    ranks = re.findall(r"^│\s+(\d+)\s+│", result.stdout, flags=re.M)
    assert ranks == ["1", "2", "3"]
    first_row = next(line for line in result.stdout.splitlines() if re.match(r"^│\s+1\s+│", line))
    assert "p004" in first_row and "65W USB-C charger" in first_row and "Voltra" in first_row
    assert "“65w usb c charger”" in result.stdout


def test_search_no_match(index_dir):
    result = invoke("search", index_dir, "zzzz qqqq")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no products match 'zzzz qqqq'"


def test_search_json(index_dir, pipeline, catalog):
    result = invoke("search", index_dir, "充电器 65W", "-k", "2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"query", "total", "results", "filters"} <= data.keys()  # one JSON object per query, as the HTTP API answers
    assert data["query"] == "充电器 65W"
    expected = pipeline.search("充电器 65W", k=2)[0]
    assert len(data["results"]) == 2
    for got, want in zip(data["results"], expected, strict=True):
        assert got.keys() == {"rank", "product_id", "score", "retrievers", "product"}
        assert (got["rank"], got["product_id"]) == (want.rank, want.product_id)
        assert got["score"] == pytest.approx(want.score, abs=1e-6)
        assert got["product"] == catalog.get(want.product_id).to_dict()
    assert data["results"][0]["product_id"] == "p023"


def test_search_errors(tmp_path, index_dir):
    result = invoke("search", tmp_path / "nope", "x")
    assert result.exit_code == 2 and "no such directory" in flat(result.stderr)
    result = invoke("search", tmp_path, "x")
    assert result.exit_code == 2 and "no manifest.json" in flat(result.stderr)
    assert invoke("search", index_dir, "x", "-k", "0").exit_code == 2


# --------------------------------------------------------------------------- evaluate


def test_evaluate_retrieval_json(index_dir, fixtures):
    judgments = fixtures / "catalog" / "judgments.tsv"
    result = invoke("evaluate", index_dir, judgments, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data.keys() == {"ndcg@10", "mrr@10", "recall@100", "map@100", "queries", "mode", "gains", "merged"}
    assert (data["queries"], data["mode"], data["gains"]) == (8, "retrieval", "E=1,S=0.1,C=0.01,I=0")
    assert data["merged"] == {"policy": "mean", "pairs": 0, "rows": 0}
    expected = evaluate_retrieval(SearchPipeline.load(index_dir), read_judgments(judgments), GainMap.esci())
    for name, value in expected.metrics.items():
        assert data[name] == round(value, 6)
    assert data["mrr@10"] == 1.0


def test_evaluate_rerank_json(index_dir, fixtures):
    judgments = fixtures / "catalog" / "judgments.tsv"
    result = invoke("evaluate", index_dir, judgments, "--mode", "rerank", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # rerank mode has no recall@100: every judged product is a candidate, so it would always be 1
    assert data.keys() == {"ndcg@10", "mrr@10", "map@100", "queries", "mode", "gains", "merged"}
    assert (data["queries"], data["mode"]) == (8, "rerank")
    expected = evaluate_rerank(SearchPipeline.load(index_dir), read_judgments(judgments), GainMap.esci())
    for name, value in expected.metrics.items():
        assert data[name] == round(value, 6)


def test_evaluate_numeric_labels_and_depth(index_dir, fixtures):
    graded = fixtures / "catalog" / "judgments_graded.tsv"
    result = invoke("evaluate", index_dir, graded, "--gains", "offset=0,relevant>=2", "--depth", "1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    gains = GainMap.parse("offset=0,relevant>=2")
    expected = evaluate_retrieval(SearchPipeline.load(index_dir), read_judgments(graded, gains=gains), gains, depth=1)
    assert data["recall@100"] == round(expected.metrics["recall@100"], 6) < 1.0
    assert data["gains"] == str(gains)


def test_evaluate_table(index_dir, fixtures):
    result = invoke("evaluate", index_dir, fixtures / "catalog" / "judgments.tsv")
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    assert "retrieval mode, 8 queries" in text
    for name in ("ndcg@10", "mrr@10", "recall@100", "map@100"):
        assert name in text
    assert "1.0000" in text  # MRR@10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gains", "E=abc"], "error: --gains: gain spec item 'E=abc': 'abc' is not a number"),
        (["--gains", "E"], "error: --gains: gain spec item 'E' is not KEY=VALUE"),
        (["--gains", "E=-1"], "error: --gains: gain of 'E' must be a non-negative number"),
        (["--mode", "bogus"], "error: --mode must be one of retrieval, rerank, got 'bogus'"),
    ],
)
def test_evaluate_bad_options(index_dir, fixtures, args, message):
    result = invoke("evaluate", index_dir, fixtures / "catalog" / "judgments.tsv", *args)
    assert result.exit_code == 2
    assert flat(result.stderr).startswith(message)
    assert result.stdout == ""


def test_evaluate_bad_judgments(index_dir, fixtures, monkeypatch):
    monkeypatch.chdir(fixtures)
    result = invoke("evaluate", index_dir, "bad/judgments_unknown_label.tsv")
    assert result.exit_code == 2
    assert flat(result.stderr).startswith("error: bad/judgments_unknown_label.tsv:4: field 'label': unknown label 'X'")
    # labels unknown to the chosen gains are errors too
    result = invoke("evaluate", index_dir, "catalog/judgments.tsv", "--gains", "E=1,I=0")
    assert result.exit_code == 2
    assert "catalog/judgments.tsv:3: field 'label': unknown label 'C'" in flat(result.stderr)


def test_evaluate_crowd_judgments_averages_repeated_pairs(index_dir, fixtures, caplog, monkeypatch):
    monkeypatch.setattr(cli.out, "width", 200)
    crowd = fixtures / "catalog" / "judgments_crowd.tsv"  # 14 rows from 3 raters: 5 pairs rated more than once
    result = invoke("evaluate", index_dir, crowd)
    assert result.exit_code == 0, result.output
    assert "judgments: 5 (query, product) pairs rated more than once (11 rows) averaged" in flat(result.stdout)
    # the rater columns are ignored with one warning
    ignored = [r for r in caplog.records if "ignoring column(s) rater_id, timestamp" in r.getMessage()]
    assert len(ignored) == 1 and ignored[0].levelname == "WARNING" and str(crowd) in ignored[0].getMessage()

    result = invoke("evaluate", index_dir, crowd, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["merged"] == {"policy": "mean", "pairs": 5, "rows": 11}
    assert data["queries"] == 3
    expected = evaluate_retrieval(SearchPipeline.load(index_dir), read_judgments(crowd), GainMap.esci())
    for name, value in expected.metrics.items():
        assert data[name] == round(value, 6)


def test_evaluate_duplicates_policies(index_dir, fixtures):
    crowd = fixtures / "catalog" / "judgments_crowd.tsv"
    by_policy = {}
    for policy in ("mean", "max", "first"):
        result = invoke("evaluate", index_dir, crowd, "--duplicates", policy, "--json")
        assert result.exit_code == 0, result.output
        by_policy[policy] = data = json.loads(result.stdout)
        assert data["merged"] == {"policy": policy, "pairs": 5, "rows": 11}
        judged = read_judgments(crowd, duplicates=policy)
        expected = evaluate_retrieval(SearchPipeline.load(index_dir), judged, GainMap.esci())
        assert data["mrr@10"] == round(expected.metrics["mrr@10"], 6)
    # en02's p004 is rated E and S: relevant for MRR only when the highest rating counts
    assert by_policy["max"]["mrr@10"] > by_policy["mean"]["mrr@10"]
    assert json.loads(invoke("evaluate", index_dir, crowd, "--duplicates", "MAX", "--json").stdout) == by_policy["max"]


def test_evaluate_duplicates_error_names_file_and_line(index_dir, fixtures, monkeypatch):
    monkeypatch.chdir(fixtures)
    result = invoke("evaluate", index_dir, "catalog/judgments_crowd.tsv", "--duplicates", "error")
    assert result.exit_code == 2
    assert flat(result.stderr).startswith(
        "error: catalog/judgments_crowd.tsv:4: field 'product_id': query 'en01' judges product 'p001' twice "
        "(first on line 2)"
    )
    assert result.stdout == ""
    result = invoke("evaluate", index_dir, "catalog/judgments_crowd.tsv", "--duplicates", "median")
    assert result.exit_code == 2
    assert "'median' is not one of 'mean', 'max', 'first', 'error'" in flat(result.output.replace("│", " "))


def test_evaluate_unknown_products_warn(index_dir, tmp_path, caplog):
    judgments = tmp_path / "j.tsv"
    judgments.write_text("query_id\tquery\tproduct_id\tlabel\nq1\tgalaxy buds\tp001\tE\nq1\tgalaxy buds\tghost\tE\n")
    result = invoke("evaluate", index_dir, judgments, "--json")
    assert result.exit_code == 0, result.output
    assert "1 judged product id(s) are not in the index (e.g. ghost)" in caplog.text
    assert json.loads(result.stdout)["recall@100"] == 0.5


# --------------------------------------------------------------------------- validate


def test_validate_ok(fixtures):
    result = invoke("validate", fixtures / "catalog" / "products.parquet")
    assert result.exit_code == 0
    assert flat(result.stdout).endswith("products.parquet: 32 products, no problems found")


def test_validate_bad(fixtures, monkeypatch):
    monkeypatch.chdir(fixtures)
    result = invoke("validate", "bad/bad_list_field.csv")
    assert result.exit_code == 2
    text = flat(result.stderr)
    assert "bad/bad_list_field.csv: skipped 1 bad row(s)" in text
    assert "bad/bad_list_field.csv:3: field 'bullets': is not valid JSON text" in text
    result = invoke("validate", "bad/missing_title_column.csv")
    assert result.exit_code == 2
    assert flat(result.stderr).startswith("error: bad/missing_title_column.csv:1: field 'title':")


# --------------------------------------------------------------------------- demo (runs once per session)


def test_demo(demo_run):
    result, target = demo_run
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Evaluation (lexical + dense all-MiniLM-L6-v2 (onnx-int8), rrf fusion; bundled judgments)" in flat(text)
    assert "ranks by retriever" in text
    rows = dict(re.findall(r"^│ ((?:esci-us-150|zh-sample) (?:retrieval|rerank))\s*│\s*(\d+)\s*│", text, flags=re.M))
    assert rows == {
        "esci-us-150 retrieval": "150",
        "esci-us-150 rerank": "150",
        "zh-sample retrieval": "11",
        "zh-sample rerank": "11",
    }
    for query in (
        "t towels kitchen",
        "waterproof kindle",
        "12 inch memory foam mattress queen",
        "蓝牙耳机 降噪",
        "65W 充电器",
    ):
        assert f"“{query}”" in text
    for name in ("esci-us-150", "zh-sample"):
        assert (target / name / "manifest.json").is_file()
    assert "Try: shopmatch search" in flat(text)


# --------------------------------------------------------------------------- real processes


def _run(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "shopmatch.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_subprocess_index_bad_then_good_then_search(fixtures, tmp_path):
    bad = _run("index", "bad/bad_price.jsonl", "-o", tmp_path / "idx", cwd=fixtures)
    assert bad.returncode == 2
    assert "bad/bad_price.jsonl:2: field 'price': must be a number" in bad.stderr
    assert "Traceback" not in bad.stderr
    script = Path(sys.executable).parent / "shopmatch"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "shopmatch"]
    good = subprocess.run(
        [*command, "index", str(fixtures / "catalog" / "products.jsonl"), "-o", str(tmp_path / "idx")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stderr
    found = _run("search", tmp_path / "idx", "cast iron skillet 12 inch", "-k", "1", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["results"][0]["product_id"] == "p008"


def test_subprocess_error_location_not_wrapped(fixtures, tmp_path):
    deep = tmp_path / ("a-directory-with-a-rather-long-name-" * 2)
    deep.mkdir()
    target = deep / "bad_price.jsonl"
    target.write_bytes((fixtures / "bad" / "bad_price.jsonl").read_bytes())
    result = _run("index", target, "-o", tmp_path / "idx", env={"COLUMNS": "80"})
    assert result.returncode == 2
    assert f"{target}:2: field 'price': must be a number, got 'abc'" in result.stderr


def test_subprocess_validate_reports_each_row_once(fixtures):
    result = _run("validate", "bad/bad_price.jsonl", cwd=fixtures, env={"COLUMNS": "200"})
    assert result.returncode == 2
    assert result.stderr.count("bad/bad_price.jsonl:2: field 'price'") == 1
