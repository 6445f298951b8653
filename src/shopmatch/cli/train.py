"""`shopmatch train …`: parse the options into a training recipe, run it, render its summary.

Every option sets one setting of the command's recipe (:mod:`shopmatch.train.recipes`); given
with ``--recipe FILE`` (TOML), the options on the command line override the file's values, and
options left out keep the file's (or the recipe's default) value. Errors name the option (or the
file and key) that is wrong.
"""

from __future__ import annotations

import typing
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from shopmatch.cli.common import Duplicates, err, fail, out, train_app
from shopmatch.errors import ShopmatchError

# --- options (None: not given, the recipe file's or the recipe's default value holds) ----------
RecipeOpt = Annotated[
    Path | None,
    typer.Option(help="Recipe file (TOML, e.g. configs/recipes/reranker.toml); the options given here override it."),
]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Model directory to write.")]
CatalogOpt = Annotated[
    Path | None, typer.Option(help="Catalog the judgments refer to (.jsonl[.gz], .csv, .tsv, .parquet).")
]
JudgmentsOpt = Annotated[Path | None, typer.Option(help="judgments.tsv to train on.")]
GainsOpt = Annotated[
    str | None,
    typer.Option(help="Label gains → targets gain / top gain (default: E=1,S=0.1,C=0.01,I=0; numeric: offset=1)."),
]
DevOpt = Annotated[Path | None, typer.Option(help="Dev file (the training file's format): picks the best epoch.")]
DevFractionOpt = Annotated[
    float | None,
    typer.Option(
        help="Without --dev: share of the queries (pair sets: rows) held out, seeded; 0: none "
        "(default: 0.1; bi-encoder: 0)."
    ),
]
ModelOpt = Annotated[
    str | None, typer.Option(help="Model to start from: bundled name or local directory (default: all-MiniLM-L6-v2).")
]
EpochsOpt = Annotated[int | None, typer.Option(help="Epochs (at most; early stopping may end sooner).")]
BatchOpt = Annotated[int | None, typer.Option(help="Examples per optimizer step (per process under torchrun).")]
LrOpt = Annotated[float | None, typer.Option("--lr", help="Peak learning rate (linear warm-up, then decay).")]
WarmupOpt = Annotated[float | None, typer.Option(help="Share of steps spent warming up (default: 0.1).")]
MaxLenOpt = Annotated[int | None, typer.Option(help="Token limit of a pair (default: 128).")]
SeedOpt = Annotated[
    int | None, typer.Option(help="Random seed (initialization, order, augmentation, dev split; default: 0).")
]
PatienceOpt = Annotated[
    int | None,
    typer.Option(help="Stop after N epochs without a better dev score (0: never; default: 1, bi-encoder: 0)."),
]
DeviceOpt = Annotated[
    str | None, typer.Option(help="auto (a CUDA GPU when torch sees one, else the CPU), cpu or cuda.")
]
ImbalanceOpt = Annotated[str | None, typer.Option(help="Class imbalance: none, pos_weight or resample.")]
LoraOpt = Annotated[bool | None, typer.Option("--lora/--no-lora", help="Train LoRA adapters (merged when saved).")]
LoraRankOpt = Annotated[int | None, typer.Option(help="LoRA rank (alpha: twice the rank; default: 16).")]
FgmOpt = Annotated[float | None, typer.Option("--fgm", help="FGM adversarial training: perturbation size (0: off).")]
AugmentOpt = Annotated[
    str | None,
    typer.Option(help="Comma-separated augmentations: token_dropout, word_swap, typo, field_shuffle, synonym."),
]
AugmentProbOpt = Annotated[float | None, typer.Option(help="Chance that a training pair is augmented (default: 0.3).")]
MaxLayersOpt = Annotated[int | None, typer.Option(help="Keep only the first N transformer layers.")]
ExtendVocabOpt = Annotated[
    bool | None,
    typer.Option(
        "--extend-vocab/--no-extend-vocab", help="Add the training data's CJK characters to the vocabulary first."
    ),
]
SyntheticQueriesOpt = Annotated[
    int | None,
    typer.Option(
        help="Before fine-tuning, one epoch on this many pseudo-queries (a few words of a title or text_b, with its "
        "text as a match and a text without its words as a non-match); 0: off."
    ),
]
SyntheticTextsOpt = Annotated[
    Path | None, typer.Option(help="Unlabeled texts, one a line, for --synthetic-queries and --extend-vocab.")
]
SyntheticLrOpt = Annotated[
    float | None, typer.Option("--synthetic-lr", help="Learning rate of the synthetic stage (default: 1e-4).")
]
DuplicatesOption = Annotated[
    Duplicates | None,
    typer.Option(
        "--duplicates",
        case_sensitive=False,
        help="Several ratings of one (query, product) pair: mean (default), max, first or error.",
    ),
]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its last checkpoint.")]

