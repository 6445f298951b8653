"""Cross-encoder re-ranking: quality by 5-fold cross-validation on esci-us-150, training speed,
re-ranking latency per backend.

Protocol (``../shared/docs/benchmarks.md``; targets from issue [3 of 4]):

1. ``cv``: esci-us-150, 5-fold cross-validation by query (a query's fold is its position among
   the sorted query ids modulo 5). For each fold a cross-encoder is fine-tuned from
   all-MiniLM-L6-v2 on the judgments of the four other folds (targets = ESCI gains
   E=1, S=0.1, C=0.01, I=0) and measured on the fifth:
   - **rerank mode**: each test query's judged products ordered by the cross-encoder: NDCG@10;
   - **retrieval**: the default hybrid pipeline (BM25F + dense int8, RRF) over all 6,764
     products, its top ``--top-n`` re-ranked: NDCG@10, MRR@10 (E), Recall@100 (E+S), MAP@100.
   A variant (``--variant``) names the training options (LoRA, FGM, augmentation, fewer layers,
   extra Home Depot training data, Home Depot alone — a 5,000-pair sample or the whole train
   split — and ``"start"``: fine-tune another variant's model instead of MiniLM). Each (variant,
   fold) result is cached as JSON under ``bench/results/rerank/``, so runs can be split and
   resumed; the trained models stay under ``bench/data/rerank/`` (teachers for distillation,
   inputs of ``latency``).
2. ``table``: the markdown table of every cached variant: mean over the folds, and each fold.
3. ``homedepot``: Home Depot dev (every 10th sorted query id): rerank NDCG@10 (gain = label − 1)
   of BM25F, the zero-shot MiniLM bi-encoder (cosine) and a cross-encoder fine-tuned on a
   5,000-pair sample of the train split (the ``homedepot-only`` variant's model; ``--variants``
   names other Home Depot-only models, e.g. ``homedepot-all-mean``), and the RMSE of the label
   the cross-encoder predicts (1 + 2·p).
4. ``agreement``: students against their teacher on one fold's test queries' judged products
   (Pearson and Spearman correlation of the scores, ROC-AUC of exact matches against the rest).
5. ``latency``: for a trained model, pairs per second and the latency of scoring 50 candidates
   (a query and the 50 top hybrid candidates' texts, the 150 queries cycled, ``--runs`` runs,
   median p50/p99) with PyTorch fp32, ONNX fp32 and ONNX int8.

Usage::

    .venv/bin/python bench/rerank.py cv --variant full
    .venv/bin/python bench/rerank.py table
    .venv/bin/python bench/rerank.py homedepot
    .venv/bin/python bench/rerank.py latency --model bench/data/rerank/full/fold0
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import REPO_ROOT, data_dir, machine_header, machine_info, markdown_table, percentiles, write_json

RESULTS = REPO_ROOT / "bench" / "results" / "rerank"
MODELS = REPO_ROOT / "bench" / "data" / "rerank"
HYBRID_INDEX = REPO_ROOT / "bench" / "data" / "rerank" / "hybrid-index"
ESCI_GAINS = "E=1,S=0.1,C=0.01,I=0"
HOMEDEPOT_GAINS = "offset=1,relevant>=2.5"

# Training options of each variant (CrossEncoderTrainConfig fields), and extra training data.
# (head "cls" unless a variant says otherwise: the figures of these variants were made with it)
BASE = {"epochs": 1, "batch_size": 16, "learning_rate": 4e-5, "max_length": 64, "patience": 0, "head": "cls"}
VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "full-2ep": {"epochs": 2},
    "lora": {"lora": True, "lora_rank": 16, "lora_alpha": 32, "learning_rate": 5e-4},
    "fgm": {"fgm_epsilon": 1.0},
    "augment": {"augment": ("token_dropout", "word_swap", "typo", "field_shuffle", "synonym")},
    "pos-weight": {"imbalance": "pos_weight"},
    "student-3layers": {"max_layers": 3},
    "len128": {"max_length": 128},
    "lr1e-4-2ep": {"learning_rate": 1e-4, "epochs": 2},
    "lr1e-4-2ep-neg": {"learning_rate": 1e-4, "epochs": 2, "negatives": 10},
    # lr1e-4-2ep-neg with the relevance head over the mean token state instead of [CLS]
    "mean-head-2ep-neg": {"head": "mean", "learning_rate": 1e-4, "epochs": 2, "negatives": 10},
    # the same with 4 epochs (the 2-epoch training loss was still falling)
    "mean-head-4ep-neg": {"head": "mean", "learning_rate": 1e-4, "epochs": 4, "negatives": 10},
    "lr1e-4-2ep-neg30": {"learning_rate": 1e-4, "epochs": 2, "negatives": 30, "depth": 100},
    "mean-head-student-2layers-32tok": {
        "head": "mean",
        "max_layers": 2,
        "max_length": 32,
        "learning_rate": 1e-4,
        "epochs": 2,
        "negatives": 10,
    },
    "student-2layers-32tok": {"max_layers": 2, "max_length": 32, "learning_rate": 1e-4, "epochs": 2, "negatives": 10},
    # (lambda-2ep-neg, the listwise LambdaLoss, was removed with --loss lambda: no held-out gain,
    # docs/experiments/2026-12-06-removed-training-options.md)
    # Distilled students: start from the fold's teacher (its first layers and head) and learn its
    # probabilities on the judged pairs and on every unjudged product of the hybrid top 100.
    "distilled-2layers-32tok": {
        "teacher": "lr1e-4-2ep-neg",
        "max_layers": 2,
        "max_length": 32,
        "learning_rate": 1e-4,
        "epochs": 2,
        "negatives": 100,
        "depth": 100,
    },
    "distilled-2layers-32tok-mse": {
        "teacher": "lr1e-4-2ep-neg",
        "max_layers": 2,
        "max_length": 32,
        "loss": "mse-logit",
        "learning_rate": 2e-4,
        "epochs": 3,
        "negatives": 100,
        "depth": 100,
    },
    # + 2,000 unjudged Home Depot query texts × the hybrid top 10 esci products, labelled by the teacher
    "distilled-2layers-32tok-hdq": {
        "teacher": "lr1e-4-2ep-neg",
        "max_layers": 2,
        "max_length": 32,
        "loss": "mse-logit",
        "learning_rate": 2e-4,
        "epochs": 2,
        "negatives": 100,
        "depth": 100,
        "extra_queries": (2000, 10),
    },
    "+homedepot": {"extra": "homedepot"},
    "homedepot-only": {"extra": "homedepot", "esci": False},
    # Two-stage transfer: one mean-head model trained on the whole Home Depot train split (about
    # 53,000 pairs; the same for every fold), then per fold the mean-head-2ep-neg recipe on ESCI
    # starting from it ("start": that variant's model instead of the bundled MiniLM).
    "homedepot-all-mean": {"extra": "homedepot-all", "esci": False, "head": "mean", "learning_rate": 1e-4},
    "from-homedepot-mean-2ep-neg": {
        "start": "homedepot-all-mean",
        "head": "mean",
        "learning_rate": 1e-4,
        "epochs": 2,
        "negatives": 10,
    },
}
# a second pass over the same pairs, starting from that model (a fresh warm-up and decay)
VARIANTS["homedepot-all-mean-epoch2"] = {**VARIANTS["homedepot-all-mean"], "start": "homedepot-all-mean"}
# the same, gentler: 1 epoch at lr 2e-5 (2 epochs at 1e-4 lost some of what Home Depot taught)
VARIANTS["from-homedepot-mean-1ep-lr2e-5-neg"] = {
    **VARIANTS["from-homedepot-mean-2ep-neg"],
    "learning_rate": 2e-5,
    "epochs": 1,
}
# the latency student (2 layers, 32 tokens, mean head) cut from the Home Depot model, then ESCI
VARIANTS["from-homedepot-student-2layers-32tok"] = {
    "start": "homedepot-all-mean",
    **VARIANTS["mean-head-student-2layers-32tok"],
}
# Latency students (2 layers, 32 tokens) trained on the whole Home Depot train split instead of
# esci's ~6,400 pairs: from MiniLM's first 2 layers, or cut from the 6-layer Home Depot model;
# then per fold the gentle esci pass of from-homedepot-mean-1ep-lr2e-5-neg.
STUDENT_SHAPE = {"head": "mean", "max_layers": 2, "max_length": 32}
VARIANTS["homedepot-all-student-2layers-32tok"] = {
    "extra": "homedepot-all",
    "esci": False,
    "learning_rate": 1e-4,
    **STUDENT_SHAPE,
}
VARIANTS["homedepot-all-cut-student-2layers-32tok"] = {
    "start": "homedepot-all-mean",
    **VARIANTS["homedepot-all-student-2layers-32tok"],
}
VARIANTS.update(
    {
        f"from-{student}": {**VARIANTS["from-homedepot-mean-1ep-lr2e-5-neg"], "start": student, **STUDENT_SHAPE}
        for student in ("homedepot-all-student-2layers-32tok", "homedepot-all-cut-student-2layers-32tok")
    }
)
# the same with the [CLS] head: its ONNX graph holds the head, so nothing runs in PyTorch after it
VARIANTS["homedepot-all-student-2layers-32tok-cls"] = {
    **VARIANTS["homedepot-all-student-2layers-32tok"],
    "head": "cls",
}
# a second pass over Home Depot for the MiniLM-started student (it cost the 6-layer model 0.02)
VARIANTS["homedepot-all-student-2layers-32tok-epoch2"] = {
    **VARIANTS["homedepot-all-student-2layers-32tok"],
    "start": "homedepot-all-student-2layers-32tok",
}
# the Home Depot student, then distilled per fold from that fold's best 6-layer model (Home Depot
# then esci): squared logit error on the judged pairs and every unjudged hybrid top-100 product
VARIANTS["distilled-from-homedepot-all-student-2layers-32tok"] = {
    "start": "homedepot-all-student-2layers-32tok",
    "teacher": "from-homedepot-mean-1ep-lr2e-5-neg",
    **STUDENT_SHAPE,
    "loss": "mse-logit",
    "learning_rate": 1e-4,
    "epochs": 2,
    "negatives": 100,
    "depth": 100,
}
# the best esci recipe with 128-token inputs in the esci pass (more of the bullets read)
VARIANTS["from-homedepot-mean-1ep-lr2e-5-neg-len128"] = {
    **VARIANTS["from-homedepot-mean-1ep-lr2e-5-neg"],
    "max_length": 128,
}
# A first stage on synthetic pairs (shopmatch.train.synthetic): 10,000 pseudo-queries of the esci
# catalog's titles (no judgment used; the same model for every fold), each with its product's whole
# text as a match and one product text without its words as a non-match; then per fold the esci
# recipes above, starting from it.
VARIANTS["synthetic-esci-10k"] = {"synthetic": 10_000, "esci": False, "head": "mean", "learning_rate": 1e-4}
# (synthetic-near-esci-10k and from-synthetic-near-mean-2ep-neg, near misses in the stage, were
# removed with SyntheticPairsConfig.near_misses: no held-out gain, see docs/experiments/)
# three times as many pseudo-queries (about 4.4 per product instead of 1.5): does the stage scale?
VARIANTS["synthetic-esci-30k"] = {**VARIANTS["synthetic-esci-10k"], "synthetic": 30_000}
VARIANTS["from-synthetic-mean-2ep-neg"] = {**VARIANTS["mean-head-2ep-neg"], "start": "synthetic-esci-10k"}
VARIANTS["from-synthetic-mean-1ep-lr2e-5-neg"] = {
    **VARIANTS["from-homedepot-mean-1ep-lr2e-5-neg"],
    "start": "synthetic-esci-10k",
}
# the latency student's shape (2 layers, 32 tokens, mean head) through the same stage
VARIANTS["synthetic-esci-10k-student-2layers-32tok"] = {**VARIANTS["synthetic-esci-10k"], **STUDENT_SHAPE}
VARIANTS["from-synthetic-mean-1ep-lr2e-5-neg-student-2layers-32tok"] = {
    **VARIANTS["from-synthetic-mean-1ep-lr2e-5-neg"],
    "start": "synthetic-esci-10k-student-2layers-32tok",
    **STUDENT_SHAPE,
}
# both sources of relevance that helped: the synthetic stage (lexical: which of the query's words
# the product holds), then the whole Home Depot train split (judged relevance), then the gentle
# esci pass per fold
VARIANTS["synthetic-then-homedepot-all-mean"] = {**VARIANTS["homedepot-all-mean"], "start": "synthetic-esci-10k"}
VARIANTS["from-synthetic-then-homedepot-mean-1ep-lr2e-5-neg"] = {
    **VARIANTS["from-homedepot-mean-1ep-lr2e-5-neg"],
    "start": "synthetic-then-homedepot-all-mean",
}
HOMEDEPOT_PAIRS = 5_000  # Home Depot training pairs added (a seeded sample of the train split)


def note(message: str) -> None:
    print(f"[rerank {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def esci():
    from shopmatch.catalog import read_catalog
    from shopmatch.judgments import GainMap, read_judgments

    root = data_dir() / "esci-us-150"
    gains = GainMap.parse(ESCI_GAINS)
    return read_catalog(root / "products.jsonl"), read_judgments(root / "judgments.tsv", gains=gains), gains


def homedepot_train():
    """The Home Depot train split (every query id but every 10th in ascending order, which is dev;
    protocol item 4 of ``benchmarks.md``) and the Home Depot gains."""
    from shopmatch.judgments import GainMap, read_judgments

    gains = GainMap.parse(HOMEDEPOT_GAINS)
    judged = read_judgments(data_dir() / "homedepot" / "judgments.tsv", gains=gains)
    dev = set(judged.query_ids[::10])
    return judged.subset(q for q in judged.query_ids if q not in dev), gains


def homedepot_pairs(n: int | None, seed: int = 0):
    """A seeded sample of ``n`` Home Depot train-split pairs; ``None``: all of them, shuffled."""
    from shopmatch.catalog import read_catalog
    from shopmatch.train.data import labeled_pairs

    train, gains = homedepot_train()
    pairs = labeled_pairs(train, read_catalog(data_dir() / "homedepot" / "products.jsonl"), gains)
    return random.Random(seed).sample(pairs, len(pairs) if n is None else min(n, len(pairs)))


def unlabeled_query_pairs(products, n_queries: int, depth: int, seed: int = 0):
    """Target-0 placeholder pairs for distillation: ``n_queries`` Home Depot train-split query
    texts (a seeded sample; no Home Depot labels are used) with the default hybrid pipeline's top
    ``depth`` esci-us-150 products each. A teacher then labels them: more queries for a student
    than the ~120 judged ones, none of them an esci test query."""
    from shopmatch.encoders.product_text import ProductTextTemplate
    from shopmatch.train.data import LabeledPair

    train, _ = homedepot_train()
    train_ids = train.query_ids
    chosen = random.Random(seed).sample(train_ids, min(n_queries, len(train_ids)))
    queries = [train.queries[q] for q in chosen]
    pipeline = hybrid_pipeline(products.products)
    template = ProductTextTemplate()
    found = pipeline.search_ids(queries, k=depth)
    return [
        LabeledPair(query, template.render(products.get(pid)), 0.0, f"hd:{q}", pid)
        for q, query, ranked in zip(chosen, queries, found, strict=True)
        for pid, _ in ranked
    ]


def hybrid_pipeline(products):
    """The default hybrid pipeline over esci-us-150, built once and cached on disk."""
    from shopmatch.pipeline import SearchPipeline

    if not (HYBRID_INDEX / "manifest.json").is_file():
        note("building the default hybrid index (BM25F + dense int8) once")
        SearchPipeline.build(products).save(HYBRID_INDEX)
    return SearchPipeline.load(HYBRID_INDEX)


def mined_negatives(judged, products, per_query: int, *, seed: int, depth: int = 50):
    """Target-0 pairs: per training query, ``per_query`` products sampled from the default hybrid
    pipeline's top ``depth`` that are not judged for it (what re-ranking in retrieval mode sees).
    Queries are retrieved one at a time, as when the published figures were made."""
    from shopmatch.train.mining import unjudged_negatives

    pipeline = hybrid_pipeline(products.products)
    ranked = {q: [pid for pid, _ in pipeline.search_ids([judged.queries[q]], k=depth)[0]] for q in judged.query_ids}
    return unjudged_negatives(judged, products, ranked, per_query, seed=seed)


def shared_model_dir(variant: str) -> Path:
    """Where a variant trained without esci judgments keeps its one model for every fold."""
    return MODELS / variant / "all-folds"


def train_fold(variant: str, fold: int, train_judged, products, gains) -> tuple[Path, dict[str, Any]]:
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig, train_cross_encoder
    from shopmatch.train.data import labeled_pairs
    from shopmatch.train.summary import TrainingSummary

    options = {**BASE, **VARIANTS[variant]}
    negatives = options.pop("negatives", 0)
    depth = options.pop("depth", 50)
    teacher = options.pop("teacher", None)
    extra_queries = options.pop("extra_queries", None)  # (queries, depth) of unlabeled_query_pairs
    teacher_dir = MODELS / teacher / f"fold{fold}" if teacher else None
    start = options.pop("start", None)
    if start is not None:
        start_dir = shared_model_dir(start)
        if not (start_dir / "config.json").is_file():
            raise SystemExit(f"{variant}: train its start model first (cv --variant {start} --folds 0)")
        options["model"] = str(start_dir)
    if teacher_dir is not None:
        if not (teacher_dir / "config.json").is_file():
            raise SystemExit(f"{variant}: train the teacher first (cv --variant {teacher} --folds {fold})")
        options.setdefault("model", str(teacher_dir))  # unless "start" names it: the teacher's lower layers
    extra = options.pop("extra", None)
    synthetic = options.pop("synthetic", 0)  # pseudo-queries of the catalog's titles
    use_esci = options.pop("esci", True)
    shared = not use_esci  # trained without esci judgments: once, the same model for every fold
    out = shared_model_dir(variant) if shared else MODELS / variant / f"fold{fold}"
    if (out / "config.json").is_file():
        return out, TrainingSummary.load(out).to_dict()
    if synthetic:
        from shopmatch.train.synthetic import train_reranker_on_synthetic_pairs

        note(f"{variant}: a stage on {synthetic:,} pseudo-queries of the esci titles")
        summary = train_reranker_on_synthetic_pairs(
            products.products,
            out,
            CrossEncoderTrainConfig(**options),
            count=synthetic,
            learning_rate=None,
        )
        return out, summary.to_dict()
    pairs = labeled_pairs(train_judged, products, gains) if use_esci else []
    if negatives:
        pairs += mined_negatives(train_judged, products, negatives, seed=fold, depth=depth)
    if extra_queries:
        pairs += unlabeled_query_pairs(products, *extra_queries)
    if teacher_dir is not None:
        from shopmatch.train.distill import teacher_targets

        cache = teacher_dir.with_name(f"{teacher_dir.name}-targets-n{negatives}-d{depth}-x{extra_queries}.json")
        if cache.is_file():
            targets = json.loads(cache.read_text())
            pairs = [replace(p, target=t) for p, t in zip(pairs, targets, strict=True)]
        else:
            note(f"{variant} fold {fold}: the teacher {teacher_dir} labels {len(pairs):,} pairs")
            pairs = teacher_targets(teacher_dir, pairs)
            cache.write_text(json.dumps([p.target for p in pairs]))
    if extra == "homedepot":
        pairs += homedepot_pairs(HOMEDEPOT_PAIRS)
    elif extra == "homedepot-all":
        pairs += homedepot_pairs(None)
    random.Random(fold).shuffle(pairs)
    config = CrossEncoderTrainConfig(**options)
    note(f"{variant} fold {fold}: training on {len(pairs):,} pairs ({config.epochs} epoch(s))")
    summary = train_cross_encoder(pairs, out, config)
    return out, summary.to_dict()


def evaluate_fold(
    pipeline, model_dir: Path, test_judged, gains, backend: str, top_n: int, fusion_weight: float = 0.0
) -> dict[str, Any]:
    from shopmatch.eval.evaluator import evaluate_rerank, evaluate_retrieval
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.rerank import CrossEncoderReranker, RerankConfig

    config = RerankConfig(backend=backend, top_n=top_n, fusion_weight=fusion_weight).with_model(model_dir)
    # the same index with this re-ranker (the hybrid pipeline itself is left as it is)
    reranking = SearchPipeline(
        replace(pipeline.config, rerank=config),
        pipeline.products,
        pipeline.retrievers,
        CrossEncoderReranker.from_config(config),
    )
    started = time.perf_counter()
    retrieval = evaluate_retrieval(reranking, test_judged, gains)
    retrieval_s = time.perf_counter() - started
    rerank = evaluate_rerank(reranking, test_judged, gains)
    return {
        "retrieval": retrieval.metrics,
        "rerank": rerank.metrics,
        "retrieval_seconds": retrieval_s,
        "queries": retrieval.queries,
    }


def cmd_cv(args: argparse.Namespace) -> int:
    from shopmatch.eval.evaluator import evaluate_rerank, evaluate_retrieval

    products, judged, gains = esci()
    pipeline = hybrid_pipeline(products.products)
    folds = judged.folds(5)
    record: dict[str, Any] = {"machine": machine_info(), "hybrid": {}, "variants": {}}  # what --json writes
    for fold in args.folds:
        train_judged, test_judged = folds[fold]
        baseline_path = RESULTS / "hybrid" / f"fold{fold}.json"
        if not baseline_path.is_file():
            baseline_path.parent.mkdir(parents=True, exist_ok=True)
            result = {
                "retrieval": evaluate_retrieval(pipeline, test_judged, gains).metrics,
                "rerank": evaluate_rerank(pipeline, test_judged, gains).metrics,
            }
            baseline_path.write_text(json.dumps(result, indent=2))
        record["hybrid"][f"fold{fold}"] = json.loads(baseline_path.read_text())
        for variant in args.variant:
            blend = f"-fw{args.fusion_weight:g}" if args.fusion_weight else ""
            path = RESULTS / variant / f"fold{fold}-{args.backend}-top{args.top_n}{blend}.json"
            if path.is_file() and not args.force:
                note(f"{variant} fold {fold}: cached ({path})")
                record["variants"].setdefault(variant, {})[f"fold{fold}"] = json.loads(path.read_text())
                continue
            model_dir, summary = train_fold(variant, fold, train_judged, products, gains)
            note(f"{variant} fold {fold}: evaluating ({args.backend}, top {args.top_n})")
            result = evaluate_fold(
                pipeline, model_dir, test_judged, gains, args.backend, args.top_n, args.fusion_weight
            )
            result.update(
                variant=variant,
                fold=fold,
                backend=args.backend,
                top_n=args.top_n,
                fusion_weight=args.fusion_weight,
                training={
                    "seconds": summary["seconds"],
                    "pairs": summary["data"]["train_pairs"],
                    "epochs": summary["config"]["epochs"],
                },
                machine=machine_info(),
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=2, default=float))
            record["variants"].setdefault(variant, {})[f"fold{fold}"] = result
            note(
                f"{variant} fold {fold}: retrieval NDCG@10 {result['retrieval']['ndcg@10']:.3f}, "
                f"rerank NDCG@10 {result['rerank']['ndcg@10']:.3f}, trained in {summary['seconds']:.0f} s"
            )
    write_json(args.json, record)
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    rows, fold_rows = [], []
    baseline = [json.loads((RESULTS / "hybrid" / f"fold{f}.json").read_text()) for f in range(5)
                if (RESULTS / "hybrid" / f"fold{f}.json").is_file()]  # fmt: skip
    if len(baseline) == 5:
        mean = {m: statistics.mean(b["retrieval"][m] for b in baseline) for m in baseline[0]["retrieval"]}
        rows.append(["hybrid BM25F + dense int8, RRF (no re-ranking)", "–", "–", mean["ndcg@10"], mean["mrr@10"],
                     mean["recall@100"], mean["map@100"], statistics.mean(b["rerank"]["ndcg@10"] for b in baseline),
                     "–"])  # fmt: skip
    variant_dirs = sorted(p for p in RESULTS.iterdir() if p.is_dir() and p.name != "hybrid") if RESULTS.is_dir() else []
    for variant_dir in variant_dirs:
        groups: dict[str, list[dict]] = {}
        for path in sorted(variant_dir.glob("fold*-*.json")):
            result = json.loads(path.read_text())
            blend = f", fusion weight {result['fusion_weight']:g}" if result.get("fusion_weight") else ""
            groups.setdefault(f"{result['backend']}, top {result['top_n']}{blend}", []).append(result)
        for setting, results in groups.items():
            if len(results) != 5:
                note(f"{variant_dir.name} ({setting}): {len(results)} of 5 folds done; not in the table")
                continue
            results.sort(key=lambda r: r["fold"])

            def mean(part: str, metric: str, results=results) -> float:
                return statistics.mean(r[part][metric] for r in results)

            train_s = statistics.median(r["training"]["seconds"] for r in results)
            rows.append([variant_dir.name, setting, f"{train_s / 60:.1f}", mean("retrieval", "ndcg@10"),
                         mean("retrieval", "mrr@10"), mean("retrieval", "recall@100"), mean("retrieval", "map@100"),
                         mean("rerank", "ndcg@10"), f"{results[0]['training']['pairs']:,}"])  # fmt: skip
            fold_rows.append([variant_dir.name, setting, *(f"{r['retrieval']['ndcg@10']:.3f} / "
                              f"{r['rerank']['ndcg@10']:.3f}" for r in results)])  # fmt: skip
    info = machine_info()
    headers = ["system", "re-ranker backend, depth", "train min/fold (median)", "NDCG@10 retrieval", "MRR@10",
               "Recall@100", "MAP@100", "NDCG@10 rerank", "training pairs"]  # fmt: skip
    fold_headers = ["variant", "setting", *(f"fold {f}" for f in range(5))]
    print("\n".join(machine_header(info)))
    print()
    print("## Cross-encoder re-ranking, esci-us-150, 5-fold CV by query (mean over folds)\n")
    print(markdown_table(headers, rows))
    print("\nPer fold (retrieval / rerank NDCG@10):\n")
    print(markdown_table(fold_headers, fold_rows))
    write_json(
        args.json,
        {
            "machine": info,
            "rows": [dict(zip(headers, row, strict=True)) for row in rows],
            "per_fold": [dict(zip(fold_headers, row, strict=True)) for row in fold_rows],
        },
    )
    return 0


def cmd_homedepot(args: argparse.Namespace) -> int:
    from shopmatch.catalog import read_catalog
    from shopmatch.config import PipelineConfig
    from shopmatch.encoders import EncoderConfig, SentenceEncoder
    from shopmatch.encoders.product_text import ProductTextTemplate
    from shopmatch.eval.evaluator import evaluate_rerank
    from shopmatch.judgments import GainMap, read_judgments
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.rerank import CrossEncoderReranker, RerankConfig

    root = data_dir() / "homedepot"
    gains = GainMap.parse(HOMEDEPOT_GAINS)
    judged = read_judgments(root / "judgments.tsv", gains=gains)
    dev = judged.subset(judged.query_ids[::10])
    catalog = read_catalog(root / "products.jsonl")
    trained = {variant: train_fold(variant, 0, None, None, None) for variant in args.variants}
    rows, results = [], {"machine": machine_info()}

    class Scorer:
        """Rerank-mode adapter: scores a query's judged products with a function of (query, texts),
        each product rendered by the template the model was trained or built with."""

        def __init__(self, score, render):
            self.score, self.render = score, render

        def score_candidates(self, query, product_ids):
            return self.score(query, [self.render(catalog.get(pid)) for pid in product_ids])

    note("homedepot dev: BM25F")
    bm25 = SearchPipeline.build(catalog.products, PipelineConfig(retrievers=("lexical",)))
    systems = {"BM25F (defaults)": bm25}
    encoder = SentenceEncoder.from_config(EncoderConfig())

    def cosine(query, titles):
        return encoder.encode_documents(titles) @ encoder.encode_queries([query])[0]

    systems["MiniLM bi-encoder zero-shot (int8), cosine"] = Scorer(cosine, ProductTextTemplate().render)
    for variant, (model_dir, summary) in trained.items():
        reranker = CrossEncoderReranker.from_config(RerankConfig(backend=args.backend).with_model(model_dir))
        pairs = summary["data"]["train_pairs"]
        systems[f"cross-encoder `{variant}`, fine-tuned on {pairs:,} train pairs ({args.backend})"] = Scorer(
            reranker.score, reranker.config.text.render
        )
    for name, system in systems.items():
        note(f"homedepot dev: {name}")
        result = evaluate_rerank(system, dev, gains)
        rmse = float("nan")
        if isinstance(system, Scorer) and "cross-encoder" in name:
            errors = []
            for q in dev.query_ids:
                judged_rows = dev.by_query[q]
                p = system.score_candidates(dev.queries[q], [r.product_id for r in judged_rows])
                errors += [(1 + 2 * float(s) - float(r.label)) ** 2 for s, r in zip(p, judged_rows, strict=True)]
            rmse = float(np.sqrt(np.mean(errors)))
        rows.append([name, result.metrics["ndcg@10"], rmse])
        results[name] = {"metrics": result.metrics, "rmse": rmse}
    print("\n".join(machine_header(results["machine"])))
    print(f"\n## Home Depot dev ({len(dev.queries):,} queries, {len(dev):,} judged pairs), rerank mode\n")
    print(markdown_table(["system", "NDCG@10 rerank", "RMSE of predicted label"], rows))
    write_json(args.json, results)
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    """How far each student agrees with its teacher on a fold's test queries' judged products."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    from shopmatch.rerank import CrossEncoderReranker, RerankConfig

    products, judged, gains = esci()
    lookup = {p.id: p for p in products.products}
    _, test_judged = judged.folds(5)[args.fold]
    rows = [(test_judged.queries[q], r.product_id, gains.gain(r.label))
            for q in test_judged.query_ids for r in test_judged.by_query[q]]  # fmt: skip

    def scores(variant: str) -> np.ndarray:
        directory = MODELS / variant / f"fold{args.fold}"
        model = CrossEncoderReranker.from_config(RerankConfig(backend="torch").with_model(directory))
        return model.score_pairs([(query, model.text_of(lookup[pid])) for query, pid, _ in rows])

    exact = np.array([gain == 1.0 for *_, gain in rows])
    teacher = scores(args.teacher)
    table = [[f"{args.teacher} (teacher)", 1.0, 1.0, roc_auc_score(exact, teacher)]]
    for variant in args.students:
        student = scores(variant)
        table.append([variant, float(np.corrcoef(student, teacher)[0, 1]), float(spearmanr(student, teacher).statistic),
                      roc_auc_score(exact, student)])  # fmt: skip
    info = machine_info()
    headers = ["model", "Pearson with teacher", "Spearman with teacher", "ROC-AUC exact vs rest"]
    print("\n".join(machine_header(info)))
    print(f"\n## Agreement with the teacher: fold {args.fold}'s {len(test_judged.query_ids)} test queries, "
          f"{len(rows):,} judged pairs (PyTorch fp32)\n")  # fmt: skip
    print(markdown_table(headers, table))
    write_json(
        args.json,
        {
            "machine": info,
            "fold": args.fold,
            "pairs": len(rows),
            "rows": [dict(zip(headers, row, strict=True)) for row in table],
        },
    )
    return 0


