"""Cross-encoder pair classification on the Chinese sets, with and without vocabulary extension.

Protocol (``../shared/docs/benchmarks.md``, items 5–7):

- **zh-qbqtc**: train on ``train.tsv`` (``--qbqtc-train`` rows, a seeded sample; all 20,000 by
  default), test on ``test.tsv``: accuracy and macro-F1 (3 classes).
- **zh-ecom-query-item** as pairs: accuracy, F1, ROC-AUC by 5-fold cross-validation over rows
  (fold = row index modulo 5), and zero-shot from the zh-qbqtc model (a pair counts as a match
  when the predicted class is 1 or 2; the AUC uses p(1) + p(2)).
- **zh-ecom-title-attribute** as pairs: accuracy, F1, ROC-AUC by 5-fold cross-validation over rows.

Each model starts from all-MiniLM-L6-v2, either as it is (Chinese is nearly all ``[UNK]``) or
with the training data's CJK characters added to its vocabulary (``--extend-vocab`` in the CLI);
variant ``from-qbqtc`` (zh-ecom only) starts from the vocabulary-extended zh-qbqtc model instead
(the ``adapted*`` variants, masked-language-model adaptation, were removed with
``shopmatch.train.adapt``: docs/experiments/2026-12-06-removed-training-options.md);
variants ``synthetic*`` start from MiniLM extended the
same way and trained for one epoch as a binary pair classifier on pseudo-queries of the zh-qbqtc
titles (``shopmatch.train.synthetic``; cached under ``bench/data/pairs/minilm-zh-qbqtc-synthetic-*``),
whose zero-shot scores on the zh-ecom sets are reported too.
Results are cached per (set, variant, fold) as JSON under ``bench/results/pairs/``.

Usage::

    .venv/bin/python bench/experiments/pairs.py run [--only ecom] [--variants plain,vocab]
    .venv/bin/python bench/experiments/pairs.py table
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import REPO_ROOT, data_dir, machine_header, machine_info, markdown_table  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "pairs"
MODELS = REPO_ROOT / "bench" / "data" / "pairs"
TRAIN = {"epochs": 2, "batch_size": 16, "learning_rate": 5e-5, "max_length": 64, "patience": 0}
ECOM_TRAIN = {**TRAIN, "epochs": 4}  # 400 training pairs per fold: a few more passes
# ``from-qbqtc``: the zh-ecom folds fine-tuned from the vocabulary-extended zh-qbqtc model (all 20,000
# training pairs; its characters already trained, the fold's missing ones added, a new binary head).
QBQTC_MODEL = MODELS / "qbqtc-vocab-20000"
# Variants beyond plain / vocab / from-qbqtc: (start, extend_vocabulary options, training options).
VARIANTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # new characters as far apart as the old rows (noise std 1.0 instead of 0.1 of the rows' std)
    "vocab-noise1": ("vocab", {"noise_scale": 1.0}, {}),
    "vocab-noise1-lr2e-4": ("vocab", {"noise_scale": 1.0}, {"learning_rate": 2e-4}),
    "vocab-lr2e-4": ("vocab", {}, {"learning_rate": 2e-4}),
    "vocab-pos-weight": ("vocab", {}, {"imbalance": "pos_weight"}),
    "from-qbqtc-lr2e-5": ("from-qbqtc", {}, {"learning_rate": 2e-5}),
    # 400 rows a fold: many more passes (20 epochs = 500 steps of 16 pairs)
    "vocab-noise1-20ep": ("vocab", {"noise_scale": 1.0}, {"epochs": 20, "learning_rate": 1e-4}),
    "vocab-20ep": ("vocab", {}, {"epochs": 20, "learning_rate": 1e-4}),
    "from-qbqtc-20ep": ("from-qbqtc", {}, {"epochs": 20, "learning_rate": 1e-4}),
    # MiniLM + the zh-qbqtc training texts' characters, first trained as a binary pair classifier
    # on synthetic pairs from the zh-qbqtc titles (no labels; shopmatch.train.synthetic), then
    # the fold's missing characters added and fine-tuned on the fold (its head kept)
    "synthetic": ("synthetic", {}, {}),
    "synthetic-20ep": ("synthetic", {}, {"epochs": 20, "learning_rate": 1e-4}),
    # a gentler fine-tuning that keeps more of the stage (25 steps of 16 at lr 2e-5)
    "synthetic-1ep-lr2e-5": ("synthetic", {}, {"epochs": 1, "learning_rate": 2e-5}),
    # the same with twice as many pseudo-queries in the first stage
    "synthetic-20k": ("synthetic-20k", {}, {}),
}
# Pseudo-queries drawn from the zh-qbqtc titles for the "synthetic" start (each with one match and
# one non-match: twice as many pairs), and how that first stage trains.
SYNTHETIC_QUERIES = 10_000
SYNTHETIC_TRAIN = {**TRAIN, "epochs": 1, "learning_rate": 1e-4}


def note(message: str) -> None:
    print(f"[pairs {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def read(name: str, file: str = "pairs.tsv"):
    from shopmatch.judgments import read_pairs

    return read_pairs(data_dir() / name / file)


def train(rows, out: Path, variant: str, options: dict[str, Any]) -> Path:
    from shopmatch.encoders.models import resolve_model_dir
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig, train_pair_classifier
    from shopmatch.train.vocab import extend_vocabulary

    if (out / "config.json").is_file():
        return out
    start = None
    variant, vocab_options, overrides = VARIANTS.get(variant, (variant, {}, {}))
    options = {**options, **overrides}
    with tempfile.TemporaryDirectory(dir=MODELS) as tmp:
        texts = [t for r in rows for t in (r.text_a, r.text_b)]
        if variant == "vocab":
            start = extend_vocabulary(
                resolve_model_dir("all-MiniLM-L6-v2"), texts, Path(tmp) / "extended", **vocab_options
            ).out_dir
        elif variant == "from-qbqtc":
            if not (QBQTC_MODEL / "config.json").is_file():
                raise SystemExit(f"from-qbqtc: train {QBQTC_MODEL.name} first (run --only qbqtc --variants vocab)")
            start = extend_vocabulary(QBQTC_MODEL, texts, Path(tmp) / "extended", **vocab_options).out_dir
        elif variant in ("synthetic", "synthetic-20k"):
            queries = 20_000 if variant == "synthetic-20k" else SYNTHETIC_QUERIES
            start = extend_vocabulary(synthetic_model(queries), texts, Path(tmp) / "extended", **vocab_options).out_dir
        note(f"training {out.relative_to(MODELS)} on {len(rows):,} pairs")
        train_pair_classifier(rows, out, CrossEncoderTrainConfig(**options), model_dir=start)
    return out


def synthetic_model(queries: int = SYNTHETIC_QUERIES) -> Path:
    """MiniLM with the zh-qbqtc training texts' characters, trained on synthetic pairs drawn
    from the zh-qbqtc titles (``shopmatch.train.synthetic``; no labels used), cached."""
    from shopmatch.encoders.models import resolve_model_dir
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig
    from shopmatch.train.synthetic import train_on_synthetic_pairs
    from shopmatch.train.vocab import extend_vocabulary

    out = MODELS / f"minilm-zh-qbqtc-synthetic-{queries // 1000}k"
    if (out / "config.json").is_file():
        return out
    rows = read("zh-qbqtc", "train.tsv")
    texts = [t for r in rows for t in (r.text_a, r.text_b)]
    with tempfile.TemporaryDirectory(dir=MODELS) as tmp:
        extended = extend_vocabulary(resolve_model_dir("all-MiniLM-L6-v2"), texts, Path(tmp) / "extended").out_dir
        note(f"training {out.name} on {queries:,} pseudo-queries from the zh-qbqtc titles")
        summary = train_on_synthetic_pairs(
            [r.text_b for r in rows], out, CrossEncoderTrainConfig(**SYNTHETIC_TRAIN), count=queries,
            model_dir=extended,
        )  # fmt: skip
    note(f"{out.name}: {summary.data['train_pairs']:,} pairs in {summary.seconds / 60:.1f} min")
    return out


def run_zero_shot_synthetic(name: str, start: str) -> None:
    """The synthetic-pair model (start ``synthetic`` or ``synthetic-20k``) on a whole zh-ecom set
    and on each fold's test rows, no judged pair seen."""
    rows = read(name)

    def compute():
        model = synthetic_model(20_000 if start == "synthetic-20k" else SYNTHETIC_QUERIES)
        folds = fold_of_rows(rows, by_query=False)
        per_fold = [scores(model, [r for r, f in zip(rows, folds, strict=True) if f == fold]) for fold in range(5)]
        return {**scores(model, rows), "folds": per_fold}

    result = cached(RESULTS / f"{name}-{start}-zeroshot.json", compute)
    note(f"{name} zero-shot from {start} pairs: accuracy {result['accuracy']:.3f}, F1 {result['f1']:.3f}, "
         f"AUC {result.get('auc', float('nan')):.3f}")  # fmt: skip