# option → recipe setting(s) it sets
CROSS_ENCODER_TRAINING = {
    "model": "train.model",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "lr": "train.learning_rate",
    "warmup_ratio": "train.warmup_ratio",
    "max_length": "train.max_length",
    "seed": "train.seed",
    "patience": "train.patience",
    "imbalance": "train.imbalance",
    "lora": "train.lora",
    "lora_rank": ("train.lora_rank", "train.lora_alpha"),
    "fgm": "train.fgm_epsilon",
    "augment": "train.augment",
    "augment_probability": "train.augment_probability",
    "max_layers": "train.max_layers",
    "device": "train.device",
    "output": "output",
    "dev": "dev",
    "dev_fraction": "dev_fraction",
    "extend_vocab": "extend_vocab",
    "synthetic_queries": "synthetic.queries",
    "synthetic_texts": "synthetic.texts",
    "synthetic_lr": "synthetic.learning_rate",
}
RERANKER = {
    **CROSS_ENCODER_TRAINING,
    "loss": "train.loss",
    "head": "train.head",
    **{name: name for name in ("catalog", "judgments", "gains", "duplicates", "skip_missing", "negatives")},
    "negatives_depth": "negatives_depth",
    **{name: name for name in ("mine_with", "teacher", "teacher_weight")},
}
PAIRS = {**CROSS_ENCODER_TRAINING, "pairs": "pairs"}
BI_ENCODER = {
    **{name: f"train.{name}" for name in ("model", "epochs", "batch_size", "seed", "patience", "device", "mine_with")},
    "lr": "train.learning_rate",
    **{name: name for name in ("catalog", "judgments", "output", "gains", "duplicates", "teacher", "dev")},
    "dev_fraction": "dev_fraction",
}
BASELINE = {
    **{name: (f"linear.{name}", f"lstm.{name}") for name in ("epochs", "seed", "device")},
    **{name: name for name in ("kind", "output", "catalog", "judgments", "gains", "duplicates", "pairs", "dev")},
    "dev_fraction": "dev_fraction",
}


def _listed(value: str | None, *, none: str | None = None) -> list[str] | None:
    """A comma-separated option as a list (``none``: the word for an empty list)."""
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip() and v.strip() != none]


def _overrides(options: dict[str, Any], settings: dict[str, str | tuple[str, ...]]) -> dict[str, Any]:
    """The recipe settings the given options set, as nested tables."""
    tables: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        if isinstance(value, Path):
            value = str(value)
        if isinstance(value, Enum):
            value = value.value
        paths = settings[name]
        for path in (paths,) if isinstance(paths, str) else paths:
            *parents, leaf = path.split(".")
            table = tables
            for parent in parents:
                table = table.setdefault(parent, {})
            table[leaf] = 2 * value if leaf == "lora_alpha" else value
    return tables


def _in_option_words(
    message: str, recipe_class: type, settings: dict[str, str | tuple[str, ...]], arguments: tuple[str, ...] = ()
) -> str:
    """``message`` with the recipe's setting names (``train.epochs``) written as options (``--epochs``)
    or, for the command's ``arguments``, as their upper-case names (``PAIRS``)."""
    words: dict[str, str] = {}
    for name, paths in settings.items():
        for path in (paths,) if isinstance(paths, str) else paths:
            *parents, leaf = path.split(".")
            section = recipe_class
            for parent in parents:
                section = typing.get_type_hints(section)[parent]
            words[f"{section.SECTION}.{leaf}"] = name.upper() if name in arguments else "--" + name.replace("_", "-")
    for setting_name in sorted(words, key=len, reverse=True):
        message = message.replace(setting_name, words[setting_name])
    return message


def _run(
    recipe_class: type,
    runner,
    recipe_file: Path | None,
    options: dict[str, Any],
    settings: dict,
    resume: bool,
    arguments: tuple[str, ...] = (),
):
    """Build the recipe (file, then options), run it; errors exit 2 naming the option or the file."""
    from shopmatch.extras import require

    try:
        require(recipe_class.EXTRA, "training")
        from shopmatch.train.recipes import load_recipe

        recipe = load_recipe(recipe_class, recipe_file, _overrides(options, settings))
        summary = runner(recipe, resume=resume, notify=lambda message: err.print(message, highlight=False))
    except (ShopmatchError, ValueError) as error:
        message = str(error)
        if recipe_file is None or not message.startswith(f"{recipe_file}:"):  # a file's errors name its keys
            message = _in_option_words(message, recipe_class, settings, arguments)
        raise fail(ValueError(message)) from None
    return recipe, summary


