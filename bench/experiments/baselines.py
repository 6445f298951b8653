"""Classic baselines benchmark: word vectors + cosine, linear σ(Wq+Vc+b), linear with interactions, two-tower BiLSTM.

Protocols (``../shared/docs/benchmarks.md``; data from ``../shared/data``):

- **esci-us-150**, 5-fold cross-validation by query (``Judgments.folds(5)``: a query's fold is its
  position among the sorted query ids modulo 5). Each trained model is fit on four folds (10% of
  those queries held out, seeded, as the dev set for early stopping) and measured on the fifth:
  rerank NDCG@10 (gains E=1, S=0.1, C=0.01, I=0; ties broken by product id), mean over the folds
  and each fold. Extra ESCI row: the two-tower model trained with one random negative per pair
  (another query's product, target 0). The two-tower models and word vectors are also measured in retrieval mode over
  the whole 6,764-product catalog: NDCG@10, MRR@10 (E), Recall@100 (E+S). Word vectors + cosine is
  unsupervised: word2vec trained once on the catalog (``WordVectorConfig()``, as in the pipeline)
  and measured on the same test folds.
- **zh-qbqtc**: trained on ``train.tsv`` (10% of its rows, seeded, held out as dev set for early
  stopping and the class thresholds), measured on ``test.tsv``: accuracy, macro-F1 (3 classes).
  Word vectors + cosine: word2vec on the training texts, thresholds on the cosine chosen on the
  training rows (macro-F1). BM25 (unsupervised): shopmatch's lexical BM25 (one field, k1 1.2,
  b 0.75, ``jieba+char`` Chinese tokens) of ``text_a`` against ``text_b``, the index built over
  the set's distinct ``text_b`` texts (train and test: no labels); thresholds as for the cosine.
- **zh-ecom-query-item** as pairs: accuracy, F1, ROC-AUC by 5-fold cross-validation over rows
  (fold = row index mod 5; dev = 10% of the training rows), and zero-shot from the zh-qbqtc models:
  a pair is predicted to match when the qbqtc model predicts class ≥ 1 (somewhat or very
  relevant); ROC-AUC from the model's score.
- **zh-ecom-title-attribute** as pairs: the same 5-fold cross-validation over rows. The BM25 row
  on both ecom sets: index over all the set's distinct ``text_b``, threshold chosen on the
  training folds' rows (F1), AUC from the raw score.
- **homedepot** (``--only homedepot`` or ``all``): dev = every 10th query id in ascending order, train =
  the rest (10% of its queries as early-stopping dev set); rerank NDCG@10 on dev, gain = label − 1.

Usage::

    .venv/bin/python bench/experiments/baselines.py --json bench/results/baselines.json | tee bench/results/baselines.md
    .venv/bin/python bench/experiments/baselines.py --only esci,qbqtc
    .venv/bin/python bench/experiments/baselines.py --only qbqtc,ecom --unsupervised   # word2vec and BM25 rows only

Markdown goes to stdout (machine header first); progress notes go to stderr. Models run with one
torch thread. Training times are noted as rough figures only (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches

from _common import data_dir, machine_header, machine_info, markdown_table, skip_if_missing  # noqa: E402

from shopmatch.baselines import LinearMatcher, LinearMatcherConfig, TwoTowerLSTM, TwoTowerLSTMConfig
from shopmatch.baselines.trained import choose_thresholds
from shopmatch.catalog import read_catalog
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.eval.metrics import pair_metrics, ranking_metrics
from shopmatch.judgments import GainMap, Judgments, Pair, read_judgments, read_pairs
from shopmatch.retrieval.word_vectors import WordVectorConfig, WordVectorRetriever
from shopmatch.train.data import labeled_pairs
from shopmatch.train.splits import split_dev

TRAINED = {
    "linear σ(Wq+Vc+b)": (LinearMatcher, LinearMatcherConfig()),
    "linear + interaction (q∘c, cos)": (LinearMatcher, LinearMatcherConfig(interaction=True)),
    "two-tower BiLSTM (max pooling)": (TwoTowerLSTM, TwoTowerLSTMConfig()),
}
LSTM_NEG = "two-tower BiLSTM + 1 random negative per pair"
ESCI_EXTRA = {LSTM_NEG: (TwoTowerLSTM, TwoTowerLSTMConfig(random_negatives=1))}  # esci only: for retrieval
WV = "word2vec mean + cosine (unsupervised)"
WV_CONFIG = WordVectorConfig()
BM25 = "BM25 jieba+char (shopmatch lexical, k1 1.2, b 0.75; unsupervised)"
QUICK: dict[str, int] = {}  # --quick: a smoke test of the code paths (1 epoch, fewer rows), not figures
LSTM = "two-tower BiLSTM (max pooling)"


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- helpers


def rerank_run(
    judgments: Judgments, score: Callable[[str, list[str]], np.ndarray]
) -> dict[str, list[tuple[str, float]]]:
    """Each query's judged products ordered by ``score(query, product_ids)``, ties by product id."""
    run = {}
    for qid, rows in judgments.by_query.items():
        ids = [r.product_id for r in rows]
        scores = np.asarray(score(judgments.queries[qid], ids), dtype=np.float64)
        run[qid] = sorted(zip(ids, scores.tolist(), strict=True), key=lambda item: (-item[1], item[0]))
    return run


