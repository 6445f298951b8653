"""An interleaving experiment in the service: a share of searches merged from two rankers, their
impressions carrying the teams, clicks credited by `shopmatch experiment report`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shopmatch.cli import app
from shopmatch.rank.features import FEATURE_NAMES
from shopmatch.rank.model import Ranker
from shopmatch.service import ServiceSettings, create_app
from shopmatch.service.experiment import ExperimentConfig, in_share

TOKEN = "test-token"


@pytest.fixture(scope="module")
def rankers(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(FEATURE_NAMES))).astype(np.float32)
    out = []
    for name, sign in (("up", 1.0), ("down", -1.0)):
        y = (sign * x[:, FEATURE_NAMES.index("bm25f")] > 0).astype(int)
        out.append(Ranker.train(x, y, [10] * 20, FEATURE_NAMES, rounds=10).save(root / name))
    return out


def test_share_is_deterministic_and_about_right():
    config = ExperimentConfig(candidate="c", share=0.3, seed=1)
    inside = [in_share(config, f"session-{i}") for i in range(4000)]
    assert 0.27 < sum(inside) / len(inside) < 0.33
    assert inside == [in_share(config, f"session-{i}") for i in range(4000)]
    assert not any(in_share(ExperimentConfig(candidate="c", share=0.0), f"s{i}") for i in range(100))


def test_interleaved_searches_log_teams_and_clicks_are_credited(service_index, rankers, tmp_path):
    up, down = rankers
    events = tmp_path / "events"
    experiment = {"name": "down-vs-up", "control": str(up), "candidate": str(down), "share": 1.0, "seed": 3}
    settings = ServiceSettings(
        index_dir=service_index, token=TOKEN, events_dir=events, events_public_clicks=True, experiment=experiment
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json()["experiment"]["name"] == "down-vs-up"
        control = client.get(
            "/search", params={"q": "usb cable", "k": 6, "offset": 6}
        ).json()  # page 2: not interleaved
        pages = []
        for session in range(8):
            body = client.get("/search", params={"q": "usb cable", "k": 6, "session_id": f"ses-{session}"}).json()
            ids = [r["product_id"] for r in body["results"]]
            assert len(ids) == len(set(ids)) and [r["rank"] for r in body["results"]] == list(range(1, len(ids) + 1))
            pages.append(body)
            # the web page's click on the first result: no token, its search_id and its position on the page
            click = {
                "type": "click",
                "search_id": body["search_id"],
                "product_id": ids[0],
                "position": 1,
                "ts": "2026-12-06T10:00Z",
            }
            assert client.post("/events", json={"events": [click]}).status_code == 200
    assert control["results"]
    log_lines = [json.loads(line) for f in sorted(events.glob("*.jsonl")) for line in f.read_text().splitlines()]
    shown = {e["search_id"]: e for e in log_lines if e["type"] == "impression"}
    interleaved = [shown[p["search_id"]] for p in pages]
    for record in interleaved:
        teams = record["interleaving"]["teams"]
        assert record["interleaving"]["experiment"] == "down-vs-up" and len(teams) == len(record["results"])
    assert "interleaving" not in shown[control["search_id"]]
    result = CliRunner().invoke(app, ["experiment", "report", str(events), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["down-vs-up"]
    firsts = [record["interleaving"]["teams"][0] for record in interleaved]
    assert report["per_impression"]["wins"] == firsts.count("candidate")
    assert report["per_impression"]["losses"] == firsts.count("control")
    assert report["per_session"]["total"] == 8


def test_serve_refuses_a_bad_experiment_ranker(service_index, tmp_path):
    result = CliRunner().invoke(
        app,
        ["serve", str(service_index), "--experiment-candidate", str(tmp_path / "nope"), "--experiment-share", "0.5"],
    )
    assert result.exit_code == 2
    assert "experiment.candidate" in result.output and "no such ranker directory" in result.output
