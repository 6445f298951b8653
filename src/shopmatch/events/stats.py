"""What a merchandiser reads first in a shop's search events: top queries, dead ends, click-through by position.

:func:`event_stats` counts an :class:`~shopmatch.events.io.EventLog`:

- per query (grouped by :func:`~shopmatch.events.model.query_key`: case and spacing ignored): how
  many searches, how many found nothing, and in how many the shopper clicked, put a product in the
  cart or bought one;
- per position (1-based over the whole result list): how often a product was shown there and in
  how many of those searches it was clicked, put in the cart or bought — the click-through curve
  whose slope is the position bias the click models correct;
- the interactions whose search has no impression (orphans), which neither count can use.

A search counts once per kind of interaction (two clicks on one product are one clicked search), so
every rate is between 0 and 1. :func:`write_stats_report` writes the tables as markdown with a plot
of the rates by position.

Example:
    >>> from datetime import UTC, datetime
    >>> from shopmatch.events import Impression, Interaction, collect_events
    >>> now = datetime(2026, 12, 6, tzinfo=UTC)
    >>> log = collect_events([
    ...     Impression("s1", "Mug", ("a", "b"), now), Impression("s2", "mug ", ("b", "a"), now),
    ...     Impression("s3", "cup", (), now), Interaction("click", "s1", "b", now)])
    >>> stats = event_stats(log)
    >>> [(q.query, q.searches, q.clicked) for q in stats.queries]
    [('mug', 2, 1), ('cup', 1, 0)]
    >>> [(p.position, p.shown, p.clicked) for p in stats.positions]
    [(1, 2, 0), (2, 2, 1)]
    >>> [q.query for q in stats.no_results()], [q.query for q in stats.no_clicks()]
    (['cup'], [])
"""

from __future__ import annotations

import html
import json
import logging
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shopmatch.events.io import EventLog
from shopmatch.events.model import INTERACTION_TYPES, query_key

logger = logging.getLogger(__name__)

REPORT_MARKDOWN = "events-stats.md"
REPORT_JSON = "events-stats.json"
REPORT_PLOT = "ctr-by-position.png"


@dataclass(frozen=True)
class QueryStats:
    """The searches of one query (as grouped) and what shoppers did with them.

    Attributes:
        query: The query as grouped (lower case, single spaces).
        searches: Impressions of the query.
        no_results: Those that showed no product.
        clicked, carted, purchased: Searches with at least one click / add to cart / purchase.
    """

    query: str
    searches: int
    no_results: int = 0
    clicked: int = 0
    carted: int = 0
    purchased: int = 0

    @property
    def with_results(self) -> int:
        return self.searches - self.no_results

    @property
    def ctr(self) -> float:
        """Share of the searches that showed products in which a product was clicked."""
        return self.clicked / self.with_results if self.with_results else 0.0

    @property
    def engaged(self) -> bool:
        """Whether any search of the query got a click, cart or purchase."""
        return bool(self.clicked or self.carted or self.purchased)


@dataclass(frozen=True)
class PositionStats:
    """How often position ``position`` was shown, and in how many of those searches its product was
    clicked, put in the cart, bought."""

    position: int
    shown: int
    clicked: int = 0
    carted: int = 0
    purchased: int = 0

    def rate(self, kind: str) -> float:
        """``clicked``, ``carted`` or ``purchased`` over ``shown`` (0 when never shown)."""
        return getattr(self, kind) / self.shown if self.shown else 0.0


@dataclass(frozen=True)
class EventStats:
    """The counts of :func:`event_stats`.

    Attributes:
        searches: Impressions.
        interactions: Count per type (``click``, ``add_to_cart``, ``purchase``), orphans included.
        orphans: Count per type of the interactions whose search has no impression.
        duplicates: Events dropped as repeats (same ``event_id``).
        skipped: Bad lines skipped by the reader.
        queries: One per query, most searched first (then alphabetical).
        positions: Positions 1 to ``max_position`` (fewer when no search showed that many).
    """

    searches: int
    interactions: dict[str, int]
    orphans: dict[str, int]
    duplicates: int
    skipped: int
    queries: list[QueryStats]
    positions: list[PositionStats]
    max_position: int = 10
    source: str | None = None

    def top_queries(self, n: int = 10) -> list[QueryStats]:
        """The ``n`` most searched queries."""
        return self.queries[:n]

    def no_results(self, n: int | None = None) -> list[QueryStats]:
        """Queries with searches that found nothing, most such searches first."""
        found = sorted((q for q in self.queries if q.no_results), key=lambda q: (-q.no_results, q.query))
        return found[:n]

    def no_clicks(self, n: int | None = None) -> list[QueryStats]:
        """Queries that showed products but never got a click, cart or purchase, most searched first."""
        return [q for q in self.queries if q.with_results and not q.engaged][:n]

    def to_dict(self) -> dict[str, Any]:
        """Every count, JSON-ready (``--json``, the report's ``events-stats.json``)."""
        return {
            "source": self.source,
            "searches": self.searches,
            "interactions": self.interactions,
            "orphans": self.orphans,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "max_position": self.max_position,
            "queries": [{**asdict(q), "ctr": q.ctr} for q in self.queries],
            "positions": [
                {**asdict(p), **{f"{kind}_rate": p.rate(kind) for kind in ("clicked", "carted", "purchased")}}
                for p in self.positions
            ],
        }


_FIELD_OF = {"click": "clicked", "add_to_cart": "carted", "purchase": "purchased"}