def rank_metrics(judgments: Judgments, gains: GainMap, run, metrics=("ndcg@10",)) -> dict[str, float]:
    return ranking_metrics(
        judgments.qrels(gains),
        judgments.relevant(gains),
        run,
        metrics=metrics,
        recall_relevant=judgments.relevant(gains, for_recall=True),
    ).mean


def w2v_scorer(texts: Sequence[str], config: WordVectorConfig) -> WordVectorRetriever:
    """word2vec on ``texts`` (analyzed like the pipeline's word-vector retriever), no index."""
    from dataclasses import replace

    from shopmatch.retrieval.word_vectors import train_word2vec, word_analyzer

    sentences = [s for s in word_analyzer().many(list(dict.fromkeys(texts))) if s]
    words, vectors = train_word2vec(sentences, replace(config, workers=1))
    return WordVectorRetriever(words, vectors, index=None)  # type: ignore[arg-type]


def cosine_pairs(wv: WordVectorRetriever, pairs: Sequence[Pair]) -> np.ndarray:
    a = wv.encode_queries([p.text_a for p in pairs])
    b = wv.encode_queries([p.text_b for p in pairs])
    return (a * b).sum(axis=1)


def bm25_pair_scores(candidates: Sequence[str], pairs: Sequence[Pair]) -> np.ndarray:
    """BM25 of each pair's ``text_a`` against its ``text_b``, the index built over ``candidates``.

    shopmatch's :class:`LexicalRetriever` with one field (title weight 1, b 0.75, k1 1.2) and the
    default analyzer (``chinese="jieba+char"``); 0 where no query term occurs in the candidate.
    """
    from shopmatch.catalog import Product
    from shopmatch.retrieval.lexical import FieldWeight, LexicalConfig, LexicalRetriever

    texts = list(dict.fromkeys(candidates))
    row_of = {t: i for i, t in enumerate(texts)}
    config = LexicalConfig(fields={"title": FieldWeight(1.0, 0.75)}, k1=1.2, chinese="jieba+char")
    bm25 = LexicalRetriever.build([Product(f"c{i}", t) for i, t in enumerate(texts)], config)
    by_query: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_query.setdefault(p.text_a, []).append(i)
    out = np.zeros(len(pairs), dtype=np.float64)
    for query, idx in by_query.items():
        rows = np.asarray([row_of[pairs[i].text_b] for i in idx], dtype=np.int64)
        out[idx] = np.nan_to_num(bm25.score_rows(bm25.prepare([query])[0], rows), nan=0.0)  # NaN: no term matches
    return out


# --------------------------------------------------------------------------- esci-us-150


