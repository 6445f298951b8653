"""Relevance judgments (qrels), gain maps, pair sets, and splits by query.

``judgments.tsv`` has the header ``query_id  query  product_id  label``; a label is a number
(graded relevance) or an ESCI letter (E, S, C, I). A :class:`GainMap` turns labels into the
gains used by NDCG, and decides which labels count as relevant for the binary metrics.
Columns beyond those four (a crowd file's ``rater_id``, ``timestamp``) are ignored with a
warning naming them.

Example:
    >>> gains = GainMap.parse("E=1,S=0.1,C=0.01,I=0")
    >>> gains.gain("S")
    0.1
    >>> GainMap.parse("offset=1").gain("2.5")   # numeric labels: gain = label - offset
    1.5

Several ratings of one pair:
    A crowd file rates a (query, product) pair once per rater. :func:`read_judgments` merges
    the rows of a pair into one :class:`Judgment` (placed where the pair's first row was) under
    a policy, ``duplicates=``:

    - ``mean`` (default): numeric labels average as numbers, so ``1``, ``2``, ``2`` become
      the label ``"1.6666666666666667"``, and the binary metrics compare that mean with
      ``relevant>=`` as usual. Letter labels average their *gains*: the merged label is
      ``"mean(E,I,S)"`` (the letters, sorted), and :class:`GainMap` reads it as the mean of the
      letters' gains under whichever gain map evaluates it, so the mean follows ``--gains``
      and every caller of :meth:`GainMap.gain` / :meth:`GainMap.is_relevant` (qrels, relevant
      sets, training targets) handles merged pairs unchanged. Such a pair counts as relevant
      when its mean gain reaches the smallest gain among the letters that count as relevant:
      under ESCI's gains ``mean(E,S)`` (0.55) counts for Recall (E and S: threshold 0.1)
      but not for MRR/MAP (E only: threshold 1). Ratings that agree keep their label, and a
      file may hold ``mean(...)`` labels itself (a merged file read back).
    - ``max``: the rating with the highest gain under the reader's gain map (the first of equals).
    - ``first``: the first rating in file order.
    - ``error``: a repeated pair is an error naming the file and both lines.

    One pair's ratings must be all numbers or all letters. ``Judgments.merged`` reports how many
    pairs were merged, and :attr:`Judgment.ratings` how many rows each judgment stands for.

    >>> esci = GainMap.esci()
    >>> merge_labels(["E", "S", "I"], "mean", esci)
    'mean(E,I,S)'
    >>> round(esci.gain("mean(E,I,S)"), 4), esci.is_relevant("mean(E,I,S)", for_recall=True)
    (0.3667, True)
    >>> merge_labels(["1", "2", "2"], "mean", esci), merge_labels(["S", "E"], "max", esci)
    ('1.6666666666666667', 'E')
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

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
        """Whether :meth:`gain` understands ``label``: a number, a letter, or ``mean(...)`` of letters."""
        averaged = averaged_letters(label)
        if averaged is not None:
            return bool(averaged) and all(letter in self.letters for letter in averaged)
        return label.upper() in self.letters or _is_number(label)

    def gain(self, label: str) -> float:
        """Gain of one label; ``mean(E,S)`` is the mean of the letters' gains. Raises KeyError for
        an unknown label."""
        averaged = averaged_letters(label)
        if averaged:
            return math.fsum(self.gain(letter) for letter in averaged) / len(averaged)
        letter = label.upper()
        if letter in self.letters:
            return float(self.letters[letter])
        if _is_number(label):
            return max(float(label) - self.offset, 0.0)
        raise KeyError(label)

    def is_relevant(self, label: str, *, for_recall: bool = False) -> bool:
        """Whether a label counts as relevant for MRR and MAP (or, ``for_recall``, for Recall).

        ESCI's protocol counts only ``E`` for MRR/MAP but ``E`` and ``S`` for Recall; that is the
        default for letter labels unless ``relevant=`` or ``recall=`` say otherwise. An averaged
        label ``mean(...)`` counts when its mean gain reaches the smallest gain among the letters
        that count (see the module docstring).
        """
        averaged = averaged_letters(label)
        if averaged:
            counted = [self.letters[x] for x in self.letters if self.is_relevant(x, for_recall=for_recall)]
            return bool(counted) and self.gain(label) >= min(counted) - _GAIN_EPS
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


_GAIN_EPS = 1e-9
"""Float noise allowed when a mean gain is compared with a threshold (0.1 + 0.1 + 0.1 over 3)."""


def averaged_letters(label: str) -> list[str] | None:
    """The letters of an averaged label ``mean(E,S,S)`` (upper case), or None for any other label.

    Example:
        >>> averaged_letters("mean(E, s)"), averaged_letters("E")
        (['E', 'S'], None)
    """
    text = label.strip()
    if not (text[:5].lower() == "mean(" and text.endswith(")")):
        return None
    return [part.strip().upper() for part in text[5:-1].split(",") if part.strip()]


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
    """One judged (query, product) pair; ``label`` is kept as written (``"E"``, ``"2.33"``), or is
    the merged label of ``ratings`` rows (``"mean(E,S)"``, ``"2.5"``; see the module docstring)."""

    query_id: str
    query: str
    product_id: str
    label: str
    ratings: int = 1


DuplicatePolicy = Literal["mean", "max", "first", "error"]
DUPLICATE_POLICIES: tuple[str, ...] = get_args(DuplicatePolicy)


@dataclass(frozen=True)
class MergeReport:
    """How :func:`read_judgments` merged the (query, product) pairs that were rated more than once.

    Attributes:
        policy: ``mean``, ``max``, ``first`` or ``error``.
        pairs: Pairs rated more than once (each merged into one judgment).
        rows: The rows those pairs had in the file.

    Example:
        >>> str(MergeReport("mean", pairs=2, rows=5))
        '2 (query, product) pairs rated more than once (5 rows) averaged'
    """

    policy: str
    pairs: int = 0
    rows: int = 0

    def __str__(self) -> str:
        if not self.pairs:
            return "no (query, product) pair rated more than once"
        how = {"mean": "averaged", "max": "merged to their highest gain", "first": "merged to their first rating"}
        return f"{self.pairs:,} (query, product) pairs rated more than once ({self.rows:,} rows) {how[self.policy]}"

    def to_dict(self) -> dict[str, int | str]:
        return {"policy": self.policy, "pairs": self.pairs, "rows": self.rows}


def merge_labels(labels: Sequence[str], policy: DuplicatePolicy, gains: GainMap) -> str:
    """One label for several ratings of a pair (all numbers or all letters), under ``policy``.

    Args:
        labels: The ratings in file order (at least one); ``mean(...)`` labels count as their letters.
        policy: ``mean``, ``max`` or ``first`` (see the module docstring).
        gains: Decides ``max`` (the highest gain; the first of equals).

    Raises:
        ValueError: an unknown policy, no labels, or numbers mixed with letters.

    Example:
        >>> merge_labels(["S", "E", "S"], "mean", GainMap.esci()), merge_labels(["2", "3"], "mean", GainMap.esci())
        ('mean(E,S,S)', '2.5')
    """
    if not labels:
        raise ValueError("merge_labels needs at least one label")
    if policy not in ("mean", "max", "first"):
        raise ValueError(f"duplicates policy must be one of mean, max, first, got {policy!r}")
    numeric = [_is_number(label) for label in labels]
    if any(numeric) and not all(numeric):
        raise ValueError(f"cannot merge numbers with letters: {', '.join(labels)}")
    if policy == "first" or len(labels) == 1:
        return labels[0]
    if policy == "max":  # the highest gain; among equal gains the highest number, then the first
        return max(labels, key=lambda label: (gains.gain(label), float(label) if numeric[0] else 0.0))
    if all(numeric):
        values = [float(label) for label in labels]
        if len(set(values)) == 1:
            return labels[0]
        return _number_label(math.fsum(values) / len(values))
    letters = sorted(x for label in labels for x in (averaged_letters(label) or [label.strip().upper()]))
    if len(set(letters)) == 1:
        return labels[0] if averaged_letters(labels[0]) is None else letters[0]
    return f"mean({','.join(letters)})"


def _number_label(value: float) -> str:
    """The shortest text that reads back as ``value``; ``2.0`` is written ``2``."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


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
    merged: MergeReport | None = None
    """Set by :func:`read_judgments`: how pairs rated more than once were merged."""

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


