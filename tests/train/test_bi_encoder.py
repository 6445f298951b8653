from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shopmatch.catalog import Product
from shopmatch.errors import ConfigError, DataError
from shopmatch.judgments import GainMap, Judgment, Judgments
from shopmatch.train.bi_encoder import MODEL_KIND, BiEncoderTrainConfig, train_bi_encoder
from shopmatch.train.checkpoints import checkpoint_dir
from shopmatch.train.data import LabeledPair, labeled_pairs
from shopmatch.train.mining import mine_negatives
from shopmatch.train.splits import split_dev
from shopmatch.train.summary import TrainingSummary


def _pairs(rows):
    """(query_id, product_id, target) → LabeledPairs."""
    return [LabeledPair(f"query {q}", f"text {p}", t, q, p) for q, p, t in rows]


# ---- mining -------------------------------------------------------------------------------------


def test_negatives_never_include_products_judged_relevant_to_the_query():
    # q1: a (E), b (S) relevant; c (C), d (I) judged non-matches; x, y, z unjudged.
    pairs = _pairs([("q1", "a", 1.0), ("q1", "b", 0.1), ("q1", "c", 0.01), ("q1", "d", 0.0)])
    ranked = {"q1": ["b", "a", "x", "d", "y", "c", "z"]}
    rows, stats = mine_negatives(pairs, ranked, skip_top=0, per_pair=6)
    assert [r.positive_id for r in rows] == ["a"]
    negatives = rows[0].negative_ids
    assert "a" not in negatives and "b" not in negatives
    # judged non-matches first (the higher ranked one first), then unjudged in rank order
    assert negatives[:5] == ("d", "c", "x", "y", "z")
    assert stats.judged_negatives == 2 and stats.retrieved_negatives == 3


def test_unjudged_products_in_the_top_ranks_and_below_the_depth_are_skipped():
    pairs = _pairs([("q1", "a", 1.0), ("q1", "b", 1.0), ("q1", "c", 1.0)])
    ranked = {"q1": ["u1", "a", "u2", "u3", "u4", "u5"]}
    rows, _ = mine_negatives(pairs, ranked, skip_top=2, depth=4)  # ranks 3..4: u2, u3
    assert [r.negative_ids for r in rows] == [("u2",), ("u3",), ("u2",)]  # cycled over the positives


def test_each_query_keeps_to_its_own_judgments():
    # "p" is relevant for q2 but a judged non-match for q1: a fine negative for q1, never for q2.
    pairs = _pairs([("q1", "a", 1.0), ("q1", "p", 0.0), ("q2", "p", 1.0), ("q2", "e", 0.1)])
    rows, _ = mine_negatives(pairs, {"q2": ["e", "p", "a"]}, skip_top=0)
    by_query = {r.query_id: r for r in rows}
    assert by_query["q1"].negative_ids == ("p",)
    assert by_query["q2"].negative_ids == ("a",)


def test_graded_positive_threshold_is_honoured():
    pairs = _pairs([("q1", "a", 1.0), ("q1", "b", 0.1), ("q1", "c", 0.0)])
    rows, _ = mine_negatives(pairs, {}, skip_top=0)
    assert [r.positive_id for r in rows] == ["a"]
    rows, _ = mine_negatives(pairs, {}, skip_top=0, positive_min_target=0.1)
    assert [r.positive_id for r in rows] == ["a", "b"]
    assert all(r.negative_ids == ("c",) for r in rows)
    with pytest.raises(ValueError):
        mine_negatives(pairs, {}, positive_min_target=0.1, exclude_min_target=0.5)


def test_graded_numeric_labels_through_labeled_pairs():
    judged = Judgments(
        [Judgment("q", "hose", p, label) for p, label in [("a", "3"), ("b", "2.5"), ("c", "1.5"), ("d", "1")]]
    )
    products = {p: Product(p, f"title {p}") for p in "abcd"}
    pairs = labeled_pairs(judged, products, GainMap.parse("offset=1"))  # targets 1, .75, .25, 0
    rows, _ = mine_negatives(pairs, {}, positive_min_target=0.75, exclude_min_target=0.25, skip_top=0)
    assert {r.positive_id for r in rows} == {"a", "b"}
    assert {n for r in rows for n in r.negative_ids} == {"d"}


