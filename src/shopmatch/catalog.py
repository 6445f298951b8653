"""Product records and catalog readers/writers with validation.

A catalog is a file of products: JSON lines (``.jsonl``, optionally ``.gz``), CSV, TSV or
Parquet, with the fields described in ``docs/data-formats.md``. ``id`` and ``title`` are
required; unknown keys are kept in :attr:`Product.extra` and returned with results.

Bad rows raise :class:`~shopmatch.errors.DataError` naming file, line and field. With
``on_error="skip"`` they are skipped instead and reported in :attr:`Catalog.skipped`. Every value
of a product, nested ones included, must be storable as strict JSON in UTF-8: text with a lone
surrogate (``"\\ud800"`` in JSON) and numbers that are not finite (``NaN``, ``Infinity``, ``1e400``)
are refused; ``price`` must not be negative and ``rating`` is between 0 and 5.

Example:
    >>> from shopmatch.catalog import Product
    >>> p = Product.from_dict({"id": "B01", "title": "USB-C cable", "price": "9.99"})
    >>> p.price
    9.99
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shopmatch.errors import DataError, SkipReport
from shopmatch.extras import require

logger = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]

KNOWN_FIELDS = (
    "id",
    "title",
    "brand",
    "color",
    "category",
    "description",
    "bullets",
    "attributes",
    "price",
    "rating",
    "rating_count",
    "image",
)
MAX_RATING = 5.0  # ratings are stars out of five: the rating filter and facets assume 0-5
_LIST_FIELDS = ("category", "bullets")
_TEXT_FIELDS = ("brand", "color", "description", "image")


@dataclass(slots=True)
class Product:
    """One product of a catalog.

    Attributes:
        id: Unique product id (any string without tabs or line breaks).
        title: Product title; never empty.
        brand, color, description, image: Optional text fields.
        category: Category path, most general first (e.g. ``["Home", "Kitchen"]``).
        bullets: Feature bullet points.
        attributes: Name → value (values kept as text).
        price, rating: Optional numbers; rating_count an optional integer.
        extra: Unknown keys of the input, kept and returned with results.
    """

    id: str
    title: str
    brand: str | None = None
    color: str | None = None
    category: list[str] = field(default_factory=list)
    description: str | None = None
    bullets: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    price: float | None = None
    rating: float | None = None
    rating_count: int | None = None
    image: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Product:
        """Validate one record and build a product.

        Raises:
            DataError: with ``field`` set to the offending key (no path/line: the reader
                adds those).
        """
        if not isinstance(record, Mapping):
            raise DataError(f"expected a JSON object, got {type(record).__name__}")
        _check_storable(record)
        return cls(
            id=_parse_id(record.get("id")),
            title=_parse_title(record.get("title")),
            brand=_parse_text(record, "brand"),
            color=_parse_text(record, "color"),
            category=_parse_category(record.get("category")),
            description=_parse_text(record, "description"),
            bullets=_parse_str_list(record.get("bullets"), "bullets"),
            attributes=_parse_attributes(record.get("attributes")),
            price=_parse_number(record.get("price"), "price", minimum=0),
            rating=_parse_number(record.get("rating"), "rating", minimum=0, maximum=MAX_RATING),
            rating_count=_parse_count(record.get("rating_count")),
            image=_parse_text(record, "image"),
            extra={k: v for k, v in record.items() if k not in KNOWN_FIELDS},
        )

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form: known fields that are set, then the extra keys."""
        out: dict[str, Any] = {"id": self.id, "title": self.title}
        for name in KNOWN_FIELDS[2:]:
            value = getattr(self, name)
            if value not in (None, [], {}):
                out[name] = value
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out


