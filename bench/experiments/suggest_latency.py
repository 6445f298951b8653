"""Suggestion latency: ``Suggester.suggest`` per keystroke on a real catalog (p50/p99, in-process).

Usage::

    python bench/experiments/suggest_latency.py [--catalog homedepot|zh-ecom-query-item] [--limit 10] [--json FILE]

The suggester is built from the catalog as the index builds it (``homedepot``: the 54,667 Home
Depot products; ``zh-ecom-query-item``: its distinct titles, with pinyin keys). The prefixes are
every prefix (one to twelve characters) of 300 queries of the collection — English queries typed
letter by letter, Chinese queries character by character and as full pinyin and initials — so
short, busy prefixes (``s``, ``a``) count as often as a shopper types them. After a warm-up round
each prefix is asked three times; the figures are per call in this process (no HTTP): p50/p99 of
every call, and of each prefix's fastest call (on a loaded machine the first p99 is mostly the
scheduler; the second is the work). The target is p50 ≤ 2 ms.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import data_dir, machine_header, percentiles, write_json  # noqa: E402

from shopmatch.catalog import read_catalog  # noqa: E402
from shopmatch.judgments import read_judgments  # noqa: E402
from shopmatch.query.pinyin import PinyinIndex  # noqa: E402
from shopmatch.query.suggest import Suggester  # noqa: E402

QUERIES = 300
MAX_PREFIX = 12


def prefixes(queries: list[str]) -> list[str]:
    out = []
    for q in queries:
        out += [q[:n] for n in range(1, min(len(q), MAX_PREFIX) + 1)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", choices=("homedepot", "zh-ecom-query-item"), default="homedepot")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rng = random.Random(0)
    if args.catalog == "homedepot":
        folder = data_dir() / "homedepot"
        products = read_catalog(folder / "products.jsonl").products
        queries = sorted(set(read_judgments(folder / "judgments.tsv").queries.values()))
        queries = rng.sample(queries, min(QUERIES, len(queries)))
    else:
        from pinyin import full_pinyin, initials  # bench/experiments/pinyin.py
        from quality import zh_query_item

        products, judgments, _ = zh_query_item(data_dir() / "zh-ecom-query-item" / "pairs.tsv")
        chinese = sorted(set(judgments.queries.values()))
        chinese = rng.sample(chinese, min(QUERIES // 3, len(chinese)))
        queries = chinese + [full_pinyin(q) for q in chinese] + [initials(q) for q in chinese]
    started = time.perf_counter()
    suggester = Suggester.build(products, PinyinIndex.build(products))
    built = time.perf_counter() - started
    asked = prefixes(queries)
    for prefix in asked:  # warm-up
        suggester.suggest(prefix, args.limit)
    samples = np.zeros((3, len(asked)))
    empty = 0
    for round_ in range(3):
        for i, prefix in enumerate(asked):
            t0 = time.perf_counter()
            found = suggester.suggest(prefix, args.limit)
            samples[round_, i] = time.perf_counter() - t0
            empty += round_ == 0 and not found
    stats = percentiles(samples.ravel())
    stats.update({f"fastest_of_3_{k}": v for k, v in percentiles(samples.min(axis=0)).items()})
    record = {
        "catalog": args.catalog,
        "products": len(products),
        "phrases": len(suggester),
        "keys": len(suggester.keys),
        "build_s": round(built, 1),
        "prefixes": len(asked),
        "without_suggestion": empty,
        **stats,
    }
    print("\n".join(machine_header()))
    print(
        f"{args.catalog}: {len(products)} products → {len(suggester)} phrases, {len(suggester.keys)} keys "
        f"(built in {built:.1f} s); {len(asked)} prefixes ({empty} without a suggestion)"
    )
    print(" ".join(f"{k} {v:.3f} ms" for k, v in stats.items()))
    write_json(args.json, record)


if __name__ == "__main__":
    main()