def latency_workload(template, n: int) -> tuple[list[str], list[list[str]]]:
    """The 150 esci-us-150 queries and, for each, the texts (rendered by ``template``) of the
    default hybrid pipeline's top ``n`` products: what a re-ranker scores per request."""
    products, judged, _ = esci()
    pipeline = hybrid_pipeline(products.products)
    queries = [judged.queries[q] for q in judged.query_ids]
    candidates = []
    for query in queries:
        found = pipeline.search_ids([query], k=n)[0]
        candidates.append([template.render(products.get(pid)) for pid, _ in found])
    return queries, candidates


def cmd_latency(args: argparse.Namespace) -> int:
    from shopmatch.rerank import CrossEncoderReranker, RerankConfig

    base = RerankConfig(top_n=args.candidates).with_model(args.model)
    queries, candidates = latency_workload(base.text, args.candidates)
    results: dict[str, Any] = {"machine": machine_info(), "model": str(args.model), "backends": {}}
    table = []
    for backend in args.backends:
        reranker = CrossEncoderReranker.from_config(replace(base, backend=backend))
        for q, texts in zip(queries[:10], candidates[:10], strict=True):
            reranker.score(q, texts)
        per_run = []
        for _ in range(args.runs):
            samples = []
            for i in range(args.requests):
                q, texts = queries[i % len(queries)], candidates[i % len(queries)]
                started = time.perf_counter()
                reranker.score(q, texts)
                samples.append(time.perf_counter() - started)
            stats = percentiles(samples)
            stats["pairs_per_s"] = sum(len(candidates[i % len(queries)]) for i in range(args.requests)) / sum(samples)
            per_run.append(stats)
        med = {k: statistics.median(r[k] for r in per_run) for k in per_run[0]}
        results["backends"][backend] = {"runs": per_run, "median": med}
        table.append([backend, med["p50_ms"], med["p99_ms"], f"{med['pairs_per_s']:,.0f}"])
        note(f"{backend}: p50 {med['p50_ms']:.1f} ms")
    print("\n".join(machine_header(results["machine"])))
    print(f"\n## Re-ranking {args.candidates} candidates, {args.model} (max_length {base.max_length}),"
          f" median of {args.runs} runs × {args.requests} requests\n")  # fmt: skip
    print(markdown_table(["backend", "p50 ms", "p99 ms", "pairs/s"], table))
    write_json(args.json, results)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cv = sub.add_parser("cv", help="train and evaluate variants fold by fold (cached)")
    cv.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="repeatable; default: full")
    cv.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4], choices=range(5))
    cv.add_argument("--backend", default="onnx-int8", choices=("torch", "onnx", "onnx-int8"))
    cv.add_argument("--top-n", type=int, default=100, help="hybrid candidates re-ranked per query")
    cv.add_argument("--fusion-weight", type=float, default=0.0, help="rerank.fusion_weight (0: CE order only)")
    cv.add_argument("--force", action="store_true", help="evaluate again even if cached")
    cv.add_argument("--json", type=Path, help="also write the results of these folds (cached or new) here")
    table = sub.add_parser("table", help="print the table of cached results")
    table.add_argument("--json", type=Path)
    hd = sub.add_parser("homedepot", help="Home Depot dev: rerank NDCG@10 and RMSE")
    hd.add_argument("--backend", default="onnx-int8", choices=("torch", "onnx", "onnx-int8"))
    hd.add_argument("--json", type=Path)
    hd.add_argument(
        "--variants",
        nargs="+",
        default=["homedepot-only"],
        choices=[v for v, o in VARIANTS.items() if o.get("esci", True) is False],
        help="cross-encoders trained on Home Depot alone (trained here if missing)",
    )
    latency = sub.add_parser("latency", help="re-ranking speed per backend")
    latency.add_argument("--model", type=Path, required=True)
    latency.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    latency.add_argument("--candidates", type=int, default=50)
    latency.add_argument("--requests", type=int, default=150)
    latency.add_argument("--runs", type=int, default=5)
    latency.add_argument("--json", type=Path)
    agreement = sub.add_parser("agreement", help="students' agreement with their teacher on a fold's test pairs")
    agreement.add_argument("--teacher", default="lr1e-4-2ep-neg", choices=sorted(VARIANTS))
    agreement.add_argument("--students", nargs="+", required=True, choices=sorted(VARIANTS))
    agreement.add_argument("--fold", type=int, default=0, choices=range(5))
    agreement.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.command == "agreement":
        return cmd_agreement(args)
    if args.command == "cv":
        args.variant = args.variant or ["full"]
        return cmd_cv(args)
    if args.command == "table":
        return cmd_table(args)
    if args.command == "homedepot":
        return cmd_homedepot(args)
    return cmd_latency(args)


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