def scores(model_dir: Path, rows) -> dict[str, float]:
    from shopmatch.eval.metrics import pair_metrics
    from shopmatch.train.cross_encoder import load_pair_classifier
    from shopmatch.train.evaluation import predict_classes

    model = load_pair_classifier(model_dir)
    predictions, probabilities = predict_classes(model, [(r.text_a, r.text_b) for r in rows])
    return pair_metrics([r.label for r in rows], predictions.tolist(), probabilities)


def binary_from_three(model_dir: Path, rows) -> dict[str, float]:
    """Zero-shot: a 3-class (0/1/2) qbqtc model on a binary set; match = class 1 or 2."""
    from shopmatch.eval.metrics import pair_metrics
    from shopmatch.train.cross_encoder import load_pair_classifier
    from shopmatch.train.evaluation import predict_classes

    model = load_pair_classifier(model_dir)
    predictions, probabilities = predict_classes(model, [(r.text_a, r.text_b) for r in rows])
    match = probabilities[:, 1:].sum(axis=1)
    return pair_metrics([r.label for r in rows], (predictions >= 1).astype(int).tolist(), match)


def cached(path: Path, compute) -> dict[str, Any]:
    if path.is_file():
        return json.loads(path.read_text())
    result = {**compute(), "machine": machine_info()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=float))
    return result


