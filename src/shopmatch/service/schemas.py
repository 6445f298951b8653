"""Request bodies of the HTTP API (validated by pydantic; unknown keys are refused).

Example:
    >>> SearchBody(q="usb cable", filters={"brand": ["Anker"], "max_price": 20}).filters.to_filters()
    Filters(brand=('Anker',), color=(), category=(), min_price=None, max_price=20.0, min_rating=None)
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from shopmatch.filters import MAX_CATEGORY_DEPTH, Filters

Value = Annotated[str, Field(min_length=1, max_length=200)]
Who = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\t\r\n]*\S[^\t\r\n]*$")]
"""A ``user_id`` or ``session_id``: 1–200 characters, not blank, no tabs or line breaks."""
Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class FilterBody(BaseModel):
    """Filters: any of ``brand`` / ``color``; a ``category`` path prefix; price and rating bounds."""

    model_config = ConfigDict(extra="forbid")

    brand: list[Value] = Field(default_factory=list, max_length=50)
    color: list[Value] = Field(default_factory=list, max_length=50)
    category: list[Value] = Field(default_factory=list, max_length=MAX_CATEGORY_DEPTH)
    min_price: Price | None = None
    max_price: Price | None = None
    min_rating: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] | None = None

    def to_filters(self) -> Filters:
        return Filters(
            tuple(self.brand), tuple(self.color), tuple(self.category), self.min_price, self.max_price, self.min_rating
        )


class SearchBody(BaseModel):
    """``POST /search``: the query, the page (``k`` from ``offset``), filters, options."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, description="The query (English or Chinese).")
    k: int = Field(default=10, ge=1, description="Results per page.")
    offset: int = Field(default=0, ge=0, description="Results to skip.")
    filters: FilterBody = Field(default_factory=FilterBody)
    explain: bool = Field(default=False, description="Add an explanation to each result (slower).")
    rerank: bool = Field(default=True, description="Re-rank with the index's cross-encoder, if it has one.")
    spelling: bool = Field(default=True, description="Correct misspelled words (false: search the text as typed).")
    user_id: Who | None = Field(
        default=None, description="Who searched (kept in the logged impression; personalizes with [personalize])."
    )
    session_id: Who | None = Field(default=None, description="The shopper's session (kept in the impression).")


class UpsertBody(BaseModel):
    """``POST /products``: product records in the catalog format (``id`` and ``title`` required)."""

    model_config = ConfigDict(extra="forbid")

    products: list[dict[str, Any]] = Field(min_length=1)


class EventsBody(BaseModel):
    """``POST /events``: a batch of shopper events (each checked by :func:`shopmatch.events.parse_event`)."""

    model_config = ConfigDict(extra="forbid")

    events: list[Any] = Field(min_length=1, description="Events in the events.jsonl format.")


class ReloadBody(BaseModel):
    """``POST /admin/models/reload``: what to load (a field left out keeps that model; ``""`` turns the
    stage off; an empty body reads every configured path again)."""

    model_config = ConfigDict(extra="forbid")

    ranker: str | None = Field(default=None, max_length=4096, description="A ranker directory.")
    reranker: str | None = Field(default=None, max_length=4096, description="A cross-encoder directory.")
    config: str | None = Field(default=None, max_length=4096, description="A query-time config TOML.")
