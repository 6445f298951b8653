"""Training the ranker from shopper events: position-bias correction on a synthetic log, the event
features (stored with the ranker, no leak of a row's own pair), the CLI end to end, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from typer.testing import CliRunner

from shopmatch.cli import app
from shopmatch.config import PipelineConfig
from shopmatch.events import Impression, Interaction, collect_events, write_events
from shopmatch.judgments import GainMap, read_judgments
from shopmatch.pipeline import SearchPipeline
from shopmatch.rank.event_features import EVENT_FEATURE_NAMES, EventFeatures
from shopmatch.rank.features import FEATURE_NAMES
from shopmatch.rank.from_events import event_ranking_data, shown_orderings, train_from_events
from shopmatch.rank.model import Ranker

NOW = datetime(2026, 12, 6, tzinfo=UTC)
PRIOR_RANK, RELEVANT = 0, 1  # the columns the synthetic features use: the pipeline's rank, relevance


def top_clicked_log(queries=120, sessions=30, shuffled=0.3, seed=0):
    """The shopper clicks position 1 whatever it shows; lower down, only what is relevant (and seldom).
    The pipeline's order (feature ``PRIOR_RANK``) has nothing to do with relevance; a share of the
    sessions is shown shuffled, which is what lets a correction tell position from relevance."""
    rng = np.random.default_rng(seed)
    events, features = [], {}
    for q in range(queries):
        relevant = rng.random(6) < 0.35
        products = [f"q{q}-p{i}" for i in range(6)]
        for i, p in enumerate(products):
            row = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
            row[PRIOR_RANK], row[RELEVANT], row[2] = i + 1, float(relevant[i]), rng.random()
            features[p] = row
        for s in range(sessions):
            order = rng.permutation(6) if rng.random() < shuffled else np.arange(6)
            shown = [products[i] for i in order]
            events.append(Impression(f"s{q}-{s}", f"query {q}", tuple(shown), NOW))
            for k, i in enumerate(order):
                chance = 0.8 if k == 0 else 0.9 / (k + 1) * (0.9 if relevant[i] else 0.02)
                if rng.random() < chance:
                    events.append(Interaction("click", f"s{q}-{s}", shown[k], NOW))
    return collect_events(events), lambda text, wanted: (list(wanted), np.stack([features[p] for p in wanted]))


AS_IS = {"rank_features": True, "monotone": False}
"""The synthetic columns are not what their names say (column 1, the relevance, is ``lexical_rank``)."""


@pytest.fixture(scope="module")
def synthetic():
    return top_clicked_log()


def first_choice(ranker: Ranker) -> str:
    """Which the ranker puts first: an irrelevant product the pipeline ranks 1st, or a relevant one it ranks 3rd."""
    rows = np.zeros((2, len(FEATURE_NAMES)), dtype=np.float32)
    rows[0, PRIOR_RANK], rows[1, PRIOR_RANK], rows[1, RELEVANT] = 1, 3, 1
    scores = ranker.predict(np.hstack([rows, ranker.groups[0].values(["unseen-a", "unseen-b"])]))
    return "relevant" if scores[1] > scores[0] else "top"


def test_naive_click_through_learns_the_top_position(synthetic):
    log, features_of = synthetic
    data = event_ranking_data(log, features_of, debias="none", label_model="ctr")
    naive = train_from_events(data, rounds=50, **AS_IS)
    assert first_choice(naive) == "top"


@pytest.mark.parametrize(
    ("debias", "model"), [("position", "ctr"), ("ipw", "ctr"), ("click-model", "pbm"), ("click-model", "coec")]
)
def test_corrections_rank_the_relevant_first(synthetic, debias, model):
    log, features_of = synthetic
    data = event_ranking_data(log, features_of, debias=debias, label_model=model)
    corrected = train_from_events(data, rounds=50, **AS_IS)
    assert first_choice(corrected) == "relevant"


def test_weights_follow_the_fitted_propensities(synthetic):
    log, features_of = synthetic
    ipw = event_ranking_data(log, features_of, debias="ipw")
    plain = event_ranking_data(log, features_of, debias="position")
    assert np.all(plain.weights == 1.0)
    theta = np.clip(ipw.propensities, 1 / 20, 1)
    assert ipw.propensities[0] == 1.0 and np.all(np.diff(ipw.propensities) < 0)  # top examined most
    expected = 1 / theta[ipw.positions]
    np.testing.assert_allclose(ipw.weights, expected / expected.mean(), rtol=1e-6)
    assert ipw.weights[ipw.positions == 5].mean() > 3 * ipw.weights[ipw.positions == 0].mean()


def test_groups_are_the_orderings_shown(synthetic):
    log, features_of = synthetic
    data = event_ranking_data(log, features_of)
    orderings = shown_orderings(log, data_config())
    assert len(data.groups) == len(orderings) and sum(data.groups) == 6 * len(orderings)
    assert sorted(set(data.positions.tolist())) == list(range(6))
    assert data.features.shape[1] == len(FEATURE_NAMES) + len(EVENT_FEATURE_NAMES)


def data_config():
    from shopmatch.events.click_models import ClickModelConfig

    return ClickModelConfig()


def test_event_features_leave_the_rows_own_pair_out():
    log = collect_events(
        [
            Impression("s1", "mug", ("a", "b"), NOW),
            Interaction("purchase", "s1", "a", NOW),
            Impression("s2", "cup", ("b", "c"), NOW),
        ]
    )
    data = event_ranking_data(
        log, lambda text, wanted: (list(wanted), np.zeros((len(wanted), len(FEATURE_NAMES)), np.float32))
    )
    purchase = len(FEATURE_NAMES) + EVENT_FEATURE_NAMES.index("event_purchase_rate")
    impressions = len(FEATURE_NAMES) + EVENT_FEATURE_NAMES.index("event_impressions")
    table = data.events
    rows = {(q.split("\t")[0], i): r for r, (q, i) in enumerate(zip(*_row_keys(data), strict=True))}
    mug_a = data.features[rows[("mug", 0)]]
    assert mug_a[impressions] == 0.0  # a was shown for mug only: nothing left once that pair is out
    assert table.values(["a"])[0, 2] > table.values(["c"])[0, 2]  # at query time its purchase counts
    assert mug_a[purchase] == pytest.approx(table.means[3])  # the prior, not its own purchase


def _row_keys(data):
    keys, places = [], []
    for q, size in zip(data.query_ids, data.groups, strict=True):
        keys += [q] * size
        places += list(range(size))
    return keys, places


def test_event_features_round_trip(tmp_path, synthetic):
    log, _ = synthetic
    table = EventFeatures.from_log(log)
    table.save(tmp_path)
    again = EventFeatures.load(tmp_path)
    np.testing.assert_allclose(again.values(["q1-p0", "nope"]), table.values(["q1-p0", "nope"]), rtol=1e-5)
    (tmp_path / "event_features.json").write_text("{")
    with pytest.raises(Exception, match="event_features.json: unreadable event features"):
        EventFeatures.load(tmp_path)


# ---- the CLI ---------------------------------------------------------------------------------------

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def index(catalog, tmp_path_factory):
    config = PipelineConfig(retrievers=("lexical",))
    return SearchPipeline.build(catalog.products, config).save(tmp_path_factory.mktemp("i") / "lexical")


@pytest.fixture(scope="module")
def events_file(index, fixtures, tmp_path_factory):
    """Shoppers over the fixture judgments: the index's top 5 shown, clicks by label and position."""
    gains = GainMap.esci()
    judged = read_judgments(fixtures / "catalog" / "judgments.tsv", gains=gains)
    qrels = judged.qrels(gains)
    pipeline = SearchPipeline.load(index)
    rng = np.random.default_rng(3)
    events = []
    for q in judged.query_ids:
        shown = [p for p, _ in pipeline.search_ids([judged.queries[q]], k=5)[0]]
        for s in range(20):
            sid = f"{q}-{s}"
            events.append(Impression(sid, judged.queries[q], tuple(shown), NOW))
            for k, p in enumerate(shown):
                if rng.random() < (0.05 + 0.9 * qrels[q].get(p, 0.0)) / (k + 1):
                    events.append(Interaction("click", sid, p, NOW))
    path = tmp_path_factory.mktemp("e") / "events.jsonl"
    write_events(events, path)
    return path