def read_judgments(
    path: str | Path,
    *,
    gains: GainMap | None = None,
    on_error: OnError = "raise",
    duplicates: DuplicatePolicy = "mean",
) -> Judgments:
    """Read ``judgments.tsv`` (tab separated, header ``query_id query product_id label``).

    Args:
        path: The file. Other columns (``rater_id``, ``timestamp``) are ignored with a warning.
        gains: Labels not known to this gain map are errors (default: ESCI letters and numbers);
            it also decides ``duplicates="max"``.
        on_error: ``"raise"`` or ``"skip"`` (bad rows recorded in ``Judgments.skipped``).
        duplicates: How several ratings of one (query, product) pair become one judgment:
            ``mean``, ``max``, ``first`` or ``error`` (see the module docstring). What was merged
            is in ``Judgments.merged`` and logged.

    Raises:
        DataError: missing column, wrong number of fields, empty id, unknown label, a pair rated
            with both numbers and letters, the same (query, product) judged twice with
            ``duplicates="error"``, undecodable bytes.
        ValueError: an unknown ``duplicates`` policy.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "judgments.tsv"
        >>> _ = path.write_text("query_id\\tquery\\tproduct_id\\tlabel\\nq1\\tmug\\tp1\\tE\\nq1\\tmug\\tp1\\tS\\n")
        >>> judged = read_judgments(path)
        >>> judged.rows[0].label, judged.rows[0].ratings, judged.merged.pairs
        ('mean(E,S)', 2, 1)
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(f"duplicates must be one of {', '.join(DUPLICATE_POLICIES)}, got {duplicates!r}")
    path = Path(path)
    gains = gains or GainMap.esci()
    report = SkipReport(str(path))
    rated: dict[tuple[str, str], _Rated] = {}  # in the order pairs first appear
    for line, record in _tsv_rows(path, _JUDGMENT_COLUMNS, note_extra=True):
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
            earlier = rated.get(key)
            if earlier is not None:
                if duplicates == "error":
                    raise DataError(
                        f"query {key[0]!r} judges product {key[1]!r} twice (first on line {earlier.line})",
                        field="product_id",
                    )
                if _is_number(label) != _is_number(earlier.labels[0]):
                    raise DataError(
                        f"query {key[0]!r} rates product {key[1]!r} {label!r} here and {earlier.labels[0]!r} on "
                        f"line {earlier.line}: one pair's labels must be all numbers or all letters",
                        field="label",
                    )
        except DataError as err:
            err = err.located(path=path, line=line)
            if on_error == "raise":
                raise err from None
            report.errors.append(err)
            continue
        if earlier is None:
            rated[key] = _Rated(line, record["query"], [label])
        else:
            earlier.labels.append(label)
    if report.count:
        logger.warning(report.summary())
    policy = "first" if duplicates == "error" else duplicates  # "error" left one rating per pair
    rows = [
        Judgment(q, r.query, p, merge_labels(r.labels, policy, gains), len(r.labels)) for (q, p), r in rated.items()
    ]
    repeated = [r for r in rows if r.ratings > 1]
    merged = MergeReport(duplicates, len(repeated), sum(r.ratings for r in repeated))
    if merged.pairs:
        logger.info("%s: %s", path, merged)
    return Judgments(rows, skipped=report if on_error == "skip" else None, merged=merged)


@dataclass
class _Rated:
    """The rows of one (query, product) pair while a file is read."""

    line: int
    query: str
    labels: list[str]


def _tsv_rows(path: Path, columns: tuple[str, ...], *, note_extra: bool = False):
    """Yield (line, {column: text}) or (line, DataError) for rows with the wrong shape; with
    ``note_extra``, log once which header columns are not read."""
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
    extra = [h or "(unnamed)" for h in header if h not in columns]
    if note_extra and extra:
        logger.warning("%s: ignoring column(s) %s; only %s are read", path, ", ".join(extra), ", ".join(columns))
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
