"""`shopmatch train cross-encoder`, `train pairs` and `evaluate-pairs` on the tiny random model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from shopmatch.cli import app

FAST = ["--epochs", "1", "--batch-size", "8", "--max-length", "32"]


@pytest.fixture(autouse=True)
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_train_cross_encoder_then_index_with_it(fixtures, tiny_model, tmp_path):
    runner = CliRunner()
    out = tmp_path / "reranker"
    result = runner.invoke(
        app,
        ["train", "cross-encoder", "--catalog", str(fixtures / "catalog" / "products.jsonl"),
         "--judgments", str(fixtures / "catalog" / "judgments.tsv"), "-o", str(out), "--model", str(tiny_model),
         "--dev-fraction", "0.3", *FAST],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "dev" in result.output and "training_summary.png" in result.output
    summary = json.loads((out / "training_summary.json").read_text())
    assert "dev_ndcg@10" in summary["epochs"][0] and summary["data"]["dev_queries"] >= 1
    assert summary["config"]["head"] == "mean"  # --head auto on a plain encoder
    config = tmp_path / "lex.toml"
    config.write_text('[pipeline]\nretrievers = ["lexical"]\n[rerank]\nbackend = "torch"\n')
    index = tmp_path / "idx"
    result = runner.invoke(
        app,
        ["index", str(fixtures / "catalog" / "products.jsonl"), "-o", str(index), "-c", str(config),
         "--reranker", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", str(index), str(fixtures / "catalog" / "judgments.tsv"), "--json"])
    assert result.exit_code == 0, result.output
    assert 0.0 <= json.loads(result.stdout)["ndcg@10"] <= 1.0


def test_train_cross_encoder_names_missing_products(fixtures, tiny_model, tmp_path):
    judgments = tmp_path / "j.tsv"
    judgments.write_text("query_id\tquery\tproduct_id\tlabel\nq1\tusb\tp001\tE\nq1\tusb\tnope\tI\n")
    args = ["train", "cross-encoder", "--catalog", str(fixtures / "catalog" / "products.jsonl"),
            "--judgments", str(judgments), "-o", str(tmp_path / "m"), "--model", str(tiny_model),
            "--dev-fraction", "0", *FAST]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "nope" in result.output
    result = CliRunner().invoke(app, [*args, "--skip-missing"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", ["cross-encoder", "bi-encoder"])
def test_training_commands_take_the_duplicates_policy(fixtures, tiny_model, tmp_path, command):
    crowd = fixtures / "catalog" / "judgments_crowd.tsv"
    args = ["train", command, "--catalog", str(fixtures / "catalog" / "products.jsonl"), "--judgments", str(crowd),
            "-o", str(tmp_path / "m"), "--model", str(tiny_model), "--duplicates", "error"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "judgments_crowd.tsv:" in result.output and "twice" in result.output


def test_bad_training_option_is_a_clean_error(fixtures, tiny_model, tmp_path):
    result = CliRunner().invoke(
        app,
        ["train", "pairs", str(fixtures / "pairs" / "pairs.tsv"), "-o", str(tmp_path / "m"),
         "--model", str(tiny_model), "--augment", "rot13", *FAST],
    )  # fmt: skip
    assert result.exit_code == 2 and "unknown augmentation" in result.output


@pytest.mark.parametrize("name, classes", [("pairs.tsv", 2), ("pairs_3class.tsv", 3)])
def test_train_pairs_and_evaluate_pairs(fixtures, tiny_model, tmp_path, name, classes):
    runner = CliRunner()
    out = tmp_path / "clf"
    pairs = fixtures / "pairs" / name
    result = runner.invoke(
        app, ["train", "pairs", str(pairs), "-o", str(out), "--model", str(tiny_model), "--dev-fraction", "0.25", *FAST]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate-pairs", str(out), str(pairs), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert {"accuracy", "precision", "recall", "f1", "auc", "mse"} <= set(metrics)
    assert metrics["classes"] == classes and metrics["n"] == 20


def test_train_pairs_with_vocabulary_extension(tmp_path, tiny_model):
    pairs = tmp_path / "zh.tsv"
    rows = ["text_a\ttext_b\tlabel"] + [f"蓝牙耳机\t{t}\t{label}" for t, label in
                                         [("降噪蓝牙耳机", 1), ("不锈钢炒锅", 0)] * 6]  # fmt: skip
    pairs.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "zh-clf"
    result = CliRunner().invoke(
        app,
        ["train", "pairs", str(pairs), "-o", str(out), "--model", str(tiny_model), "--extend-vocab",
         "--dev-fraction", "0", *FAST],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "added" in result.output
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(out))
    assert tokenizer.unk_token_id not in tokenizer("蓝牙耳机降噪")["input_ids"]


def chinese_pairs(tmp_path):
    pairs = tmp_path / "zh.tsv"
    rows = ["text_a\ttext_b\tlabel"] + [f"蓝牙耳机\t{t}\t{label}" for t, label in
                                         [("降噪蓝牙耳机", 1), ("不锈钢炒锅", 0)] * 6]  # fmt: skip
    pairs.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return pairs


def test_train_pairs_first_on_synthetic_pairs(tmp_path, tiny_model, caplog):
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    texts = tmp_path / "titles.txt"
    texts.write_text("充电宝 快充 20000毫安\n移动电源 充电宝\n不锈钢 保温杯\n", encoding="utf-8")
    out = tmp_path / "zh-clf"
    args = ["train", "pairs", str(chinese_pairs(tmp_path)), "-o", str(out), "--model", str(tiny_model),
            "--extend-vocab", "--synthetic-queries", "40", "--synthetic-texts", str(texts), "--synthetic-lr", "2e-4",
            "--dev-fraction", "0", *FAST]  # fmt: skip
    with caplog.at_level("WARNING", logger="shopmatch.train.cross_encoder"):
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 unlabeled texts" in result.output
    assert "40 pseudo-queries from 5 texts" in result.output  # 2 distinct text_b in the pairs + 3 lines
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    assert tokenizer.unk_token_id not in tokenizer("充电宝 保温杯")["input_ids"]  # the texts' characters added
    stage = out.with_name("zh-clf.synthetic")
    summary = json.loads((stage / "training_summary.json").read_text())
    assert summary["data"]["train_pairs"] > 40 and summary["config"]["epochs"] == 1  # 40 matches + non-matches
    assert summary["config"]["learning_rate"] == 2e-4
    final = json.loads((out / "training_summary.json").read_text())
    assert final["data"]["train_pairs"] == 12 and "zh-clf.synthetic" in final["model"]
    # the fine-tuning started from the synthetic stage, head included (two classes both times)
    staged, trained = load_file(str(stage / "model.safetensors")), load_file(str(out / "model.safetensors"))
    head = [k for k in trained if k.startswith("classifier.")]
    assert head and all(staged[k].shape == trained[k].shape for k in head)
    assert not all((staged[k] == trained[k]).all() for k in head)
    # the few-steps warning is for a new head: the synthetic stage's, not the fine-tuning's
    assert "80 pairs × 1 epoch(s)" in caplog.text and "12 pairs × 1 epoch(s)" not in caplog.text
    # --resume reuses the finished stage instead of training it again
    result = CliRunner().invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert f"reusing {stage}" in result.output and "pseudo-queries" not in result.output


def test_synthetic_pairs_errors(tmp_path, tiny_model):
    base = ["train", "pairs", str(chinese_pairs(tmp_path)), "-o", str(tmp_path / "m"), "--model", str(tiny_model),
            *FAST]  # fmt: skip
    texts = tmp_path / "titles.txt"
    texts.write_bytes("充电宝\n".encode() + b"bad \xff byte\n")
    result = CliRunner().invoke(app, [*base, "--synthetic-texts", str(texts)])
    assert result.exit_code == 2 and "--synthetic-texts is used by --synthetic-queries" in result.output
    result = CliRunner().invoke(app, [*base, "--synthetic-queries", "5", "--synthetic-texts", str(texts)])
    assert result.exit_code == 2 and f"{texts}:2: is not valid UTF-8" in result.output
    result = CliRunner().invoke(app, [*base, "--synthetic-queries", "-1"])
    assert result.exit_code == 2 and "synthetic-queries" in result.output
    assert not (tmp_path / "m").exists()


def test_evaluate_pairs_on_a_missing_model(tmp_path, fixtures):
    result = CliRunner().invoke(app, ["evaluate-pairs", str(tmp_path), str(fixtures / "pairs" / "pairs.tsv")])
    assert result.exit_code == 2 and "not a model directory" in result.output


def test_train_cross_encoder_with_mined_negatives(fixtures, tiny_model, tmp_path):
    out = tmp_path / "reranker"
    result = train_on_the_fixture_catalog(
        fixtures, tiny_model, out, "--negatives", "2", "--negatives-depth", "10", "--mine-with", "lexical"
    )
    assert result.exit_code == 0, result.output
    judged_pairs = sum(1 for line in (fixtures / "catalog" / "judgments.tsv").read_text().splitlines()[1:] if line)
    summary = json.loads((out / "training_summary.json").read_text())
    mined = summary["data"]["train_pairs"] - judged_pairs
    assert "negative pairs added" in result.output and 0 < mined <= 2 * summary["data"]["train_queries"]


def fixture_catalog_options(fixtures) -> list[str]:
    """The fixture catalog and judgments, no dev split, FAST training."""
    return ["--catalog", str(fixtures / "catalog" / "products.jsonl"),
            "--judgments", str(fixtures / "catalog" / "judgments.tsv"), "--dev-fraction", "0", *FAST]  # fmt: skip


def train_on_the_fixture_catalog(fixtures, model, out, *options: str):
    """`train cross-encoder` on the fixture catalog with ``options``; the CliRunner result."""
    args = ["train", "cross-encoder", *fixture_catalog_options(fixtures), "-o", str(out), "--model", str(model)]
    return CliRunner().invoke(app, [*args, *options])


def train_with_defaults(fixtures, model, out) -> list[str]:
    """`train cross-encoder` on the fixture catalog with default options; returns those catalog options."""
    result = train_on_the_fixture_catalog(fixtures, model, out)
    assert result.exit_code == 0, result.output
    return fixture_catalog_options(fixtures)


def test_train_cross_encoder_distils_a_teacher_into_a_smaller_student(fixtures, tiny_model, tmp_path, monkeypatch):
    from shopmatch.train import distill

    teacher = tmp_path / "teacher"
    catalog = train_with_defaults(fixtures, tiny_model, teacher)
    seen = {}
    real = distill.teacher_targets

    def spy(teacher_dir, pairs, **kwargs):
        seen.update(teacher=teacher_dir, pairs=len(pairs), **kwargs)
        return real(teacher_dir, pairs, **kwargs)

    monkeypatch.setattr(distill, "teacher_targets", spy)
    student = tmp_path / "student"
    result = CliRunner().invoke(
        app,
        ["train", "cross-encoder", *catalog, "-o", str(student), "--model", str(teacher), "--max-layers", "1",
         "--teacher", str(teacher), "--teacher-weight", "0.5", "--negatives", "2", "--negatives-depth", "10",
         "--mine-with", "lexical"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((student / "training_summary.json").read_text())
    assert seen == {"teacher": teacher, "pairs": summary["data"]["train_pairs"], "teacher_weight": 0.5}
    assert "the teacher" in result.output and "labels" in result.output
    assert json.loads((student / "config.json").read_text())["num_hidden_layers"] == 1


def test_train_cross_encoder_with_a_missing_teacher(fixtures, tiny_model, tmp_path):
    result = CliRunner().invoke(
        app,
        ["train", "cross-encoder", "--catalog", str(fixtures / "catalog" / "products.jsonl"),
         "--judgments", str(fixtures / "catalog" / "judgments.tsv"), "-o", str(tmp_path / "s"),
         "--model", str(tiny_model), "--teacher", str(tmp_path / "nowhere"), *FAST],
    )  # fmt: skip
    assert result.exit_code == 2 and "not a model directory" in result.output
    assert not (tmp_path / "s").exists()


def test_an_impossible_head_fails_before_mining(fixtures, tiny_model, tmp_path):
    mean_head = tmp_path / "mean"
    catalog = train_with_defaults(fixtures, tiny_model, mean_head)  # --head auto: the mean-token head
    result = CliRunner().invoke(
        app,
        ["train", "cross-encoder", *catalog, "-o", str(tmp_path / "cls"), "--model", str(mean_head), "--head", "cls",
         "--negatives", "2", "--mine-with", "lexical"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "has a mean-token head" in result.output and "mining" not in result.output
    assert not (tmp_path / "cls").exists()


def test_train_cross_encoder_first_on_synthetic_pairs(fixtures, tiny_model, tmp_path):
    texts = tmp_path / "titles.txt"
    texts.write_text("garden hose 50 ft\nmemory foam mattress queen\n", encoding="utf-8")
    out = tmp_path / "reranker"
    options = ("--synthetic-queries", "30", "--synthetic-texts", str(texts), "--synthetic-lr", "3e-4")
    result = train_on_the_fixture_catalog(fixtures, tiny_model, out, *options)
    assert result.exit_code == 0, result.output
    products = sum(1 for line in (fixtures / "catalog" / "products.jsonl").read_text().splitlines() if line.strip())
    assert f"30 pseudo-queries from {products} titles and 2 texts" in result.output
    stage = out.with_name("reranker.synthetic")
    summary = json.loads((stage / "training_summary.json").read_text())
    assert summary["config"]["epochs"] == 1 and summary["config"]["learning_rate"] == 3e-4
    assert 30 < summary["data"]["train_pairs"] <= 60 and summary["config"]["head"] == "mean"  # matches + non-matches
    final = json.loads((out / "training_summary.json").read_text())
    assert "reranker.synthetic" in final["model"] and final["config"]["head"] == "mean"
    result = train_on_the_fixture_catalog(fixtures, tiny_model, out, *options, "--resume")
    assert result.exit_code == 0, result.output
    assert f"reusing {stage}" in result.output and "pseudo-queries" not in result.output
    result = train_on_the_fixture_catalog(fixtures, tiny_model, tmp_path / "m", "--synthetic-texts", str(texts))
    assert result.exit_code == 2 and "--synthetic-texts is used by --synthetic-queries" in result.output
    result = train_on_the_fixture_catalog(fixtures, tiny_model, tmp_path / "m", "--synthetic-near-misses", "1")
    assert result.exit_code == 2 and "No such option" in result.output  # removed: no held-out gain


@pytest.mark.parametrize(
    "options, message",
    [(("--adapt-epochs", "1"), "No such option"), (("--adapt-texts", "t.txt"), "No such option"),
     (("--loss", "lambda"), "loss must be one of bce, mse-logit")],
)  # fmt: skip
def test_options_removed_for_no_held_out_gain_are_refused(fixtures, tiny_model, tmp_path, options, message):
    result = train_on_the_fixture_catalog(fixtures, tiny_model, tmp_path / "m", *options)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "m").exists()


def test_the_example_recipe_trains_end_to_end_with_options_over_it(fixtures, tiny_model, tmp_path):
    import tomllib

    from tests.conftest import REPO

    example = REPO / "configs" / "recipes" / "reranker.toml"
    shipped = tomllib.loads(example.read_text(encoding="utf-8"))
    out = tmp_path / "reranker"
    result = CliRunner().invoke(
        app,
        ["train", "cross-encoder", "--recipe", str(example), *fixture_catalog_options(fixtures), "-o", str(out),
         "--model", str(tiny_model), "--synthetic-queries", "20", "--mine-with", "lexical"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "training_summary.json").read_text())
    # the command line's values win ...
    assert summary["config"]["epochs"] == 1 and summary["config"]["max_length"] == 32
    assert summary["config"]["model"] == str(tiny_model)
    # ... the file's hold where the command line is silent
    assert summary["config"]["learning_rate"] == shipped["train"]["learning_rate"] != 4e-5
    assert f"mining {shipped['negatives']} unjudged negative(s) per query" in result.output
    judged_pairs = sum(1 for line in (fixtures / "catalog" / "judgments.tsv").read_text().splitlines()[1:] if line)
    assert summary["data"]["train_pairs"] > judged_pairs  # the mined negatives
    stage = json.loads((out.with_name("reranker.synthetic") / "training_summary.json").read_text())
    assert stage["config"]["learning_rate"] == shipped["synthetic"]["learning_rate"]
    assert "20 pseudo-queries" in result.output
    from sentence_transformers import CrossEncoder

    assert CrossEncoder(str(out)).predict([("usb c cable", "USB-C cable")]).shape == (1,)


@pytest.mark.parametrize(
    "text, message",
    [("epoch = 2\n", "unknown reranker setting(s) ['epoch']"),
     ("[train]\nlr = 1e-4\n", "unknown train setting(s) ['lr']"),
     ("[synthetic]\nqueries = -5\n", "synthetic.queries must be an integer ≥ 0, got -5"),
     ("negatives = \n", "invalid TOML")],
)  # fmt: skip
def test_a_bad_recipe_file_is_refused_naming_the_file(fixtures, tiny_model, tmp_path, text, message):
    recipe = tmp_path / "my-recipe.toml"
    recipe.write_text(text, encoding="utf-8")
    result = train_on_the_fixture_catalog(fixtures, tiny_model, tmp_path / "m", "--recipe", str(recipe))
    assert result.exit_code == 2, result.output
    assert f"error: {recipe}: {message}" in " ".join(result.output.split())
    assert not (tmp_path / "m").exists()


def test_errors_of_options_name_the_options(fixtures, tiny_model, tmp_path):
    result = train_on_the_fixture_catalog(fixtures, tiny_model, tmp_path / "m", "--epochs", "0")
    assert result.exit_code == 2 and "error: --epochs must be a positive integer, got 0" in result.output
    result = CliRunner().invoke(app, ["train", "cross-encoder", "-o", str(tmp_path / "m")])
    assert result.exit_code == 2 and "--catalog, --judgments: required" in result.output
    result = CliRunner().invoke(app, ["train", "pairs", "-o", str(tmp_path / "m")])
    assert result.exit_code == 2 and "PAIRS: required" in result.output  # an argument, not an option
    missing = tmp_path / "nowhere.toml"
    result = train_on_the_fixture_catalog(fixtures, tiny_model, tmp_path / "m", "--recipe", str(missing))
    assert result.exit_code == 2 and f"{missing}: recipe file not found" in result.output
