"""The searchable text of each product field.

Field names used in configs: ``title``, ``brand``, ``color``, ``category``, ``bullets``,
``attributes``, ``description``, and ``all`` (every field concatenated, for plain BM25).

Example:
    >>> from shopmatch.catalog import Product
    >>> p = Product(id="1", title="Skillet", category=["Kitchen", "Cookware"], attributes={"size": "12in"})
    >>> field_text(p, "category"), field_text(p, "attributes")
    ('Kitchen Cookware', 'size 12in')
"""

from __future__ import annotations

from collections.abc import Callable

from shopmatch.catalog import Product

FIELD_GETTERS: dict[str, Callable[[Product], str]] = {
    "title": lambda p: p.title,
    "brand": lambda p: p.brand or "",
    "color": lambda p: p.color or "",
    "category": lambda p: " ".join(p.category),
    "bullets": lambda p: "\n".join(p.bullets),
    "attributes": lambda p: "\n".join(f"{k} {v}" for k, v in p.attributes.items()),
    "description": lambda p: p.description or "",
}
FIELD_NAMES = (*FIELD_GETTERS, "all")


def field_text(product: Product, name: str) -> str:
    """Text of one field of a product (``""`` when the product does not have it).

    Raises:
        KeyError: unknown field name.
    """
    if name == "all":
        return "\n".join(filter(None, (get(product) for get in FIELD_GETTERS.values())))
    try:
        return FIELD_GETTERS[name](product)
    except KeyError:
        raise KeyError(f"unknown field {name!r}; known fields: {', '.join(FIELD_NAMES)}") from None