def bench_esci(results: dict[str, Any]) -> None:
    folder = data_dir() / "esci-us-150"
    if not skip_if_missing(folder, "esci-us-150"):
        return
    gains = GainMap.esci()
    catalog = read_catalog(folder / "products.jsonl")
    judged = read_judgments(folder / "judgments.tsv")
    products = {p.id: p for p in catalog.products}
    template = ProductTextTemplate()
    text_of = {p.id: template.render(p) for p in catalog.products}
    all_ids = [p.id for p in catalog.products]
    folds = judged.folds(5)

    trained = TRAINED | ESCI_EXTRA
    rerank: dict[str, list[float]] = {name: [] for name in (WV, *trained)}
    retrieval: dict[str, list[dict[str, float]]] = {WV: [], LSTM: [], LSTM_NEG: []}
    seconds: dict[str, list[float]] = {name: [] for name in trained}

    started = time.perf_counter()
    wv = WordVectorRetriever.build(catalog.products, WV_CONFIG)
    note(f"esci: word2vec on the catalog in {time.perf_counter() - started:.0f} s")
    row_of = {pid: i for i, pid in enumerate(all_ids)}

    def wv_scores(query: str, ids: list[str]) -> np.ndarray:
        """Cosine of the query's and the products' mean word vectors; 0 for a query with no known word."""
        rows = np.asarray([row_of[i] for i in ids], dtype=np.int64)
        return np.nan_to_num(wv.score_rows(wv.prepare([query])[0], rows), nan=0.0)

    for fold, (train_j, test_j) in enumerate(folds[: QUICK.get("folds")]):
        rerank[WV].append(rank_metrics(test_j, gains, rerank_run(test_j, wv_scores))["ndcg@10"])
        queries = [test_j.queries[q] for q in test_j.query_ids]
        hits = wv.search_texts(queries, k=100)
        run = {
            qid: [(all_ids[r], float(s)) for r, s in zip(hits.rows[i], hits.scores[i], strict=True) if r >= 0]
            for i, qid in enumerate(test_j.query_ids)
        }
        retrieval[WV].append(rank_metrics(test_j, gains, run, ("ndcg@10", "mrr@10", "recall@100")))
        note(f"esci fold {fold}: {WV}: rerank NDCG@10 {rerank[WV][-1]:.3f}, retrieval {retrieval[WV][-1]}")
        fit_j, dev_j = split_dev(train_j, 0.1, seed=0)
        train_pairs = labeled_pairs(fit_j, products, gains, template)
        dev_pairs = labeled_pairs(dev_j, products, gains, template)
        for name, (cls, config) in trained.items():
            t0 = time.perf_counter()
            model = cls.fit(train_pairs, dev=dev_pairs, config=config)
            seconds[name].append(time.perf_counter() - t0)
            ndcg = rank_metrics(
                test_j, gains, rerank_run(test_j, lambda q, ids, m=model: m.score(q, [text_of[i] for i in ids]))
            )
            rerank[name].append(ndcg["ndcg@10"])
            note(
                f"esci fold {fold}: {name}: rerank NDCG@10 {ndcg['ndcg@10']:.3f} "
                f"(best epoch {model.summary.best_epoch}, {seconds[name][-1]:.0f} s)"
            )
            if name in retrieval:
                product_vectors = model.encode_products([text_of[i] for i in all_ids])  # (products, dim)
                query_vectors = model.encode_queries(queries)  # (queries, dim)
                scores = query_vectors @ product_vectors.T  # (queries, products)
                top = np.argsort(-scores, axis=1, kind="stable")[:, :100]
                run = {
                    qid: [(all_ids[j], float(scores[i, j])) for j in top[i]] for i, qid in enumerate(test_j.query_ids)
                }
                retrieval[name].append(rank_metrics(test_j, gains, run, ("ndcg@10", "mrr@10", "recall@100")))
                note(f"esci fold {fold}: {name}: retrieval {retrieval[name][-1]}")

    rows = []
    for name, values in rerank.items():
        r = retrieval.get(name)
        mean_r = {k: float(np.mean([x[k] for x in r])) for k in r[0]} if r else {}
        rows.append(
            [
                name,
                float(np.mean(values)),
                *[float(v) for v in values],
                mean_r.get("ndcg@10", "–"),
                mean_r.get("mrr@10", "–"),
                mean_r.get("recall@100", "–"),
            ]
        )
    headers = [
        "system",
        "NDCG@10 rerank (mean)",
        *[f"fold {i}" for i in range(len(rerank[WV]))],
        "NDCG@10 retrieval",
        "MRR@10 (E)",
        "Recall@100 (E+S)",
    ]
    print("\n### esci-us-150 — 5-fold cross-validation by query\n")
    print(markdown_table(headers, rows))
    print(
        "\nRetrieval: each test fold's queries against all 6,764 products, mean over the folds. "
        "Approximate training time per fold: " + ", ".join(f"{n} {np.mean(s):.0f} s" for n, s in seconds.items()) + "."
    )
    results["esci"] = {
        "rerank_ndcg@10": rerank,
        "retrieval": retrieval,
        "train_seconds": seconds,
    }


