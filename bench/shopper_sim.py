"""Simulated shoppers over judged queries, writing events in the public ``events.jsonl`` format.

Protocol (``../shared/docs/benchmarks.md``, "Shopper behaviour", item 1): for each judged query the
ranking the pipeline actually shows (its top ``k`` = 10) is shown ``--sessions`` times. In each
session a shopper

1. examines position ``i`` (1-based) with probability ``(1/i)^θ`` (``--theta``, 1 by default;
   the protocol also reports 0.5 and 2);
2. clicks an examined product with probability ``0.05 + 0.9 · gain / max gain`` (the gain of its
   judged label under ``--gains``; the largest gain among the judgments is the max), or ``0.05`` when
   the product is not judged for the query;
3. on a click on one of the best labels (normalized gain ≥ ``--best``, 1.0: the top label only)
   puts it in the cart with probability ``--cart`` and buys what is in the cart with probability
   ``--purchase``;
4. with ``--cascade-stop P`` leaves after a click with probability ``P`` (0: off).

``--shuffle-share S`` shows a share ``S`` of the sessions the same ``k`` products in a random order
(a little randomization, which lets a position-based click model separate position from relevance;
0 by default: always the pipeline's order). Every draw comes from a generator seeded with
``(--seed, the query's place among the sorted query ids)``, so a query's sessions do not depend on the
other queries, and a run is reproducible byte for byte.

Rankings come from an index (``--index DIR``: the same search as ``shopmatch search``) or, with
``--order judged``, from each query's judged products in a seeded random order (no index needed:
the rerank-mode candidates, used by the tests). The core, :func:`simulate`, takes any function
from a query's text to its ranked product ids.

This module is a benchmark tool: nothing in ``src/`` imports it, and it imports nothing from ``tests/``.

Usage::

    .venv/bin/python bench/shopper_sim.py ../shared/data/esci-us-150/judgments.tsv.gz \\
        --index demo-index/shop --sessions 30 --theta 1 -o bench/data/shoppers/esci-30.jsonl.gz
    .venv/bin/python bench/shopper_sim.py judgments.tsv --order judged --sessions 100 -o events.jsonl
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.events import parse_event, write_events
from shopmatch.events.model import format_timestamp
from shopmatch.judgments import GainMap, read_judgments

START = datetime(2026, 1, 1, tzinfo=UTC)
"""The first session's time; session ``n`` of a run starts ``n`` minutes later."""


@dataclass(frozen=True)
class Shoppers:
    """How the simulated shoppers behave (see the module docstring)."""

    theta: float = 1.0
    k: int = 10
    base: float = 0.05
    gain_weight: float = 0.9
    unjudged: float = 0.05
    best: float = 1.0
    cart: float = 0.5
    purchase: float = 0.5
    cascade_stop: float = 0.0
    shuffle_share: float = 0.0

    def examination(self) -> np.ndarray:
        """``(k,)`` the chance that each position is looked at: ``(1/i)^θ``."""
        return (1.0 / np.arange(1, self.k + 1)) ** self.theta