def _parse_id(value: Any) -> str:
    if value is None:
        raise DataError("is required", field="id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"must be a string, got {type(value).__name__}", field="id")
    text = str(value).strip()
    if not text:
        raise DataError("must not be empty", field="id")
    if any(c in text for c in "\t\r\n"):
        raise DataError("must not contain tabs or line breaks", field="id")
    return text


def _parse_title(value: Any) -> str:
    if value is None:
        raise DataError("is required", field="title")
    if not isinstance(value, str):
        raise DataError(f"must be a string, got {type(value).__name__}", field="title")
    if not value.strip():
        raise DataError("must not be empty", field="title")
    return value


def _parse_text(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise DataError(f"must be a string, got {type(value).__name__}", field=name)
    return value or None


def _parse_str_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if not isinstance(value, list | tuple):  # a tuple: a record of an in-memory Product
        raise DataError(f"must be a list of strings, got {type(value).__name__}", field=name)
    out = []
    for i, item in enumerate(value):
        if item is None:
            continue
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise DataError(f"item {i} must be a string, got {type(item).__name__}", field=name)
        out.append(str(item))
    return out


def _parse_category(value: Any) -> list[str]:
    if isinstance(value, str) and ">" in value:
        return [part.strip() for part in value.split(">") if part.strip()]
    return _parse_str_list(value, "category")


def _parse_attributes(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DataError(f"must be an object of name → value, got {type(value).__name__}", field="attributes")
    out = {}
    for name, item in value.items():
        if item is None:
            continue
        if isinstance(item, list):
            item = ", ".join(str(x) for x in item)
        elif isinstance(item, Mapping):
            raise DataError(f"value of '{name}' must be text, not an object", field="attributes")
        out[str(name)] = str(item)
    return out


def _parse_number(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise DataError("must be a number, got a boolean", field=name)
    try:
        number = float(value.replace(",", "").lstrip("$") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise DataError(f"must be a number, got {value!r}", field=name) from None
    if not math.isfinite(number):
        raise DataError(f"must be a finite number, got {value!r}", field=name)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        if maximum is not None:
            allowed = f"must be between {minimum:g} and {maximum:g}"
        else:
            allowed = "must not be negative" if minimum == 0 else f"must be at least {minimum:g}"
        raise DataError(f"{allowed}, got {value!r}", field=name)
    return number


_SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair: no UTF-8 encoding exists


def printable(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udXXX`` escapes, so it can be shown or encoded."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _check_storable(record: Mapping[str, Any]) -> None:
    """Refuse a record that cannot be written as strict JSON in UTF-8 (the index, the write-ahead
    log and every response are): a lone surrogate in any text or key, or a number that is not
    finite, at any depth. The error names the top-level field and, for a nested value, where in it.
    """
    for key, value in record.items():
        field = printable(str(key))
        if isinstance(key, str) and _SURROGATE.search(key):
            raise DataError("the field name " + _surrogate_message(key), field=field)
        problem = _unstorable(value)
        if problem is not None:
            where, message = problem
            raise DataError(f"{field}{where}: {message}" if where else message, field=field)


def _unstorable(value: Any) -> tuple[str, str] | None:
    """``(where, what)`` of the first value inside ``value`` that :func:`_check_storable` refuses.

    Iterative (a deeply nested value must not exhaust the interpreter's recursion limit).
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return where, _surrogate_message(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return where, f"must be a finite number, got {item!r} (JSON has no NaN or infinity)"
        elif isinstance(item, Mapping):
            for key, inner in reversed(list(item.items())):
                name = printable(str(key))
                if isinstance(key, str) and _SURROGATE.search(key):
                    return f"{where}.{name}", "the key " + _surrogate_message(key)
                stack.append((f"{where}.{name}", inner))
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{where}[{i}]", inner) for i, inner in reversed(list(enumerate(item))))
    return None


def _surrogate_message(text: str) -> str:
    bad = _SURROGATE.search(text)
    code = ord(bad.group()) if bad else 0
    return f"holds a lone surrogate (U+{code:04X}), which is not valid Unicode text"


def _parse_count(value: Any) -> int | None:
    number = _parse_number(value, "rating_count")
    if number is None:
        return None
    if number < 0 or number != int(number):
        raise DataError(f"must be a non-negative integer, got {value!r}", field="rating_count")
    return int(number)


# --------------------------------------------------------------------------- catalog


@dataclass
class Catalog:
    """Products in file order, with an id → row lookup.

    Attributes:
        products: The products, in the order they were read.
        skipped: What was skipped with ``on_error="skip"`` (empty otherwise).
    """

    products: list[Product]
    skipped: SkipReport | None = None

    def __post_init__(self) -> None:
        self._rows: dict[str, int] = {}
        for row, product in enumerate(self.products):
            if product.id in self._rows:
                raise DataError(
                    f"duplicate id {product.id!r} (rows {self._rows[product.id] + 1} and {row + 1})", field="id"
                )
            self._rows[product.id] = row

    def __len__(self) -> int:
        return len(self.products)

    def __iter__(self) -> Iterator[Product]:
        return iter(self.products)

    def __getitem__(self, row: int) -> Product:
        return self.products[row]

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._rows

    def row_of(self, product_id: str) -> int:
        """Row of ``product_id``; raises KeyError if it is not in the catalog."""
        return self._rows[product_id]

    def get(self, product_id: str) -> Product | None:
        row = self._rows.get(product_id)
        return None if row is None else self.products[row]


def read_catalog(path: str | Path, *, on_error: OnError = "raise", fmt: str | None = None) -> Catalog:
    """Read a catalog file (jsonl[.gz], csv, tsv or parquet; chosen by extension or ``fmt``).

    Args:
        path: The catalog file.
        on_error: ``"raise"`` (default) stops at the first bad row with a
            :class:`DataError`; ``"skip"`` skips bad rows and records them in
            ``Catalog.skipped``, logging a summary.
        fmt: Force a format: ``"jsonl"``, ``"csv"``, ``"tsv"`` or ``"parquet"``.

    Returns:
        The catalog, products in file order.

    Raises:
        DataError: bad row, duplicate id, undecodable bytes, unreadable file.

    Example:
        >>> catalog = read_catalog("products.jsonl")  # doctest: +SKIP
        >>> catalog.get("B07CXG6C9W").title  # doctest: +SKIP
        'Kindle Paperwhite ...'
    """
    path = Path(path)
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if not path.is_file():
        raise DataError("file not found", path=path)
    fmt = fmt or _format_of(path)
    records = {
        "jsonl": _jsonl_records,
        "csv": _csv_records,
        "tsv": _csv_records,
        "parquet": _parquet_records,
    }.get(fmt)
    if records is None:
        raise DataError(f"unknown catalog format {fmt!r} (use jsonl, csv, tsv or parquet)", path=path)

    report = SkipReport(str(path))
    products: list[Product] = []
    seen: dict[str, int] = {}
    for line, record in records(path, fmt, report, on_error):
        try:
            product = Product.from_dict(record)
            if product.id in seen:
                raise DataError(f"duplicate id {product.id!r} (first seen on line {seen[product.id]})", field="id")
        except DataError as err:
            err = err.located(path=path, line=line)
            if on_error == "raise":
                raise err from None
            report.errors.append(err)
            continue
        seen[product.id] = line
        products.append(product)
    if report.count:
        logger.warning(report.summary())
    logger.info("read %d products from %s", len(products), path)
    return Catalog(products, skipped=report if on_error == "skip" else None)


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    return {
        ".jsonl": "jsonl",
        ".json": "jsonl",
        ".ndjson": "jsonl",
        ".csv": "csv",
        ".tsv": "tsv",
        ".tab": "tsv",
        ".parquet": "parquet",
        ".pq": "parquet",
    }.get(ext, ext.lstrip("."))


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def _decode(raw: bytes, path: Path, line: int) -> str:
    try:
        return raw.decode("utf-8-sig" if line == 1 else "utf-8")
    except UnicodeDecodeError as err:
        text = raw.decode("utf-8", errors="surrogateescape")
        try:
            field = _field_with_bad_bytes(json.loads(text))
        except json.JSONDecodeError:
            field = None
        raise DataError(_not_utf8(raw[err.start], err.start + 1), path=path, line=line, field=field) from None


_BAD_BYTE = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" turns undecodable bytes into


def _not_utf8(byte: int, column: int | None = None) -> str:
    where = f" at column {column}" if column else ""
    return f"is not valid UTF-8 (byte {byte:#04x}{where}); save the file as UTF-8"


def _field_with_bad_bytes(record: Any) -> str | None:
    """The first key of a record whose text holds undecodable bytes."""
    if not isinstance(record, Mapping):
        return None
    for key, value in record.items():
        if _BAD_BYTE.search(json.dumps(value, ensure_ascii=False)):
            return str(key)
    return None


def check_utf8(values: Mapping[str | None, Any]) -> None:
    """Raise a DataError naming the first field (of a CSV/TSV row) that held undecodable bytes."""
    for key, value in values.items():
        if isinstance(value, str) and (bad := _BAD_BYTE.search(value)):
            raise DataError(_not_utf8(ord(bad.group()) - 0xDC00), field=key)


def _jsonl_records(path: Path, fmt: str, report: SkipReport, on_error: OnError) -> Iterator[tuple[int, Any]]:
    with _open_binary(path) as handle:
        for line, raw in enumerate(handle, start=1):
            try:
                text = _decode(raw, path, line)
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as err:
                    raise DataError(f"invalid JSON: {err.msg} at column {err.colno}", path=path, line=line) from None
            except DataError as err:
                if on_error == "raise":
                    raise
                report.errors.append(err)
                continue
            yield line, record


def decode_text_file(path: Path) -> str:
    """Read a whole text file; undecodable bytes are kept as surrogate escapes so that the row
    holding them can be reported (and skipped) on its own: see :func:`check_utf8`."""
    with _open_binary(path) as handle:
        raw = handle.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", errors="surrogateescape")


def _csv_records(path: Path, fmt: str, report: SkipReport, on_error: OnError) -> Iterator[tuple[int, Any]]:
    text = decode_text_file(path)
    csv.field_size_limit(2**31 - 1)  # very long descriptions are accepted (default limit: 128 KiB)
    delimiter = "\t" if fmt == "tsv" else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = reader.fieldnames or []
    for required in ("id", "title"):
        if required not in header:
            raise DataError(
                f"the header has no '{required}' column (columns: {', '.join(header)})",
                path=path,
                line=1,
                field=required,
            )
    for row in reader:
        line = reader.line_num - _count_newlines_in_row(row)
        try:
            if None in row:
                raise DataError(f"has {len(header) + len(row[None])} fields, the header has {len(header)}")
            missing = [key for key, value in row.items() if value is None]
            if missing:
                raise DataError(
                    f"has {len(header) - len(missing)} fields, the header has {len(header)}", field=missing[0]
                )
            check_utf8(row)
            yield line, _decode_csv_row(row)
        except DataError as err:
            err = err.located(path=path, line=line)
            if on_error == "raise":
                raise err from None
            report.errors.append(err)


def _count_newlines_in_row(row: Mapping[str, Any]) -> int:
    """csv.reader.line_num is the *last* line of a row; quoted newlines push it down."""
    return sum(v.count("\n") for v in row.values() if isinstance(v, str))


def _decode_csv_row(row: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or value == "":
            continue
        if key in _LIST_FIELDS or key == "attributes":
            stripped = value.strip()
            if stripped.startswith(("[", "{")):
                try:
                    value = json.loads(stripped)
                except json.JSONDecodeError as err:
                    raise DataError(f"is not valid JSON text: {err.msg}", field=key) from None
            elif key == "attributes":
                raise DataError('must be a JSON object, e.g. {"size": "XL"}', field=key)
        record[key] = value
    return record


def _parquet_records(path: Path, fmt: str, report: SkipReport, on_error: OnError) -> Iterator[tuple[int, Any]]:
    require("parquet", "reading Parquet catalogs")
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise DataError(f"cannot read Parquet: {err}", path=path) from None
    columns = table.schema_arrow.names
    for required in ("id", "title"):
        if required not in columns:
            raise DataError(f"has no '{required}' column (columns: {', '.join(columns)})", path=path, field=required)
    row_number = 0
    for batch in table.iter_batches(batch_size=65536):
        for record in batch.to_pylist():
            row_number += 1
            record = {k: v for k, v in record.items() if v is not None}
            try:
                for key in ("attributes", *_LIST_FIELDS):
                    if isinstance(record.get(key), str) and record[key].strip().startswith(("[", "{")):
                        record[key] = json.loads(record[key])
            except json.JSONDecodeError as err:
                error = DataError(f"is not valid JSON text: {err.msg}", path=path, line=row_number, field=key)
                if on_error == "raise":
                    raise error from None
                report.errors.append(error)
                continue
            yield row_number, record


def write_catalog(products: Iterable[Product], path: str | Path) -> int:
    """Write products as canonical JSON lines (UTF-8); returns how many were written."""
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for product in products:
            handle.write(json.dumps(product.to_dict(), ensure_ascii=False, allow_nan=False))
            handle.write("\n")
            count += 1
    return count
