"""Training examples from a shop's judgments: (query, product text, target) with targets in [0, 1].

Graded labels become soft targets for binary cross-entropy: ``target = gain / top gain`` under
a :class:`~shopmatch.judgments.GainMap`. With the ESCI gains (E=1, S=0.1, C=0.01, I=0) the
targets equal the gains; Home Depot's 1–3 labels with ``offset=1`` give ``(label − 1) / 2``.

Example:
    >>> from shopmatch.catalog import Product
    >>> from shopmatch.judgments import GainMap, Judgment, Judgments
    >>> judged = Judgments([Judgment("q1", "red mug", "a", "E"), Judgment("q1", "red mug", "b", "S")])
    >>> products = {"a": Product("a", "Red mug"), "b": Product("b", "Blue mug")}
    >>> [(p.text, p.target) for p in labeled_pairs(judged, products, GainMap.esci())]
    [('Red mug', 1.0), ('Blue mug', 0.1)]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shopmatch.catalog import Catalog, Product
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.errors import DataError
from shopmatch.judgments import GainMap, Judgments

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LabeledPair:
    """One training example: a query, the text of a product, and a target relevance in [0, 1]."""

    query: str
    text: str
    target: float
    query_id: str = ""
    product_id: str = ""


def top_gain(judgments: Judgments, gains: GainMap) -> float:
    """The largest gain among the judged labels (the gain that maps to target 1)."""
    best = max((gains.gain(r.label) for r in judgments.rows), default=0.0)
    if best <= 0:
        raise DataError("no judged pair has a positive gain under the gain map: nothing to learn from")
    return best


def product_lookup(products: Catalog | Mapping[str, Product] | Sequence[Product]) -> Mapping[str, Product]:
    """Product id → product, from a catalog, a mapping or a list."""
    if isinstance(products, Mapping):
        return products
    if isinstance(products, Catalog):
        products = products.products
    return {p.id: p for p in products}


def labeled_pairs(
    judgments: Judgments,
    products: Catalog | Mapping[str, Product] | Sequence[Product],
    gains: GainMap,
    template: ProductTextTemplate | None = None,
    *,
    skip_missing: bool = False,
) -> list[LabeledPair]:
    """One :class:`LabeledPair` per judgment, in file order.

    Args:
        products: the catalog the judged product ids refer to.
        template: how a product becomes text (default: the bi-encoder's default template).
        skip_missing: skip judgments whose product is not in the catalog (counted in a warning)
            instead of raising.

    Raises:
        DataError: a judged product id is not in the catalog (names how many and a few of them).
    """
    template = template or ProductTextTemplate()
    lookup = product_lookup(products)
    scale = top_gain(judgments, gains)
    missing = sorted({r.product_id for r in judgments.rows if r.product_id not in lookup})
    if missing:
        message = f"{len(missing)} judged product id(s) are not in the catalog (e.g. {', '.join(missing[:3])})"
        if not skip_missing:
            raise DataError(message + "; add them to the catalog or skip them")
        logger.warning("%s; their judgments are skipped", message)
    texts: dict[str, str] = {}
    out = []
    for row in judgments.rows:
        product = lookup.get(row.product_id)
        if product is None:
            continue
        if row.product_id not in texts:
            texts[row.product_id] = template.render(product)
        target = min(gains.gain(row.label) / scale, 1.0)
        out.append(LabeledPair(row.query, texts[row.product_id], target, row.query_id, row.product_id))
    return out
