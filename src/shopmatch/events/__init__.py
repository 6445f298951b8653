"""Shopper events: the ``events.jsonl`` format, its readers and writers, and the statistics a merchandiser reads.

- :mod:`shopmatch.events.model`: :class:`Impression`, :class:`Interaction`, strict parsing.
- :mod:`shopmatch.events.io`: :func:`read_events` (plain or ``.gz``), :func:`write_events`,
  :class:`EventLog` (idempotency by ``event_id``, orphans).
- :mod:`shopmatch.events.stats`: top queries, queries without results or clicks, rates by position.
- :mod:`shopmatch.events.click_models`: click-through, COEC and the position-based click model.
- :mod:`shopmatch.events.labels`: graded judgments from a fitted click model.

The format's JSON schema ships with the package: :data:`SCHEMA_PATH`.

Example:
    >>> SCHEMA_PATH.name
    'events.schema.json'
"""

from __future__ import annotations

from pathlib import Path

from shopmatch.events.io import EventLog, collect_events, read_events, write_events
from shopmatch.events.model import EVENT_TYPES, INTERACTION_TYPES, Event, Impression, Interaction, parse_event

SCHEMA_PATH = Path(__file__).with_name("events.schema.json")
"""The JSON schema (draft 2020-12) of one line of ``events.jsonl``."""

__all__ = [
    "EVENT_TYPES",
    "INTERACTION_TYPES",
    "SCHEMA_PATH",
    "Event",
    "EventLog",
    "Impression",
    "Interaction",
    "collect_events",
    "parse_event",
    "read_events",
    "write_events",
]
