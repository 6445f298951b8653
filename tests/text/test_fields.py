"""field_text: the searchable text of each product field."""

from __future__ import annotations

import pytest

from shopmatch.catalog import Product
from shopmatch.text.fields import FIELD_NAMES, field_text


def test_field_texts():
    p = Product(
        id="1",
        title="Skillet",
        brand="Iron",
        color="Black",
        category=["Kitchen", "Cookware"],
        bullets=["Pre-seasoned", "Oven safe"],
        attributes={"size": "12in", "material": "iron"},
        description="Heavy.",
    )
    assert field_text(p, "title") == "Skillet"
    assert field_text(p, "category") == "Kitchen Cookware"
    assert field_text(p, "bullets") == "Pre-seasoned\nOven safe"
    assert field_text(p, "attributes") == "size 12in\nmaterial iron"
    assert (
        field_text(p, "all")
        == "Skillet\nIron\nBlack\nKitchen Cookware\nPre-seasoned\nOven safe\nsize 12in\nmaterial iron\nHeavy."
    )
    assert FIELD_NAMES == ("title", "brand", "color", "category", "bullets", "attributes", "description", "all")


def test_missing_fields_are_empty():
    p = Product("1", "Only a title")
    assert [field_text(p, n) for n in FIELD_NAMES] == ["Only a title", "", "", "", "", "", "", "Only a title"]


def test_unknown_field():
    with pytest.raises(KeyError, match="unknown field 'price'"):
        field_text(Product("1", "t"), "price")
