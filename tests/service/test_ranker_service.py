"""`serve --ranker`: the service searches with a learned ranker loaded beside the index, and a
compaction does not write it into the index."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shopmatch.rank.features import FEATURE_NAMES
from shopmatch.rank.model import Ranker
from shopmatch.service import ServiceSettings, create_app

TOKEN = "test-token"


@pytest.fixture(scope="module")
def ranker_dir(tmp_path_factory):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(FEATURE_NAMES))).astype(np.float32)
    y = (x[:, FEATURE_NAMES.index("bm25f")] > 0).astype(int)
    return Ranker.train(x, y, [10] * 20, FEATURE_NAMES, rounds=10).save(tmp_path_factory.mktemp("r") / "ranker")


def test_the_service_ranks_with_the_ranker_and_keeps_it_out_of_the_index(service_index, ranker_dir):
    settings = ServiceSettings(index_dir=service_index, token=TOKEN, compact_after=0, ranker=ranker_dir)
    with TestClient(create_app(settings)) as client:
        body = client.get("/search", params={"q": "galaxy buds", "k": 3}).json()
        assert body["results"] and body["results"][0]["retrievers"]["ranker"]["rank"] == 1
        product = {"id": "new-1", "title": "Galaxy Buds case"}
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert client.post("/products", json={"products": [product]}, headers=auth).status_code < 300
        assert client.post("/admin/compact", headers=auth).status_code == 200
        after = client.get("/search", params={"q": "galaxy buds case", "k": 3}).json()
        assert "ranker" in after["results"][0]["retrievers"]
    manifest = json.loads((service_index / "manifest.json").read_text())
    assert manifest["config"]["ranker"]["model"] == ""


def test_plain_service_has_no_ranker(service_index):
    with TestClient(create_app(ServiceSettings(index_dir=service_index))) as client:
        body = client.get("/search", params={"q": "galaxy buds", "k": 3}).json()
        assert "ranker" not in body["results"][0]["retrievers"]


def test_serve_refuses_a_bad_ranker_directory_before_starting(service_index, tmp_path):
    from typer.testing import CliRunner

    from shopmatch.cli import app

    result = CliRunner().invoke(app, ["serve", str(service_index), "--ranker", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "nope: no such ranker directory" in result.output