# --------------------------------------------------------------------------- pair sets


def fit_pairs(cls, config, train: list[Pair], dev: list[Pair]):
    return cls.fit(train, dev=dev, config=config)


def bench_qbqtc(results: dict[str, Any]) -> dict[str, Any]:
    folder = data_dir() / "zh-qbqtc"
    if not skip_if_missing(folder, "zh-qbqtc"):
        return {}
    train_all = read_pairs(folder / "train.tsv")[: QUICK.get("rows")]
    test = read_pairs(folder / "test.tsv")[: QUICK.get("rows")]
    labels = [p.label for p in test]
    rows, out, models = [], {}, {}
    wv = w2v_scorer([p.text_a for p in train_all] + [p.text_b for p in train_all], WV_CONFIG)
    thresholds = choose_thresholds(cosine_pairs(wv, train_all), np.array([p.label for p in train_all]), 3)
    predicted = np.searchsorted(thresholds, cosine_pairs(wv, test), side="right")
    out[WV] = pair_metrics(labels, predicted)
    models[WV] = (wv, thresholds)
    t0 = time.perf_counter()
    candidates = [p.text_b for p in train_all] + [p.text_b for p in test]
    train_s, test_s = np.split(bm25_pair_scores(candidates, [*train_all, *test]), [len(train_all)])
    thresholds = choose_thresholds(train_s, np.array([p.label for p in train_all]), 3)
    out[BM25] = pair_metrics(labels, np.searchsorted(thresholds, test_s, side="right"))
    note(f"qbqtc: {BM25}: {out[BM25]} (thresholds {thresholds}, {time.perf_counter() - t0:.0f} s)")
    train, dev = split_dev(train_all)
    for name, (cls, config) in TRAINED.items():
        t0 = time.perf_counter()
        model = fit_pairs(cls, config, train, dev)
        seconds = time.perf_counter() - t0
        out[name] = pair_metrics(labels, model.predict_classes(test)) | {"train_seconds": seconds}
        models[name] = model
        note(f"qbqtc: {name}: {out[name]} (best epoch {model.summary.best_epoch})")
    for name, m in out.items():
        rows.append([name, m["accuracy"], m["f1"]])
    print("\n### zh-qbqtc — train.tsv (20,000) → test.tsv (5,000), 3 classes\n")
    print(markdown_table(["system", "accuracy", "macro-F1"], rows))
    print(
        "\nClasses from the score by two thresholds chosen for macro-F1 on the dev rows (trained models; "
        "10% of train.tsv) or on the training rows (cosine, BM25). BM25 index: the distinct text_b of "
        "train.tsv and test.tsv. Majority class (1) alone: accuracy "
        f"{np.mean(np.array(labels) == 1):.3f}. Published: BERT-base 71.8 / 64.1 trained on 180k pairs."
    )
    results["qbqtc"] = out
    return models


