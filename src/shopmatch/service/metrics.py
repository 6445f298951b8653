"""Prometheus metrics of the service: requests by route and status, latency, index size.

Each app has its own registry (several apps in one process, as in tests, do not collide).
Label values are bounded, whatever clients send: a method outside :data:`METHODS` is counted as
``other`` (the route label is a route's path, or ``unmatched``), so invented methods cannot make
the exposition grow without end.

Example:
    >>> metrics = ServiceMetrics()
    >>> metrics.observe("GET", "/search", 200, 0.004)
    >>> b'shopmatch_requests_total{method="GET",route="/search",status="200"} 1.0' in metrics.render()
    True
    >>> metrics.observe("BREW", "unmatched", 405, 0.001)
    >>> b'shopmatch_requests_total{method="other",route="unmatched",status="405"} 1.0' in metrics.render()
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})
OTHER_METHOD = "other"


class ServiceMetrics:
    """Counters and histograms of one app, and gauges read from the index at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shopmatch_requests", "HTTP requests handled", ("method", "route", "status"), registry=self.registry
        )
        self.latency = Histogram(
            "shopmatch_request_seconds",
            "Time to answer a request",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.index = Gauge("shopmatch_index_products", "Products by segment", ("segment",), registry=self.registry)
        self.last_seq = Gauge("shopmatch_wal_last_seq", "Last applied write batch", registry=self.registry)
        self.compactions = Gauge("shopmatch_compactions", "Compactions since start", registry=self.registry)
        self.drift = Gauge(
            "shopmatch_statistics_drift",
            "Milvus index: share of products written since the term statistics",
            registry=self.registry,
        )
        self.events = Gauge(
            "shopmatch_events",
            "Shopper events since start: written, duplicates (not written again), orphans (no impression seen)",
            ("kind",),
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (``route``: the matched route's path, or ``unmatched``)."""
        method = method if method in METHODS else OTHER_METHOD
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(
        self,
        stats: Callable[[], dict[str, Any]] | None = None,
        events: Callable[[], dict[str, Any]] | None = None,
    ) -> bytes:
        """The text exposition format, with the index gauges refreshed from ``stats()`` and the
        event counts from ``events()`` (:meth:`EventsLog.stats <shopmatch.service.events_log.EventsLog.stats>`)."""
        if events is not None:
            counts = events()
            self.events.labels("written").set(counts["events_written"])
            self.events.labels("duplicates").set(counts["events_duplicates"])
            self.events.labels("orphans").set(counts["orphan_events"])
        if stats is not None:
            current = stats()
            self.index.labels("all").set(current["products"])
            if "statistics_drift" in current:  # a Milvus index: no segments, log or compactions here
                self.drift.set(current["statistics_drift"])
            else:
                self.index.labels("base").set(current["base_products"])
                self.index.labels("delta").set(current["delta_products"])
                self.index.labels("deleted").set(current["deleted_in_base"])
                self.last_seq.set(current["last_seq"])
                self.compactions.set(current["compactions"])
        return generate_latest(self.registry)