def event_stats(log: EventLog, *, max_position: int = 10) -> EventStats:
    """Count queries, dead ends and rates by position in ``log`` (see the module docstring).

    Args:
        log: The events (from :func:`~shopmatch.events.io.read_events`).
        max_position: The last position counted by position (the per-query counts use every one).
    """
    if max_position < 1:
        raise ValueError(f"max_position must be at least 1, got {max_position}")
    done: dict[str, set[tuple[str, int]]] = {kind: set() for kind in INTERACTION_TYPES}
    orphans: Counter[str] = Counter()
    for event in log.interactions:
        impression = log.by_search_id.get(event.search_id)
        if impression is None:
            orphans[event.type] += 1
        else:
            done[event.type].add((event.search_id, event.position or 0))

    searches_of: dict[str, list[str]] = defaultdict(list)
    for impression in log.impressions:
        searches_of[query_key(impression.query)].append(impression.search_id)
    engaged = {kind: {search_id for search_id, _ in pairs} for kind, pairs in done.items()}
    queries = []
    for query, ids in searches_of.items():
        counts = {_FIELD_OF[kind]: sum(s in engaged[kind] for s in ids) for kind in INTERACTION_TYPES}
        empty = sum(not log.by_search_id[s].results for s in ids)
        queries.append(QueryStats(query, len(ids), empty, **counts))
    queries.sort(key=lambda q: (-q.searches, q.query))

    shown: Counter[int] = Counter()
    for impression in log.impressions:
        first = impression.first_position
        shown.update(range(first, min(first + len(impression.results), max_position + 1)))
    at = {kind: Counter(position for _, position in pairs) for kind, pairs in done.items()}
    positions = [
        PositionStats(p, shown[p], **{_FIELD_OF[kind]: at[kind][p] for kind in INTERACTION_TYPES})
        for p in range(1, max(shown, default=0) + 1)
    ]
    return EventStats(
        searches=len(log.impressions),
        interactions=dict(Counter(i.type for i in log.interactions)),
        orphans=dict(orphans),
        duplicates=log.duplicates,
        skipped=log.skipped.count if log.skipped else 0,
        queries=queries,
        positions=positions,
        max_position=max_position,
        source=log.path,
    )


def write_stats_report(stats: EventStats, out_dir: str | Path, *, top: int = 10) -> Path:
    """Write ``events-stats.md`` (the tables), ``events-stats.json`` (every count) and
    ``ctr-by-position.png`` into ``out_dir`` (created if needed; these three files replaced).

    Returns:
        The path of the markdown file.
    """
    from shopmatch.events.plots import plot_rates_by_position

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_rates_by_position(stats.positions, out_dir / REPORT_PLOT, title=_title(stats))
    (out_dir / REPORT_JSON).write_text(json.dumps(stats.to_dict(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    path = out_dir / REPORT_MARKDOWN
    path.write_text(_markdown(stats, top), encoding="utf-8")
    logger.info("wrote %s", path)
    return path


def summary_line(stats: EventStats) -> str:
    """One line of totals.

    Example:
        >>> summary_line(EventStats(2, {"click": 1}, {}, 0, 0, [], [])).split("; ")[:2]
        ['2 searches', '1 click, 0 adds to cart, 0 purchases']
    """
    names = {"click": ("click", "clicks"), "add_to_cart": ("add to cart", "adds to cart")}
    names["purchase"] = ("purchase", "purchases")
    done = ", ".join(_count(stats.interactions.get(kind, 0), *names[kind]) for kind in INTERACTION_TYPES)
    orphans = _count(sum(stats.orphans.values()), "interaction", "interactions")
    parts = [_count(stats.searches, "search", "searches"), done]
    parts.append(f"{orphans} without an impression (orphans, not in the rates)")
    if stats.duplicates:
        parts.append(f"{_count(stats.duplicates, 'duplicate event', 'duplicate events')} ignored")
    if stats.skipped:
        parts.append(f"{_count(stats.skipped, 'bad line', 'bad lines')} skipped")
    return "; ".join(parts)


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _title(stats: EventStats) -> str:
    return f"Shopper events — {Path(stats.source).name}" if stats.source else "Shopper events"


def _cell(text: Any) -> str:
    """Text safe in a markdown table cell (pipes, HTML)."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("`", "\\`")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _markdown(stats: EventStats, top: int) -> str:
    lines = [f"# {_cell(_title(stats))}", "", summary_line(stats) + ".", ""]
    lines += [f"## Top {top} queries", ""]
    lines += _table(
        ["query", "searches", "no results", "clicked", "CTR", "carted", "purchased"],
        [
            [q.query, q.searches, q.no_results, q.clicked, f"{q.ctr:.1%}", q.carted, q.purchased]
            for q in stats.top_queries(top)
        ],
    )
    dead = stats.no_results()
    lines += [f"## Queries with no results ({len(dead):,})", ""]
    lines += _table(["query", "searches", "no results"], [[q.query, q.searches, q.no_results] for q in dead[:top]])
    cold = stats.no_clicks()
    lines += [f"## Queries with results but no click, cart or purchase ({len(cold):,})", ""]
    lines += _table(["query", "searches"], [[q.query, q.searches] for q in cold[:top]])
    lines += ["## Click-through by position", "", f"![rates by position]({REPORT_PLOT})", ""]
    lines += _table(
        ["position", "shown", "clicked", "CTR", "carted", "cart rate", "purchased", "purchase rate"],
        [
            [
                p.position,
                p.shown,
                p.clicked,
                f"{p.rate('clicked'):.1%}",
                p.carted,
                f"{p.rate('carted'):.1%}",
                p.purchased,
                f"{p.rate('purchased'):.1%}",
            ]
            for p in stats.positions
        ],
    )
    return "\n".join(lines)