def run_qbqtc(variants: list[str], n_train: int) -> None:
    train_rows = read("zh-qbqtc", "train.tsv")
    if n_train < len(train_rows):
        train_rows = random.Random(0).sample(train_rows, n_train)
    test_rows = read("zh-qbqtc", "test.tsv")
    for variant in variants:
        out = MODELS / f"qbqtc-{variant}-{len(train_rows)}"

        def compute(out=out, variant=variant):
            started = time.perf_counter()
            train(train_rows, out, variant, TRAIN)
            return {**scores(out, test_rows), "train_pairs": len(train_rows), "train_s": time.perf_counter() - started}

        result = cached(RESULTS / f"qbqtc-{variant}-{len(train_rows)}.json", compute)
        note(f"qbqtc {variant}: accuracy {result['accuracy']:.3f}, macro-F1 {result['f1']:.3f}")
        for name in ("zh-ecom-query-item",):
            rows = read(name)
            zero = cached(RESULTS / f"{name}-zeroshot-qbqtc-{variant}-{len(train_rows)}.json",
                          lambda out=out, rows=rows: binary_from_three(out, rows))  # fmt: skip
            auc = zero.get("auc", float("nan"))
            note(f"{name} zero-shot from qbqtc ({variant}): F1 {zero['f1']:.3f}, AUC {auc:.3f}")


def fold_of_rows(rows, by_query: bool) -> list[int]:
    """The protocol's fold of each row (row index mod 5), or — ``by_query`` — the fold of its
    ``text_a`` (order of first appearance mod 5), so that no test query has rows in training."""
    if not by_query:
        return [i % 5 for i in range(len(rows))]
    first: dict[str, int] = {}
    for r in rows:
        first.setdefault(r.text_a, len(first))
    return [first[r.text_a] % 5 for r in rows]


def run_cv(name: str, variants: list[str], folds: list[int], by_query: bool = False) -> None:
    rows = read(name)
    for start in sorted({VARIANTS.get(v, (v,))[0] for v in variants} & {"synthetic", "synthetic-20k"}):
        run_zero_shot_synthetic(name, start)
    fold_of = fold_of_rows(rows, by_query)
    split = "-byquery" if by_query else ""
    for variant in variants:
        for fold in folds:
            train_rows = [r for r, f in zip(rows, fold_of, strict=True) if f != fold]
            test_rows = [r for r, f in zip(rows, fold_of, strict=True) if f == fold]
            out = MODELS / f"{name}-{variant}{split}-fold{fold}"

            def compute(out=out, variant=variant, train_rows=train_rows, test_rows=test_rows):
                train(train_rows, out, variant, ECOM_TRAIN)
                return scores(out, test_rows)

            result = cached(RESULTS / f"{name}-{variant}{split}-fold{fold}.json", compute)
            note(f"{name} {variant}{split} fold {fold}: accuracy {result['accuracy']:.3f}, F1 {result['f1']:.3f}, "
                 f"AUC {result.get('auc', float('nan')):.3f}")  # fmt: skip


