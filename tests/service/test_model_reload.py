"""Models swapped into a running service: ``POST /admin/models/reload`` and ``serve --models-dir``.

Searches running during reloads never fail and each is answered wholly by one generation of
models; a broken model is refused and the old one keeps serving."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shopmatch.rank.features import FEATURE_NAMES
from shopmatch.rank.model import Ranker
from shopmatch.service import ServiceSettings, create_app
from shopmatch.service.models import newest_version

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _ranker(feature: str, sign: float, path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(FEATURE_NAMES))).astype(np.float32)
    y = (sign * x[:, FEATURE_NAMES.index(feature)] > 0).astype(int)
    return Ranker.train(x, y, [10] * 20, FEATURE_NAMES, rounds=10).save(path)


@pytest.fixture(scope="module")
def rankers(tmp_path_factory):
    root = tmp_path_factory.mktemp("rankers")
    return _ranker("bm25f", 1.0, root / "up"), _ranker("bm25f", -1.0, root / "down")


def _ids(body):
    return [r["product_id"] for r in body["results"]]


def test_reload_swaps_models_and_concurrent_searches_are_wholly_old_or_new(service_index, rankers):
    up, down = rankers
    settings = ServiceSettings(index_dir=service_index, token=TOKEN, ranker=up)
    with TestClient(create_app(settings)) as client:
        params = {"q": "wireless earbuds", "k": 5}
        expected = {1: _ids(client.get("/search", params=params).json())}
        assert client.get("/health").json()["models"]["ranker"]["version"] == "up"
        stop = threading.Event()
        answers: list[dict] = []

        def searching():
            while not stop.is_set():
                response = client.get("/search", params=params)
                assert response.status_code == 200, response.text
                answers.append(response.json())

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(searching) for _ in range(3)]
            for generation, ranker in enumerate([down, up, down], start=2):
                time.sleep(0.05)
                reloaded = client.post("/admin/models/reload", json={"ranker": str(ranker)}, headers=AUTH)
                assert reloaded.status_code == 200, reloaded.text
                assert reloaded.json()["models"]["generation"] == generation
            time.sleep(0.05)
            stop.set()
            for future in futures:
                future.result()
        expected[2] = _ids(client.post("/search", json={"q": params["q"], "k": 5}).json())  # generation 4: down
        health = client.get("/health").json()
        assert health["models"]["ranker"]["version"] == "down" and health["models"]["generation"] == 4
    assert expected[1] != expected[2]
    by_ranker = {"up": expected[1], "down": expected[2]}
    seen = set()
    for body in answers:  # generation g served by: 1, 3 → up; 2, 4 → down
        served = "up" if body["models"] % 2 == 1 else "down"
        assert _ids(body) == by_ranker[served], body["models"]
        seen.add(body["models"])
    assert len(seen) >= 2


def test_a_broken_model_is_refused_and_the_old_one_keeps_serving(service_index, rankers, tmp_path):
    up, _ = rankers
    broken = tmp_path / "broken"
    shutil.copytree(up, broken)
    (broken / "model.txt").unlink()
    other = tmp_path / "other-features"
    shutil.copytree(up, other)
    manifest = json.loads((other / "ranker.json").read_text())
    manifest["features"] = manifest["features"][:-1]
    (other / "ranker.json").write_text(json.dumps(manifest))
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text('[pipeline]\nretrievers = ["word_vectors"]\n')
    index_time = tmp_path / "index-time.toml"
    index_time.write_text("[lexical]\nk1 = 2.0\n")
    settings = ServiceSettings(index_dir=service_index, token=TOKEN, ranker=up)
    with TestClient(create_app(settings)) as client:
        before = _ids(client.get("/search", params={"q": "usb cable", "k": 5}).json())
        cases = [
            ({"ranker": str(broken)}, "ranker", "model.txt: not found"),
            ({"ranker": str(other)}, "ranker", "other features"),
            ({"ranker": str(tmp_path / "nope")}, "ranker", "no such ranker directory"),
            ({"config": str(bad_toml)}, "config", "no word_vectors retriever"),
            ({"config": str(index_time)}, "config", "[lexical] is fixed"),
            ({"reranker": str(tmp_path)}, "reranker", "config.json: not found"),
        ]
        for body, field, message in cases:
            response = client.post("/admin/models/reload", json=body, headers=AUTH)
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["code"] == "model_rejected" and error["field"] == field and message in error["message"]
        assert client.post("/admin/models/reload", json={"ranker": str(up)}).status_code == 401  # no token
        health = client.get("/health").json()
        assert health["models"]["generation"] == 1 and health["models"]["ranker"]["version"] == "up"
        assert _ids(client.get("/search", params={"q": "usb cable", "k": 5}).json()) == before


def test_reload_with_a_query_time_config_and_an_empty_body(service_index, rankers, tmp_path):
    up, _ = rankers
    lexical_only = tmp_path / "lexical.toml"
    lexical_only.write_text('[pipeline]\nretrievers = ["lexical"]\n[ranker]\ntop_n = 20\n')
    with TestClient(create_app(ServiceSettings(index_dir=service_index, token=TOKEN))) as client:
        hybrid = client.get("/search", params={"q": "usb cable", "k": 3}).json()["results"][0]["retrievers"]
        assert "dense" in hybrid
        body = {"config": str(lexical_only), "ranker": str(up)}
        answer = client.post("/admin/models/reload", json=body, headers=AUTH)
        assert answer.status_code == 200, answer.text
        first = client.get("/search", params={"q": "usb cable", "k": 3}).json()["results"][0]
        assert "dense" not in first["retrievers"] and "ranker" in first["retrievers"]
        again = client.post("/admin/models/reload", headers=AUTH)  # no body: the same paths read again
        assert again.status_code == 200 and again.json()["models"]["generation"] == 3
        assert again.json()["models"]["config"]["source"] == str(lexical_only)
        off = client.post("/admin/models/reload", json={"ranker": ""}, headers=AUTH).json()
        assert off["models"]["ranker"] is None


def test_a_watched_directory_loads_the_newest_complete_version(service_index, rankers, tmp_path):
    up, down = rankers
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(up, models / "ranker-20261206T100000Z")
    settings = ServiceSettings(index_dir=service_index, token=TOKEN, models_dir=models, models_poll_seconds=0.05)
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        assert health["models"]["ranker"]["version"] == "ranker-20261206T100000Z"
        (models / ".ranker-20261206T110000Z.tmp").mkdir()  # a writer at work: ignored
        broken = models / "ranker-20261206T120000Z"
        broken.mkdir()
        shutil.copy(up / "ranker.json", broken)  # no model.txt: refused, the old one serves
        _wait(lambda: client.get("/health").json()["models_watch"]["last_error"])
        assert "model.txt: not found" in client.get("/health").json()["models_watch"]["last_error"]
        assert client.get("/search", params={"q": "usb cable"}).status_code == 200
        shutil.copytree(down, models / ".incoming")
        os.rename(models / ".incoming", models / "ranker-20261206T130000Z")  # atomically, as retrain does
        _wait(lambda: client.get("/health").json()["models"]["ranker"]["version"] == "ranker-20261206T130000Z")
        assert client.get("/health").json()["models_watch"]["last_error"] is None
    assert newest_version(models).name == "ranker-20261206T130000Z"


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