def test_train_from_events_end_to_end(index, events_file, tmp_path):
    out = tmp_path / "ranker"
    result = invoke("train", "ranker", index, "--events", events_file, "-o", out, "--rounds", "20")
    assert result.exit_code == 0, result.output
    assert "Position propensities" in result.stdout and "Feature importance" in result.stdout
    manifest = json.loads((out / "ranker.json").read_text())
    assert manifest["feature_groups"] == ["events"]
    assert manifest["features"][-len(EVENT_FEATURE_NAMES) :] == list(EVENT_FEATURE_NAMES)
    assert manifest["summary"]["debias"] == "click-model" and manifest["summary"]["label_model"] == "coec"
    assert len(manifest["summary"]["propensities"]) == 5
    for name in ("event_features.json", "propensities.png", "importance.png"):
        assert (out / name).is_file(), name
    ranked = invoke("search", index, "usb cable", "-k", "3", "--json", "--ranker", out)
    assert ranked.exit_code == 0, ranked.output
    assert json.loads(ranked.stdout)["results"][0]["retrievers"]["ranker"]["rank"] == 1
    loaded = SearchPipeline.load(index).with_ranker(out).ranker
    assert isinstance(loaded.groups[0], EventFeatures)


def test_debias_and_label_model_options(index, events_file, tmp_path):
    result = invoke(
        "train",
        "ranker",
        index,
        "--events",
        events_file,
        "-o",
        tmp_path / "r",
        "--debias",
        "ipw",
        "--label-model",
        "pbm",
        "--unshown",
        "3",
        "--rounds",
        "5",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "r" / "ranker.json").read_text())["summary"]
    assert (summary["debias"], summary["label_model"]) == ("ipw", "pbm")
    assert summary["rows"] > summary["pairs"]  # the not-shown candidates joined the groups
    result = invoke("train", "ranker", index, "--events", events_file, "-o", tmp_path / "x", "--debias", "magic")
    assert result.exit_code != 0 and "unknown debiasing 'magic'" in result.output


