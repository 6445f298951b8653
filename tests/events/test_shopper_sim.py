"""bench/shopper_sim.py run as a program (tests never import bench/): valid events, reproducible, the protocol.

The position-based click model fitted on its events recovers the examination the simulator used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shopmatch.events import read_events
from shopmatch.events.click_models import ClickModelConfig, click_labels
from shopmatch.judgments import read_judgments

REPO = Path(__file__).resolve().parents[2]
SIMULATOR = REPO / "bench" / "shopper_sim.py"
LABELS = "ESIIECSISEEI"  # twelve products a query: four exact, two substitutes, a complement, five irrelevant


def simulate(tmp_path: Path, name: str, *args: str) -> Path:
    out = tmp_path / name
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, str(SIMULATOR), *args, "-o", str(out)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "| position | (1/i)^θ |" in done.stdout
    return out


@pytest.fixture(scope="module")
def judgments(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "judgments.tsv"
    rows = ["query_id\tquery\tproduct_id\tlabel"]
    for q in range(4):
        rows += [f"q{q}\tquery number {q}\tq{q}-p{i:02d}\t{label}" for i, label in enumerate(LABELS)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shuffled_run(judgments, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("runs")
    args = [str(judgments), "--order", "judged", "--sessions", "400", "--shuffle-share", "0.5", "--seed", "7"]
    return simulate(folder, "events.jsonl", *args)


def test_events_are_in_the_public_format_and_reproducible(shuffled_run, judgments, tmp_path):
    log = read_events(shuffled_run)  # strict: a bad line raises
    assert len(log.impressions) == 4 * 400 and log.orphans == [] and log.duplicates == 0
    assert {len(i.results) for i in log.impressions} == {10}
    again = simulate(
        tmp_path,
        "again.jsonl",
        *[str(judgments), "--order", "judged", "--sessions", "400", "--shuffle-share", "0.5", "--seed", "7"],
    )
    assert again.read_bytes() == shuffled_run.read_bytes()
    other = simulate(tmp_path, "other.jsonl", str(judgments), "--order", "judged", "--sessions", "400", "--seed", "8")
    assert other.read_bytes() != shuffled_run.read_bytes()


def test_carts_and_purchases_only_on_the_best_labels_clicks_follow_the_gain(shuffled_run, judgments):
    log = read_events(shuffled_run)
    label = {r.product_id: r.label for r in read_judgments(judgments).rows}
    bought = {i.product_id for i in log.interactions if i.type in ("add_to_cart", "purchase")}
    assert bought and {label[p] for p in bought} == {"E"}
    kinds = {t: sum(i.type == t for i in log.interactions) for t in ("click", "add_to_cart", "purchase")}
    assert kinds["click"] > kinds["add_to_cart"] > kinds["purchase"] > 0
    # at position 1 (always examined) the click rate is the protocol's 0.05 + 0.9 · normalized gain
    rates = top_click_rates(log, judgments)
    assert rates["E"] == pytest.approx(0.95, abs=0.04) and rates["I"] == pytest.approx(0.05, abs=0.04)


def top_click_rates(log, judgments: Path) -> dict[str, float]:
    """Label → share of the searches showing a product with that label first in which it was clicked."""
    label = {r.product_id: r.label for r in read_judgments(judgments).rows}
    first_clicks = {(i.search_id, i.product_id) for i in log.interactions if i.type == "click" and i.position == 1}
    shown: dict[str, list[bool]] = {}
    for impression in log.impressions:
        top = impression.results[0]
        shown.setdefault(label[top], []).append((impression.search_id, top) in first_clicks)
    return {name: float(np.mean(clicked)) for name, clicked in shown.items()}


@pytest.mark.parametrize("theta", [1.0, 0.5])
def test_the_position_based_model_recovers_the_simulated_examination(shuffled_run, judgments, tmp_path, theta):
    run = shuffled_run
    if theta != 1.0:  # and numeric labels (0-3): the gain is normalized by the largest one
        numeric = tmp_path / "numeric.tsv"
        numeric.write_text(judgments.read_text().translate(str.maketrans("ESCI", "3210")), encoding="utf-8")
        args = ["--order", "judged", "--sessions", "400", "--shuffle-share", "0.5", "--theta", str(theta)]
        run = simulate(tmp_path, "theta.jsonl", str(numeric), *args, "--gains", "offset=0")
        assert top_click_rates(read_events(run), numeric)["3"] == pytest.approx(0.95, abs=0.04)
    labels = click_labels(read_events(run), "pbm", ClickModelConfig(prior_strength=0))
    truth = (1.0 / np.arange(1, 11)) ** theta
    assert np.abs(labels.propensities - truth).max() < 0.05, labels.propensities.round(3)


def test_pipeline_ranking_cascade_and_theta(judgments, index_dir, pipeline, tmp_path, fixtures):
    fixture_judgments = fixtures / "catalog" / "judgments.tsv"
    args = ["--index", str(index_dir), "--sessions", "60", "--theta", "2", "--cascade-stop", "1", "--k", "5"]
    log = read_events(simulate(tmp_path, "index.jsonl.gz", str(fixture_judgments), *args))
    judged = read_judgments(fixture_judgments)
    shown = {i.query: i.results for i in log.impressions}
    for text in judged.queries.values():
        assert list(shown[text]) == [p for p, _ in pipeline.search_ids([text], 5)[0]]  # the pipeline's ranking
    judged_pairs = {(r.query, r.product_id) for r in judged.rows}
    assert any((text, p) not in judged_pairs for text, results in shown.items() for p in results)  # unjudged too
    clicks_per_search: dict[str, int] = {}
    for i in log.interactions:
        if i.type == "click":
            clicks_per_search[i.search_id] = clicks_per_search.get(i.search_id, 0) + 1
    assert clicks_per_search and max(clicks_per_search.values()) == 1  # every shopper leaves after a click