def bench_pairs_cv(results: dict[str, Any], name: str, key: str, zero_shot: dict[str, Any] | None = None) -> None:
    path = data_dir() / name / "pairs.tsv"
    if not skip_if_missing(path, name):
        return
    rows_all = read_pairs(path)
    labels_all = np.array([p.label for p in rows_all])
    scores: dict[str, np.ndarray] = {n: np.zeros(len(rows_all)) for n in (WV, BM25, *TRAINED)}
    predicted: dict[str, np.ndarray] = {n: np.zeros(len(rows_all), dtype=np.int64) for n in (WV, BM25, *TRAINED)}
    per_fold: dict[str, list[dict[str, float]]] = {n: [] for n in (WV, BM25, *TRAINED)}
    bm25_all = bm25_pair_scores([p.text_b for p in rows_all], rows_all)  # unsupervised: one index, all folds
    for fold in range(5):
        test_idx = [i for i in range(len(rows_all)) if i % 5 == fold]
        train_rows = [rows_all[i] for i in range(len(rows_all)) if i % 5 != fold]
        test_rows = [rows_all[i] for i in test_idx]
        wv = w2v_scorer([p.text_a for p in train_rows] + [p.text_b for p in train_rows], WV_CONFIG)
        t = choose_thresholds(cosine_pairs(wv, train_rows), np.array([p.label for p in train_rows]), 2)
        s = cosine_pairs(wv, test_rows)
        scores[WV][test_idx], predicted[WV][test_idx] = s, np.searchsorted(t, s, side="right")
        train_idx = [i for i in range(len(rows_all)) if i % 5 != fold]
        t = choose_thresholds(bm25_all[train_idx], labels_all[train_idx], 2)
        s = bm25_all[test_idx]
        scores[BM25][test_idx], predicted[BM25][test_idx] = s, np.searchsorted(t, s, side="right")
        fit, dev = split_dev(train_rows)
        for n, (cls, config) in TRAINED.items():
            model = fit_pairs(cls, config, fit, dev)
            s = model.score_pairs(test_rows)
            scores[n][test_idx], predicted[n][test_idx] = s, model.classes_of(s)
        for n in per_fold:
            per_fold[n].append(pair_metrics(labels_all[test_idx], predicted[n][test_idx], scores[n][test_idx]))
        note(f"{name} fold {fold}: " + ", ".join(f"{n} {per_fold[n][-1]['auc']:.3f}" for n in per_fold))
    table, out = [], {}
    for n in per_fold:
        mean = {k: float(np.mean([f[k] for f in per_fold[n]])) for k in ("accuracy", "f1", "auc")}
        out[n] = {"mean_over_folds": mean, "folds": per_fold[n]}
        table.append([f"{n}, 5-fold CV", mean["accuracy"], mean["f1"], mean["auc"]])
    if zero_shot:
        test_rows = rows_all
        for n, model in zero_shot.items():
            if n == WV:
                wv, thresholds = model
                s = cosine_pairs(wv, test_rows)
                binary = (np.searchsorted(thresholds, s, side="right") >= 1).astype(int)
            else:
                s = model.score_pairs(test_rows)
                binary = (model.classes_of(s) >= 1).astype(int)
            m = pair_metrics(labels_all, binary, s)
            out[f"{n} zero-shot from zh-qbqtc"] = m
            table.append([f"{n}, zero-shot from zh-qbqtc", m["accuracy"], m["f1"], m["auc"]])
    print(f"\n### {name} — pairs ({len(rows_all)} rows)\n")
    print(markdown_table(["system", "accuracy", "F1", "ROC-AUC"], table))
    note_text = (
        "\n5-fold CV: fold = row index mod 5, metrics per fold then averaged; trained models hold out "
        "10% of the training rows as dev set (early stopping, threshold); the cosine and BM25 rows choose "
        "their threshold on the training folds' rows. BM25 index: all distinct text_b of the set (no labels)."
    )
    if zero_shot:
        note_text += (
            " Zero-shot: the zh-qbqtc models on all rows; a pair matches when the predicted qbqtc class "
            "is ≥ 1 (somewhat or very relevant); ROC-AUC from the score."
        )
    print(note_text)
    results[key] = out


# --------------------------------------------------------------------------- homedepot


