"""`shopmatch retrain`: events → click-model labels → a new ranker version, written atomically, and
reloaded by a running service; too few events is a clear error."""

from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from shopmatch.cli import app
from shopmatch.config import PipelineConfig
from shopmatch.events.io import write_events
from shopmatch.events.model import parse_event
from shopmatch.judgments import GainMap
from shopmatch.pipeline import SearchPipeline
from shopmatch.rank.retrain import VERSION_PREFIX

runner = CliRunner()
TOKEN = "retrain-token"


@pytest.fixture(scope="module")
def lexical_index(catalog, tmp_path_factory):
    config = PipelineConfig(retrievers=("lexical",))
    return SearchPipeline.build(catalog.products, config).save(tmp_path_factory.mktemp("lex") / "index")


@pytest.fixture(scope="module")
def events_file(lexical_index, judgments, tmp_path_factory):
    """Shoppers who click the judged-relevant products they look at (position i looked at with chance 1/i)."""
    pipeline = SearchPipeline.load(lexical_index)
    gains = judgments.qrels(GainMap.parse("E=1,S=0.1,C=0.01,I=0"))
    rng = np.random.default_rng(0)
    records = []
    for q in judgments.query_ids:
        text = judgments.queries[q]
        shown = [pid for pid, _ in pipeline.search_ids([text], k=10)[0]]
        for s in range(30):
            search_id = f"{q}-{s}"
            records.append(
                {
                    "type": "impression",
                    "search_id": search_id,
                    "query": text,
                    "results": shown,
                    "ts": "2026-12-06T10:00Z",
                }
            )
            for i, pid in enumerate(shown, start=1):
                chance = (1 / i) * (0.05 + 0.9 * gains.get(q, {}).get(pid, 0.0))
                if rng.random() < chance:
                    records.append(
                        {"type": "click", "search_id": search_id, "product_id": pid, "ts": "2026-12-06T10:01Z"}
                    )
    path = tmp_path_factory.mktemp("ev") / "events.jsonl"
    write_events((parse_event(r) for r in records), path)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_retrain_writes_a_version_and_the_service_reloads_it(lexical_index, events_file, tmp_path):
    import uvicorn

    from shopmatch.service import ServiceSettings, create_app

    models = tmp_path / "models"
    port = _free_port()
    service = create_app(ServiceSettings(index_dir=lexical_index, token=TOKEN, wal_path=tmp_path / "wal"))
    server = uvicorn.Server(uvicorn.Config(service, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        args = ["retrain", "--index", lexical_index, "--events", events_file, "-o", models, "--min-impressions", 50]
        args += ["--min-clicks", 10, "--min-queries", 3]
        args += ["--reload-url", f"http://127.0.0.1:{port}", "--token", TOKEN]
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        assert "Retrained ranker" in result.stdout and "generation 2" in result.stdout
        versions = [p for p in models.iterdir()]
        assert len(versions) == 1 and versions[0].name.startswith(VERSION_PREFIX)  # no temporary left behind
        manifest = json.loads((versions[0] / "ranker.json").read_text())
        assert manifest["summary"]["trained_from"] == "events" and manifest["summary"]["label_pairs"] > 0
        health = json.loads(_get(f"http://127.0.0.1:{port}/health"))
        assert health["models"]["ranker"]["version"] == versions[0].name
        bad_token = runner.invoke(app, [str(a) for a in args[:-1]] + ["wrong"])
        assert bad_token.exit_code == 3 and "403 wrong token" in bad_token.output
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_too_few_events_is_a_clear_error(lexical_index, events_file, tmp_path):
    args = ["retrain", "--index", lexical_index, "--events", events_file, "-o", tmp_path / "m"]
    result = runner.invoke(app, [str(a) for a in [*args, "--min-impressions", 100_000, "--min-queries", 1_000]])
    assert result.exit_code == 2
    assert "too few events to retrain" in result.output and "(at least 100,000 needed)" in result.output
    assert "queries with a click (at least 1,000)" in result.output
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()
