"""Bi-encoder fine-tuning benchmark on esci-us-150: zero-shot MiniLM against fine-tuned, 5-fold CV by query.

Protocol (``../shared/docs/benchmarks.md``, item 3): a query's fold is its position among the
sorted query ids modulo 5 (``Judgments.folds(5)``); each fold trains on the other four and is
tested on its own queries, in retrieval mode over the whole 6,764-product catalog (gains
E=1, S=0.1, C=0.01, I=0; MRR@10 counts E, Recall@100 counts E and S). Rows, each the mean over
the five folds (and NDCG@10 per fold):

- dense all-MiniLM-L6-v2 zero-shot, and hybrid BM25F + it (RRF k=60, the default pipeline);
- dense fine-tuned with MultipleNegativesRankingLoss on (query, E product, hard negative) rows,
  negatives mined with the zero-shot hybrid pipeline (``train_bi_encoder`` defaults), and the
  hybrid with it;
- the same distilled from a cross-encoder teacher with MarginMSELoss, when ``--teacher-dir``
  names a trained cross-encoder per fold (``{fold}`` in the pattern is replaced by 0–4); skipped
  with a message otherwise;
- with ``--homedepot``: a model trained once on the Home Depot train split (every query id but
  every 10th in sorted order; positives label ≥ 2.5, products labelled ≥ 2 never negatives, at most
  ``--homedepot-positives`` positives a query, negatives mined by a hybrid pipeline over the Home
  Depot catalog), used as is (transfer: no esci judgment seen) and fine-tuned further on each fold.
  It is trained once and kept in ``bench/data/bi_encoder/`` for later runs.
  ``--only-homedepot`` leaves out the esci-only fine-tuned rows (measured before).

Kept affordable on two busy cores: 1 epoch, 64 tokens, batch 32, PyTorch for training, the int8
ONNX model (exported from the fine-tuned one) to encode the catalog at evaluation. No dev set:
with one epoch there is no epoch to choose. Latency is not measured here (see bench/semantic.py).

Usage::

    .venv/bin/python bench/experiments/bi_encoder.py --json bench/results/bi_encoder.json \\
        | tee bench/results/bi_encoder.md
    .venv/bin/python bench/experiments/bi_encoder.py --teacher-dir 'models/ce-fold{fold}'   # + distillation rows
    .venv/bin/python bench/experiments/bi_encoder.py --homedepot --only-homedepot               # Home Depot rows
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import data_dir, machine_header, machine_info, markdown_table, skip_if_missing  # noqa: E402

METRICS = ("ndcg@10", "mrr@10", "recall@100")
CACHE = Path(__file__).resolve().parents[1] / "data" / "bi_encoder"  # bench/data/bi_encoder
TRAINING_LIBRARIES = ("sentence-transformers", "transformers", "torch", "onnxruntime")


def note(message: str) -> None:
    print(f"[bi_encoder {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def teacher_for(pattern: str | None, fold: int) -> Path | None:
    if not pattern:
        return None
    path = Path(pattern.replace("{fold}", str(fold)))
    return path if path.is_dir() else None


def homedepot_model(train_config, positives: int) -> tuple[Path, float | None]:
    """The bi-encoder trained on the Home Depot train split (cached); its training seconds when
    trained by this call."""
    from rerank import homedepot_train

    from shopmatch.catalog import read_catalog
    from shopmatch.train.bi_encoder import train_bi_encoder

    config = replace(train_config, positive_min_target=0.75, exclude_min_target=0.5, max_positives_per_query=positives)
    out_dir = CACHE / f"homedepot-mnrl-{positives}pos"
    if (out_dir / "manifest.json").is_file():
        note(f"Home Depot-trained model found in {out_dir}")
        return out_dir, None
    train, gains = homedepot_train()
    products = read_catalog(data_dir() / "homedepot" / "products.jsonl").products
    note(f"training on {len(train.queries):,} Home Depot train queries over {len(products):,} products")
    started = time.perf_counter()
    train_bi_encoder(train, products, config, out_dir, gains=gains)
    return out_dir, time.perf_counter() - started


def run(args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    from shopmatch.backends.inprocess.products import MemoryProducts
    from shopmatch.catalog import read_catalog
    from shopmatch.config import PipelineConfig
    from shopmatch.encoders.config import EncoderConfig
    from shopmatch.eval.evaluator import evaluate_retrieval
    from shopmatch.judgments import GainMap, read_judgments
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.retrieval.dense import DenseConfig, DenseRetriever
    from shopmatch.retrieval.lexical import LexicalRetriever
    from shopmatch.train.bi_encoder import BiEncoderTrainConfig, train_bi_encoder

    folder = data_dir() / "esci-us-150"
    products = read_catalog(folder / "products.jsonl").products
    judgments = read_judgments(folder / "judgments.tsv")
    gains = GainMap.esci()
    default = PipelineConfig()
    store = MemoryProducts(products)

    note(f"building BM25F and the zero-shot dense retriever over {len(products):,} products")
    lexical = LexicalRetriever.build(products, default.lexical)
    zero_shot = DenseRetriever.build(products, default.dense)
    hybrid_zero_shot = SearchPipeline(default, store, {"lexical": lexical, "dense": zero_shot})
    dense_config = PipelineConfig(retrievers=("dense",))

    def evaluate(dense: DenseRetriever, test) -> dict[str, dict[str, float]]:
        out = {}
        for mode, config, parts in (
            ("dense", dense_config, {"dense": dense}),
            ("hybrid", default, {"lexical": lexical, "dense": dense}),
        ):
            result = evaluate_retrieval(SearchPipeline(config, store, parts), test, gains).metrics
            out[mode] = {m: result[m] for m in METRICS}
        return out

    train_config = BiEncoderTrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        max_length=64,
        seed=args.seed,
        max_positives_per_query=args.max_positives or None,
    )
    folds = judgments.folds(5)
    if args.folds:
        chosen = [int(f) for f in args.folds.split(",")]
    else:
        chosen = list(range(len(folds)))
    results: dict[str, list[dict[str, Any]]] = {}
    training: dict[str, list[float]] = {}
    skipped: list[str] = []
    homedepot_dir = transfer = None
    if args.homedepot:
        homedepot_dir, seconds = homedepot_model(train_config, args.homedepot_positives)
        if seconds is not None:
            training["Home Depot-trained (once)"] = [seconds]
        transfer = DenseRetriever.build(
            products, DenseConfig(encoder=EncoderConfig(model=str(homedepot_dir), backend="onnx-int8"))
        )

    def record(system: str, fold: int, metrics: dict[str, dict[str, float]]) -> None:
        for mode, values in metrics.items():
            results.setdefault(f"{mode}|{system}", []).append({"fold": fold, **values})

    with tempfile.TemporaryDirectory(prefix="shopmatch-bench-bi-") as tmp:
        for fold in chosen:
            train, test = folds[fold]
            note(f"fold {fold}: {len(train.queries)} training queries, {len(test.queries)} test queries")
            metrics = evaluate(zero_shot, test)
            note(f"fold {fold}: zero-shot: " + ", ".join(f"{m} {v}" for m, v in metrics.items()))
            record("MiniLM zero-shot", fold, metrics)
            variants: list[tuple[str, Path | None]] = []
            if not args.only_homedepot:
                variants.append(("fine-tuned MNRL + hard negatives", None))
            if transfer is not None:
                metrics = evaluate(transfer, test)
                note(f"fold {fold}: Home Depot-trained: " + ", ".join(f"{m} {v}" for m, v in metrics.items()))
                record("Home Depot-trained (transfer)", fold, metrics)
                variants.append(("Home Depot-trained, then MNRL on the fold", None))
            teacher = teacher_for(args.teacher_dir, fold)
            if teacher is not None:
                variants.append((f"fine-tuned MarginMSE from cross-encoder ({args.teacher_dir})", teacher))
            elif args.teacher_dir:
                skipped.append(f"fold {fold}: no teacher at {args.teacher_dir.replace('{fold}', str(fold))}")
            for index, (system, teacher_dir) in enumerate(variants):
                out_dir = Path(tmp) / f"fold{fold}-{index}"
                config = train_config if teacher_dir is None else _distill(train_config)
                if system.startswith("Home Depot"):
                    config = replace(config, model=str(homedepot_dir))
                note(f"fold {fold}: training {system}")
                started = time.perf_counter()
                train_bi_encoder(
                    train, products, config, out_dir, gains=gains, teacher=teacher_dir, pipeline=hybrid_zero_shot
                )
                seconds = time.perf_counter() - started
                training.setdefault(system, []).append(seconds)
                note(f"fold {fold}: trained in {seconds:.0f} s; encoding the catalog with the int8 model")
                dense = DenseRetriever.build(
                    products, DenseConfig(encoder=EncoderConfig(model=str(out_dir), backend="onnx-int8"))
                )
                metrics = evaluate(dense, test)
                note(
                    f"fold {fold}: {system}: "
                    + ", ".join(f"{m} NDCG@10 {v['ndcg@10']:.4f}" for m, v in metrics.items())
                )
                record(system, fold, metrics)
            if args.json:  # partial results after every fold, in case the run is cut short
                args.json.parent.mkdir(parents=True, exist_ok=True)
                partial = {
                    "results": results,
                    "training_seconds": training,
                    "done_folds": chosen[: chosen.index(fold) + 1],
                }
                args.json.with_suffix(".partial.json").write_text(json.dumps(partial, indent=2, default=float))
    if args.teacher_dir is None:
        skipped.append("distillation rows: no --teacher-dir given (needs a trained cross-encoder per fold)")
    return _report(results, training, skipped, chosen, train_config, args.homedepot and args.homedepot_positives)


def _distill(config):
    return replace(config, distill=True)


def _report(results, training, skipped, chosen, train_config, homedepot_positives) -> tuple[list[str], dict[str, Any]]:
    lines: list[str] = []
    rows, per_fold_rows = [], []
    for key, per_fold in results.items():
        mode, system = key.split("|", 1)
        label = f"{'dense only' if mode == 'dense' else 'hybrid BM25F + dense, RRF'} — {system}"
        means = [statistics.mean(f[m] for f in per_fold) for m in METRICS]
        rows.append([label, *means])
        per_fold_rows.append([label, *(f"{f['ndcg@10']:.3f}" for f in per_fold)])
    rows.sort(key=lambda r: (not r[0].startswith("dense"), r[0]))
    per_fold_rows.sort(key=lambda r: (not r[0].startswith("dense"), r[0]))
    folds_label = "5 folds" if len(chosen) == 5 else f"folds {','.join(map(str, chosen))}"
    lines += [
        f"## Retrieval over 6,764 products, mean of {folds_label} (test queries only)\n",
        markdown_table(["system", "NDCG@10", "MRR@10 (E)", "Recall@100 (E+S)"], rows),
        "",
        "### NDCG@10 per fold\n",
        markdown_table(["system", *(f"fold {f}" for f in chosen)], per_fold_rows),
        "",
        f"Training: {train_config.epochs} epoch, batch {train_config.batch_size}, lr {train_config.learning_rate:g}, "
        f"max_length {train_config.max_length}, seed {train_config.seed}, "
        f"at most {train_config.max_positives_per_query or 'all'} positives per query"
        + (f" ({homedepot_positives} per Home Depot query)" if homedepot_positives else "")
        + ", PyTorch on CPU. "
        "Training seconds per fold "
        "(mining with the shared zero-shot pipeline included, catalog encoding for evaluation not): "
        + "; ".join(f"{s}: " + ", ".join(f"{x:.0f}" for x in v) for s, v in training.items()),
    ]
    if skipped:
        lines += ["", *(f"> skipped: {s}" for s in skipped)]
    record = {
        "results": {k: v for k, v in results.items()},
        "training_seconds": training,
        "skipped": skipped,
        "folds": chosen,
        "train_config": train_config.to_dict(),
    }
    return lines, record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher-dir", help="cross-encoder directory per fold, '{fold}' replaced by 0-4")
    parser.add_argument("--folds", help="comma-separated folds to run (default: all five)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-positives",
        type=int,
        default=8,
        help="positives kept per training query (0: all); keeps a fold affordable",
    )
    parser.add_argument("--homedepot", action="store_true", help="add the Home Depot-trained rows (see above)")
    parser.add_argument("--homedepot-positives", type=int, default=4, help="positives kept per Home Depot query")
    parser.add_argument("--only-homedepot", action="store_true", help="leave out the esci-only fine-tuned rows")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    folder = data_dir() / "esci-us-150"
    if not skip_if_missing(folder / "products.jsonl", "esci-us-150"):
        return 0
    # The fine-tuned models' ONNX exports go to a throw-away cache (the zero-shot one is exported there once).
    cache = tempfile.TemporaryDirectory(prefix="shopmatch-bench-cache-")
    os.environ.setdefault("SHOPMATCH_CACHE", cache.name)
    info = machine_info()
    import importlib.metadata

    for name in TRAINING_LIBRARIES:
        try:
            info["versions"][name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    started = time.perf_counter()
    lines, record = run(args)
    minutes = (time.perf_counter() - started) / 60
    out = ["# Bi-encoder fine-tuning benchmark (esci-us-150, 5-fold CV by query)\n", *machine_header(info), ""]
    out += [*lines, "", f"Whole run: {minutes:.0f} min."]
    print("\n".join(out))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": info, **record, "minutes": minutes}, indent=2, default=float))
    cache.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