def bench_homedepot(results: dict[str, Any]) -> None:
    folder = data_dir() / "homedepot"
    if not skip_if_missing(folder, "homedepot"):
        return
    gains = GainMap.parse("offset=1,relevant>=2.5")
    catalog = read_catalog(folder / "products.jsonl")
    judged = read_judgments(folder / "judgments.tsv", gains=gains)
    ids = judged.query_ids
    dev_q = {q for i, q in enumerate(ids) if i % 10 == 0}
    train_j, test_j = judged.subset(q for q in ids if q not in dev_q), judged.subset(dev_q)
    products = {p.id: p for p in catalog.products}
    template = ProductTextTemplate()
    fit_j, early_j = split_dev(train_j, 0.1, seed=0)
    train_pairs = labeled_pairs(fit_j, products, gains, template)
    early_pairs = labeled_pairs(early_j, products, gains, template)
    text_of = {r.product_id: template.render(products[r.product_id]) for r in test_j.rows}
    out = {}
    for name, (cls, config) in TRAINED.items():
        t0 = time.perf_counter()
        model = cls.fit(train_pairs, dev=early_pairs, config=config)
        ndcg = rank_metrics(
            test_j, gains, rerank_run(test_j, lambda q, pids, m=model: m.score(q, [text_of[i] for i in pids]))
        )
        out[name] = {"rerank_ndcg@10": ndcg["ndcg@10"], "train_seconds": time.perf_counter() - t0}
        note(f"homedepot: {name}: {out[name]}")
    print(f"\n### homedepot — dev = every 10th query ({len(test_j.queries)} queries), train = the rest\n")
    print(markdown_table(["system", "NDCG@10 rerank"], [[n, m["rerank_ndcg@10"]] for n, m in out.items()]))
    results["homedepot"] = out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="esci,qbqtc,ecom", help="comma list of esci, qbqtc, ecom, homedepot; or all")
    parser.add_argument("--json", help="write all figures to this JSON file")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 epoch, 2,000 qbqtc rows (not figures)")
    parser.add_argument("--unsupervised", action="store_true", help="only the word2vec and BM25 rows (no training)")
    args = parser.parse_args()
    if args.unsupervised:
        TRAINED.clear()
        ESCI_EXTRA.clear()
    if args.quick:
        global WV_CONFIG
        QUICK["rows"] = 2000
        QUICK["folds"] = 1
        WV_CONFIG = WordVectorConfig(epochs=1)
        for name, (cls, config) in TRAINED.items():
            TRAINED[name] = (
                cls,
                type(config)(
                    **{**config.to_dict(), "epochs": 1, "w2v_epochs": 1}
                    if cls is LinearMatcher
                    else {**config.to_dict(), "epochs": 1}
                ),
            )
    import torch

    torch.set_num_threads(1)
    parts = {"esci", "qbqtc", "ecom", "homedepot"} if args.only == "all" else set(args.only.split(","))
    info = machine_info()
    import importlib.metadata

    for lib in ("torch", "gensim", "scikit-learn"):
        info["versions"][lib] = importlib.metadata.version(lib)
    print("## Classic baselines\n")
    print("\n".join(machine_header(info)))
    results: dict[str, Any] = {"machine": info}
    started = time.perf_counter()
    if args.quick and not args.unsupervised:  # --unsupervised trains nothing, --quick included
        ESCI_EXTRA[LSTM_NEG] = (TwoTowerLSTM, TwoTowerLSTMConfig(random_negatives=1, epochs=1))
    if "esci" in parts:
        bench_esci(results)
    models = bench_qbqtc(results) if "qbqtc" in parts else {}
    if "ecom" in parts:
        bench_pairs_cv(results, "zh-ecom-query-item", "ecom_query_item", zero_shot=models or None)
        bench_pairs_cv(results, "zh-ecom-title-attribute", "ecom_title_attribute")
    if "homedepot" in parts:
        bench_homedepot(results)
    note(f"done in {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2, ensure_ascii=False, default=float)


if __name__ == "__main__":
    main()