def test_positives_per_query_can_be_capped():
    pairs = _pairs([("q1", p, 1.0) for p in "abcdef"] + [("q1", "z", 0.0), ("q2", "g", 1.0), ("q2", "y", 0.0)])
    rows, _ = mine_negatives(pairs, {}, max_positives=2, seed=3)
    kept = [r.positive_id for r in rows if r.query_id == "q1"]
    assert len(kept) == 2 and set(kept) <= set("abcdef") and kept == sorted(kept)
    assert [r.positive_id for r in rows if r.query_id == "q2"] == ["g"]


def test_queries_without_positives_are_skipped_and_without_negatives_get_random_ones():
    pairs = _pairs([("q1", "a", 0.1), ("q2", "b", 1.0)])
    rows, stats = mine_negatives(pairs, {}, catalog_ids=["a", "b", "c", "d"], seed=1)
    assert stats.queries_without_positive == 1 and stats.queries_with_random_negatives == 1
    assert [r.query_id for r in rows] == ["q2"]
    assert rows[0].negative_ids[0] in {"a", "c", "d"}


def test_config_is_validated():
    with pytest.raises(ConfigError, match="exclude_min_target"):
        BiEncoderTrainConfig(positive_min_target=0.1, exclude_min_target=0.5)
    with pytest.raises(ConfigError, match="epochs"):
        BiEncoderTrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="learning_rate"):
        BiEncoderTrainConfig(learning_rate=-1.0)
    with pytest.raises(ConfigError, match="mine_with"):
        BiEncoderTrainConfig(mine_with=("word_vectors",))
    with pytest.raises(ConfigError, match="skip_top"):
        BiEncoderTrainConfig(skip_top=100, mining_depth=100)
    config = BiEncoderTrainConfig(epochs=2, mine_with=("lexical",))
    assert BiEncoderTrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


# ---- training -----------------------------------------------------------------------------------


def _config(tiny_model: Path, **overrides) -> BiEncoderTrainConfig:
    settings = dict(
        model=str(tiny_model),
        epochs=3,
        batch_size=4,
        learning_rate=3e-3,
        warmup_ratio=0.0,
        mine_with=("lexical",),
        skip_top=1,
        logging_steps=1,
        max_length=32,
    )
    settings.update(overrides)
    return BiEncoderTrainConfig(**settings)


@pytest.fixture(scope="module")
def trained(tiny_model, catalog, judgments, tmp_path_factory):
    """One run on the fixture judgments with a dev set (shared by the tests below)."""
    train, dev = split_dev(judgments, 0.25, seed=0)
    out = tmp_path_factory.mktemp("bi") / "model"
    train_bi_encoder(train, catalog, _config(tiny_model, epochs=4), out, dev=dev, gains=GainMap.esci())
    return out


def test_training_lowers_the_loss_and_writes_a_summary(trained):
    summary = TrainingSummary.load(trained)
    losses = summary.losses
    first = np.mean([p["loss"] for p in losses if p["epoch"] <= 1.0])
    last = np.mean([p["loss"] for p in losses if p["epoch"] > 3.0])
    assert last < first
    assert [e["epoch"] for e in summary.epochs] == [1, 2, 3, 4]
    assert all("dev_ndcg@10" in e and e["seconds"] > 0 for e in summary.epochs)
    assert summary.best_epoch == summary.best("dev_ndcg@10")["epoch"]
    assert summary.data["loss"] == "MultipleNegativesRankingLoss" and summary.data["rows"] > 0
    assert (trained / "training_summary.png").stat().st_size > 0
    assert json.loads((trained / "manifest.json").read_text())["kind"] == MODEL_KIND
    assert not checkpoint_dir(trained).exists()  # removed after a successful run


def test_patience_stops_the_bi_encoder_and_keeps_the_best_epoch(tiny_model, catalog, judgments, tmp_path):
    train, dev = split_dev(judgments, 0.25, seed=0)
    # a learning rate too small to change the ranking: nothing improves after epoch 1
    config = _config(tiny_model, epochs=5, learning_rate=1e-12, patience=2)
    out = train_bi_encoder(train, catalog, config, tmp_path / "m", dev=dev, gains=GainMap.esci())
    summary = TrainingSummary.load(out)
    assert [e["epoch"] for e in summary.epochs] == [1, 2, 3] and summary.best_epoch == 1
    assert json.loads((out / "manifest.json").read_text())["best_epoch"] == 1


