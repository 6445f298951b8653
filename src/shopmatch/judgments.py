"""Relevance judgments (qrels), gain maps, pair sets, and splits by query.

``judgments.tsv`` has the header ``query_id  query  product_id  label``; a label is a number
(graded relevance) or an ESCI letter (E, S, C, I). A :class:`GainMap` turns labels into the
gains used by NDCG, and decides which labels count as relevant for the binary metrics.

Example:
    >>> gains = GainMap.parse("E=1,S=0.1,C=0.01,I=0")
    >>> gains.gain("S")
    0.1
    >>> GainMap.parse("offset=1").gain("2.5")   # numeric labels: gain = label - offset
    1.5
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shopmatch.catalog import OnError, check_utf8, decode_text_file
from shopmatch.errors import DataError, SkipReport

logger = logging.getLogger(__name__)

ESCI_LETTERS = ("E", "S", "C", "I")


@dataclass(frozen=True)
class GainMap:
    """Label → gain for NDCG, and label → relevant for MRR/Recall/MAP.

    Attributes:
        letters: Gain of each letter label (ESCI: ``E=1, S=0.1, C=0.01, I=0``).
        offset: Numeric labels get ``gain = max(label - offset, 0)``.
        relevant_letters: Letters that count as relevant for binary metrics; by default
            those with the largest gain (``E`` for ESCI).
        relevant_min: Numeric labels ≥ this count as relevant; by default any label
            with a positive gain.
        recall_letters: Letters that count for Recall; by default ``E`` and ``S`` when the
            letters are ESCI's and ``relevant_letters`` is not set, else the relevant ones.
    """

    letters: Mapping[str, float] = field(default_factory=lambda: {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0})
    offset: float = 0.0
    relevant_letters: frozenset[str] | None = None
    relevant_min: float | None = None
    recall_letters: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for letter, value in self.letters.items():
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"gain of {letter!r} must be a non-negative number, got {value}")

    @classmethod
    def esci(cls) -> GainMap:
        """The ESCI convention: E=1, S=0.1, C=0.01, I=0; only E is relevant."""
        return cls()

    @classmethod
    def parse(cls, spec: str) -> GainMap:
        """Parse ``"E=1,S=0.1,C=0.01,I=0"``; ``offset=1`` shifts numeric labels;
        ``relevant=E+S`` or ``relevant>=2.5`` choose what counts as relevant."""
        letters: dict[str, float] = {}
        offset = 0.0
        relevant_letters = None
        relevant_min = None
        recall_letters = None
        for part in filter(None, (p.strip() for p in spec.split(","))):
            if part.startswith("relevant>="):
                relevant_min = _float(part.split(">=", 1)[1], part)
                continue
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"gain spec item {part!r} is not KEY=VALUE")
            key = key.strip()
            if key == "offset":
                offset = _float(value, part)
            elif key in ("relevant", "recall"):
                chosen = frozenset(v.strip().upper() for v in value.split("+") if v.strip())
                if key == "relevant":
                    relevant_letters = chosen
                else:
                    recall_letters = chosen
            else:
                letters[key.upper()] = _float(value, part)
        return cls(
            letters=letters or cls().letters,
            offset=offset,
            relevant_letters=relevant_letters,
            relevant_min=relevant_min,
            recall_letters=recall_letters,
        )

    def is_known(self, label: str) -> bool:
        return label.upper() in self.letters or _is_number(label)

    def gain(self, label: str) -> float:
        """Gain of one label; raises KeyError for an unknown label."""
        letter = label.upper()
        if letter in self.letters:
            return float(self.letters[letter])
        if _is_number(label):
            return max(float(label) - self.offset, 0.0)
        raise KeyError(label)

    def is_relevant(self, label: str, *, for_recall: bool = False) -> bool:
        """Whether a label counts as relevant for MRR and MAP (or, ``for_recall``, for Recall).

        ESCI's protocol counts only ``E`` for MRR/MAP but ``E`` and ``S`` for Recall; that is the
        default for letter labels unless ``relevant=`` or ``recall=`` say otherwise.
        """
        letter = label.upper()
        if letter in self.letters:
            if for_recall:
                if self.recall_letters is not None:
                    return letter in self.recall_letters
                if self.relevant_letters is None and {"E", "S"} <= set(self.letters):
                    return letter in ("E", "S")
            chosen = self.relevant_letters
            if chosen is None:
                top = max(self.letters.values())
                return top > 0 and self.letters[letter] == top
            return letter in chosen
        value = float(label)
        if self.relevant_min is not None:
            return value >= self.relevant_min
        return value - self.offset > 0

    def __str__(self) -> str:
        parts = [f"{k}={v:g}" for k, v in self.letters.items()]
        if self.offset:
            parts.append(f"offset={self.offset:g}")
        if self.relevant_letters is not None:
            parts.append("relevant=" + "+".join(sorted(self.relevant_letters)))
        if self.relevant_min is not None:
            parts.append(f"relevant>={self.relevant_min:g}")
        if self.recall_letters is not None:
            parts.append("recall=" + "+".join(sorted(self.recall_letters)))
        return ",".join(parts)


def _float(text: str, part: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"gain spec item {part!r}: {text!r} is not a number") from None


def _is_number(label: str) -> bool:
    try:
        return math.isfinite(float(label))
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Judgment:
    """One judged (query, product) pair; ``label`` is kept as written (``"E"``, ``"2.33"``)."""

    query_id: str
    query: str
    product_id: str
    label: str


@dataclass
class Judgments:
    """A set of judgments, grouped by query.

    Example:
        >>> j = Judgments([Judgment("q1", "usb cable", "p1", "E"), Judgment("q1", "usb cable", "p2", "I")])
        >>> j.qrels(GainMap.esci())
        {'q1': {'p1': 1.0, 'p2': 0.0}}
    """

    rows: list[Judgment]
    skipped: SkipReport | None = None

    def __post_init__(self) -> None:
        self.queries: dict[str, str] = {}
        self.by_query: dict[str, list[Judgment]] = {}
        for row in self.rows:
            self.queries.setdefault(row.query_id, row.query)
            self.by_query.setdefault(row.query_id, []).append(row)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def query_ids(self) -> list[str]:
        """Query ids sorted ascending (the order folds are defined on)."""
        return sorted(self.queries)

    def qrels(self, gains: GainMap) -> dict[str, dict[str, float]]:
        """query_id → product_id → gain."""
        return {q: {r.product_id: gains.gain(r.label) for r in rows} for q, rows in self.by_query.items()}

    def relevant(self, gains: GainMap, *, for_recall: bool = False) -> dict[str, set[str]]:
        """query_id → the product ids that count as relevant (may be empty); see
        :meth:`GainMap.is_relevant` for ``for_recall``."""
        return {
            q: {r.product_id for r in rows if gains.is_relevant(r.label, for_recall=for_recall)}
            for q, rows in self.by_query.items()
        }

    def subset(self, query_ids: Iterable[str]) -> Judgments:
        keep = set(query_ids)
        return Judgments([r for r in self.rows if r.query_id in keep])

    def folds(self, k: int = 5) -> list[tuple[Judgments, Judgments]]:
        """K-fold split by query: a query's fold is its position among the sorted query ids
        modulo ``k``. Returns ``[(train, test), ...]``, one pair per fold."""
        fold_of = {q: i % k for i, q in enumerate(self.query_ids)}
        return [
            (
                self.subset(q for q, f in fold_of.items() if f != fold),
                self.subset(q for q, f in fold_of.items() if f == fold),
            )
            for fold in range(k)
        ]


_JUDGMENT_COLUMNS = ("query_id", "query", "product_id", "label")


def read_judgments(path: str | Path, *, gains: GainMap | None = None, on_error: OnError = "raise") -> Judgments:
    """Read ``judgments.tsv`` (tab separated, header ``query_id query product_id label``).

    Args:
        path: The file.
        gains: Labels not known to this gain map are errors (default: ESCI letters and numbers).
        on_error: ``"raise"`` or ``"skip"`` (bad rows recorded in ``Judgments.skipped``).

    Raises:
        DataError: missing column, wrong number of fields, empty id, unknown label,
            the same (query, product) judged twice, undecodable bytes.
    """
    path = Path(path)
    gains = gains or GainMap.esci()
    report = SkipReport(str(path))
    rows: list[Judgment] = []
    seen: dict[tuple[str, str], int] = {}
    for line, record in _tsv_rows(path, _JUDGMENT_COLUMNS):
        try:
            if isinstance(record, DataError):
                raise record
            for name in ("query_id", "product_id"):
                if not record[name].strip():
                    raise DataError("must not be empty", field=name)
            label = record["label"].strip()
            if not gains.is_known(label):
                known = ", ".join(gains.letters)
                raise DataError(f"unknown label {label!r} (expected a number or one of {known})", field="label")
            key = (record["query_id"].strip(), record["product_id"].strip())
            if key in seen:
                raise DataError(
                    f"query {key[0]!r} judges product {key[1]!r} twice (first on line {seen[key]})", field="product_id"
                )
        except DataError as err:
            err = err.located(path=path, line=line)
            if on_error == "raise":
                raise err from None
            report.errors.append(err)
            continue
        seen[key] = line
        rows.append(Judgment(key[0], record["query"], key[1], label))
    if report.count:
        logger.warning(report.summary())
    return Judgments(rows, skipped=report if on_error == "skip" else None)


def _tsv_rows(path: Path, columns: tuple[str, ...]):
    """Yield (line, {column: text}) or (line, DataError) for rows with the wrong shape."""
    if not path.is_file():
        raise DataError("file not found", path=path)
    text = decode_text_file(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None:
        raise DataError("is empty (expected a header line)", path=path, line=1)
    header = [h.strip() for h in header]
    for name in columns:
        if name not in header:
            raise DataError(
                f"the header has no '{name}' column (found: {', '.join(header)})", path=path, line=1, field=name
            )
    where = {name: header.index(name) for name in columns}
    for fields in reader:
        line = reader.line_num
        if not fields or fields == [""]:
            continue
        if len(fields) != len(header):
            missing = header[len(fields)] if len(fields) < len(header) else None
            yield (
                line,
                DataError(f"has {len(fields)} tab-separated fields, the header has {len(header)}", field=missing),
            )
            continue
        record = {name: fields[i] for name, i in where.items()}
        try:
            check_utf8(record)
        except DataError as err:
            yield line, err
            continue
        yield line, record


@dataclass(frozen=True, slots=True)
class Pair:
    """One row of a pair-classification set."""

    text_a: str
    text_b: str
    label: int


def read_pairs(path: str | Path, *, on_error: OnError = "raise") -> list[Pair]:
    """Read ``pairs.tsv`` (header ``text_a text_b label``, label an integer class ≥ 0).

    Raises:
        DataError: missing column, wrong number of fields, non-integer label.
    """
    path = Path(path)
    report = SkipReport(str(path))
    pairs: list[Pair] = []
    for line, record in _tsv_rows(path, ("text_a", "text_b", "label")):
        try:
            if isinstance(record, DataError):
                raise record
            raw = record["label"].strip()
            try:
                value = float(raw)
                if value != int(value) or value < 0:
                    raise ValueError
            except (ValueError, OverflowError):
                raise DataError(f"must be a non-negative integer class, got {raw!r}", field="label") from None
            pairs.append(Pair(record["text_a"], record["text_b"], int(value)))
        except DataError as err:
            err = err.located(path=path, line=line)
            if on_error == "raise":
                raise err from None
            report.errors.append(err)
    if report.count:
        logger.warning(report.summary())
    return pairs
