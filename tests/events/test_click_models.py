"""Click models on clicks drawn from a known position-based model (a tiny generator here; bench/ is never imported)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from shopmatch.errors import ConfigError
from shopmatch.events import Impression, Interaction, collect_events
from shopmatch.events.click_models import (
    MODELS,
    ClickModelConfig,
    build_sessions,
    click_labels,
    fit_pbm,
)

NOW = datetime(2026, 12, 6, tzinfo=UTC)
K = 10


def pbm_events(alpha, eta, sessions_per_query, *, shuffled_share=1.0, seed=0, buy=None):
    """Impressions of each query's products and clicks drawn as examined(η_k) × attractive(α_qp).

    A session shows the query's products in their own order (product 0 first: the ranker's order)
    or, with probability ``shuffled_share``, in a random order. ``buy[q, p]``: the chance that a
    click is followed by a purchase.
    """
    rng = np.random.default_rng(seed)
    queries, products = alpha.shape
    events = []
    for q in range(queries):
        for s in range(sessions_per_query):
            order = rng.permutation(products)[:K] if rng.random() < shuffled_share else np.arange(K)
            ids = tuple(f"p{p}" for p in order)
            search_id = f"q{q}-s{s}"
            events.append(Impression(search_id, f"query {q}", ids, NOW))
            clicked = rng.random(K) < eta * alpha[q, order]
            for position in np.flatnonzero(clicked):
                events.append(Interaction("click", search_id, ids[position], NOW))
                if buy is not None and rng.random() < buy[q, order[position]]:
                    events.append(Interaction("purchase", search_id, ids[position], NOW))
    return collect_events(events)


def propensities(theta):
    return (1.0 / np.arange(1, K + 1)) ** theta


@pytest.mark.parametrize("theta", [0.5, 1.0, 2.0])
def test_pbm_recovers_the_propensities_where_click_through_cannot(theta):
    rng = np.random.default_rng(1)
    alpha = np.sort(rng.uniform(0.05, 0.95, size=(12, 15)), axis=1)[:, ::-1]  # the ranker's order: best first
    log = pbm_events(alpha, propensities(theta), 500, shuffled_share=0.5)
    labels = click_labels(log, "pbm", ClickModelConfig(prior_strength=0))
    assert labels.converged
    truth = propensities(theta)
    assert np.abs(labels.propensities - truth).max() < 0.03, (labels.propensities.round(3), truth.round(3))
    seen = truth >= 0.1  # where clicks are frequent enough for a relative error to mean something
    assert np.abs(labels.propensities[seen] / truth[seen] - 1).max() < 0.1
    # the raw click-through curve confounds position with the ranker putting its best products first
    naive = labels.engagement_by_position / labels.engagement_by_position[0]
    assert np.abs(naive / truth - 1).max() > 0.25
    # and the attractiveness on the generator's scale (position 1 always examined), to sampling noise
    estimated = {(q, p): s for q, p, s in zip(labels.queries, labels.product_ids, labels.score, strict=True)}
    examined = dict(zip(zip(labels.queries, labels.product_ids, strict=True), labels.examined, strict=True))
    z = []  # each error in standard errors of a proportion over the pair's examinations
    for q, p in np.ndindex(alpha.shape):
        pair = (f"query {q}", f"p{p}")
        z.append(abs(estimated[pair] - alpha[q, p]) / np.sqrt(alpha[q, p] * (1 - alpha[q, p]) / examined[pair]))
    # unbiased estimates with known propensities: about 0.8 (the mean of |N(0, 1)|); measured 1.0-1.15 here,
    # the propensities being estimated too; naive click-through is off by several standard errors
    assert np.mean(z) < 1.5, np.mean(z)


def test_naive_labels_are_position_biased_and_pbm_labels_are_not():
    alpha = np.full((3, K), 0.4)  # every product equally attractive
    log = pbm_events(alpha, propensities(1.0), 1500, shuffled_share=0.2)  # mostly shown in one fixed order
    config = ClickModelConfig(prior_strength=0)
    by_product = {}
    for model in MODELS:
        labels = click_labels(log, model, config)
        scores = np.zeros((3, K))
        for q, p, s in zip(labels.queries, labels.product_ids, labels.score, strict=True):
            scores[int(q.split()[1]), int(p[1:])] = s
        by_product[model] = scores / scores.mean()  # relative to each model's own scale
    ctr = by_product["ctr"].mean(axis=0)  # products by their usual position
    assert np.all(np.diff(ctr) < 0.05) and ctr[-3:].mean() < 0.4 * ctr[:3].mean(), ctr.round(2)
    for model in ("pbm", "coec"):
        flat = by_product[model]
        assert np.abs(flat - 1).max() < 0.25, (model, flat.round(2))
        means = flat.mean(axis=0)
        assert means[-3:].mean() > 0.8 * means[:3].mean(), (model, means.round(2))


def test_purchases_weigh_more_than_clicks():
    alpha = np.full((1, K), 0.5)
    buy = np.zeros((1, K))
    buy[0, 3] = 0.5  # product p3: half its clicks end in a purchase
    log = pbm_events(alpha, propensities(1.0), 2000, buy=buy)
    weighted = click_labels(log, "pbm")
    plain = click_labels(log, "pbm", ClickModelConfig(purchase_weight=1.0))
    assert weighted.score_of("query 0", "p3") > 2 * weighted.score_of("query 0", "p4")
    assert abs(plain.score_of("query 0", "p3") / plain.score_of("query 0", "p4") - 1) < 0.15
    i = weighted.product_ids.index("p3")
    assert weighted.purchases[i] > 0 and weighted.clicks[i] >= weighted.purchases[i]
    # the weights do not move the propensities: carts and purchases are not corrected for position twice
    assert np.allclose(weighted.propensities, plain.propensities)


def test_deterministic():
    alpha = np.random.default_rng(2).uniform(0.1, 0.9, size=(4, 12))
    log = pbm_events(alpha, propensities(1.0), 100)
    for model in MODELS:
        a, b = click_labels(log, model), click_labels(log, model)
        assert a.product_ids == b.product_ids and np.array_equal(a.score, b.score)
        assert np.array_equal(a.propensities, b.propensities)


def test_sessions_leave_out_orphans_far_positions_and_empty_searches():
    events = [
        Impression("s1", "Mug", ("a", "b", "c"), NOW),
        Impression("s2", "mug", ("c", "d"), NOW, page=2, page_size=2),  # positions 3 and 4
        Impression("s3", "mug", (), NOW),
        Interaction("click", "s1", "c", NOW),
        Interaction("add_to_cart", "s1", "a", NOW),
        Interaction("click", "s1", "a", NOW),
        Interaction("purchase", "s2", "c", NOW),
        Interaction("click", "s2", "d", NOW),  # position 4: past the limit
        Interaction("click", "elsewhere", "a", NOW, position=1),  # an orphan
    ]
    sessions = build_sessions(collect_events(events), ClickModelConfig(positions=3))
    products = [sessions.product_ids[p] for p in sessions.row_pair]
    rows = sorted(zip(products, sessions.row_position.tolist(), sessions.row_value.tolist(), strict=True))
    assert rows == [("a", 0, 2.0), ("b", 1, 0.0), ("c", 2, 1.0), ("c", 2, 4.0)]
    assert set(sessions.queries) == {"mug"} and sessions.positions == 3
    assert sessions.row_done[:, products.index("a")].tolist() == [True, True, False]  # click, cart, purchase


def test_counts_and_confidence():
    events = [Impression(f"s{i}", "mug", ("a", "b"), NOW) for i in range(8)]
    events += [Impression(f"t{i}", "mug", ("c",), NOW) for i in range(2)]
    events += [Interaction("click", f"s{i}", "a", NOW) for i in range(4)]
    labels = click_labels(collect_events(events), "ctr", ClickModelConfig(prior_strength=2.0))
    i = labels.product_ids.index("a")
    assert (labels.impressions[i], labels.clicks[i], labels.examined[i]) == (8, 4, 8.0)
    assert labels.confidence[i] == pytest.approx(8 / 10)
    assert labels.confidence[labels.product_ids.index("c")] == pytest.approx(2 / 4)
    mean = 4 / 18  # engagements per examination over every pair
    assert labels.score[i] == pytest.approx((4 + 2 * mean) / (8 + 2))
    assert labels.score[labels.product_ids.index("b")] == pytest.approx(2 * mean / 10)


def test_no_engagement_at_all():
    log = collect_events([Impression("s1", "mug", ("a", "b"), NOW)])
    for model in MODELS:
        labels = click_labels(log, model)
        assert len(labels) == 2 and np.all(labels.score == 0), model


def test_empty_log():
    for model in MODELS:
        assert len(click_labels(collect_events([]), model)) == 0


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown click model 'dbn'"):
        click_labels(collect_events([]), "dbn")


def test_config_from_toml(tmp_path):
    path = tmp_path / "shop.toml"
    path.write_text('[pipeline]\nretrievers = ["lexical"]\n[click_model]\npurchase_weight = 8\npositions = 20\n')
    config = ClickModelConfig.from_toml(path)
    assert (config.purchase_weight, config.positions, config.click_weight) == (8.0, 20, 1.0)
    path.write_text("[click_model]\npurchase_wieght = 8\n")
    with pytest.raises(ConfigError, match=r"shop\.toml: unknown click_model setting\(s\) \['purchase_wieght'\]"):
        ClickModelConfig.from_toml(path)
    path.write_text("[click_model]\nclick_weight = 0\n")
    with pytest.raises(ConfigError, match="click_model.click_weight must be a number in"):
        ClickModelConfig.from_toml(path)


def test_pbm_reports_when_em_stops_early(caplog):
    alpha = np.random.default_rng(3).uniform(0.1, 0.9, size=(2, 12))
    sessions = build_sessions(pbm_events(alpha, propensities(1.0), 50))
    labels = fit_pbm(sessions, ClickModelConfig(max_iterations=2, tolerance=1e-12))
    assert (labels.iterations, labels.converged) == (2, False)
    assert "stopped after 2 EM iterations" in caplog.text


def test_coec_hand_computed():
    events = [Impression(f"s{i}", "drill", ("a", "b"), NOW) for i in range(4)]
    events += [Impression(f"t{i}", "saw", ("c", "d"), NOW) for i in range(4)]
    events += [Interaction("click", "s0", "a", NOW), Interaction("click", "s1", "a", NOW)]
    events += [Interaction("click", "s2", "b", NOW)] + [Interaction("click", f"t{i}", "c", NOW) for i in range(4)]
    labels = click_labels(collect_events(events), "coec", ClickModelConfig(prior_strength=0))
    # clicks per impression: 6/8 at position 1, 1/8 at position 2; expected clicks = impressions × that
    assert labels.propensities.tolist() == [1.0, 1 / 6]
    coec = dict(zip(labels.product_ids, labels.score.tolist(), strict=True))
    assert coec == pytest.approx({"a": 2 / 3, "b": 1 / 0.5, "c": 4 / 3, "d": 0.0})


def test_smoothing_pulls_thin_pairs_towards_the_mean():
    alpha = np.random.default_rng(4).uniform(0.1, 0.9, size=(3, 12))
    sessions = build_sessions(pbm_events(alpha, propensities(1.0), 30))
    raw = fit_pbm(sessions, ClickModelConfig(prior_strength=0))
    smooth = fit_pbm(sessions, ClickModelConfig(prior_strength=5))
    assert np.array_equal(raw.propensities, smooth.propensities)  # the prior acts on the scores only
    x = raw.examined
    mean = np.sum(raw.score * x) / np.sum(x)  # clicks only: the score is the attractiveness
    assert np.allclose(smooth.score, (raw.score * x + 5 * mean) / (x + 5))
    assert np.allclose(smooth.confidence, x / (x + 5)) and np.all(raw.confidence == 1)
    assert np.std(smooth.score) < np.std(raw.score)