def _print_summary(summary, out_dir: Path) -> None:
    from shopmatch.train import distributed

    if not distributed.is_main_process():  # under torchrun, one report
        return
    table = Table(title=f"trained {out_dir} in {summary.seconds:.0f} s", title_justify="left")
    metrics = sorted({k for e in summary.epochs for k in e if k not in ("epoch", "seconds")})
    for column in ("epoch", "seconds", *metrics):
        table.add_column(column, justify="right")
    for e in summary.epochs:
        mark = " *" if summary.best_epoch == e["epoch"] else ""
        table.add_row(f"{e['epoch']}{mark}", f"{e['seconds']:.0f}", *(f"{e.get(m, float('nan')):.4f}" for m in metrics))
    out.print(table)
    out.print(f"summary: {out_dir / 'training_summary.json'}, {out_dir / 'training_summary.png'}", soft_wrap=True)


@train_app.command("cross-encoder")
def train_cross_encoder_command(
    recipe: RecipeOpt = None,
    catalog: CatalogOpt = None,
    judgments: JudgmentsOpt = None,
    output: OutputOpt = None,
    gains: GainsOpt = None,
    duplicates: DuplicatesOption = None,
    dev: DevOpt = None,
    dev_fraction: DevFractionOpt = None,
    model: ModelOpt = None,
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    lr: LrOpt = None,
    warmup_ratio: WarmupOpt = None,
    max_length: MaxLenOpt = None,
    seed: SeedOpt = None,
    patience: PatienceOpt = None,
    imbalance: ImbalanceOpt = None,
    lora: LoraOpt = None,
    lora_rank: LoraRankOpt = None,
    fgm: FgmOpt = None,
    augment: AugmentOpt = None,
    augment_probability: AugmentProbOpt = None,
    max_layers: MaxLayersOpt = None,
    extend_vocab: ExtendVocabOpt = None,
    synthetic_queries: SyntheticQueriesOpt = None,
    synthetic_texts: SyntheticTextsOpt = None,
    synthetic_lr: SyntheticLrOpt = None,
    skip_missing: Annotated[
        bool | None,
        typer.Option("--skip-missing/--no-skip-missing", help="Skip judged products missing from the catalog."),
    ] = None,
    negatives: Annotated[
        int | None,
        typer.Option(
            help="Per training query, this many unjudged products from the top --negatives-depth of --mine-with, "
            "with target 0."
        ),
    ] = None,
    negatives_depth: Annotated[
        int | None, typer.Option(help="Depth the unjudged negatives are drawn from (default: 50).")
    ] = None,
    mine_with: Annotated[
        str | None, typer.Option(help="Retrievers that find the unjudged negatives: lexical,dense | lexical | dense.")
    ] = None,
    loss: Annotated[
        str | None,
        typer.Option(help="bce (calibrated probabilities) or mse-logit (squared error of logits; for --teacher)."),
    ] = None,
    head: Annotated[
        str | None,
        typer.Option(help="auto (the start model's own head; a plain encoder: mean, with --lora: cls), cls or mean."),
    ] = None,
    teacher: Annotated[
        Path | None,
        typer.Option(
            help="Distil: a trained cross-encoder whose probabilities become the targets (judged and mined pairs)."
        ),
    ] = None,
    teacher_weight: Annotated[
        float | None, typer.Option(help="With --teacher: its share of a target (the rest: the label) (default: 1).")
    ] = None,
    device: DeviceOpt = None,
    resume: ResumeOpt = False,
) -> None:
    """Fine-tune a cross-encoder re-ranker on judged (query, product) pairs, or distil one into a smaller student."""
    options = {k: v for k, v in locals().items() if k not in ("recipe", "resume")}
    from shopmatch.train.recipes import RerankerRecipe, train_reranker

    options.update(augment=_listed(augment), mine_with=_listed(mine_with))
    made, summary = _run(RerankerRecipe, train_reranker, recipe, options, RERANKER, resume)
    _print_summary(summary, Path(made.output))


