"""Synthetic pairs from unlabeled texts: pseudo-queries are words of their text, negatives share none."""

from __future__ import annotations

import pytest

from shopmatch.errors import ConfigError, DataError
from shopmatch.train.synthetic import SyntheticPairsConfig, synthetic_pairs, words_of

TITLES = [
    "蓝牙耳机 无线 运动 跑步",
    "陶瓷马克杯 咖啡杯 大容量",
    "Galanz microwave oven 20L stainless",
    "USB-C charging cable 2m braided",
    "不锈钢 保温杯 500ml",
    "leather sofa couch black",
]


def test_words_keep_identifiers_and_segment_chinese():
    assert words_of("蓝牙耳机 Sony WH-1000XM4，黑色") == ["蓝牙", "耳机", "Sony", "WH-1000XM4", "黑色"]
    assert words_of("  ，。 ") == []


def test_every_query_is_words_of_its_text_in_order():
    pairs = synthetic_pairs(TITLES, count=200, seed=3)
    positives = [p for p in pairs if p.label == 1]
    assert len(positives) == 200
    for pair in positives:
        words = words_of(pair.text_b)
        assert 1 <= len(words_of(pair.text_a)) <= 3
        # the query's words appear in the text in the same order
        rest = pair.text_b
        for word in words_of(pair.text_a):
            assert word in rest, (pair, words)
            rest = rest[rest.index(word) + len(word) :]


def test_negatives_follow_their_query_and_contain_none_of_its_words():
    pairs = synthetic_pairs(TITLES, count=200, config=SyntheticPairsConfig(negatives=2), seed=1)
    assert len(pairs) > 200 * 2  # nearly every query finds two texts without its words
    query = None
    for pair in pairs:
        if pair.label == 1:
            query = pair.text_a
            continue
        assert pair.text_a == query
        assert not any(w.lower() in pair.text_b.lower() for w in words_of(query))


def test_chinese_words_join_without_spaces_others_with_one():
    pairs = synthetic_pairs(["蓝牙耳机无线运动", "red ceramic coffee mug"], count=100, seed=0)
    chinese = [p.text_a for p in pairs if p.label == 1 and p.text_b.startswith("蓝")]
    assert chinese and all(" " not in q for q in chinese)
    assert any(len(words_of(q)) > 1 for q in chinese)
    english = [p.text_a for p in pairs if p.label == 1 and p.text_b.startswith("red")]
    assert any(" " in q for q in english)


def test_same_seed_same_pairs_other_seed_other_pairs():
    assert synthetic_pairs(TITLES, count=50, seed=7) == synthetic_pairs(TITLES, count=50, seed=7)
    assert synthetic_pairs(TITLES, count=50, seed=7) != synthetic_pairs(TITLES, count=50, seed=8)


def test_the_order_of_the_texts_does_not_matter():
    assert synthetic_pairs(TITLES, count=30) == synthetic_pairs(TITLES[::-1] + TITLES[:2], count=30)


def test_no_negatives_when_every_text_shares_the_words():
    pairs = synthetic_pairs(["red mug", "red mug large"], count=20, config=SyntheticPairsConfig(max_words=1))
    for pair in pairs:
        if pair.label == 0:
            assert pair.text_a == "large"


@pytest.mark.parametrize("texts", [[], ["only one text"], ["", "  ", "，。"]])
def test_too_few_texts_is_an_error(texts):
    with pytest.raises(DataError, match="at least two distinct texts"):
        synthetic_pairs(texts, count=5)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_words": 0}, "max_words"),
        ({"window": 0}, "window"),
        ({"negatives": -1}, "negatives"),
        ({"tries": True}, "tries"),
    ],  # fmt: skip
)
def test_bad_config_is_rejected(options, field):
    with pytest.raises(ConfigError, match=field):
        SyntheticPairsConfig(**options)


@pytest.mark.parametrize("count", [0, -3, 2.5, True])
def test_bad_count_is_rejected(count):
    with pytest.raises(ConfigError, match="count"):
        synthetic_pairs(TITLES, count=count)


