"""Service settings: the index, the write token, CORS and the input limits.

Everything has a default that works offline; the token can come from the environment so it
never has to be typed on a command line.

Example:
    >>> settings = ServiceSettings(index_dir="demo-index/shop", token="s3cret")
    >>> settings.max_k, settings.writes_enabled
    (100, True)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

TOKEN_ENV = "SHOPMATCH_TOKEN"
READ_TOKEN_ENV = "SHOPMATCH_READ_TOKEN"
SETTINGS_ENV = "SHOPMATCH_SERVICE_SETTINGS"  # the settings of worker processes (shopmatch serve --workers)


class ServiceSettings(BaseModel):
    """How ``shopmatch serve`` runs (see docs/http-api.md).

    Attributes:
        index_dir: the index directory to serve (``shopmatch index`` writes one).
        milvus_uri, milvus_collection: instead of a directory, an index in Milvus reached with
            nothing but these (its config, statistics and models named by its config).
        wal_path: the write-ahead log (default: ``<index_dir>.wal``).
        token: bearer token of the write endpoints (default: ``$SHOPMATCH_TOKEN``); without one,
            writes are refused.
        read_token: when set (or ``$SHOPMATCH_READ_TOKEN``), read endpoints need it too.
        cors_origins: origins allowed to call the API from a browser (``["*"]`` for any).
        max_query_chars, max_k, max_offset, max_batch, max_body_bytes: input limits
            (``max_body_bytes`` counts the bytes received, chunked bodies included).
        header_timeout: seconds a client has to send a request line and its headers (from
            the connection opening, or the previous response) before it gets a 408 and the
            connection is closed (``shopmatch serve`` only: a server protocol setting).
        body_timeout: seconds a client has to send a request body once its headers are in.
        compact_after: compact once the delta holds this many products (0: never on its own).
        lexical_backend: ``numpy`` (starts at once) or ``numba`` (faster on large catalogs).
        events_dir: where shopper events are logged (``shopmatch serve --events DIR``); setting it
            turns event capture on (impressions of ``/search``, ``POST /events``); None: off.
        events_public_clicks: let ``POST /events`` take ``click`` events without a token (the web
            page has none); every other event type, and imports, still need the write token.
        events_max_file_bytes: rotate the events file once it would grow past this.
        events_max_batch: most events in one ``POST /events`` (more: 413).
        events_recent_ids: how many event ids the service remembers to make writes idempotent.
        ranker: a learned ranker directory (``shopmatch train ranker``) searched with, loaded beside the index.
        reranker: a cross-encoder directory searched with instead of the index's own re-ranker.
        query_config: a TOML file of query-time settings applied over the index's config
            (fusion, candidates, feedback, negation, ``top_n`` of the ranker and re-ranker).
        models_dir: a directory watched for new ranker versions (``shopmatch retrain`` writes them);
            the newest complete one is loaded without a restart.
        models_poll_seconds: how often ``models_dir`` is looked at.
        experiment: an interleaving experiment (``[experiment]``; share 0: none).
    """

    model_config = ConfigDict(frozen=True)

    index_dir: Path | None = None
    milvus_uri: str | None = None
    milvus_collection: str = "shopmatch"
    wal_path: Path | None = None
    token: str | None = Field(default_factory=lambda: os.environ.get(TOKEN_ENV) or None)
    read_token: str | None = Field(default_factory=lambda: os.environ.get(READ_TOKEN_ENV) or None)
    cors_origins: list[str] = Field(default_factory=list)
    max_query_chars: int = 256
    max_k: int = 100
    max_offset: int = 1_000
    max_batch: int = 1_000
    max_body_bytes: int = 8 * 1024 * 1024
    header_timeout: float = Field(default=15.0, gt=0)
    body_timeout: float = Field(default=60.0, gt=0)
    compact_after: int = 5_000
    lexical_backend: str = "numpy"
    events_dir: Path | None = None
    events_public_clicks: bool = False
    events_max_file_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    events_max_batch: int = Field(default=1_000, ge=1)
    events_recent_ids: int = Field(default=100_000, ge=0)
    ranker: Path | None = None
    reranker: Path | None = None
    query_config: Path | None = None
    models_dir: Path | None = None
    models_poll_seconds: float = Field(default=2.0, gt=0)
    experiment: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _an_index(self) -> ServiceSettings:
        if (self.index_dir is None) == (self.milvus_uri is None):
            raise ValueError("give an index directory or a Milvus URI (not both)")
        return self

    @property
    def served(self) -> str:
        """What is served, for logs and /health."""
        return str(self.index_dir) if self.index_dir is not None else f"{self.milvus_uri} ({self.milvus_collection})"

    @property
    def events_enabled(self) -> bool:
        """Whether searches and ``POST /events`` are logged (``events_dir`` is set)."""
        return self.events_dir is not None

    @property
    def writes_enabled(self) -> bool:
        return bool(self.token)
