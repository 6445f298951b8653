"""The one validation layer of every config section: typed fields, bounds and choices, checked once.

A config section is a frozen dataclass that subclasses :class:`ConfigSection`. Its fields are
checked against their annotations when it is made (``bool``, ``int``, ``float``, ``str``,
``X | None``, ``tuple[str, ...]``, ``Mapping[str, float]``, nested sections), with the bounds
(inclusive ``minimum``/``maximum``, exclusive ``greater_than``/``less_than``) and choices given by
:func:`setting` (for a list, each item must be one of the choices); a wrong value raises a
:class:`ConfigError` that names ``section.field``. Lists become tuples and integers become floats
where the annotation says so. Rules that tie several fields together go in :meth:`ConfigSection.check`.

:meth:`ConfigSection.from_dict` refuses unknown keys and builds nested sections from tables;
:meth:`ConfigSection.to_dict` is its inverse (TOML/JSON-ready).

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Demo(ConfigSection):
    ...     SECTION = "demo"
    ...     size: int = setting(3, minimum=1)
    ...     mode: str = setting("fast", choices=("fast", "exact"))
    ...     scale: float = setting(1.0, minimum=0.0, maximum=10.0)
    ...     rate: float = setting(0.5, greater_than=0.0, less_than=1.0)
    ...     fields: tuple[str, ...] = setting(("title",), choices=("title", "brand"))
    >>> Demo.from_dict({"size": 5, "scale": 2, "fields": ["brand"]}).to_dict()
    {'size': 5, 'mode': 'fast', 'scale': 2.0, 'rate': 0.5, 'fields': ['brand']}
    >>> Demo(size=True)
    Traceback (most recent call last):
    ...
    shopmatch.errors.ConfigError: demo.size must be a positive integer, got True
    >>> Demo(rate=1.0)
    Traceback (most recent call last):
    ...
    shopmatch.errors.ConfigError: demo.rate must be a number in (0, 1), got 1.0
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, field, fields
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from shopmatch.errors import ConfigError

__all__ = ["ConfigSection", "require_int", "require_number", "setting"]


def setting(
    default: Any = MISSING,
    *,
    default_factory: Any = MISSING,
    minimum: float | None = None,
    maximum: float | None = None,
    greater_than: float | None = None,
    less_than: float | None = None,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """A dataclass field with the bounds or the choices its value must respect.

    ``minimum``/``maximum`` are inclusive, ``greater_than``/``less_than`` exclusive; ``choices``
    constrain a scalar's value or, for a ``tuple`` field, each of its items.
    """
    metadata = {
        "minimum": minimum,
        "maximum": maximum,
        "greater_than": greater_than,
        "less_than": less_than,
        "choices": tuple(choices) if choices else None,
    }
    return field(default=default, default_factory=default_factory, metadata=metadata)


class ConfigSection:
    """Base of the frozen config dataclasses; ``SECTION`` names the section in error messages."""

    SECTION: ClassVar[str] = "config"

    def __post_init__(self) -> None:
        for spec in fields(self):  # type: ignore[arg-type]
            kind = _field_types(type(self))[spec.name]
            value = _checked(f"{self.SECTION}.{spec.name}", getattr(self, spec.name), kind, spec)
            object.__setattr__(self, spec.name, value)
        self.check()

    def check(self) -> None:
        """Rules across fields (override); raise :class:`ConfigError` naming the section."""

    def to_dict(self) -> dict[str, Any]:
        return {spec.name: _plain(getattr(self, spec.name)) for spec in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        if not isinstance(data, Mapping):
            raise ConfigError(f"[{cls.SECTION}] must be a table, got {data!r}")
        known = [spec.name for spec in fields(cls)]  # type: ignore[arg-type]
        unknown = set(data) - set(known)
        if unknown:
            raise ConfigError(f"unknown {cls.SECTION} setting(s) {sorted(unknown)}; known: {sorted(known)}")
        types_of = _field_types(cls)
        values = {name: _from_plain(f"{cls.SECTION}.{name}", value, types_of[name]) for name, value in data.items()}
        return cls(**values)

    @classmethod
    def from_toml_section(cls, path: str | Path):
        """The ``[SECTION]`` table of a TOML file (other tables ignored; none: the defaults); errors
        name the file."""
        import tomllib

        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"{path}: {err}") from None
        try:
            return cls.from_dict(data.get(cls.SECTION, {}))
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None


def require_int(section: str, name: str, value: Any, minimum: int = 1) -> None:
    """ConfigError unless ``value`` is an integer ≥ ``minimum`` (booleans are not integers)."""
    _check_number(f"{section}.{name}", value, int, minimum, None)


def require_number(
    section: str, name: str, value: Any, minimum: float | None = None, maximum: float | None = None
) -> float:
    """``value`` as a float; ConfigError unless it is a finite number in [``minimum``, ``maximum``] (not a boolean)."""
    return _check_number(f"{section}.{name}", value, float, minimum, maximum)


# ---- checks ------------------------------------------------------------------------------------


@cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _optional(kind: Any) -> tuple[bool, Any]:
    """(whether None is allowed, the other type) of an annotation."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) < len(typing.get_args(kind)):
            return True, args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007
    return False, kind