def test_saved_model_loads_in_sentence_transformers_and_in_a_pipeline(trained, catalog):
    from sentence_transformers import SentenceTransformer

    from shopmatch.config import PipelineConfig
    from shopmatch.pipeline import SearchPipeline

    model = SentenceTransformer(str(trained), device="cpu", local_files_only=True)
    assert model.encode(["usb c cable"]).shape == (1, 32)
    config = PipelineConfig.from_dict({"dense": {"model": str(trained), "quantization": "avx2"}})
    pipeline = SearchPipeline.build(catalog.products, config)
    results = pipeline.search("usb c cable", k=5)[0]
    assert len(results) == 5 and "dense" in results[0].sources


def test_distillation_runs_with_a_tiny_cross_encoder_teacher(tiny_model, catalog, judgments, tmp_path):
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    teacher = tmp_path / "teacher"
    tokenizer = BertTokenizerFast.from_pretrained(str(tiny_model.parent / "raw"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(teacher)
    tokenizer.save_pretrained(teacher)
    with pytest.raises(ValueError, match="teacher"):
        train_bi_encoder(judgments, catalog, _config(tiny_model, distill=True), tmp_path / "x")
    out = train_bi_encoder(
        judgments,
        catalog,
        _config(tiny_model, epochs=1, distill=True, negatives_per_pair=2),
        tmp_path / "student",
        teacher=teacher,
    )
    summary = TrainingSummary.load(out)
    assert summary.data["loss"] == "MarginMSELoss"
    assert summary.losses and all(np.isfinite(p["loss"]) for p in summary.losses)
    assert json.loads((out / "manifest.json").read_text())["teacher"] == str(teacher)


def test_resume_from_a_checkpoint(tiny_model, catalog, judgments, tmp_path):
    from transformers import TrainerCallback

    class Crash(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise RuntimeError("simulated crash after the first checkpoint")

    config = _config(tiny_model, epochs=2)
    out = tmp_path / "model"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_bi_encoder(judgments, catalog, config, out, callbacks=[Crash()])
    assert not out.exists()  # nothing half-written
    saved = sorted(p.name for p in checkpoint_dir(out).glob("checkpoint-*"))
    assert len(saved) == 1
    train_bi_encoder(judgments, catalog, config, out, resume=True)
    summary = TrainingSummary.load(out)
    assert summary.data["resumed_from"] == saved[0]
    assert summary.data["steps"] == 2 * int(saved[0].split("-")[1])
    assert [e["epoch"] for e in summary.epochs] == [1, 2]  # the epoch before the crash is remembered
    assert summary.losses[0]["step"] == 1


def test_judgments_without_any_positive_are_an_error(tiny_model, catalog, tmp_path):
    judged = Judgments([Judgment("q", "usb cable", "p001", "I"), Judgment("q", "usb cable", "p002", "I")])
    with pytest.raises(DataError, match="positive gain"):
        train_bi_encoder(judged, catalog, _config(tiny_model), tmp_path / "m", gains=GainMap.esci())
    assert not (tmp_path / "m").exists()


# ---- command line -------------------------------------------------------------------------------


def test_cli_trains_a_model(tiny_model, fixtures, tmp_path):
    from typer.testing import CliRunner

    from shopmatch.cli import app

    out = tmp_path / "encoder"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "bi-encoder",
            "--catalog",
            str(fixtures / "catalog" / "products.jsonl"),
            "--judgments",
            str(fixtures / "catalog" / "judgments.tsv"),
            "-o",
            str(out),
            "--model",
            str(tiny_model),
            "--mine-with",
            "lexical",
            "--dev-fraction",
            "0.25",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--lr",
            "1e-3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").is_file() and (out / "training_summary.json").is_file()
    summary = TrainingSummary.load(out)
    assert summary.data["dev_queries"] == 2 and "dev_ndcg@10" in summary.epochs[0]

    bad = CliRunner().invoke(
        app,
        ["train", "bi-encoder", "--catalog", str(fixtures / "catalog" / "products.jsonl")]
        + ["--judgments", str(fixtures / "catalog" / "judgments.tsv"), "-o", str(tmp_path / "x")]
        + ["--model", str(tiny_model), "--dev", str(fixtures / "catalog" / "judgments.tsv"), "--dev-fraction", "0.1"],
    )
    assert bad.exit_code == 2 and "--dev" in bad.output