def test_bad_events_name_the_file_line_and_field(index, tmp_path):
    bad = tmp_path / "events.jsonl"
    bad.write_text(
        '{"type": "impression", "search_id": "s1", "query": "usb", "results": ["p001"], "ts": "2026-12-06T10:00Z"}\n'
        '{"type": "impression", "search_id": "s2", "query": "usb", "results": "p001", "ts": "2026-12-06T10:00Z"}\n'
    )
    result = invoke("train", "ranker", index, "--events", bad, "-o", tmp_path / "r")
    assert result.exit_code != 0
    assert f"{bad}:2: field 'results'" in " ".join(result.output.split())
    result = invoke("train", "ranker", index, "--events", tmp_path / "missing.jsonl", "-o", tmp_path / "r")
    assert result.exit_code != 0 and "missing.jsonl" in result.output
    both = invoke("train", "ranker", index, "--events", bad, "--judgments", bad, "-o", tmp_path / "r")
    assert both.exit_code != 0 and "either --judgments or --events" in both.output


def test_a_ranker_without_its_event_features_is_a_clear_error(index, events_file, tmp_path):
    out = tmp_path / "ranker"
    assert invoke("train", "ranker", index, "--events", events_file, "-o", out, "--rounds", "3").exit_code == 0
    (out / "event_features.json").unlink()
    result = invoke("search", index, "usb", "--ranker", out)
    assert result.exit_code != 0 and "event_features.json: not found" in result.output


def test_unshown_candidates_join_each_group_at_grade_zero():
    log = collect_events([Impression("s1", "mug", ("a", "b"), NOW), Interaction("click", "s1", "b", NOW)])

    def features_of(text, wanted):  # the shown ones first, then the pipeline's other candidates
        ids = [*wanted, "c", "d", "e"]
        return ids, np.arange(len(ids) * len(FEATURE_NAMES), dtype=np.float32).reshape(len(ids), -1)

    assert event_ranking_data(log, features_of, unshown=0).groups == [2]
    assert event_ranking_data(log, features_of).groups == [5]  # by default all the candidates
    data = event_ranking_data(log, features_of, unshown=2, debias="ipw")
    assert data.groups == [4]
    assert data.labels[2:].tolist() == [0, 0] and data.labels[1] > 0
    assert data.positions.tolist() == [0, 1, 10, 10]  # a place of their own after the 10 modelled
    assert data.features[2, 0] == 2 * len(FEATURE_NAMES)  # "c": the first not shown


# ---- one fixed ranking: the shown products are the pipeline's top k --------------------------------

RANK, CONTENT = FEATURE_NAMES.index("fused_rank"), FEATURE_NAMES.index("title_coverage")


