"""Judgments from events: grades, the four-column file every reader of judgments reads, the sidecar, the command."""

from __future__ import annotations

import gzip
import json
import logging
import re
from datetime import UTC, datetime

import numpy as np
import pytest
from typer.testing import CliRunner

from shopmatch.cli import app
from shopmatch.events import Impression, Interaction, collect_events, write_events
from shopmatch.events.click_models import ClickModelConfig, click_labels
from shopmatch.events.labels import (
    COUNT_COLUMNS,
    counts_path,
    grade,
    grade_scale,
    query_id,
    to_judgments,
    write_label_files,
)
from shopmatch.judgments import GainMap, read_judgments

NOW = datetime(2026, 12, 6, tzinfo=UTC)
runner = CliRunner()


def test_grades_hand_computed():
    scores = np.array([0.0, 0.05, 0.26, 0.5, 0.74, 0.76, 2.0])
    assert grade(scores, 4, top=1.0).tolist() == [0, 0, 1, 2, 2, 3, 3]
    assert grade(scores, 2, top=1.0).tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert grade(np.zeros(3), 4).tolist() == [0, 0, 0]
    positive = np.arange(1, 101, dtype=float)
    assert grade_scale(np.concatenate([np.zeros(50), positive])) == pytest.approx(np.quantile(positive, 0.99))
    with pytest.raises(ValueError, match="at least 2"):
        grade(scores, 1)


def test_query_ids_are_stable_and_distinct():
    assert query_id("Cordless  Drill") == query_id("cordless drill") == "q-" + query_id("cordless drill")[2:]
    assert len(query_id("mug")) == 12 and query_id("mug") != query_id("mugs")


def test_counts_path():
    assert counts_path("a/judgments.tsv").as_posix() == "a/judgments.counts.tsv"
    assert counts_path("j.TSV.gz").name == "j.counts.tsv.gz"


def shop_log():
    """Two queries; in each, one product always clicked, one bought now and then, one never touched."""
    events = []
    for s in range(20):
        for q, (query, shown) in enumerate([("Red Mug", ("m1", "m2", "m3")), ("tea pot", ("t1", "t2", "t3", "t4"))]):
            search_id = f"{q}-{s}"
            order = shown if s % 2 else shown[::-1]
            events.append(Impression(search_id, query, order, NOW))
            events.append(Interaction("click", search_id, shown[0], NOW))
            if s % 4 == 0:
                events += [
                    Interaction("click", search_id, shown[1], NOW),
                    Interaction("purchase", search_id, shown[1], NOW),
                ]
    events.append(Impression("rare", "tea pot", ("t9",), NOW))
    return collect_events(events)


@pytest.mark.parametrize("model", ["pbm", "coec", "ctr"])
def test_the_file_reads_as_judgments_without_a_warning(tmp_path, caplog, model):
    labels = click_labels(shop_log(), model)
    path = tmp_path / "judgments.tsv"
    written = write_label_files(labels, path, grades=4, min_impressions=2)
    assert (written.pairs, written.queries, written.dropped) == (7, 2, 1)  # t9 was shown once
    with caplog.at_level(logging.WARNING):
        judged = read_judgments(path)
    assert not caplog.records, caplog.text
    assert path.read_text(encoding="utf-8").splitlines()[0].split("\t") == ["query_id", "query", "product_id", "label"]
    assert set(judged.queries.values()) == {"red mug", "tea pot"}
    assert judged.queries[query_id("Red Mug")] == "red mug"
    qrels = judged.qrels(GainMap.parse("offset=0"))
    mug = qrels[query_id("red mug")]
    assert set(mug.values()) <= {0.0, 1.0, 2.0, 3.0}
    assert mug["m1"] > mug["m3"] and mug["m2"] > mug["m3"]  # clicked (and bought) above never touched
    assert judged.rows == to_judgments(labels, grades=4, min_impressions=2).rows
    assert len(judged.folds(2)) == 2


def test_sidecar_holds_what_each_label_rests_on(tmp_path):
    labels = click_labels(shop_log(), "pbm", ClickModelConfig(prior_strength=2))
    written = write_label_files(labels, tmp_path / "j.tsv")
    lines = written.counts.read_text(encoding="utf-8").splitlines()
    assert tuple(lines[0].split("\t")) == COUNT_COLUMNS
    rows = {r[2]: dict(zip(COUNT_COLUMNS, r, strict=True)) for r in (line.split("\t") for line in lines[1:])}
    assert (rows["m2"]["impressions"], rows["m2"]["clicks"], rows["m2"]["purchases"], rows["m2"]["carts"]) == (
        "20",
        "5",
        "5",
        "0",
    )
    assert rows["t9"]["impressions"] == "1"
    i = labels.product_ids.index("m2")
    assert float(rows["m2"]["score"]) == pytest.approx(labels.score[i], rel=1e-5)
    examined = float(rows["m2"]["examined"])
    assert float(rows["m2"]["confidence"]) == pytest.approx(examined / (examined + 2), abs=1e-3)
    assert float(rows["t9"]["confidence"]) < float(rows["m2"]["confidence"])


