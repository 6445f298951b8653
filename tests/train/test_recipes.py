"""Recipes: files and overrides, the shared dev-set rules, one judgments reader, one split."""

from __future__ import annotations

import pytest

from shopmatch.errors import ConfigError, DataError
from shopmatch.judgments import Pair
from shopmatch.train import inputs
from shopmatch.train.recipes import (
    BaselineRecipe,
    BiEncoderRecipe,
    PairClassifierRecipe,
    RerankerRecipe,
    load_recipe,
    run_recipe,
)
from shopmatch.train.splits import hold_out, split_dev


def test_options_override_the_file_table_by_table(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('negatives = 4\nmine_with = ["lexical"]\n[train]\nepochs = 3\nlearning_rate = 1e-4\n')
    recipe = load_recipe(RerankerRecipe, path, {"train": {"epochs": 1}, "output": "m"})
    assert recipe.train.epochs == 1 and recipe.train.learning_rate == 1e-4  # the file's, where not overridden
    assert recipe.negatives == 4 and recipe.mine_with == ("lexical",) and recipe.output == "m"
    assert recipe.train.head == "auto"  # the default, where neither says


def test_a_file_error_names_the_file(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text("[train]\nepochs = 0\n")
    with pytest.raises(ConfigError, match=f"^{path}: train.epochs must be a positive integer"):
        load_recipe(RerankerRecipe, path)
    path.write_text("[lstm]\nhidden = 8\n")
    with pytest.raises(ConfigError, match=rf"^{path}: unknown lstm setting\(s\) \['hidden'\]"):
        load_recipe(BaselineRecipe, path)


def test_dev_rules_every_recipe_shares():
    with pytest.raises(ConfigError, match="dev and .*dev_fraction: give one of them, not both"):
        RerankerRecipe(dev="dev.tsv", dev_fraction=0.2)
    assert RerankerRecipe(dev="dev.tsv", dev_fraction=0.0).dev == "dev.tsv"
    assert RerankerRecipe().held_out_fraction == 0.1 and PairClassifierRecipe().held_out_fraction == 0.1
    assert BaselineRecipe().held_out_fraction == 0.1 and BiEncoderRecipe().held_out_fraction == 0.0
    with pytest.raises(ConfigError, match="dev_fraction must be a number in"):
        BaselineRecipe(dev_fraction=1.0)
    with pytest.raises(ConfigError, match="synthetic.texts is used by synthetic.queries"):
        load_recipe(PairClassifierRecipe, overrides={"synthetic": {"texts": "t.txt"}})
    with pytest.raises(ConfigError, match="judgments and baseline.pairs: give one"):
        BaselineRecipe(judgments="j.tsv", pairs="p.tsv")


@pytest.mark.parametrize(
    "recipe",
    [RerankerRecipe(), BiEncoderRecipe(), BaselineRecipe(kind="lstm")],
    ids=["reranker", "bi-encoder", "baseline"],
)
def test_every_recipe_reads_judgments_through_the_one_reader(recipe, fixtures, monkeypatch, tmp_path):
    from dataclasses import replace

    seen = []

    class Read(Exception):
        pass

    def spy(path, gains, duplicates):
        seen.append((str(path), str(gains), duplicates))
        raise Read

    monkeypatch.setattr(inputs, "read_training_judgments", spy)
    catalog, judgments = fixtures / "catalog" / "products.jsonl", fixtures / "catalog" / "judgments.tsv"
    recipe = replace(
        recipe, catalog=str(catalog), judgments=str(judgments), output=str(tmp_path / "m"), duplicates="max"
    )
    with pytest.raises(Read):
        run_recipe(recipe)
    assert seen == [(str(judgments), "E=1,S=0.1,C=0.01,I=0", "max")]


def test_several_ratings_of_a_pair_follow_the_duplicates_policy(fixtures):
    crowd = fixtures / "catalog" / "judgments_crowd.tsv"
    gains = inputs.parse_gains("E=1,S=0.1,C=0.01,I=0")
    merged = inputs.read_training_judgments(crowd, gains)
    assert merged.merged is not None and merged.merged.pairs > 0
    with pytest.raises(DataError, match=r"judgments_crowd.tsv:\d+"):
        inputs.read_training_judgments(crowd, gains, "error")
    with pytest.raises(ConfigError, match="duplicates must be one of"):
        RerankerRecipe(duplicates="median")


def test_a_baseline_recipe_on_pairs_saves_a_model_and_clears_its_checkpoints(tmp_path):
    from shopmatch.baselines import load_baseline
    from tests.baselines.synthetic import graded_pairs

    pairs = tmp_path / "pairs.tsv"
    rows = graded_pairs(60, seed=1)
    pairs.write_text("text_a\ttext_b\tlabel\n" + "".join(f"{p.text_a}\t{p.text_b}\t{p.label}\n" for p in rows))
    overrides = {"kind": "linear-interaction", "pairs": str(pairs), "output": str(tmp_path / "lin")}
    recipe = load_recipe(BaselineRecipe, overrides={**overrides, "linear": {"epochs": 2, "min_count": 1}})
    summary = run_recipe(recipe)
    model = load_baseline(tmp_path / "lin")
    assert model.config.interaction and model.config.epochs == 2 and summary.data["kind"] == "linear-interaction"
    assert summary.data["train_pairs"] == 54 and summary.data["dev_pairs"] == 6  # 10 % of the rows held out
    assert not (tmp_path / "lin.checkpoints").exists()


# ---- the one split ---------------------------------------------------------------------------


def test_pairs_are_split_by_row_seeded():
    rows = [Pair(f"q{i}", f"t{i}", i % 2) for i in range(20)]
    train, dev = split_dev(rows, 0.25, seed=7)
    assert len(dev) == 5 and len(train) == 15 and sorted(train + dev, key=rows.index) == rows
    assert split_dev(rows, 0.25, seed=7) == (train, dev) and split_dev(rows, 0.25, seed=8) != (train, dev)
    assert len(split_dev(rows[:2], 0.9)[0]) == 1  # at least one row on each side
    with pytest.raises(DataError, match="need at least 2"):
        split_dev(rows[:1], 0.5)
    with pytest.raises(ConfigError, match="dev_fraction"):
        split_dev(rows, 0.0)


def test_hold_out_prefers_the_given_dev_set_and_splits_only_with_a_fraction():
    rows = list(range(10))
    assert hold_out(rows, dev=[99]) == (rows, [99])
    assert hold_out(rows, fraction=0.0) == (rows, None)
    assert hold_out(rows, fraction=0.2, seed=1) == split_dev(rows, 0.2, seed=1)