def fixed_ranking_log(queries=150, candidates=20, k=5, sessions=20, seed=0):
    """Every query shows the pipeline's top ``k`` of ``candidates``, always in the same order; the
    pipeline's order (``fused_rank``) has little to do with relevance, a content feature
    (``title_coverage``) a lot. Rows of the rest of the candidates join the groups at grade 0, so a
    ranker reading the rank learns "rank ≤ k" — the shown set — and never promotes anything."""
    rng = np.random.default_rng(seed)
    events, features, lists = [], {}, {}
    for q in range(queries):
        relevant = rng.random(candidates) < 0.3
        products = [f"f{q}-p{i}" for i in range(candidates)]
        lists[f"query {q}"] = products
        for i, p in enumerate(products):
            row = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
            row[RANK] = i + 1
            row[CONTENT] = float(relevant[i]) * 0.6 + rng.random() * 0.5
            features[p] = row
        shown = products[:k]
        for s in range(sessions):
            events.append(Impression(f"f{q}-{s}", f"query {q}", tuple(shown), NOW))
            for position, p in enumerate(shown):
                chance = (0.05 + 0.9 * relevant[position]) / (position + 1)
                if rng.random() < chance:
                    events.append(Interaction("click", f"f{q}-{s}", p, NOW))

    def features_of(text, wanted):
        ids = [*wanted, *(p for p in lists[text] if p not in set(wanted))]
        return ids, np.stack([features[p] for p in ids])

    return collect_events(events), features_of


def promotes_from_below(ranker: Ranker) -> bool:
    """Whether a candidate at rank 15 with a relevant-looking title goes above a shown one (rank 2)
    whose title does not."""
    rows = np.zeros((2, len(FEATURE_NAMES)), dtype=np.float32)
    rows[0, RANK], rows[0, CONTENT] = 2, 0.1
    rows[1, RANK], rows[1, CONTENT] = 15, 0.9
    if ranker.groups:
        rows = np.hstack([rows, ranker.groups[0].values(["unseen-a", "unseen-b"])])
    scores = ranker.predict(rows)
    return bool(scores[1] > scores[0])


@pytest.fixture(scope="module")
def fixed_ranking():
    return fixed_ranking_log()


def test_without_rank_features_the_ranker_promotes_what_clicks_say_is_relevant(fixed_ranking):
    log, features_of = fixed_ranking
    data = event_ranking_data(log, features_of)
    default = train_from_events(data, rounds=50)
    with_ranks = train_from_events(data, rounds=50, rank_features=True)
    assert promotes_from_below(default)
    assert not promotes_from_below(with_ranks)  # it learned the shown set: rank <= 5
    assert default.summary["rank_features"] is False and with_ranks.summary["rank_features"] is True
    ranks = [n for n in FEATURE_NAMES if n.endswith("_rank")]
    assert all(default.importances()[n] == 0 for n in ranks)


@pytest.fixture(scope="module")
def hybrid_index(catalog, tmp_path_factory):
    config = PipelineConfig(retrievers=("lexical", "word_vectors"))
    return SearchPipeline.build(catalog.products, config).save(tmp_path_factory.mktemp("h") / "hybrid")


@pytest.mark.parametrize("text", ["usb cable", "phone charger"])
def test_pipeline_features_are_what_the_ranker_stage_reads(hybrid_index, text):
    """Training rows from events carry the features the stage computes when searching. Fused again
    over the top 5 alone (rerank mode, the first version), the fused and word-vector ranks of these
    queries differ from the search's: the ranker would learn an order it never sees."""
    from shopmatch.rank.from_events import pipeline_features

    pipeline = SearchPipeline.load(hybrid_index)

    class Recorder:
        groups = ()
        last = None

        def predict(self, features):
            Recorder.last = features.copy()
            return -np.arange(len(features), dtype=np.float64)

    pipeline.index.ranker = Recorder()
    found = [p for p, _ in pipeline.search_ids([text], k=100)[0]]
    pipeline.index.ranker = None
    shown = found[2:4]
    ids, rows = pipeline_features(pipeline, candidates=5)(text, shown)
    assert ids[:2] == shown and sorted(ids) == sorted(found[:5])
    where = {p: i for i, p in enumerate(found)}
    np.testing.assert_allclose(rows, Recorder.last[[where[p] for p in ids]], rtol=1e-6)


def test_a_subset_of_event_rows_keeps_every_field_and_its_rows_positions():
    from shopmatch.rank.from_events import EventRankingData

    data = EventRankingData(
        ["a", "b"],
        np.arange(10, dtype=np.float32).reshape(5, 2),
        np.array([1, 0, 2, 0, 1]),
        [2, 3],
        (0.0, 0.5, 1.0),
        ("x", "y"),
        positions=np.array([0, 1, 0, 1, 2]),
        weights=np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        facts={"debias": "position"},
    )
    part = data.subset(["b"])
    assert isinstance(part, EventRankingData)
    assert part.query_ids == ["b"] and part.groups == [3] and part.labels.tolist() == [2, 0, 1]
    assert part.positions.tolist() == [0, 1, 2] and part.weights.tolist() == [3.0, 4.0, 5.0]
    assert part.gains == (0.0, 0.5, 1.0) and part.feature_names == ("x", "y") and part.facts == data.facts
