"""Fine-tune the bi-encoder (two-tower sentence-transformers model) on a shop's own judgments.

Training is sentence-transformers' own: :class:`~sentence_transformers.SentenceTransformerTrainer`
with :class:`~sentence_transformers.sentence_transformer.losses.MultipleNegativesRankingLoss` on
(query, positive, hard negative) rows, or, with a cross-encoder teacher,
:class:`~sentence_transformers.sentence_transformer.losses.MarginMSELoss` on the teacher's margins.
The result is a plain sentence-transformers model directory: ``SentenceTransformer(dir)`` loads
it, and ``[dense] model = "DIR"`` puts it in a shopmatch pipeline.

How the rows are made (:func:`mine_negatives`):

- **Positives** are the judged products whose target (``gain / top gain``, see
  :func:`~shopmatch.train.data.labeled_pairs`) is at least ``positive_min_target``: by default
  only the top grade (ESCI ``E``).
- **Negatives** never include a product judged relevant enough for the query (target ≥
  ``exclude_min_target``; by default ESCI ``E`` and ``S``). In order of preference:

  1. the query's **judged non-matches** (ESCI ``C`` and ``I``), those the current retrievers rank
     highest first: a shop's judgments are mostly of products its search already showed, so
     these are hard and known to be wrong;
  2. **unjudged products from the current pipeline** (BM25F + the zero-shot bi-encoder, fused)
     at ranks ``skip_top + 1`` … ``mining_depth``: the top few are skipped because an unjudged
     product that high is often a true match nobody labelled.

  Each (query, positive) row takes the next ``negatives_per_pair`` negatives of its query's list,
  cycling, so a query with many positives spreads over all its negatives. A query with no
  candidate negative at all gets seeded random catalog products (counted in the log).

  Why not :func:`sentence_transformers.util.mine_hard_negatives`: it mines with one dense model
  and excludes only the positives of the dataset; it cannot be told about products judged
  relevant but not used as positives (ESCI ``S``), and it does not prefer the judged
  non-matches, which are the most informative negatives a shop has. The shop's own hybrid
  pipeline also finds lexical near-misses (same brand, same model number) that a dense-only
  miner ranks lower.
- In-batch negatives come for free with MultipleNegativesRankingLoss; the ``NO_DUPLICATES``
  batch sampler keeps a query (and a product text) from appearing twice in a batch, where
  another positive of the same query would count as a negative.

Distillation (``distill=True`` and a ``teacher`` directory loadable by
:class:`~sentence_transformers.CrossEncoder`): every row is labelled with
``teacher(q, pos) − teacher(q, neg)`` (the teacher's activated scores, probabilities in [0, 1]
for a one-label model) and trained with MarginMSELoss on the dot product of the (normalized)
embeddings, as in Hofstätter et al. 2020 (arXiv:2010.02666).

With a dev set the model is evaluated after every epoch (graded NDCG@10, MRR@10 and Recall@100
over the whole catalog, the project's metrics) and the best epoch is kept. Checkpoints go to a
sibling folder ``<out_dir>.checkpoints`` so that ``resume=True`` continues an interrupted run.

Example:
    >>> from shopmatch.catalog import read_catalog
    >>> from shopmatch.judgments import GainMap, read_judgments
    >>> products = read_catalog("products.jsonl").products                      # doctest: +SKIP
    >>> train, dev = split_dev(read_judgments("judgments.tsv"), 0.1)            # doctest: +SKIP
    >>> train_bi_encoder(train, products, BiEncoderTrainConfig(epochs=2), "my-encoder",
    ...                  dev=dev, gains=GainMap.esci())                           # doctest: +SKIP
    PosixPath('my-encoder')
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shopmatch.catalog import Catalog, Product
from shopmatch.encoders.models import DEFAULT_MODEL, resolve_model_dir
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.errors import ConfigError, DataError
from shopmatch.judgments import GainMap, Judgments
from shopmatch.train.data import LabeledPair, labeled_pairs, product_lookup
from shopmatch.train.summary import TrainingSummary

if TYPE_CHECKING:
    from shopmatch.pipeline import SearchPipeline

logger = logging.getLogger(__name__)

MODEL_KIND = "shopmatch-bi-encoder"
MODEL_FORMAT_VERSION = 1
DEV_METRIC = "dev_ndcg@10"

__all__ = [
    "BiEncoderTrainConfig",
    "MiningStats",
    "Triple",
    "checkpoint_dir",
    "mine_negatives",
    "retrieve_candidates",
    "train_bi_encoder",
]


@dataclass(frozen=True)
class BiEncoderTrainConfig:
    """Settings of a bi-encoder fine-tuning run.

    Attributes:
        model: the model to start from: a bundled name (``all-MiniLM-L6-v2``) or a local
            sentence-transformers directory.
        epochs: passes over the training rows.
        batch_size: rows per step (each row is a query, a positive and its negatives; with
            MultipleNegativesRankingLoss every other row's products are negatives too).
        learning_rate: peak learning rate of the linear schedule.
        warmup_ratio: share of the steps spent warming the learning rate up.
        weight_decay: AdamW weight decay.
        max_length: token limit of queries and product texts while training (and of the saved
            model).
        seed: seeds the model's training, the batch order and the random fallback negatives.
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

    model: str = DEFAULT_MODEL
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 64
    seed: int = 0
    positive_min_target: float = 1.0
    exclude_min_target: float = 0.1
    negatives_per_pair: int = 1
    max_positives_per_query: int | None = None
    mine_with: tuple[str, ...] = ("lexical", "dense")
    mining_depth: int = 100
    skip_top: int = 10
    distill: bool = False
    teacher_batch_size: int = 32
    mnrl_scale: float = 20.0
    logging_steps: int = 10
    eval_batch_size: int = 64
    keep_checkpoints: bool = False
    text: ProductTextTemplate = field(default_factory=ProductTextTemplate)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"model must be a model name or directory, got {self.model!r}")
        for name in ("epochs", "batch_size", "negatives_per_pair", "mining_depth", "teacher_batch_size"):
            _require_int(name, getattr(self, name), 1)
        for name in ("logging_steps", "eval_batch_size"):
            _require_int(name, getattr(self, name), 1)
        _require_int("max_length", self.max_length, 8)
        if self.max_positives_per_query is not None:
            _require_int("max_positives_per_query", self.max_positives_per_query, 1)
        _require_int("seed", self.seed, 0)
        _require_int("skip_top", self.skip_top, 0)
        if self.skip_top >= self.mining_depth:
            raise ConfigError(f"skip_top ({self.skip_top}) must be below mining_depth ({self.mining_depth})")
        _require_number("learning_rate", self.learning_rate, low=0.0, low_open=True)
        _require_number("warmup_ratio", self.warmup_ratio, low=0.0, high=1.0)
        _require_number("weight_decay", self.weight_decay, low=0.0)
        _require_number("mnrl_scale", self.mnrl_scale, low=0.0, low_open=True)
        _require_number("positive_min_target", self.positive_min_target, low=0.0, high=1.0, low_open=True)
        _require_number("exclude_min_target", self.exclude_min_target, low=0.0, high=1.0, low_open=True)
        if self.exclude_min_target > self.positive_min_target:
            raise ConfigError(
                f"exclude_min_target ({self.exclude_min_target}) must not exceed positive_min_target "
                f"({self.positive_min_target}): a positive would be allowed as a negative of its own query"
            )
        mine_with = self.mine_with
        if isinstance(mine_with, str) or not all(r in ("lexical", "dense") for r in mine_with):
            raise ConfigError(f"mine_with must list 'lexical' and/or 'dense', got {mine_with!r}")
        object.__setattr__(self, "mine_with", tuple(dict.fromkeys(mine_with)))
        for name in ("distill", "keep_checkpoints"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.text, ProductTextTemplate):
            raise ConfigError(f"text must be a ProductTextTemplate, got {type(self.text).__name__}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mine_with"] = list(self.mine_with)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BiEncoderTrainConfig:
        """The inverse of :meth:`to_dict`; unknown keys are errors."""
        data = dict(data)
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown bi-encoder training setting(s) {sorted(unknown)}; known: {sorted(known)}")
        if "text" in data and isinstance(data["text"], Mapping):
            data["text"] = ProductTextTemplate.from_dict(data["text"])
        if "mine_with" in data and isinstance(data["mine_with"], list):
            data["mine_with"] = tuple(data["mine_with"])
        return cls(**data)


