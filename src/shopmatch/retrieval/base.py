"""The one protocol every retriever follows, and the live segment it keeps new products in.

A :class:`Retriever` is one family of first-stage matching (BM25F, the bi-encoder, word
vectors) over the catalog rows of an index directory:

- **life cycle**: :meth:`~Retriever.build` from products, :meth:`~Retriever.save` into its
  folder of the index, :meth:`~Retriever.load` back (memory-mapped), ``len()`` rows;
- **queries**: :meth:`~Retriever.prepare` turns query texts into what it searches with (terms,
  a vector; ``None`` for a query it cannot read), once per query; :meth:`~Retriever.search` finds
  the top rows (only ``allowed`` ones when a mask is given: filters, deleted rows);
  :meth:`~Retriever.score_rows` scores given rows (rerank mode; NaN where it would not return
  the row); :meth:`~Retriever.explain` says why a row scored (the hook explanations read);
- **live updates**: :meth:`~Retriever.documents` computes what a new product needs (scored with
  this index's statistics), :meth:`~Retriever.segment` holds such documents as a searchable
  :class:`Segment` (the live delta), and :meth:`~Retriever.compacted` folds kept rows and a
  segment into a new retriever.

Retrievers whose query is a vector (:class:`~shopmatch.retrieval.vectors.VectorRetriever`) also
give :meth:`vectors_of`; ``feedback = True`` marks the one pseudo-relevance feedback moves.
They are found by name in :mod:`shopmatch.retrieval.registry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from shopmatch.hits import SearchHits

if TYPE_CHECKING:
    from shopmatch.catalog import Product
    from shopmatch.config import PipelineConfig


class Segment(Protocol):
    """Products added since the index was built, searchable with the same prepared queries;
    rows are the segment's own slots ``0 .. len - 1``."""

    def __len__(self) -> int: ...

    def search(self, prepared: Sequence[Any], k: int, allowed: np.ndarray | None = None) -> SearchHits: ...

    def score_rows(self, prepared: Any, rows: np.ndarray) -> np.ndarray: ...

    def explain(self, prepared: Any, row: int) -> dict[str, Any]: ...


class Retriever(ABC):
    """A first-stage retriever over the catalog rows of one index (see the module docstring)."""

    name: ClassVar[str]
    feedback: ClassVar[bool] = False  # pseudo-relevance feedback moves this retriever's query vectors

    # ---- life cycle ------------------------------------------------------------------------------

    @classmethod
    @abstractmethod
    def build(cls, products: Sequence[Product], config: PipelineConfig, *, backend: str = "numpy") -> Retriever:
        """Index ``products`` (rows ``0 .. n-1``) with the settings of ``config``."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, config: PipelineConfig, *, mmap: bool = True, backend: str = "numpy") -> Retriever:
        """Load what :meth:`save` wrote (arrays memory-mapped unless ``mmap=False``)."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write everything :meth:`load` needs into ``directory`` (no pickle)."""

    @abstractmethod
    def __len__(self) -> int:
        """Rows indexed."""

    @classmethod
    def describe(cls, config: PipelineConfig) -> str:
        """A short description for people (``dense all-MiniLM-L6-v2 (onnx-int8)``)."""
        return cls.name

    # ---- queries ---------------------------------------------------------------------------------

    @abstractmethod
    def prepare(self, queries: Sequence[str]) -> list[Any]:
        """Each query as this retriever searches with it; ``None`` for one it cannot read."""

    @abstractmethod
    def search(self, prepared: Sequence[Any], k: int, allowed: np.ndarray | None = None) -> SearchHits:
        """Top ``k`` rows per prepared query; only rows where ``allowed`` is true, when given."""

    @abstractmethod
    def score_rows(self, prepared: Any, rows: np.ndarray) -> np.ndarray:
        """Scores of ``rows`` for one prepared query, float32; NaN where :meth:`search` would not
        return the row (no query term matches; a query it cannot read)."""

    def explain(self, prepared: Any, row: int) -> dict[str, Any]:
        """What explains ``row``'s score (e.g. each term's share); empty when nothing more than the score."""
        return {}

    def matched_fields(self, prepared: Any, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """Per product field, the query terms it holds and its text as highlighted segments;
        None for a retriever that does not match words."""
        return None

    scores_pairs: ClassVar[bool] = False  # pair_scores() scores (query, product) pairs
    model_name: ClassVar[str] = ""  # what explanations call the model behind pair_scores()

    def pair_scores(self, pairs: Sequence[tuple[str, Mapping[str, Any]]]) -> np.ndarray:
        """Scores of (query text, product record) pairs, for attributions (``scores_pairs``)."""
        raise NotImplementedError(f"the {self.name} retriever does not score pairs")

    # ---- live updates ----------------------------------------------------------------------------

    @abstractmethod
    def documents(self, products: Sequence[Product]) -> list[Any]:
        """What a live segment stores for each new product, scored like this index's rows."""

    @abstractmethod
    def segment(self, documents: Sequence[Any]) -> Segment:
        """A searchable segment of ``documents`` (slot ``i`` is ``documents[i]``)."""

    @abstractmethod
    def compacted(self, keep: np.ndarray, segment: Segment, products: Sequence[Product]) -> Retriever:
        """A retriever over this one's rows ``keep`` followed by ``segment``'s documents;
        ``products`` are the products of those rows, in that order."""