def test_scores_as_labels_and_gzip(tmp_path):
    labels = click_labels(shop_log(), "ctr")
    path = tmp_path / "scores.tsv.gz"
    write_label_files(labels, path, grades=0)
    assert gzip.decompress(path.read_bytes()).startswith(b"query_id\tquery\tproduct_id\tlabel\n")
    assert (tmp_path / "scores.counts.tsv.gz").is_file()
    judged = read_judgments(path)
    got = {r.product_id: float(r.label) for r in judged.rows}
    assert got == pytest.approx(dict(zip(labels.product_ids, labels.score.tolist(), strict=True)), rel=1e-5)


def test_bad_arguments(tmp_path):
    labels = click_labels(shop_log(), "ctr")
    with pytest.raises(ValueError, match="grades"):
        write_label_files(labels, tmp_path / "j.tsv", grades=1)
    with pytest.raises(ValueError, match="min_impressions"):
        write_label_files(labels, tmp_path / "j.tsv", min_impressions=0)


# --------------------------------------------------------------------------- the command


def fixture_events(path):
    """Searches for two judged fixture queries, the E product clicked and bought more than the others."""
    events = []
    queries = {"galaxy buds P70D20TL-D4": ["p001", "p003", "p002", "p006"]}
    queries["65w usb c charger"] = ["p004", "p023", "p005"]
    for s in range(30):
        for query, products in queries.items():
            order = products[s % len(products) :] + products[: s % len(products)]
            search_id = f"{query[:3]}-{s}"
            events.append(Impression(search_id, query, tuple(order), NOW))
            if s % 3:
                events.append(Interaction("click", search_id, products[0], NOW, event_id=f"{search_id}-c"))
            if s % 5 == 0:
                events.append(Interaction("purchase", search_id, products[0], NOW))
            if s % 7 == 0:
                events.append(Interaction("click", search_id, products[1], NOW))
    write_events(events, path)
    return path


def test_command_writes_judgments_evaluate_reads(tmp_path, index_dir):
    events = fixture_events(tmp_path / "events.jsonl")
    out = tmp_path / "judgments.tsv"
    args = ["judgments", "from-events", str(events), "-o", str(out), "--plot", str(tmp_path / "p.png")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.split())
    assert "Position propensities (pbm)" in flat and "EM converged after" in flat
    # rich wraps long paths anywhere: compare without whitespace
    assert f"wrote7judgmentsof2queriesto{out}" in "".join(result.stdout.split())
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "judgments.counts.tsv").is_file()
    judged = read_judgments(out)
    best = {q: max(rows, key=lambda r: int(r.label)).product_id for q, rows in judged.by_query.items()}
    assert sorted(best.values()) == ["p001", "p004"]
    evaluated = runner.invoke(
        app, ["evaluate", str(index_dir), str(out), "--mode", "rerank", "--gains", "offset=0", "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["queries"] == 2


@pytest.mark.parametrize("model", ["coec", "ctr"])
def test_command_other_models_and_options(tmp_path, model):
    events = fixture_events(tmp_path / "events.jsonl")
    config = tmp_path / "shop.toml"
    config.write_text("[click_model]\npurchase_weight = 10\npositions = 3\n", encoding="utf-8")
    out = tmp_path / "j.tsv"
    args = ["judgments", "from-events", str(events), "-o", str(out), "--model", model, "--config", str(config)]
    result = runner.invoke(app, [*args, "--min-impressions", "25", "--grades", "0"])
    assert result.exit_code == 0, result.output
    assert f"Position propensities ({model})" in result.stdout
    assert re.findall(r"│\s+(\d+) │", result.stdout) == ["1", "2", "3"]  # positions = 3 from the file
    again = runner.invoke(app, [*args, "--positions", "2"])
    assert re.findall(r"│\s+(\d+) │", again.stdout) == ["1", "2"]  # the option overrides the file
    assert "pairs shown fewer than 25 times left out" in " ".join(result.stdout.split())
    rows = read_judgments(out).rows
    assert rows and all(float(r.label) >= 0 for r in rows)
    assert "EM converged" not in result.stdout


def test_command_errors(tmp_path):
    events = fixture_events(tmp_path / "events.jsonl")
    bad = runner.invoke(app, ["judgments", "from-events", str(events), "-o", str(tmp_path / "j.tsv"), "--grades", "1"])
    assert bad.exit_code == 2 and "--grades must be 0" in bad.stderr
    config = tmp_path / "bad.toml"
    config.write_text("[click_model]\nclick_weight = -1\n", encoding="utf-8")
    result = runner.invoke(
        app, ["judgments", "from-events", str(events), "-o", str(tmp_path / "j.tsv"), "--config", str(config)]
    )
    assert result.exit_code == 2 and "click_model.click_weight" in result.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"type": "click"}\n', encoding="utf-8")
    result = runner.invoke(app, ["judgments", "from-events", str(broken), "-o", str(tmp_path / "j.tsv")])
    assert result.exit_code == 2
    assert " ".join(result.stderr.split()).startswith(f"error: {broken}:1: field 'search_id': is required")