def _require_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{name} must be an integer ≥ {minimum}, got {value!r}")


def _require_number(
    name: str, value: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False
) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bounds = (
            f"{'(' if low_open else '['}{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        )
        raise ConfigError(f"{name} must be a number in {bounds}, got {value!r}")


# --------------------------------------------------------------------------------------------
# Mining
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Triple:
    """One training row: a query, one of its positives and its hard negatives (product ids)."""

    query_id: str
    query: str
    positive_id: str
    negative_ids: tuple[str, ...]


@dataclass
class MiningStats:
    """What :func:`mine_negatives` found, for the log and the training summary."""

    queries: int = 0
    queries_without_positive: int = 0
    queries_with_random_negatives: int = 0
    rows: int = 0
    judged_negatives: int = 0
    retrieved_negatives: int = 0
    random_negatives: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def retrieve_candidates(
    pipeline: SearchPipeline, judgments: Judgments, depth: int = 100, *, batch_size: int = 64
) -> dict[str, list[str]]:
    """Query id → the product ids ``pipeline`` returns for it, best first (``depth`` of them).

    Example:
        >>> retrieve_candidates(SearchPipeline.build(products), judgments, 50)  # doctest: +SKIP
        {'q1': ['p7', 'p2', ...], ...}
    """
    from shopmatch.progress import track

    query_ids = judgments.query_ids
    out: dict[str, list[str]] = {}
    batches = [query_ids[i : i + batch_size] for i in range(0, len(query_ids), batch_size)]
    for batch in track(batches, total=len(batches), description="mining negatives"):
        results = pipeline.search_ids([judgments.queries[q] for q in batch], k=depth)
        out.update((q, [pid for pid, _ in ranked]) for q, ranked in zip(batch, results, strict=True))
    return out


def mine_negatives(
    pairs: Sequence[LabeledPair],
    ranked: Mapping[str, Sequence[str]],
    *,
    positive_min_target: float = 1.0,
    exclude_min_target: float = 0.1,
    skip_top: int = 10,
    depth: int = 100,
    per_pair: int = 1,
    max_positives: int | None = None,
    catalog_ids: Sequence[str] = (),
    seed: int = 0,
) -> tuple[list[Triple], MiningStats]:
    """Build (query, positive, negatives) rows from labelled pairs and retrieved candidates.

    See the module docstring for the order in which negatives are chosen. A product whose target
    for the query is ``exclude_min_target`` or more is never one of its negatives.

    Args:
        pairs: the judged pairs (:func:`~shopmatch.train.data.labeled_pairs`), targets in [0, 1].
        ranked: query id → product ids the current retrievers return, best first (may be empty).
        positive_min_target: pairs with a target at least this are positives.
        exclude_min_target: products with a target at least this are never negatives of the query.
        skip_top: unjudged products at ranks ``1 … skip_top`` are not used.
        depth: unjudged products below rank ``depth`` are not used.
        per_pair: negatives per row.
        max_positives: keep at most this many positives per query (a seeded sample, in file order).
        catalog_ids: product ids for the random fallback (a query with no candidate negative).
        seed: seeds the random fallback.

    Returns:
        The rows in query order (as first seen in ``pairs``), and counts.

    Example:
        >>> pairs = [LabeledPair("usb", "", 1.0, "q", "a"), LabeledPair("usb", "", 0.1, "q", "b"),
        ...          LabeledPair("usb", "", 0.0, "q", "c")]
        >>> rows, _ = mine_negatives(pairs, {"q": ["b", "x", "c", "a", "y"]}, skip_top=1)
        >>> [(r.positive_id, r.negative_ids) for r in rows]
        [('a', ('c',))]
    """
    if exclude_min_target > positive_min_target:
        raise ValueError("exclude_min_target must not exceed positive_min_target")
    rng = random.Random(seed)
    by_query: dict[str, list[LabeledPair]] = {}
    for pair in pairs:
        by_query.setdefault(pair.query_id, []).append(pair)
    stats = MiningStats(queries=len(by_query))
    rows: list[Triple] = []
    for query_id, judged in by_query.items():
        positives = list(dict.fromkeys(p.product_id for p in judged if p.target >= positive_min_target))
        if not positives:
            stats.queries_without_positive += 1
            continue
        if max_positives is not None and len(positives) > max_positives:
            keep = set(rng.sample(range(len(positives)), max_positives))
            positives = [p for i, p in enumerate(positives) if i in keep]
        judged_ids = {p.product_id for p in judged}
        candidates = list(dict.fromkeys(ranked.get(query_id, ())))
        rank_of = {pid: i for i, pid in enumerate(candidates)}
        judged_negative = list(dict.fromkeys(p.product_id for p in judged if p.target < exclude_min_target))
        # judged non-matches, those the retrievers rank highest first, then the rest in file order
        judged_negative.sort(key=lambda pid: rank_of.get(pid, len(candidates)))
        retrieved = [pid for pid in candidates[skip_top:depth] if pid not in judged_ids]
        pool = judged_negative + retrieved
        n_judged = len(judged_negative)
        random_pool = not pool
        if random_pool:
            pool = _random_negatives(catalog_ids, judged_ids, max(per_pair, len(positives) * per_pair), rng)
            stats.queries_with_random_negatives += 1
            if not pool:
                logger.warning("query %r: no product can serve as its negative; its positives are skipped", query_id)
                continue
        used: set[int] = set()
        for i, positive in enumerate(positives):
            picks = [(i * per_pair + j) % len(pool) for j in range(per_pair)]
            used.update(picks)
            negatives = tuple(pool[k] for k in picks)
            rows.append(Triple(query_id, judged[0].query, positive, negatives))
        if random_pool:
            stats.random_negatives += len(used)
        else:
            stats.judged_negatives += sum(1 for k in used if k < n_judged)
            stats.retrieved_negatives += sum(1 for k in used if k >= n_judged)
    stats.rows = len(rows)
    if stats.queries_with_random_negatives:
        logger.info(
            "%d training queries had no judged non-match and no retrieved candidate: random negatives used",
            stats.queries_with_random_negatives,
        )
    return rows, stats


def _random_negatives(catalog_ids: Sequence[str], exclude: set[str], n: int, rng: random.Random) -> list[str]:
    allowed = [pid for pid in catalog_ids if pid not in exclude]
    if not allowed:
        return []
    return rng.sample(allowed, min(n, len(allowed)))


# --------------------------------------------------------------------------------------------
# Dev evaluation
# --------------------------------------------------------------------------------------------


def _dev_evaluator(dev: Judgments, products: Sequence[Product], gains: GainMap, config: BiEncoderTrainConfig):
    """A sentence-transformers evaluator: the model being trained searches the whole catalog for
    each dev query; graded NDCG@10, MRR@10 and Recall@100 with the project's metrics."""
    from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

    from shopmatch.eval.metrics import ranking_metrics

    texts = [config.text.render(p) for p in products]
    ids = [p.id for p in products]
    query_ids = dev.query_ids
    queries = [dev.queries[q] for q in query_ids]
    qrels, relevant = dev.qrels(gains), dev.relevant(gains)
    recall_relevant = dev.relevant(gains, for_recall=True)
    depth = min(100, len(ids))

    class GradedRetrievalEvaluator(SentenceEvaluator):
        def __init__(self) -> None:
            super().__init__()
            self.name = "dev"
            self.primary_metric = "ndcg@10"

        def __call__(self, model, output_path: str | None = None, epoch: int = -1, steps: int = -1):
            started = time.perf_counter()
            kwargs = dict(batch_size=config.eval_batch_size, normalize_embeddings=True, convert_to_numpy=True)
            docs = model.encode(texts, show_progress_bar=_progress_enabled(), **kwargs)  # (n_products, dim)
            vectors = model.encode(queries, show_progress_bar=False, **kwargs)  # (n_queries, dim)
            scores = vectors @ docs.T  # (n_queries, n_products)
            top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
            run = {}
            for i, q in enumerate(query_ids):
                order = top[i][np.argsort(-scores[i, top[i]], kind="stable")]
                run[q] = [(ids[r], float(scores[i, r])) for r in order]
            metrics = ranking_metrics(
                qrels, relevant, run, ("ndcg@10", "mrr@10", "recall@100"), recall_relevant=recall_relevant
            ).mean
            logger.info(
                "dev (epoch %s): %s in %.1f s",
                epoch,
                ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()),
                time.perf_counter() - started,
            )
            metrics = self.prefix_name_to_metrics(metrics, self.name)
            self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
            return metrics

    return GradedRetrievalEvaluator()


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def checkpoint_dir(out_dir: str | Path) -> Path:
    """Where the checkpoints of a run writing ``out_dir`` go: ``<out_dir>.checkpoints`` beside it."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + ".checkpoints")


def _progress_enabled() -> bool:
    from shopmatch import progress

    return bool(getattr(progress, "_enabled", False))


def _mining_pipeline(products: Sequence[Product], config: BiEncoderTrainConfig) -> SearchPipeline:
    from shopmatch.config import PipelineConfig
    from shopmatch.encoders.config import EncoderConfig
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.retrieval.dense import DenseConfig

    dense = DenseConfig(encoder=EncoderConfig(model=config.model, max_length=config.max_length), text=config.text)
    pipeline_config = PipelineConfig(retrievers=config.mine_with, candidates=max(config.mining_depth, 100), dense=dense)
    logger.info("building the mining pipeline (%s) over %d products", " + ".join(config.mine_with), len(products))
    return SearchPipeline.build(products, pipeline_config)


def _teacher_margins(teacher: str | Path, rows: list[dict[str, Any]], n_negatives: int, batch_size: int) -> list:
    """``teacher(q, pos) − teacher(q, neg_i)`` for every row (a float, or a list for several negatives)."""
    from sentence_transformers import CrossEncoder

    started = time.perf_counter()
    model = CrossEncoder(str(teacher), device="cpu", local_files_only=True)
    columns = ["positive", *(f"negative_{i + 1}" for i in range(n_negatives))]
    pairs = [(row["anchor"], row[c]) for row in rows for c in columns]
    scores = np.asarray(
        model.predict(pairs, batch_size=batch_size, show_progress_bar=_progress_enabled(), convert_to_numpy=True),
        dtype=np.float64,
    ).reshape(len(rows), len(columns))
    margins = scores[:, :1] - scores[:, 1:]  # (rows, n_negatives)
    logger.info(
        "teacher %s scored %d pairs in %.1f s (mean margin %.3f)",
        teacher,
        len(pairs),
        time.perf_counter() - started,
        float(margins.mean()) if margins.size else 0.0,
    )
    return [float(m[0]) for m in margins] if n_negatives == 1 else [m.tolist() for m in margins]


def _summary_callback(started: float):
    """Records each epoch's wall time into the trainer's log history (kept in checkpoints, so a
    resumed run still knows the epochs before the interruption)."""
    from transformers import TrainerCallback

    class EpochTimer(TrainerCallback):
        def __init__(self) -> None:
            self.last = started

        def on_epoch_end(self, args, state, control, **kwargs):
            now = time.perf_counter()
            state.log_history.append(
                {"epoch": round(float(state.epoch or 0)), "epoch_seconds": now - self.last, "step": state.global_step}
            )
            self.last = now

    return EpochTimer()


def _quiet_progress_callback():
    """transformers' progress bar without its ``{'loss': ...}`` lines on stdout (shopmatch logs instead)."""
    from transformers.trainer_callback import ProgressCallback

    class QuietProgress(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                logger.info("step %d, epoch %.2f: loss %.4f", state.global_step, state.epoch or 0, logs["loss"])

    return QuietProgress


def _latest_checkpoint(folder: Path) -> Path | None:
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1])) if found else None


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
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from shopmatch.store import atomic_directory, write_manifest

    config = config or BiEncoderTrainConfig()
    gains = gains or GainMap.esci()
    out_dir = Path(out_dir)
    if config.distill and teacher is None:
        raise ValueError("distill=True needs a teacher (a cross-encoder model directory)")
    if teacher is not None and not config.distill:
        raise ValueError("a teacher was given but distill=False; set distill=True to use it")
    if teacher is not None and not Path(teacher).is_dir():
        raise ConfigError(f"teacher {str(teacher)!r} is not a directory")
    started = time.perf_counter()
    lookup = product_lookup(products)
    catalog = list(lookup.values())
    texts = {pid: config.text.render(p) for pid, p in lookup.items()}

    # ---- rows: positives, mined negatives
    pairs = labeled_pairs(train, lookup, gains, config.text)
    ranked: dict[str, list[str]] = {}
    if config.mine_with:
        pipeline = pipeline or _mining_pipeline(catalog, config)
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
        margins = _teacher_margins(teacher, rows, config.negatives_per_pair, config.teacher_batch_size)  # type: ignore[arg-type]
        for row, margin in zip(rows, margins, strict=True):
            row["label"] = margin
        loss = MarginMSELoss(model)
    else:
        loss = MultipleNegativesRankingLoss(model, scale=config.mnrl_scale)
    dataset = Dataset.from_list(rows)
    evaluator = _dev_evaluator(dev, catalog, gains, config) if dev is not None and len(dev) else None

    # ---- trainer
    checkpoints = checkpoint_dir(out_dir)
    resume_from = _latest_checkpoint(checkpoints) if resume and checkpoints.is_dir() else None
    if resume and resume_from is None:
        logger.warning("no checkpoint in %s to resume from; training from the start", checkpoints)
    if not resume and checkpoints.exists():
        shutil.rmtree(checkpoints)
    progress = _progress_enabled()
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        learning_rate=config.learning_rate,
        warmup_ratio=config.warmup_ratio,
        weight_decay=config.weight_decay,
        seed=config.seed,
        data_seed=config.seed,
        batch_sampler=BatchSamplers.BATCH_SAMPLER if config.distill else BatchSamplers.NO_DUPLICATES,
        eval_strategy="epoch" if evaluator is not None else "no",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=evaluator is not None,
        metric_for_best_model=f"eval_{DEV_METRIC}" if evaluator is not None else None,
        greater_is_better=True,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        report_to="none",
        disable_tqdm=not progress,
        dataloader_pin_memory=False,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        loss=loss,
        evaluator=evaluator,
        callbacks=[_summary_callback(time.perf_counter()), *callbacks],
    )
    trainer.remove_callback(PrinterCallback)  # it prints every log dict to stdout
    if progress:
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(_quiet_progress_callback())
    if resume_from is not None:
        logger.info("resuming from %s", resume_from)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from is not None else None)

    # ---- summary and save
    summary = _summary(trainer.state.log_history, config, teacher)
    summary.data = {
        "train_queries": len(train.queries),
        "train_judgments": len(train),
        "rows": len(rows),
        "mining": {**stats.to_dict(), "retrievers": list(config.mine_with)},
        "dev_queries": len(dev.queries) if dev is not None else 0,
        "products": len(lookup),
        "gains": str(gains),
        "loss": type(loss).__name__,
        "steps": trainer.state.global_step,
        "resumed_from": resume_from.name if resume_from is not None else None,
    }
    best = summary.best(DEV_METRIC)
    summary.best_epoch = best["epoch"] if best else None
    summary.seconds = round(time.perf_counter() - started, 2)
    with atomic_directory(out_dir) as tmp:
        model.save(str(tmp))
        write_manifest(
            tmp,
            kind=MODEL_KIND,
            format_version=MODEL_FORMAT_VERSION,
            config=config.to_dict(),
            base_model=config.model,
            teacher=str(teacher) if teacher is not None else None,
            best_epoch=summary.best_epoch,
        )
        summary.save(tmp)
    if not config.keep_checkpoints:
        shutil.rmtree(checkpoints, ignore_errors=True)
    logger.info(
        "saved the fine-tuned bi-encoder to %s (%d steps, %.0f s%s)",
        out_dir,
        trainer.state.global_step,
        summary.seconds,
        f", best epoch {summary.best_epoch}" if summary.best_epoch is not None else "",
    )
    return out_dir


