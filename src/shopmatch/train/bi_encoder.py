"""Fine-tune the bi-encoder (two-tower sentence-transformers model) on a shop's own judgments.

Training is sentence-transformers' own: :class:`~sentence_transformers.SentenceTransformerTrainer`
with :class:`~sentence_transformers.sentence_transformer.losses.MultipleNegativesRankingLoss` on
(query, positive, hard negative) rows, or, with a cross-encoder teacher,
:class:`~sentence_transformers.sentence_transformer.losses.MarginMSELoss` on the teacher's margins
(:func:`~shopmatch.train.distill.teacher_margins`), run by the training harness
(:mod:`shopmatch.train.harness`: early stopping with ``patience``, the best epoch kept,
checkpoints and resume, the summary, the device, data parallelism). The result is a plain
sentence-transformers model directory: ``SentenceTransformer(dir)`` loads it, and
``[dense] model = "DIR"`` puts it in a shopmatch pipeline.

How the rows are made (:func:`~shopmatch.train.mining.mine_negatives`):

- **Positives** are the judged products whose target (``gain / top gain``, see
  :func:`~shopmatch.train.data.labeled_pairs`) is at least ``positive_min_target``: by default
  only the top grade (ESCI ``E``).
- **Negatives** never include a product judged relevant enough for the query (target ≥
  ``exclude_min_target``; by default ESCI ``E`` and ``S``). In order of preference: the query's
  **judged non-matches** (ESCI ``C`` and ``I``), those the current retrievers rank highest first;
  then **unjudged products from the current pipeline** (``mine_with``: BM25F + the starting
  bi-encoder, fused) at ranks ``skip_top + 1`` … ``mining_depth``. Each (query, positive) row
  takes the next ``negatives_per_pair`` negatives of its query's list, cycling; a query with no
  candidate negative at all gets seeded random catalog products (counted in the log).
- In-batch negatives come for free with MultipleNegativesRankingLoss; the ``NO_DUPLICATES``
  batch sampler keeps a query (and a product text) from appearing twice in a batch, where
  another positive of the same query would count as a negative.

With a dev set the model is evaluated after every epoch (graded NDCG@10, MRR@10 and Recall@100
over the whole catalog, :class:`~shopmatch.train.evaluation.RetrievalDevEvaluator`); the best
epoch is kept, and ``patience`` epochs without a better dev NDCG@10 stop training (0, the
default: never stop early).

Example:
    >>> from shopmatch.catalog import read_catalog
    >>> from shopmatch.judgments import GainMap, read_judgments
    >>> from shopmatch.train.splits import split_dev
    >>> products = read_catalog("products.jsonl").products                      # doctest: +SKIP
    >>> train, dev = split_dev(read_judgments("judgments.tsv"), 0.1)            # doctest: +SKIP
    >>> train_bi_encoder(train, products, BiEncoderTrainConfig(epochs=2), "my-encoder",
    ...                  dev=dev, gains=GainMap.esci())                           # doctest: +SKIP
    PosixPath('my-encoder')
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopmatch.catalog import Catalog, Product
from shopmatch.encoders.models import DEFAULT_MODEL, resolve_model_dir
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.errors import ConfigError, DataError
from shopmatch.judgments import GainMap, Judgments
from shopmatch.settings import ConfigSection, setting
from shopmatch.train import distributed
from shopmatch.train.data import labeled_pairs, product_lookup
from shopmatch.train.device import DEVICES
from shopmatch.train.mining import RETRIEVERS, mine_negatives, mining_pipeline, retrieve_candidates
from shopmatch.train.summary import TrainingSummary

if TYPE_CHECKING:
    from shopmatch.pipeline import SearchPipeline

logger = logging.getLogger(__name__)

MODEL_KIND = "shopmatch-bi-encoder"
MODEL_FORMAT_VERSION = 1
DEV_METRIC = "dev_ndcg@10"

__all__ = ["BiEncoderTrainConfig", "train_bi_encoder"]


@dataclass(frozen=True)
class BiEncoderTrainConfig(ConfigSection):
    """Settings of a bi-encoder fine-tuning run.

    Attributes:
        model: the model to start from: a bundled name (``all-MiniLM-L6-v2``) or a local
            sentence-transformers directory.
        epochs: passes over the training rows (at most; see ``patience``).
        batch_size: rows per step (each row is a query, a positive and its negatives; with
            MultipleNegativesRankingLoss every other row's products are negatives too).
        learning_rate: peak learning rate of the linear schedule.
        warmup_ratio: share of the steps spent warming the learning rate up.
        weight_decay: AdamW weight decay.
        max_length: token limit of queries and product texts while training (and of the saved
            model).
        seed: seeds the model's training, the batch order and the random fallback negatives.
        patience: with a dev set, stop after this many epochs without a better dev NDCG@10
            (0: never stop early); the best epoch is kept either way.
        device: ``auto`` (a CUDA GPU if there is one), ``cpu`` or ``cuda``.
        positive_min_target: products with a target (gain / top gain) at least this are
            positives; 1.0 (the default) keeps only the top grade, e.g. ESCI ``E``; 0.1 adds ``S``.
        exclude_min_target: products with a target at least this are never negatives of their
            query (default 0.1: ESCI ``E`` and ``S``); must not exceed ``positive_min_target``.
        negatives_per_pair: hard negatives per (query, positive) row.
        max_positives_per_query: keep at most this many positives of a query (a seeded sample, in
            file order); ``None`` keeps all. Caps the weight of queries with dozens of exact
            matches and the cost of an epoch.
        mine_with: the retrievers that find unjudged negatives (``lexical``, ``dense``; the
            dense one is the starting model, int8 ONNX); ``()`` uses judged non-matches only.
        mining_depth: candidates retrieved per training query.
        skip_top: unjudged candidates ranked this high or higher are never negatives.
        distill: train with MarginMSELoss on a cross-encoder teacher's margins (needs ``teacher``).
        teacher_batch_size: pairs per forward pass of the teacher.
        mnrl_scale: the similarity scale of MultipleNegativesRankingLoss (inverse temperature).
        logging_steps: steps between two loss records.
        eval_batch_size: texts per forward pass when encoding the catalog for the dev evaluation.
        keep_checkpoints: keep ``<out_dir>.checkpoints`` after a successful run (default: removed).
        text: how a product becomes text (must match the pipeline's ``[dense.text]``).
    """

    SECTION = "bi_encoder"

    model: str = DEFAULT_MODEL
    epochs: int = setting(1, minimum=1)
    batch_size: int = setting(32, minimum=1)
    learning_rate: float = setting(2e-5, greater_than=0.0)
    warmup_ratio: float = setting(0.1, minimum=0.0, maximum=1.0)
    weight_decay: float = setting(0.01, minimum=0.0)
    max_length: int = setting(64, minimum=8)
    seed: int = setting(0, minimum=0)
    patience: int = setting(0, minimum=0)
    device: str = setting("auto", choices=DEVICES)
    positive_min_target: float = setting(1.0, greater_than=0.0, maximum=1.0)
    exclude_min_target: float = setting(0.1, greater_than=0.0, maximum=1.0)
    negatives_per_pair: int = setting(1, minimum=1)
    max_positives_per_query: int | None = setting(None, minimum=1)
    mine_with: tuple[str, ...] = setting(("lexical", "dense"), choices=RETRIEVERS)
    mining_depth: int = setting(100, minimum=1)
    skip_top: int = setting(10, minimum=0)
    distill: bool = False
    teacher_batch_size: int = setting(32, minimum=1)
    mnrl_scale: float = setting(20.0, greater_than=0.0)
    logging_steps: int = setting(10, minimum=1)
    eval_batch_size: int = setting(64, minimum=1)
    keep_checkpoints: bool = False
    text: ProductTextTemplate = field(default_factory=ProductTextTemplate)

    def check(self) -> None:
        if not self.model:
            raise ConfigError("bi_encoder.model must be a model name or directory, got ''")
        if self.skip_top >= self.mining_depth:
            raise ConfigError(f"skip_top ({self.skip_top}) must be below mining_depth ({self.mining_depth})")
        if self.exclude_min_target > self.positive_min_target:
            raise ConfigError(
                f"exclude_min_target ({self.exclude_min_target}) must not exceed positive_min_target "
                f"({self.positive_min_target}): a positive would be allowed as a negative of its own query"
            )
        object.__setattr__(self, "mine_with", tuple(dict.fromkeys(self.mine_with)))


def train_bi_encoder(
    train: Judgments,
    products: Catalog | Mapping[str, Product] | Sequence[Product],
    config: BiEncoderTrainConfig | None = None,
    out_dir: str | Path = "bi-encoder",
    *,
    dev: Judgments | None = None,
    gains: GainMap | None = None,
    teacher: str | Path | None = None,
    pipeline: SearchPipeline | None = None,
    resume: bool = False,
    callbacks: Sequence[Any] = (),
) -> Path:
    """Fine-tune a bi-encoder on ``train`` and save it to ``out_dir`` (sentence-transformers format).

    Args:
        train: the judgments to learn from.
        products: the catalog the judged product ids refer to (also the corpus negatives and
            the dev evaluation search).
        config: training settings (defaults: :class:`BiEncoderTrainConfig`).
        out_dir: the model directory to write (replaced atomically; a failed run leaves it as it was).
        dev: judgments of held-out queries: evaluated after every epoch, the best epoch is kept.
        gains: label → gain (default: ESCI, E=1, S=0.1, C=0.01, I=0).
        teacher: a cross-encoder directory; with ``config.distill`` the rows are labelled with its
            margins and trained with MarginMSELoss.
        pipeline: the retrievers to mine unjudged negatives with (default: built from
            ``config.mine_with`` over ``products`` with the starting model). Pass one to reuse it.
        resume: continue from the latest checkpoint in ``<out_dir>.checkpoints`` (same data and
            settings); without it, old checkpoints there are removed first.
        callbacks: extra ``transformers.TrainerCallback`` objects.

    Returns:
        ``out_dir``, holding the model, ``manifest.json`` and ``training_summary.json``/``.png``.

    Raises:
        DataError: a judged product is not in the catalog, or no query has a positive.
        ValueError: ``distill`` without a teacher, or a teacher without ``distill``.

    Example:
        >>> train_bi_encoder(judgments, catalog, BiEncoderTrainConfig(), "my-encoder")  # doctest: +SKIP
        PosixPath('my-encoder')
        >>> SearchPipeline.build(catalog.products, PipelineConfig.from_dict({"dense": {"model": "my-encoder"}}))
        ... # doctest: +SKIP
    """
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import MarginMSELoss, MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        SentenceTransformerTrainingArguments,
    )
    from transformers import set_seed

    from shopmatch.store import write_manifest
    from shopmatch.train.distill import teacher_margins
    from shopmatch.train.evaluation import RetrievalDevEvaluator
    from shopmatch.train.harness import fit_trainer

    config = config or BiEncoderTrainConfig()
    gains = gains or GainMap.esci()
    out_dir = Path(out_dir)
    if config.distill and teacher is None:
        raise ValueError("distill=True needs a teacher (a cross-encoder model directory)")
    if teacher is not None and not config.distill:
        raise ValueError("a teacher was given but distill=False; set distill=True to use it")
    if teacher is not None and not Path(teacher).is_dir():
        raise ConfigError(f"teacher {str(teacher)!r} is not a directory")
    lookup = product_lookup(products)
    catalog = list(lookup.values())
    texts = {pid: config.text.render(p) for pid, p in lookup.items()}

    # ---- rows: positives, mined negatives
    pairs = labeled_pairs(train, lookup, gains, config.text)
    ranked: dict[str, list[str]] = {}
    if config.mine_with:
        with distributed.main_process_first():  # the dense model's int8 export is cached once
            pipeline = pipeline or mining_pipeline(
                catalog,
                config.mine_with,
                dense_model=config.model,
                max_length=config.max_length,
                text=config.text,
                depth=config.mining_depth,
            )
            ranked = retrieve_candidates(pipeline, train, config.mining_depth)
        # a pipeline over another catalog may return ids this one lacks: they cannot be rows
        ranked = {q: [pid for pid in ids if pid in lookup] for q, ids in ranked.items()}
    triples, stats = mine_negatives(
        pairs,
        ranked,
        positive_min_target=config.positive_min_target,
        exclude_min_target=config.exclude_min_target,
        skip_top=config.skip_top,
        depth=config.mining_depth,
        per_pair=config.negatives_per_pair,
        max_positives=config.max_positives_per_query,
        catalog_ids=list(lookup),
        seed=config.seed,
    )
    if not triples:
        raise DataError(
            f"no training query has a positive (a judged product with target ≥ {config.positive_min_target} "
            f"under gains {gains}); nothing to learn from"
        )
    rows = [
        {
            "anchor": t.query,
            "positive": texts[t.positive_id],
            **{f"negative_{i + 1}": texts[n] for i, n in enumerate(t.negative_ids)},
        }
        for t in triples
    ]
    logger.info(
        "%d training rows from %d queries (%d judged and %d retrieved negatives used)",
        len(rows),
        stats.queries - stats.queries_without_positive,
        stats.judged_negatives,
        stats.retrieved_negatives,
    )

    # ---- model, loss
    set_seed(config.seed)
    model = SentenceTransformer(str(resolve_model_dir(config.model)), local_files_only=True)
    model.max_seq_length = config.max_length
    if config.distill:
        margins = teacher_margins(teacher, rows, config.negatives_per_pair, config.teacher_batch_size)  # type: ignore[arg-type]
        for row, margin in zip(rows, margins, strict=True):
            row["label"] = margin
        loss = MarginMSELoss(model)
    else:
        loss = MultipleNegativesRankingLoss(model, scale=config.mnrl_scale)
    evaluator = None
    if dev is not None and len(dev):
        evaluator = RetrievalDevEvaluator(dev, catalog, gains, config.text, batch_size=config.eval_batch_size)
    what = "MarginMSE from " + str(teacher) if teacher is not None else "MultipleNegativesRanking + hard negatives"
    summary = TrainingSummary(
        model=f"bi-encoder {config.model} ({what})",
        config=config.to_dict(),
        data={
            "train_queries": len(train.queries),
            "train_judgments": len(train),
            "rows": len(rows),
            "mining": {**stats.to_dict(), "retrievers": list(config.mine_with)},
            "dev_queries": len(dev.queries) if dev is not None else 0,
            "products": len(lookup),
            "gains": str(gains),
            "loss": type(loss).__name__,
        },
    )

    def save(directory: Path) -> None:
        model.save(str(directory))
        write_manifest(
            directory,
            kind=MODEL_KIND,
            format_version=MODEL_FORMAT_VERSION,
            config=config.to_dict(),
            base_model=config.model,
            teacher=str(teacher) if teacher is not None else None,
            best_epoch=summary.best_epoch,
        )

    fit_trainer(
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        model=model,
        train_dataset=Dataset.from_list(rows),
        loss=loss,
        config=config,
        summary=summary,
        out_dir=out_dir,
        save=save,
        evaluator=evaluator,
        metric=DEV_METRIC,
        resume=resume,
        keep_checkpoints=config.keep_checkpoints,
        callbacks=callbacks,
        args={
            "per_device_eval_batch_size": config.eval_batch_size,
            "batch_sampler": BatchSamplers.BATCH_SAMPLER if config.distill else BatchSamplers.NO_DUPLICATES,
            "logging_steps": config.logging_steps,
            "logging_first_step": True,
        },
    )
    return out_dir
