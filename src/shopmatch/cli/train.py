"""`shopmatch train …`: fine-tune re-rankers, pair classifiers, bi-encoders and classic baselines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shopmatch.cli.common import err, fail, out, train_app
from shopmatch.errors import ConfigError, ShopmatchError

# --- training -------------------------------------------------------------------------------
# Options shared by `train cross-encoder` and `train pairs`.
ModelOpt = Annotated[str, typer.Option(help="Pretrained model to start from: bundled name or local directory.")]
EpochsOpt = Annotated[int, typer.Option(min=1, help="Epochs (at most; early stopping may end sooner).")]
BatchOpt = Annotated[int, typer.Option(min=1, help="Pairs per step.")]
LrOpt = Annotated[float, typer.Option("--lr", help="Peak AdamW learning rate (linear warm-up, then decay).")]
WarmupOpt = Annotated[float, typer.Option(help="Share of steps spent warming up.")]
MaxLenOpt = Annotated[int, typer.Option(min=8, help="Token limit of a pair.")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Random seed (initialization, shuffling, augmentation).")]
PatienceOpt = Annotated[int, typer.Option(min=0, help="Stop after N epochs without a better dev score (0: never).")]
ImbalanceOpt = Annotated[str, typer.Option(help="Class imbalance: none, pos_weight or resample.")]
LoraOpt = Annotated[
    bool, typer.Option("--lora", help="Train LoRA adapters (merged when saved) instead of all weights.")
]
LoraRankOpt = Annotated[int, typer.Option(min=1, help="LoRA rank.")]
FgmOpt = Annotated[float, typer.Option("--fgm", min=0.0, help="FGM adversarial training: perturbation size (0: off).")]
AugmentOpt = Annotated[
    str, typer.Option(help="Comma-separated augmentations: token_dropout, word_swap, typo, field_shuffle, synonym.")
]
AugmentProbOpt = Annotated[float, typer.Option(help="Chance that a training pair is augmented.")]
MaxLayersOpt = Annotated[int | None, typer.Option(min=1, help="Keep only the first N transformer layers.")]
ExtendVocabOpt = Annotated[
    bool, typer.Option("--extend-vocab", help="Add the training data's CJK characters to the vocabulary first.")
]
SyntheticQueriesOpt = Annotated[
    int,
    typer.Option(
        min=0,
        help="Before fine-tuning, one epoch on this many pseudo-queries drawn from the training pairs' "
        "text_b and --synthetic-texts, each with its text as a match and one text without its words as a "
        "non-match (0: off). Teaches a model that knows little of the language which words match.",
    ),
]
SyntheticLrOpt = Annotated[
    float, typer.Option("--synthetic-lr", help="Learning rate of the --synthetic-queries stage.")
]
SyntheticTextsOpt = Annotated[
    Path | None,
    typer.Option(help="Unlabeled texts, one a line (catalog titles), for --synthetic-queries and --extend-vocab."),
]
DevOpt = Annotated[Path | None, typer.Option(help="Dev file (same format as the training file).")]
DevFractionOpt = Annotated[float, typer.Option(help="Without --dev: share of queries/rows held out (0: none).")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its last checkpoint.")]


def _train_config(**options):
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig

    augment = tuple(a.strip() for a in options.pop("augment").split(",") if a.strip())
    return CrossEncoderTrainConfig(augment=augment, **options)


def _start_model(config, texts: list[str], out: Path, *, extend_vocab: bool):
    """The model fine-tuning starts from: ``config.model`` as it is (``None``), or a copy next to
    ``out`` with the CJK characters of the texts added (``--extend-vocab``)."""
    from shopmatch.encoders.models import resolve_model_dir

    if not extend_vocab:
        return None
    from shopmatch.train.vocab import extend_vocabulary

    extension = extend_vocabulary(resolve_model_dir(config.model), texts, out.with_name(out.name + ".vocab"))
    added = len(extension.added)
    err.print(f"vocabulary: {extension.old_size:,} → {extension.new_size:,} tokens ({added:,} added)")
    return extension.out_dir


def _read_synthetic_texts(path: Path | None, synthetic_queries: int) -> list[str]:
    """The lines of ``--synthetic-texts`` (none without it)."""
    if path is None:
        return []
    from shopmatch.train.inputs import read_texts

    if not synthetic_queries:
        raise ConfigError("--synthetic-texts is used by --synthetic-queries N; give it too")
    texts = read_texts(path)
    err.print(f"{len(texts):,} unlabeled texts from {path}")
    return texts


def _synthetic_stage(out: Path, resume: bool, what: str, train) -> Path:
    """Run ``train(stage_dir)``, the synthetic-pair stage, into ``OUT.synthetic/`` (kept: it is the
    start model of the fine-tuning; ``--resume`` reuses it once complete)."""
    stage_dir = out.with_name(out.name + ".synthetic")
    if resume and (stage_dir / "training_summary.json").is_file():
        err.print(f"synthetic-pair stage: reusing {stage_dir}")
        return stage_dir
    err.print(f"synthetic-pair stage: {what} → {stage_dir}")
    summary = train(stage_dir)
    err.print(f"synthetic-pair stage done in {summary.seconds:.0f} s")
    return stage_dir


def _print_summary(summary, out_dir: Path) -> None:
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
    catalog: Annotated[Path, typer.Option(help="Catalog the judgments refer to.")],
    judgments: Annotated[Path, typer.Option(help="judgments.tsv to train on.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model directory to write.")],
    gains: Annotated[str, typer.Option(help="Label gains; targets are gains / top gain.")] = "E=1,S=0.1,C=0.01,I=0",
    dev: DevOpt = None,
    dev_fraction: DevFractionOpt = 0.1,
    model: ModelOpt = "all-MiniLM-L6-v2",
    epochs: EpochsOpt = 1,
    batch_size: BatchOpt = 16,
    learning_rate: LrOpt = 4e-5,
    warmup_ratio: WarmupOpt = 0.1,
    max_length: MaxLenOpt = 128,
    seed: SeedOpt = 0,
    patience: PatienceOpt = 1,
    imbalance: ImbalanceOpt = "none",
    lora: LoraOpt = False,
    lora_rank: LoraRankOpt = 16,
    fgm: FgmOpt = 0.0,
    augment: AugmentOpt = "",
    augment_probability: AugmentProbOpt = 0.3,
    max_layers: MaxLayersOpt = None,
    extend_vocab: ExtendVocabOpt = False,
    synthetic_queries: Annotated[
        int,
        typer.Option(
            min=0,
            help="Before fine-tuning, one epoch on this many pseudo-queries drawn from the catalog's titles "
            "(and --synthetic-texts), each with its product's text as a match and one product text without "
            "its words as a non-match (0: off).",
        ),
    ] = 0,
    synthetic_texts: SyntheticTextsOpt = None,
    synthetic_lr: SyntheticLrOpt = 1e-4,
    skip_missing: Annotated[
        bool, typer.Option("--skip-missing", help="Skip judged products missing from the catalog (reported).")
    ] = False,
    negatives: Annotated[
        int,
        typer.Option(
            min=0,
            help="Per training query, this many unjudged products from the top --negatives-depth of "
            "--mine-with added with target 0.",
        ),
    ] = 0,
    negatives_depth: Annotated[int, typer.Option(min=1, help="Depth the unjudged negatives are drawn from.")] = 50,
    mine_with: Annotated[
        str, typer.Option(help="Retrievers that find the unjudged negatives: lexical,dense | lexical | dense.")
    ] = "lexical,dense",
    loss: Annotated[
        str,
        typer.Option(
            help="bce (per pair, calibrated probabilities) or mse-logit (squared error of logits; for --teacher "
            "distillation)."
        ),
    ] = "bce",
    head: Annotated[
        str,
        typer.Option(
            help="auto (the start model's own head; for a plain encoder: mean, with --lora: cls), cls (BERT's "
            "classifier over [CLS]) or mean (a linear layer over the mean token state)."
        ),
    ] = "auto",
    teacher: Annotated[
        Path | None,
        typer.Option(
            help="Distil: a trained cross-encoder whose probabilities become the targets (of the judged "
            "pairs and of the --negatives candidates). Start the student from it with --model TEACHER --max-layers N.",
        ),
    ] = None,
    teacher_weight: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="With --teacher: share of its probability in a target (rest: the label)."),
    ] = 1.0,
    resume: ResumeOpt = False,
) -> None:
    """Fine-tune a cross-encoder re-ranker on judged (query, product) pairs, or distil one into a smaller student."""
    from shopmatch.catalog import read_catalog
    from shopmatch.judgments import GainMap, read_judgments
    from shopmatch.train.cross_encoder import resolved_head, train_cross_encoder
    from shopmatch.train.data import labeled_pairs, split_dev

    try:
        config = _train_config(
            model=model, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
            warmup_ratio=warmup_ratio, max_length=max_length, seed=seed, patience=patience, imbalance=imbalance,
            lora=lora, lora_rank=lora_rank, lora_alpha=2 * lora_rank, fgm_epsilon=fgm, augment=augment,
            augment_probability=augment_probability, max_layers=max_layers, loss=loss, head=head,
        )  # fmt: skip
        resolved_head(config, config.model)  # a head that cannot be had fails now, not after mining
        gain_map = GainMap.parse(gains)
        products = read_catalog(catalog)
        judged = read_judgments(judgments, gains=gain_map)
        if dev is not None:
            train_set, dev_set = judged, read_judgments(dev, gains=gain_map)
        elif dev_fraction > 0:
            train_set, dev_set = split_dev(judged, dev_fraction, seed=seed)
        else:
            train_set, dev_set = judged, None
        train_pairs = labeled_pairs(train_set, products, gain_map, skip_missing=skip_missing)
        dev_pairs = labeled_pairs(dev_set, products, gain_map, skip_missing=skip_missing) if dev_set else None
        if negatives:
            retrievers = tuple(r.strip() for r in mine_with.split(",") if r.strip())
            train_pairs += _mined_negatives(products, train_set, negatives, negatives_depth, seed, retrievers)
        if teacher is not None:
            from shopmatch.train.distill import teacher_targets

            err.print(f"the teacher {teacher} labels {len(train_pairs):,} training pairs")
            train_pairs = teacher_targets(teacher, train_pairs, teacher_weight=teacher_weight)
        err.print(
            f"training on {len(train_pairs):,} pairs ({len(train_set.queries)} queries)"
            + (f", dev {len(dev_pairs):,} pairs ({len(dev_set.queries)} queries)" if dev_pairs else ", no dev set")
        )
        texts = [p.query for p in train_pairs] + [p.text for p in train_pairs]
        unlabeled = _read_synthetic_texts(synthetic_texts, synthetic_queries)
        if synthetic_queries:
            texts += [p.title for p in products.products] + unlabeled
        start = _start_model(config, texts, output, extend_vocab=extend_vocab)
        if synthetic_queries:
            from shopmatch.train.synthetic import train_reranker_on_synthetic_pairs

            start = _synthetic_stage(
                output, resume,
                f"{synthetic_queries:,} pseudo-queries from {len(products.products):,} titles"
                + (f" and {len(set(unlabeled)):,} texts" if unlabeled else ""),
                lambda stage_dir, start=start: train_reranker_on_synthetic_pairs(
                    products.products, stage_dir, config, count=synthetic_queries, texts=unlabeled,
                    model_dir=start, learning_rate=synthetic_lr,
                ),
            )  # fmt: skip
        summary = train_cross_encoder(train_pairs, output, config, dev=dev_pairs, resume=resume, model_dir=start)
    except (ShopmatchError, ValueError) as error:
        raise fail(error) from None
    _print_summary(summary, output)


def _mined_negatives(products, judged, per_query: int, depth: int, seed: int, retrievers: tuple[str, ...]) -> list:
    """Unjudged products from the top ``depth`` of a default pipeline of ``retrievers``, target 0."""
    from shopmatch.train.mining import mining_pipeline, retrieve_candidates, unjudged_negatives

    err.print(f"mining {per_query} unjudged negative(s) per query from the top {depth} of {' + '.join(retrievers)}")
    pipeline = mining_pipeline(products.products, retrievers)
    mined = unjudged_negatives(judged, products, retrieve_candidates(pipeline, judged, depth), per_query, seed=seed)
    err.print(f"{len(mined):,} negative pairs added")
    return mined


@train_app.command("pairs")
def train_pairs_command(
    pairs: Annotated[Path, typer.Argument(help="pairs.tsv (text_a, text_b, label) to train on.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model directory to write.")],
    dev: DevOpt = None,
    dev_fraction: DevFractionOpt = 0.1,
    model: ModelOpt = "all-MiniLM-L6-v2",
    epochs: EpochsOpt = 1,
    batch_size: BatchOpt = 16,
    learning_rate: LrOpt = 4e-5,
    warmup_ratio: WarmupOpt = 0.1,
    max_length: MaxLenOpt = 128,
    seed: SeedOpt = 0,
    patience: PatienceOpt = 1,
    imbalance: ImbalanceOpt = "none",
    lora: LoraOpt = False,
    lora_rank: LoraRankOpt = 16,
    fgm: FgmOpt = 0.0,
    augment: AugmentOpt = "",
    augment_probability: AugmentProbOpt = 0.3,
    max_layers: MaxLayersOpt = None,
    extend_vocab: ExtendVocabOpt = False,
    synthetic_queries: SyntheticQueriesOpt = 0,
    synthetic_texts: SyntheticTextsOpt = None,
    synthetic_lr: SyntheticLrOpt = 1e-4,
    resume: ResumeOpt = False,
) -> None:
    """Fine-tune a cross-encoder pair classifier (two or more classes) on pairs.tsv."""
    import random

    from shopmatch.judgments import read_pairs
    from shopmatch.train.cross_encoder import train_pair_classifier

    try:
        config = _train_config(
            model=model, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
            warmup_ratio=warmup_ratio, max_length=max_length, seed=seed, patience=patience, imbalance=imbalance,
            lora=lora, lora_rank=lora_rank, lora_alpha=2 * lora_rank, fgm_epsilon=fgm, augment=augment,
            augment_probability=augment_probability, max_layers=max_layers,
        )  # fmt: skip
        rows = read_pairs(pairs)
        if dev is not None:
            train_rows, dev_rows = rows, read_pairs(dev)
        elif dev_fraction > 0:
            if not 0 < dev_fraction < 1:
                raise ValueError(f"--dev-fraction must be in [0, 1), got {dev_fraction}")
            order = list(range(len(rows)))
            random.Random(seed).shuffle(order)
            held = set(order[: max(1, round(dev_fraction * len(rows)))])
            train_rows = [r for i, r in enumerate(rows) if i not in held]
            dev_rows = [r for i, r in enumerate(rows) if i in held]
        else:
            train_rows, dev_rows = rows, None
        err.print(f"training on {len(train_rows):,} pairs" + (f", dev {len(dev_rows):,}" if dev_rows else ""))
        texts = [t for r in train_rows for t in (r.text_a, r.text_b)]
        unlabeled = _read_synthetic_texts(synthetic_texts, synthetic_queries)
        start = _start_model(config, texts + unlabeled, output, extend_vocab=extend_vocab)
        if synthetic_queries:
            from shopmatch.train.synthetic import train_on_synthetic_pairs

            sources = [r.text_b for r in train_rows] + unlabeled
            start = _synthetic_stage(
                output, resume, f"{synthetic_queries:,} pseudo-queries from {len(set(sources)):,} texts",
                lambda stage_dir, start=start: train_on_synthetic_pairs(
                    sources, stage_dir, config, count=synthetic_queries, model_dir=start, learning_rate=synthetic_lr,
                ),
            )  # fmt: skip
        summary = train_pair_classifier(train_rows, output, config, dev=dev_rows, resume=resume, model_dir=start)
    except (ShopmatchError, ValueError) as error:
        raise fail(error) from None
    _print_summary(summary, output)


BASELINE_KINDS = ("linear", "linear-interaction", "lstm")


@train_app.command("baseline")
def train_baseline(
    kind: Annotated[str, typer.Option(help="linear (σ(W·q+V·c+b)), linear-interaction (+ q∘c, cosine) or lstm.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model directory to write.")],
    catalog: Annotated[Path | None, typer.Option(help="Catalog the judged product ids refer to.")] = None,
    judgments: Annotated[Path | None, typer.Option(help="judgments.tsv to train on (with --catalog).")] = None,
    gains: Annotated[
        str, typer.Option(help="Label gains → targets gain/top gain, e.g. E=1,S=0.1,C=0.01,I=0 or offset=1.")
    ] = "E=1,S=0.1,C=0.01,I=0",
    pairs: Annotated[Path | None, typer.Option(help="pairs.tsv (text_a, text_b, integer label) instead.")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Training epochs (default: the model's).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of initialization, order and dev split.")] = 0,
    dev: Annotated[Path | None, typer.Option(help="Dev set (judgments or pairs, like the training data).")] = None,
    dev_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Without --dev: share of queries (pairs: rows) held out; 0: none.")
    ] = 0.1,
) -> None:
    """Train a classic baseline (linear or two-tower BiLSTM) from scratch on judgments or pairs."""
    from shopmatch.baselines import LinearMatcher, LinearMatcherConfig, TwoTowerLSTM, TwoTowerLSTMConfig

    if kind not in BASELINE_KINDS:
        raise fail(ShopmatchError(f"--kind must be one of {', '.join(BASELINE_KINDS)}, got {kind!r}"))
    if (pairs is None) == (judgments is None):
        raise fail(ShopmatchError("give either --judgments (with --catalog) or --pairs"))
    if judgments is not None and catalog is None:
        raise fail(ShopmatchError("--judgments needs --catalog (the product texts)"))
    overrides: dict = {"seed": seed} | ({"epochs": epochs} if epochs else {})
    if kind == "lstm":
        model_cls, config = TwoTowerLSTM, TwoTowerLSTMConfig(**overrides)
    else:
        model_cls, config = LinearMatcher, LinearMatcherConfig(interaction=kind == "linear-interaction", **overrides)
    try:
        if pairs is not None:
            train_set, dev_set = _baseline_pairs(pairs, dev, dev_fraction, seed)
        else:
            train_set, dev_set = _baseline_judgments(catalog, judgments, gains, dev, dev_fraction, seed)  # type: ignore[arg-type]
        started = time.perf_counter()
        model = model_cls.fit(train_set, dev=dev_set or None, config=config)
        model.save(output)
    except ShopmatchError as error:
        raise fail(error) from None
    summary = model.summary
    best = f"; best epoch {summary.best_epoch}: {summary.epochs[summary.best_epoch - 1]}" if summary.best_epoch else ""
    err.print(
        f"trained {kind} on {len(train_set):,} pairs ({len(dev_set or []):,} dev) in "
        f"{time.perf_counter() - started:.1f} s{best}; saved to {output}",
        highlight=False,
    )


def _baseline_pairs(path: Path, dev: Path | None, fraction: float, seed: int) -> tuple[list, list]:
    """Training and dev pairs: ``--dev`` or a seeded random share of the rows."""
    import random

    from shopmatch.judgments import read_pairs

    rows = read_pairs(path)
    if not rows:
        raise ShopmatchError(f"{path}: no pairs")
    if dev is not None:
        return rows, read_pairs(dev)
    if not fraction:
        return rows, []
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    held = set(order[: max(1, round(fraction * len(rows)))])
    return [r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held]


def _baseline_judgments(
    catalog: Path, judgments: Path, gains: str, dev: Path | None, fraction: float, seed: int
) -> tuple[list, list]:
    """Training and dev LabeledPairs from judgments: ``--dev`` or a seeded share of the queries."""
    from shopmatch.catalog import read_catalog
    from shopmatch.judgments import GainMap, read_judgments
    from shopmatch.train.data import labeled_pairs, split_dev

    try:
        gain_map = GainMap.parse(gains)
    except ValueError as error:
        raise ShopmatchError(f"--gains: {error}") from None
    products = read_catalog(catalog)
    judged = read_judgments(judgments, gains=gain_map)
    if dev is not None:
        train_j, dev_j = judged, read_judgments(dev, gains=gain_map)
    elif fraction:
        train_j, dev_j = split_dev(judged, fraction, seed=seed)
    else:
        train_j, dev_j = judged, None
    train_set = labeled_pairs(train_j, products, gain_map)
    return train_set, labeled_pairs(dev_j, products, gain_map) if dev_j is not None else []


@train_app.command("bi-encoder")
def train_bi_encoder_command(
    catalog: Annotated[Path, typer.Option("--catalog", help="Catalog file (.jsonl[.gz], .csv, .tsv, .parquet).")],
    judgments: Annotated[Path, typer.Option("--judgments", help="judgments.tsv to learn from.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model directory to write.")],
    model: Annotated[str, typer.Option(help="Model to start from: bundled name or local directory.")] = (
        "all-MiniLM-L6-v2"
    ),
    gains: Annotated[
        str, typer.Option(help="Label gains, e.g. E=1,S=0.1,C=0.01,I=0; numeric labels: offset=1.")
    ] = "E=1,S=0.1,C=0.01,I=0",
    teacher: Annotated[
        Path | None, typer.Option(help="Cross-encoder directory: distill its margins (MarginMSE).")
    ] = None,
    dev: Annotated[Path | None, typer.Option(help="Dev judgments, evaluated every epoch (best kept).")] = None,
    dev_fraction: Annotated[
        float | None, typer.Option(help="Hold out this share of the training queries as the dev set.")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 1,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-5,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    mine_with: Annotated[
        str, typer.Option(help="Retrievers that mine unjudged negatives: lexical,dense | lexical | dense | none.")
    ] = "lexical,dense",
    resume: Annotated[bool, typer.Option(help="Continue from the latest checkpoint in OUTPUT.checkpoints.")] = False,
) -> None:
    """Fine-tune the bi-encoder on judgments (MultipleNegativesRanking + hard negatives, or MarginMSE)."""
    from shopmatch.catalog import read_catalog
    from shopmatch.judgments import GainMap, read_judgments
    from shopmatch.train.bi_encoder import BiEncoderTrainConfig, train_bi_encoder
    from shopmatch.train.data import split_dev

    if dev is not None and dev_fraction is not None:
        raise fail(ShopmatchError("give --dev or --dev-fraction, not both"))
    try:
        gain_map = GainMap.parse(gains)
    except ValueError as error:
        raise fail(ShopmatchError(f"--gains: {error}")) from None
    retrievers = tuple(r.strip() for r in mine_with.split(",") if r.strip() and r.strip() != "none")
    try:
        config = BiEncoderTrainConfig(
            model=model,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=lr,
            seed=seed,
            mine_with=retrievers,
            distill=teacher is not None,
        )
        started = time.perf_counter()
        products = read_catalog(catalog)
        train = read_judgments(judgments, gains=gain_map)
        held_out = None
        if dev is not None:
            held_out = read_judgments(dev, gains=gain_map)
        elif dev_fraction is not None:
            train, held_out = split_dev(train, dev_fraction, seed=seed)
        train_bi_encoder(train, products, config, output, dev=held_out, gains=gain_map, teacher=teacher, resume=resume)
    except (ShopmatchError, ValueError) as error:
        raise fail(error) from None
    from shopmatch.train.summary import TrainingSummary

    summary = TrainingSummary.load(output)
    best = summary.best("dev_ndcg@10")
    err.print(
        f"trained {output} in {time.perf_counter() - started:.0f} s ({summary.data['rows']:,} rows, "
        f"{summary.data['loss']})"
        + (f"; best dev NDCG@10 {best['dev_ndcg@10']:.4f} at epoch {best['epoch']}" if best else "")
    )