def _summary(
    history: list[dict[str, Any]], config: BiEncoderTrainConfig, teacher: str | Path | None
) -> TrainingSummary:
    """A :class:`TrainingSummary` from the trainer's log history (which survives a resume)."""
    what = "MarginMSE from " + str(teacher) if teacher is not None else "MultipleNegativesRanking + hard negatives"
    summary = TrainingSummary(model=f"bi-encoder {config.model} ({what})", config=config.to_dict())
    epochs: dict[int, dict[str, Any]] = {}
    for entry in history:
        if "loss" in entry:
            summary.log_loss(step=entry.get("step", 0), epoch=entry.get("epoch", 0.0), loss=entry["loss"])
        elif "epoch_seconds" in entry:
            epochs.setdefault(int(entry["epoch"]), {})["seconds"] = entry["epoch_seconds"]
        elif any(k.startswith("eval_dev_") for k in entry):
            metrics = {k[len("eval_") :]: v for k, v in entry.items() if k.startswith("eval_dev_")}
            epochs.setdefault(round(entry.get("epoch", 0)), {}).update(metrics)
    for epoch in sorted(epochs):
        values = dict(epochs[epoch])
        summary.log_epoch(epoch=epoch, seconds=values.pop("seconds", 0.0), metrics=values)
    return summary
