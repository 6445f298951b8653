"""The text a bi-encoder reads for a product, built from its fields by a template.

Placeholders are field names (``{title}``, ``{brand}``, ``{color}``, ``{category}``,
``{bullets}``, ``{attributes}``, ``{description}``). Empty fields leave no stray separators:
lines and `` | ``-separated parts that come out empty are dropped.

Example:
    >>> from shopmatch.catalog import Product
    >>> p = Product("1", "Cast iron skillet", brand="Lodge", category=["Kitchen", "Cookware"])
    >>> ProductTextTemplate().render(p)
    'Cast iron skillet\\nLodge\\nKitchen > Cookware'
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from shopmatch.catalog import Product
from shopmatch.errors import ConfigError
from shopmatch.settings import ConfigSection, setting

DEFAULT_TEMPLATE = "{title}\n{brand} | {color}\n{category}\n{bullets}"


def _placeholders(template: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as err:
        raise ConfigError(f"invalid product text template {template!r}: {err}") from None


@dataclass(frozen=True)
class ProductTextTemplate(ConfigSection):
    """Renders products to encoder input.

    Attributes:
        template: format string over field names.
        max_bullets: how many bullet points ``{bullets}`` includes (they are joined by ``; ``).
        max_chars: hard cap on the rendered text before tokenization (the token limit is
            applied by the encoder).
    """

    SECTION = "dense.text"

    template: str = DEFAULT_TEMPLATE
    max_bullets: int = setting(3, minimum=0)
    max_chars: int = setting(2000, minimum=0)

    def check(self) -> None:
        names = _placeholders(self.template)
        unknown = sorted(set(names) - set(_GETTERS))
        if unknown:
            raise ConfigError(f"product text template uses unknown field(s) {unknown}; known: {sorted(_GETTERS)}")
        if "title" not in names:
            raise ConfigError(f"product text template must include {{title}}: {self.template!r}")

    def render(self, product: Product) -> str:
        values = {name: get(product, self) for name, get in _GETTERS.items()}
        text = self.template.format(**values)
        lines = []
        for line in text.splitlines():
            parts = [part.strip() for part in line.split(" | ")]
            line = " | ".join(part for part in parts if part)
            if line:
                lines.append(line)
        return "\n".join(lines)[: self.max_chars]


_GETTERS = {
    "title": lambda p, t: p.title,
    "brand": lambda p, t: p.brand or "",
    "color": lambda p, t: p.color or "",
    "category": lambda p, t: " > ".join(p.category),
    "bullets": lambda p, t: "; ".join(b.strip() for b in p.bullets[: t.max_bullets]),
    "attributes": lambda p, t: "; ".join(f"{k}: {v}" for k, v in p.attributes.items()),
    "description": lambda p, t: p.description or "",
}
