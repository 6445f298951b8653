"""Errors that point at the exact place in the user's data that is wrong.

Every reader in shopmatch raises :class:`DataError` for bad input. The message names the
file, the line (1-based, as an editor shows it) and the field, so a user can fix the row
without guessing.

Example:
    >>> err = DataError("must not be empty", path="products.jsonl", line=3, field="title")
    >>> str(err)
    "products.jsonl:3: field 'title': must not be empty"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class ShopmatchError(Exception):
    """Base class of every error shopmatch raises on purpose."""


class DataError(ShopmatchError, ValueError):
    """Bad input data, located by file, line and field.

    Args:
        message: What is wrong, in words a user understands.
        path: The file the row came from.
        line: 1-based line (or row) number within ``path``.
        field: The field (column, JSON key) that is wrong, if one is.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            return f"{where}: field '{self.field}': {self.message}"
        return f"{where}: {self.message}"

    def located(self, *, path: str | Path | None = None, line: int | None = None) -> DataError:
        """Return a copy with the path and/or line filled in where they were unknown."""
        return DataError(
            self.message,
            path=self.path or path,
            line=self.line if self.line is not None else line,
            field=self.field,
        )


class IndexFormatError(ShopmatchError):
    """An index directory is missing, damaged, or written by a newer shopmatch."""


class ConfigError(ShopmatchError, ValueError):
    """A configuration value is invalid."""


@dataclass
class SkipReport:
    """What a reader skipped when told to skip bad rows instead of failing.

    Attributes:
        path: The file that was read.
        errors: One :class:`DataError` per skipped row, in file order.
    """

    path: str
    errors: list[DataError] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.errors)

    def summary(self, limit: int = 5) -> str:
        """One line per reason (up to ``limit`` examples), for logs and the CLI."""
        if not self.errors:
            return f"{self.path}: no rows skipped"
        lines = [f"{self.path}: skipped {self.count} bad row(s)"]
        lines += [f"  {e}" for e in self.errors[:limit]]
        if self.count > limit:
            lines.append(f"  ... and {self.count - limit} more")
        return "\n".join(lines)
