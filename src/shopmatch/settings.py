"""Shared plumbing of config sections: dict round trips that refuse unknown keys, value checks.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Demo(ConfigSection):
    ...     SECTION = "demo"
    ...     size: int = 3
    >>> Demo.from_dict({"size": 5}).to_dict()
    {'size': 5}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, ClassVar

from shopmatch.errors import ConfigError


class ConfigSection:
    """Mixin for frozen dataclass config sections; ``SECTION`` names it in error messages."""

    SECTION: ClassVar[str] = "config"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown {cls.SECTION} setting(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)


def require_int(section: str, name: str, value: Any, minimum: int = 1) -> None:
    """ConfigError unless ``value`` is an integer ≥ ``minimum`` (booleans are not integers)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
        raise ConfigError(f"{section}.{name} must be {what}, got {value!r}")