@train_app.command("pairs")
def train_pairs_command(
    pairs: Annotated[Path | None, typer.Argument(help="pairs.tsv (text_a, text_b, label) to train on.")] = None,
    recipe: RecipeOpt = None,
    output: OutputOpt = None,
    dev: DevOpt = None,
    dev_fraction: DevFractionOpt = None,
    model: ModelOpt = None,
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    lr: LrOpt = None,
    warmup_ratio: WarmupOpt = None,
    max_length: MaxLenOpt = None,
    seed: SeedOpt = None,
    patience: PatienceOpt = None,
    imbalance: ImbalanceOpt = None,
    lora: LoraOpt = None,
    lora_rank: LoraRankOpt = None,
    fgm: FgmOpt = None,
    augment: AugmentOpt = None,
    augment_probability: AugmentProbOpt = None,
    max_layers: MaxLayersOpt = None,
    extend_vocab: ExtendVocabOpt = None,
    synthetic_queries: SyntheticQueriesOpt = None,
    synthetic_texts: SyntheticTextsOpt = None,
    synthetic_lr: SyntheticLrOpt = None,
    device: DeviceOpt = None,
    resume: ResumeOpt = False,
) -> None:
    """Fine-tune a cross-encoder pair classifier (two or more classes) on pairs.tsv."""
    options = {k: v for k, v in locals().items() if k not in ("recipe", "resume")}
    from shopmatch.train.recipes import PairClassifierRecipe, train_pair_classifier_recipe

    options.update(augment=_listed(augment))
    made, summary = _run(
        PairClassifierRecipe, train_pair_classifier_recipe, recipe, options, PAIRS, resume, arguments=("pairs",)
    )
    _print_summary(summary, Path(made.output))


@train_app.command("baseline")
def train_baseline_command(
    kind: Annotated[
        str | None, typer.Option(help="linear (σ(W·q+V·c+b)), linear-interaction (+ q∘c, cosine) or lstm.")
    ] = None,
    output: OutputOpt = None,
    recipe: RecipeOpt = None,
    catalog: CatalogOpt = None,
    judgments: Annotated[Path | None, typer.Option(help="judgments.tsv to train on (with --catalog).")] = None,
    gains: GainsOpt = None,
    duplicates: DuplicatesOption = None,
    pairs: Annotated[Path | None, typer.Option(help="pairs.tsv (text_a, text_b, integer label) instead.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs (default: the model's).")] = None,
    seed: SeedOpt = None,
    dev: DevOpt = None,
    dev_fraction: DevFractionOpt = None,
    device: DeviceOpt = None,
    resume: ResumeOpt = False,
) -> None:
    """Train a classic baseline (linear or two-tower BiLSTM) from scratch on judgments or pairs."""
    options = {k: v for k, v in locals().items() if k not in ("recipe", "resume")}
    from shopmatch.train.recipes import BaselineRecipe, train_baseline

    made, summary = _run(BaselineRecipe, train_baseline, recipe, options, BASELINE, resume)
    _print_summary(summary, Path(made.output))


@train_app.command("bi-encoder")
def train_bi_encoder_command(
    recipe: RecipeOpt = None,
    catalog: CatalogOpt = None,
    judgments: Annotated[Path | None, typer.Option(help="judgments.tsv to learn from.")] = None,
    output: OutputOpt = None,
    model: ModelOpt = None,
    gains: GainsOpt = None,
    duplicates: DuplicatesOption = None,
    teacher: Annotated[
        Path | None, typer.Option(help="Cross-encoder directory: distil its margins (MarginMSE).")
    ] = None,
    dev: DevOpt = None,
    dev_fraction: DevFractionOpt = None,
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    lr: LrOpt = None,
    seed: SeedOpt = None,
    patience: PatienceOpt = None,
    mine_with: Annotated[
        str | None,
        typer.Option(help="Retrievers that mine unjudged negatives: lexical,dense | lexical | dense | none."),
    ] = None,
    device: DeviceOpt = None,
    resume: ResumeOpt = False,
) -> None:
    """Fine-tune the bi-encoder on judgments (MultipleNegativesRanking + hard negatives, or MarginMSE)."""
    options = {k: v for k, v in locals().items() if k not in ("recipe", "resume")}
    from shopmatch.train.recipes import BiEncoderRecipe, train_bi_encoder_recipe

    options.update(mine_with=_listed(mine_with, none="none"))
    made, summary = _run(BiEncoderRecipe, train_bi_encoder_recipe, recipe, options, BI_ENCODER, resume)
    _print_summary(summary, Path(made.output))
