"""The personalization stage in the search path: a shopper with no history gets exactly the plain
ranking; one whose clicks went to a brand gets that brand first; user_id flows from the query
(the CLI's --user-id) to the user features."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import shopmatch.personalize.stage as stage
from shopmatch.backends.inprocess.snapshot import Snapshot
from shopmatch.backends.inprocess.static import StaticIndex
from shopmatch.config import PipelineConfig
from shopmatch.personalize.features import USER_FEATURE_NAMES, user_features
from shopmatch.personalize.profiles import ProductFacts, ProfileStore, UserProfile
from shopmatch.query import Query
from shopmatch.search import score_candidates, search
from tests.personalize.conftest import PRODUCTS

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def profiles_file(tmp_path_factory):
    store = ProfileStore()
    for i in range(3):
        store.add("bolt-fan", "click", ProductFacts("Bolt", ("Electronics", "Cables")), NOW - timedelta(days=i))
    store.add("garden-fan", "purchase", ProductFacts("Rake Co", ("Garden",)), NOW - timedelta(days=1))
    return store.save(tmp_path_factory.mktemp("profiles") / "profiles.json")


def snapshot(model="", profiles="", **settings):
    index = StaticIndex.build(PRODUCTS, PipelineConfig(retrievers=("lexical",)))
    personalize = replace(index.config.personalize, model=model, profiles=profiles, **settings)
    index.config = replace(index.config, personalize=personalize)
    return Snapshot.of(index)


def ids(page):
    return [r.product_id for r in page.results]


PLAIN = ["a0", "a1", "a2", "b0", "b1", "b2"]


def test_no_user_and_no_history_get_exactly_the_plain_ranking(personalizer_dir, profiles_file):
    plain = search(snapshot(), [Query("usb cable", k=6)])[0]
    assert ids(plain) == PLAIN
    personal = snapshot(str(personalizer_dir), str(profiles_file))
    for query in (
        Query("usb cable", k=6),  # no user
        Query("usb cable", k=6, user_id="stranger"),  # no profile
        Query("usb cable", k=6, profile=UserProfile()),  # an empty one
    ):
        page = search(personal, [query])[0]
        assert ids(page) == PLAIN
        assert [r.score for r in page.results] == [r.score for r in plain.results]
        assert "personal" not in page.results[0].sources
    # a history that says nothing about these products: every candidate gets the same user features,
    # the personalizer adds the same number to each, and the order stays the plain one
    page = search(personal, [Query("usb cable", k=6, user_id="garden-fan")])[0]
    assert ids(page) == PLAIN and page.results[0].sources["personal"]["rank"] == 1


def test_a_shoppers_brand_goes_first(personalizer_dir, profiles_file):
    personal = snapshot(str(personalizer_dir), str(profiles_file))
    page = search(personal, [Query("usb cable", k=6, user_id="bolt-fan")])[0]
    assert ids(page) == ["b0", "b1", "b2", "a0", "a1", "a2"]  # Bolt first, each brand in its plain order
    assert np.all(np.diff([r.score for r in page.results]) <= 0)
    scores = score_candidates(personal, Query("usb cable", user_id="bolt-fan"), ["a0", "b2"])
    assert scores[1] > scores[0]  # rerank mode too
    plain_scores = score_candidates(personal, Query("usb cable"), ["a0", "b2"])
    assert plain_scores[0] > plain_scores[1]


def test_top_n_limits_the_reordering(personalizer_dir, profiles_file):
    personal = snapshot(str(personalizer_dir), str(profiles_file), top_n=4)  # a0, a1, a2, b0 re-ordered
    page = search(personal, [Query("usb cable", k=6, user_id="bolt-fan")])[0]
    assert ids(page) == ["b0", "a0", "a1", "a2", "b1", "b2"]


def test_the_user_id_reaches_the_user_features(personalizer_dir, profiles_file, monkeypatch):
    seen = []

    def spy(profile, records):
        seen.append((profile, [r["brand"] for r in records]))
        return user_features(profile, records)

    monkeypatch.setattr(stage, "user_features", spy)
    search(snapshot(str(personalizer_dir), str(profiles_file)), [Query("usb cable", k=3, user_id="bolt-fan")])
    ((profile, brands),) = seen
    assert profile.brand_share("bolt") == 1.0 and sorted(brands) == sorted(p.brand for p in PRODUCTS)
    features = user_features(profile, [{"brand": "Bolt", "category": ["Electronics", "Cables"]}])
    assert features[0, USER_FEATURE_NAMES.index("user_brand_affinity")] == 1.0
    assert features[0, USER_FEATURE_NAMES.index("user_history")] == pytest.approx(np.log1p(profile.total))


def test_cli_search_with_user_id(personalizer_dir, profiles_file, tmp_path):
    from typer.testing import CliRunner

    from shopmatch.cli import app
    from shopmatch.pipeline import SearchPipeline

    SearchPipeline.build(PRODUCTS, PipelineConfig(retrievers=("lexical",))).save(tmp_path / "index")
    runner = CliRunner()
    base = ["search", str(tmp_path / "index"), "usb cable", "-k", "6", "--json"]
    personal = ["--profiles", str(profiles_file), "--personalizer", str(personalizer_dir)]
    import json

    plain = json.loads(runner.invoke(app, [*base, *personal]).stdout)
    fan = json.loads(runner.invoke(app, [*base, *personal, "--user-id", "bolt-fan"]).stdout)
    assert [r["product_id"] for r in plain["results"]] == PLAIN
    assert [r["product_id"] for r in fan["results"]][:3] == ["b0", "b1", "b2"]
    bad = runner.invoke(app, [*base, "--profiles", str(tmp_path / "nope.json"), "--user-id", "x"])
    assert bad.exit_code != 0 and "nope.json" in bad.output