def cmd_table(args: argparse.Namespace) -> int:
    rows = []
    for path in sorted(RESULTS.glob("qbqtc-*.json")):
        r = json.loads(path.read_text())
        variant = path.stem.removeprefix("qbqtc-").rsplit("-", 1)[0]
        rows.append([f"zh-qbqtc test, cross-encoder {variant}", f"{r['train_pairs']:,}",
                     r["accuracy"], r["f1"], r.get("auc", float("nan")), f"{r['train_s'] / 60:.0f}"])  # fmt: skip
    for path in sorted(RESULTS.glob("*-zeroshot-*.json")):
        r = json.loads(path.read_text())
        name, variant = path.stem.split("-zeroshot-qbqtc-")
        rows.append([f"{name}, zero-shot from zh-qbqtc ({variant.rsplit('-', 1)[0]})", "–",
                     r["accuracy"], r["f1"], r.get("auc", float("nan")), "–"])  # fmt: skip
    for name in ("zh-ecom-query-item", "zh-ecom-title-attribute"):
        for start in ("synthetic", "synthetic-20k"):
            path = RESULTS / f"{name}-{start}-zeroshot.json"
            if path.is_file():
                r = json.loads(path.read_text())
                rows.append([f"{name}, zero-shot from {start} (all rows)", "–", r["accuracy"], r["f1"],
                             r.get("auc", float("nan")), "–"])  # fmt: skip
                means = [statistics.mean(f[m] for f in r["folds"]) for m in ("accuracy", "f1", "auc")]
                rows.append([f"{name}, zero-shot from {start} (mean of the 5 folds' test rows)", "–", *means, "–"])
        for split, label in (("", "5-fold CV"), ("-byquery", "5-fold CV by query (diagnostic)")):
            for variant in ("plain", "vocab", "from-qbqtc", *VARIANTS):
                folds = [RESULTS / f"{name}-{variant}{split}-fold{f}.json" for f in range(5)]
                if not all(p.is_file() for p in folds):
                    continue
                results = [json.loads(p.read_text()) for p in folds]
                means = [statistics.mean(r[m] for r in results) for m in ("accuracy", "f1", "auc")]
                rows.append([f"{name}, {label}, cross-encoder {variant}", "≈400/fold", *means, "–"])
    print("\n".join(machine_header()))
    print("\n## Cross-encoder pair classification (Chinese), all-MiniLM-L6-v2 start; plain vs vocabulary-extended\n")
    print(markdown_table(["set / model", "training pairs", "accuracy", "F1 (macro for 3 classes)", "ROC-AUC",
                          "train min"], rows))  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--only", action="append", choices=("qbqtc", "ecom", "query-item", "title-attribute"))
    run.add_argument("--variants", default="plain,vocab")
    run.add_argument("--qbqtc-train", type=int, default=20_000)
    run.add_argument("--by-query", action="store_true",
                     help="zh-ecom: folds by query (a diagnostic beside the protocol's folds by row)")  # fmt: skip
    run.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4], choices=range(5), help="zh-ecom folds")
    sub.add_parser("table")
    args = parser.parse_args(argv)
    if args.command == "table":
        return cmd_table(args)
    MODELS.mkdir(parents=True, exist_ok=True)
    variants = [v for v in args.variants.split(",") if v]
    sections = args.only or ["ecom", "qbqtc"]
    if "ecom" in sections or "query-item" in sections:
        run_cv("zh-ecom-query-item", variants, args.folds, args.by_query)
    if "ecom" in sections or "title-attribute" in sections:
        run_cv("zh-ecom-title-attribute", variants, args.folds, args.by_query)
    if "qbqtc" in sections:
        run_qbqtc(variants, args.qbqtc_train)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