def _checked(name: str, value: Any, kind: Any, spec: Field) -> Any:
    allows_none, kind = _optional(kind)
    if value is None and allows_none:
        return None
    meta = spec.metadata
    choices = meta.get("choices")
    origin = typing.get_origin(kind)
    if choices is not None and origin is not tuple:
        _check_choice(name, value, choices)
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
    elif kind in (int, float):
        bounds = (meta.get(k) for k in ("minimum", "maximum", "greater_than", "less_than"))
        value = _check_number(name, value, kind, *bounds)
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}")
    elif origin is tuple:
        value = _check_tuple(name, value, typing.get_args(kind))
        for item in value if choices is not None else ():
            _check_choice(f"{name} item", item, choices)
    elif origin in (dict, Mapping, typing.Mapping):
        value = _check_mapping(name, value, typing.get_args(kind))
    elif isinstance(kind, type) and issubclass(kind, ConfigSection):
        if not isinstance(value, kind):
            raise ConfigError(f"{name} must be a [{kind.SECTION}] table, got {value!r}")
    return value


def _check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    if not any(value == c and type(value) is type(c) for c in choices):
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")


def _check_number(
    name: str,
    value: Any,
    kind: type,
    minimum: float | None,
    maximum: float | None,
    greater_than: float | None = None,
    less_than: float | None = None,
) -> Any:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    ok = is_int if kind is int else (is_int or isinstance(value, float)) and math.isfinite(value)
    if ok and minimum is not None and value < minimum:
        ok = False
    if ok and maximum is not None and value > maximum:
        ok = False
    if ok and greater_than is not None and value <= greater_than:
        ok = False
    if ok and less_than is not None and value >= less_than:
        ok = False
    if not ok:
        raise ConfigError(f"{name} must be {_describe(kind, minimum, maximum, greater_than, less_than)}, got {value!r}")
    return float(value) if kind is float else value


def _describe(
    kind: type,
    minimum: float | None,
    maximum: float | None,
    greater_than: float | None = None,
    less_than: float | None = None,
) -> str:
    noun = "an integer" if kind is int else "a number"
    if greater_than is not None or less_than is not None:
        low = f"[{minimum:g}" if minimum is not None else f"({greater_than:g}" if greater_than is not None else "(-inf"
        high = f"{maximum:g}]" if maximum is not None else f"{less_than:g})" if less_than is not None else "inf)"
        return f"{noun} in {low}, {high}"
    if minimum is not None and maximum is not None:
        return f"{noun} in [{minimum:g}, {maximum:g}]"
    if kind is int and minimum == 1:
        return "a positive integer"
    if minimum is not None:
        return f"{noun} ≥ {minimum:g}"
    if maximum is not None:
        return f"{noun} ≤ {maximum:g}"
    return noun if kind is int else "a finite number"


def _check_tuple(name: str, value: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"{name} must be a list, got {value!r}")
    item = args[0] if args else Any
    if item is str and not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name} must be a list of strings, got {value!r}")
    return tuple(value)


def _check_mapping(name: str, value: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name} must be a table, got {value!r}")
    item = args[1] if len(args) == 2 else Any
    out = {}
    for key, entry in value.items():
        if not isinstance(key, str):
            raise ConfigError(f"{name} keys must be strings, got {key!r}")
        if item in (int, float):
            entry = _check_number(f"{name}.{key}", entry, item, None, None)
        elif isinstance(item, type) and issubclass(item, ConfigSection) and not isinstance(entry, item):
            raise ConfigError(f"{name}.{key} must be a table, got {entry!r}")
        out[key] = entry
    return out


# ---- plain data (TOML / JSON) <-> sections --------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, ConfigSection):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _from_plain(name: str, value: Any, kind: Any) -> Any:
    """``value`` read from a file, with tables of nested sections made into sections."""
    _, kind = _optional(kind)
    if isinstance(kind, type) and issubclass(kind, ConfigSection) and isinstance(value, Mapping):
        return kind.from_dict(value)
    if typing.get_origin(kind) in (dict, Mapping, typing.Mapping) and isinstance(value, Mapping):
        args = typing.get_args(kind)
        item = args[1] if len(args) == 2 else None
        if isinstance(item, type) and issubclass(item, ConfigSection):
            return {k: _section_entry(f"{name}.{k}", item, v) for k, v in value.items()}
    return value


def _section_entry(name: str, kind: type[ConfigSection], value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    try:
        return kind.from_dict(value)
    except ConfigError as err:
        raise ConfigError(f"{name}: {err}") from None