def simulate(
    queries: Mapping[str, str],
    gains: Mapping[str, Mapping[str, float]],
    rank: Callable[[str], Sequence[str]],
    sessions: int,
    shoppers: Shoppers,
    *,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Event records (impressions, clicks, carts, purchases) of ``sessions`` shoppers per query.

    Args:
        queries: query_id → query text; simulated in sorted query_id order.
        gains: query_id → product_id → gain of its judged label.
        rank: query text → the ranked product ids the pipeline shows (the first ``k`` are shown).
        sessions: Sessions per query.
        shoppers: Their behaviour.
        seed: With the query's place among the sorted ids, seeds each query's generator.
    """
    top_gain = max((g for judged in gains.values() for g in judged.values()), default=0.0)
    examined_at = shoppers.examination()
    events: list[dict[str, Any]] = []
    session_number = 0
    for ordinal, query_id in enumerate(sorted(queries)):
        rng = np.random.default_rng([seed, ordinal])
        text = queries[query_id]
        shown = list(dict.fromkeys(rank(text)))[: shoppers.k]
        judged = gains.get(query_id, {})
        attractive = np.array(
            [
                shoppers.base + shoppers.gain_weight * judged[p] / top_gain
                if p in judged and top_gain > 0
                else shoppers.unjudged
                for p in shown
            ]
        )
        best = np.array([p in judged and top_gain > 0 and judged[p] / top_gain >= shoppers.best - 1e-9 for p in shown])
        for s in range(sessions):
            order = np.arange(len(shown))
            if shoppers.shuffle_share and rng.random() < shoppers.shuffle_share:
                order = rng.permutation(len(shown))
            when = START + timedelta(minutes=session_number)
            session_number += 1
            search_id = f"sim-{query_id}-{s}"
            results = [shown[i] for i in order]
            events.append(_impression(search_id, text, results, when, session=f"shopper-{query_id}-{s}"))
            looks = rng.random(len(order)) < examined_at[: len(order)]
            clicks = rng.random(len(order)) < attractive[order]
            carts = rng.random(len(order)) < shoppers.cart
            buys = rng.random(len(order)) < shoppers.purchase
            stops = rng.random(len(order)) < shoppers.cascade_stop
            step = 0
            for position, i in enumerate(order, start=1):
                if not (looks[position - 1] and clicks[position - 1]):
                    continue
                step += 1
                product = shown[i]
                events.append(_did("click", search_id, product, position, when + timedelta(seconds=5 * step), step))
                if best[i] and carts[position - 1]:
                    events.append(
                        _did("add_to_cart", search_id, product, position, when + timedelta(seconds=5 * step + 1), step)
                    )
                    if buys[position - 1]:
                        events.append(
                            _did("purchase", search_id, product, position, when + timedelta(seconds=5 * step + 2), step)
                        )
                if stops[position - 1]:
                    break
    return events


def _impression(search_id: str, query: str, results: list[str], when: datetime, session: str) -> dict[str, Any]:
    return {
        "type": "impression",
        "search_id": search_id,
        "query": query,
        "results": results,
        "ts": format_timestamp(when),
        "session_id": session,
        "page": 1,
    }


def _did(kind: str, search_id: str, product_id: str, position: int, when: datetime, step: int) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"{search_id}-{kind}-{step}",
        "search_id": search_id,
        "product_id": product_id,
        "position": position,
        "ts": format_timestamp(when),
    }


def judged_order(gains: Mapping[str, Mapping[str, float]], queries: Mapping[str, str], seed: int) -> Callable:
    """A ranker with no index: each query's judged products in a seeded random order (fixed per query)."""
    by_text: dict[str, list[str]] = {}
    for ordinal, query_id in enumerate(sorted(queries)):
        products = sorted(gains.get(query_id, {}))
        permutation = np.random.default_rng([seed, ordinal, 1]).permutation(len(products))
        by_text[queries[query_id]] = [products[i] for i in permutation]
    return lambda text: by_text.get(text, [])


def index_order(index_dir: Path, queries: Mapping[str, str], k: int) -> Callable:
    """The pipeline's ranking: the index searched once per query (the same search as ``shopmatch search``)."""
    from shopmatch.pipeline import SearchPipeline

    pipeline = SearchPipeline.load(index_dir)
    texts = list(dict.fromkeys(queries.values()))
    ranked = dict(zip(texts, ([p for p, _ in hits] for hits in pipeline.search_ids(texts, k)), strict=True))
    return lambda text: ranked.get(text, [])


def summary(events: list[dict[str, Any]], shoppers: Shoppers) -> str:
    """A markdown table: per position, how often shown and clicked, against the examination used."""
    shown = np.zeros(shoppers.k, dtype=np.int64)
    done = {kind: np.zeros(shoppers.k, dtype=np.int64) for kind in ("click", "add_to_cart", "purchase")}
    for event in events:
        if event["type"] == "impression":
            shown[: len(event["results"])] += 1
        else:
            done[event["type"]][event["position"] - 1] += 1
    lines = [
        "| position | (1/i)^θ | shown | clicks | CTR | carts | purchases |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i in range(shoppers.k):
        ctr = done["click"][i] / shown[i] if shown[i] else 0.0
        lines.append(
            f"| {i + 1} | {shoppers.examination()[i]:.3f} | {shown[i]:,} | {done['click'][i]:,} | {ctr:.3f} | "
            f"{done['add_to_cart'][i]:,} | {done['purchase'][i]:,} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("judgments", type=Path, help="judgments.tsv[.gz]: the judged queries and their labels")
    parser.add_argument("-o", "--output", type=Path, required=True, help="events.jsonl[.gz] to write")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--index", type=Path, help="index directory whose ranking is shown")
    source.add_argument("--order", choices=["judged"], help="judged: each query's judged products, seeded order")
    parser.add_argument("--sessions", type=int, default=10, help="sessions per query (default 10)")
    parser.add_argument("--theta", type=float, default=1.0, help="examination (1/i)^θ (default 1)")
    parser.add_argument("--k", type=int, default=10, help="products shown (default 10)")
    parser.add_argument("--gains", default="E=1,S=0.1,C=0.01,I=0", help="label gains (Home Depot: offset=1)")
    parser.add_argument("--best", type=float, default=1.0, help="normalized gain from which carts happen (default 1)")
    parser.add_argument("--cart", type=float, default=0.5, help="chance a click on a best label adds to cart")
    parser.add_argument("--purchase", type=float, default=0.5, help="chance an add to cart ends in a purchase")
    parser.add_argument("--cascade-stop", type=float, default=0.0, help="chance of leaving after a click (0: off)")
    parser.add_argument("--shuffle-share", type=float, default=0.0, help="share of sessions shown in random order")
    parser.add_argument("--queries", type=int, default=None, help="only the first N query ids (sorted)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    gain_map = GainMap.parse(args.gains)
    judged = read_judgments(args.judgments, gains=gain_map)
    query_ids = judged.query_ids[: args.queries] if args.queries else judged.query_ids
    queries = {q: judged.queries[q] for q in query_ids}
    gains = {q: v for q, v in judged.qrels(gain_map).items() if q in queries}
    shoppers = Shoppers(
        theta=args.theta,
        k=args.k,
        best=args.best,
        cart=args.cart,
        purchase=args.purchase,
        cascade_stop=args.cascade_stop,
        shuffle_share=args.shuffle_share,
    )
    if args.index is not None:
        rank = index_order(args.index, queries, args.k)
    else:
        rank = judged_order(gains, queries, args.seed)
    records = simulate(queries, gains, rank, args.sessions, shoppers, seed=args.seed)
    written = write_events((parse_event(r) for r in records), args.output)  # parsed: the public format, checked
    print(
        f"{written:,} events ({len(queries):,} queries × {args.sessions} sessions, θ = {args.theta:g}, "
        f"seed {args.seed}) written to {args.output}\n"
    )
    print(summary(records, shoppers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