def test_the_stage_trains_one_epoch_at_its_own_learning_rate(tiny_model, tmp_path):
    """(Whether a real model learns from the stage is measured in bench/pairs.py; a tiny random one
    does not learn word matching in a few dozen steps.)"""
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig, load_pair_classifier
    from shopmatch.train.synthetic import train_on_synthetic_pairs
    from tests.tiny_model import WORDS

    rng = __import__("random").Random(0)
    titles = [" ".join(rng.sample(WORDS, 5)) for _ in range(60)]
    config = CrossEncoderTrainConfig(model=str(tiny_model), epochs=5, batch_size=8, max_length=16, patience=3)
    summary = train_on_synthetic_pairs(titles, tmp_path / "stage", config, count=40, learning_rate=3e-3)
    assert summary.config["epochs"] == 1 and summary.config["learning_rate"] == 3e-3
    assert summary.config["patience"] == 0 and 40 < summary.data["train_pairs"] <= 80
    assert load_pair_classifier(tmp_path / "stage").num_labels == 1  # a binary pair classifier
    kept = train_on_synthetic_pairs(titles, tmp_path / "kept", config, count=20, learning_rate=None)
    assert kept.config["learning_rate"] == config.learning_rate


def test_queries_come_from_the_sources_and_match_the_whole_text():
    titles = ["red ceramic mug", "usb cable braided", "black leather sofa"]
    texts = [f"{t}\nAcme | blue\nKitchen > Mugs\nholds 350 ml; dishwasher safe" for t in titles]
    pairs = synthetic_pairs(texts, count=60, seed=2, sources=titles)
    assert {p.text_b for p in pairs} <= set(texts)
    for pair in pairs:
        query_words = words_of(pair.text_a)
        if pair.label == 1:
            title = titles[texts.index(pair.text_b)]
            assert all(w in words_of(title) for w in query_words)  # from the title, not the shared lines
        else:
            assert not any(w.lower() in pair.text_b.lower() for w in query_words)
    assert synthetic_pairs(titles, count=30, seed=4) == synthetic_pairs(titles, count=30, seed=4, sources=titles)


def test_sources_must_match_the_texts():
    with pytest.raises(ConfigError, match="one text per text"):
        synthetic_pairs(TITLES, count=5, sources=TITLES[:-1])


def test_the_reranker_stage_trains_on_the_catalog(tiny_model, tmp_path):
    from shopmatch.catalog import Product
    from shopmatch.rerank.config import TRAINING_RECORD
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig, resolved_head
    from shopmatch.train.synthetic import train_reranker_on_synthetic_pairs
    from tests.tiny_model import WORDS

    rng = __import__("random").Random(1)
    products = [Product(str(i), " ".join(rng.sample(WORDS, 4)), brand=rng.choice(WORDS)) for i in range(40)]
    config = CrossEncoderTrainConfig(model=str(tiny_model), epochs=3, batch_size=8, max_length=16, patience=2)
    summary = train_reranker_on_synthetic_pairs(
        products, tmp_path / "stage", config, count=30, texts=["alpha beta gamma"], learning_rate=2e-3
    )
    assert summary.config["epochs"] == 1 and summary.config["learning_rate"] == 2e-3
    assert summary.config["head"] == "mean" and 30 < summary.data["train_pairs"] <= 60
    # the stage is a re-ranker: fine-tuning from it keeps its mean-token head
    assert resolved_head(config, tmp_path / "stage") == "mean"
    record = __import__("json").loads((tmp_path / "stage" / TRAINING_RECORD).read_text())
    assert record["kind"] == "cross-encoder re-ranker" and record["max_length"] == 16


def test_near_misses_are_no_longer_an_option():
    # removed 2026-12-06: no held-out gain (docs/experiments/2026-12-06-removed-training-options.md)
    with pytest.raises(TypeError, match="near_misses"):
        SyntheticPairsConfig(near_misses=1)
