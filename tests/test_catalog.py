"""Catalog readers: every bad fixture located exactly, skip mode, every format equal to jsonl."""

from __future__ import annotations

import csv
import gzip
import json
import logging
import re
import shutil

import pytest

from shopmatch.catalog import Catalog, Product, read_catalog, write_catalog
from shopmatch.errors import DataError
from shopmatch.judgments import read_judgments, read_pairs

# (file, line, field, reader, fragment of the message, what survives with on_error="skip")
# Mirrors tests/fixtures/bad/README.md (checked by test_bad_table_matches_readme).
BAD_FILES = [
    ("malformed_json.jsonl", 3, None, "catalog", "invalid JSON", ["b1", "b2", "b4"]),
    ("missing_id.jsonl", 2, "id", "catalog", "is required", ["b1", "b3"]),
    ("missing_title.jsonl", 4, "title", "catalog", "is required", ["b1", "b2", "b3", "b5"]),
    ("empty_title.jsonl", 2, "title", "catalog", "must not be empty", ["b1", "b3"]),
    ("duplicate_id.jsonl", 5, "id", "catalog", "duplicate id 'b1'", ["b1", "b2", "b3", "b4"]),
    ("not_object.jsonl", 2, None, "catalog", "expected a JSON object", ["b1", "b3"]),
    ("bad_price.jsonl", 2, "price", "catalog", "'abc'", ["b1", "b3"]),
    ("latin1.jsonl", 2, "title", "catalog", "0xe8", ["b1", "b3"]),
    ("bad_list_field.csv", 3, "bullets", "catalog", "not valid JSON", ["b1", "b3", "b4"]),
    ("missing_title_column.csv", 1, "title", "catalog", "no 'title' column", None),
    ("judgments_unknown_label.tsv", 4, "label", "judgments", "'X'", [("q1", "b1"), ("q1", "b2"), ("q2", "b1")]),
    ("judgments_missing_column.tsv", 1, "label", "judgments", "no 'label' column", None),
    ("judgments_bad_columns.tsv", 3, "label", "judgments", "3 tab-separated fields", [("q1", "b1"), ("q2", "b2")]),
    ("pairs_bad_label.tsv", 2, "label", "pairs", "'yes'", [("skillet", "cast iron skillet 12 in.", 1)]),
]
READERS = {"catalog": read_catalog, "judgments": read_judgments, "pairs": read_pairs}


def test_bad_table_matches_readme(fixtures):
    readme = (fixtures / "bad" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \| (\d+) \| (`(\w+)`|–) \|", readme, flags=re.M)
    documented = {name: (int(line), field or None) for name, line, _, field in rows}
    assert documented == {name: (line, field) for name, line, field, *_ in BAD_FILES}
    on_disk = {p.name for p in (fixtures / "bad").iterdir() if p.name != "README.md"}
    assert on_disk == set(documented)


@pytest.mark.parametrize("row", [pytest.param(r, id=r[0]) for r in BAD_FILES])
def test_bad_file_error_names_path_and_line(fixtures, row):
    name, line, _field, reader, fragment, _ = row
    path = fixtures / "bad" / name
    with pytest.raises(DataError) as info:
        READERS[reader](path)
    err = info.value
    assert err.path == str(path)
    assert err.line == line
    assert fragment in err.message
    assert str(err).startswith(f"{path}:{line}: ")
    assert fragment in str(err)


@pytest.mark.parametrize("row", [pytest.param(r, id=r[0]) for r in BAD_FILES])
def test_bad_file_error_names_field(fixtures, row):
    name, line, field, reader, _, _ = row
    path = fixtures / "bad" / name
    with pytest.raises(DataError) as info:
        READERS[reader](path)
    assert info.value.field == field
    if field is None:
        assert str(info.value).startswith(f"{path}:{line}: ") and "field '" not in str(info.value)
    else:
        assert str(info.value).startswith(f"{path}:{line}: field '{field}': ")


@pytest.mark.parametrize("row", [pytest.param(r, id=r[0]) for r in BAD_FILES if r[5] is not None])
def test_bad_file_skip_mode_skips_exactly_that_row(fixtures, row, caplog):
    name, line, _field, reader, fragment, survivors = row
    path = fixtures / "bad" / name
    with caplog.at_level(logging.WARNING):
        result = READERS[reader](path, on_error="skip")
    # The summary is logged: count and reason.
    assert f"{path}: skipped 1 bad row(s)" in caplog.text
    assert f"{path}:{line}:" in caplog.text and fragment in caplog.text
    if reader == "catalog":
        assert [p.id for p in result] == survivors
        report = result.skipped
    elif reader == "judgments":
        assert [(r.query_id, r.product_id) for r in result.rows] == survivors
        report = result.skipped
    else:
        assert [(p.text_a, p.text_b, p.label) for p in result] == survivors
        return  # read_pairs returns a plain list: the log above is its only report
    assert report.count == 1
    assert report.path == str(path)
    (skipped,) = report.errors
    assert (skipped.path, skipped.line) == (str(path), line)
    assert fragment in str(skipped)
    assert report.summary().splitlines() == [f"{path}: skipped 1 bad row(s)", f"  {skipped}"]


@pytest.mark.parametrize("row", [pytest.param(r, id=r[0]) for r in BAD_FILES if r[5] is None])
def test_structural_errors_raise_even_in_skip_mode(fixtures, row):
    name, line, field, reader, fragment, _ = row
    with pytest.raises(DataError) as info:
        READERS[reader](fixtures / "bad" / name, on_error="skip")
    assert (info.value.line, info.value.field) == (line, field)
    assert fragment in str(info.value)


def test_duplicate_id_names_first_line(fixtures):
    with pytest.raises(DataError, match=r"first seen on line 1"):
        read_catalog(fixtures / "bad" / "duplicate_id.jsonl")
    # skip mode keeps the first b1, not the later one
    kept = read_catalog(fixtures / "bad" / "duplicate_id.jsonl", on_error="skip").get("b1")
    assert kept.title == "Cordless drill 20V"


def test_not_found(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(DataError) as info:
        read_catalog(missing)
    assert (info.value.path, info.value.line, info.value.field) == (str(missing), None, None)
    assert str(info.value) == f"{missing}: file not found"


def test_unknown_format_and_bad_on_error(tmp_path, fixtures):
    odd = tmp_path / "products.xml"
    odd.write_text("<x/>")
    with pytest.raises(DataError, match="unknown catalog format 'xml'"):
        read_catalog(odd)
    with pytest.raises(ValueError, match="on_error"):
        read_catalog(fixtures / "catalog" / "products.jsonl", on_error="ignore")


def test_raise_mode_has_no_skip_report(catalog):
    assert catalog.skipped is None


def test_fixture_catalog_contents(catalog):
    assert len(catalog) == 32
    assert [p.id for p in catalog][:3] == ["p001", "p002", "p003"]
    p004 = catalog.get("p004")
    assert p004.price == 35.99 and p004.rating_count == 5120
    assert p004.attributes == {"wattage": "65W", "ports": "2", "connector": "USB-C"}
    assert p004.category == ["Electronics", "Chargers & Power", "Wall Chargers"]
    minimal = catalog.get("p031")
    assert minimal.to_dict() == {"id": "p031", "title": "Minimal product"}
    assert catalog.get("p032").rating_count == 0


def test_unknown_keys_kept_in_extra(catalog, fixtures):
    assert catalog.get("p004").extra == {"sku_internal": "VT-65-GAN-W"}
    assert catalog.get("p004").to_dict()["sku_internal"] == "VT-65-GAN-W"
    assert {p.id for p in catalog if p.extra} == {"p004"}
    csv_catalog = read_catalog(fixtures / "catalog" / "products.csv")
    assert csv_catalog.get("p004").extra == {"sku_internal": "VT-65-GAN-W"}


def test_full_width_title_kept_as_written(catalog):
    p021 = catalog.get("p021")
    assert p021.title == "ＵＳＢ\u3000Ｃａｂｌｅ\u3000Ｔｙｐｅ－Ｃ\u3000１ｍ"
    assert p021.brand == "Ｖｏｌｔｒａ"
    assert "naïve café résumé" in p021.description


def _dicts(cat):
    return [p.to_dict() for p in cat]


@pytest.mark.parametrize("name", ["products.csv", "products.tsv", "products.parquet"])
def test_other_formats_equal_jsonl(fixtures, catalog, name):
    other = read_catalog(fixtures / "catalog" / name)
    assert _dicts(other) == _dicts(catalog)


def test_jsonl_gz_equals_jsonl(fixtures, catalog, tmp_path):
    target = tmp_path / "products.jsonl.gz"
    with gzip.open(target, "wb") as handle:
        handle.write((fixtures / "catalog" / "products.jsonl").read_bytes())
    assert _dicts(read_catalog(target)) == _dicts(catalog)


def test_fmt_overrides_extension(fixtures, catalog, tmp_path):
    target = tmp_path / "products.txt"
    shutil.copy(fixtures / "catalog" / "products.tsv", target)
    assert _dicts(read_catalog(target, fmt="tsv")) == _dicts(catalog)


def test_write_catalog_round_trip(catalog, tmp_path):
    target = tmp_path / "out.jsonl"
    assert write_catalog(catalog, target) == 32
    assert _dicts(read_catalog(target)) == _dicts(catalog)
    # UTF-8, not \u escapes
    assert "小米 Xiaomi" in target.read_text(encoding="utf-8")


def test_very_long_field_accepted_intact_jsonl(tmp_path):
    long = "lorem ipsum " * 100_000  # 1.2 MB
    target = tmp_path / "long.jsonl"
    target.write_text(json.dumps({"id": "a", "title": "t", "description": long}) + "\n", encoding="utf-8")
    assert read_catalog(target)[0].description == long


def test_very_long_field_accepted_intact_csv(tmp_path):
    long = "x" * 200_000
    target = tmp_path / "long.csv"
    with open(target, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "title", "description"], ["a", "t", long]])
    assert read_catalog(target)[0].description == long


def test_very_long_title_in_csv_under_limit(tmp_path):
    long = "y" * 100_000
    target = tmp_path / "long.csv"
    with open(target, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "title"], ["a", long]])
    assert read_catalog(target)[0].title == long


def test_blank_lines_and_bom_keep_line_numbers(tmp_path):
    target = tmp_path / "bom.jsonl"
    target.write_bytes(b'\xef\xbb\xbf{"id": "a", "title": "t"}\n\n{"id": "b", "title": ""}\n')
    with pytest.raises(DataError) as info:
        read_catalog(target)
    assert (info.value.line, info.value.field) == (3, "title")
    assert [p.id for p in read_catalog(target, on_error="skip")] == ["a"]


def test_csv_bom_header(tmp_path):
    target = tmp_path / "bom.csv"
    target.write_bytes(b"\xef\xbb\xbfid,title\na,t\n")
    assert read_catalog(target)[0].to_dict() == {"id": "a", "title": "t"}


def test_csv_line_numbers_after_quoted_newline(tmp_path):
    target = tmp_path / "multiline.csv"
    target.write_text('id,title,bullets\na,"Title\nwith newline",[]\nb,T,"[oops"\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_catalog(target)
    assert (info.value.line, info.value.field) == (4, "bullets")
    assert read_catalog(target, on_error="skip")[0].title == "Title\nwith newline"


def test_csv_too_many_fields(tmp_path):
    target = tmp_path / "wide.csv"
    target.write_text("id,title\na,t\nb,t,extra\n", encoding="utf-8")
    with pytest.raises(DataError, match="has 3 fields, the header has 2") as info:
        read_catalog(target)
    assert info.value.line == 3


def test_csv_attributes_must_be_json_object(tmp_path):
    target = tmp_path / "attrs.csv"
    target.write_text('id,title,attributes\na,t,"{""size"": ""XL""}"\nb,t,size XL\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_catalog(target)
    assert (info.value.line, info.value.field) == (3, "attributes")
    assert read_catalog(target, on_error="skip")[0].attributes == {"size": "XL"}


def test_csv_undecodable_bytes_located(tmp_path):
    target = tmp_path / "latin1.csv"
    target.write_bytes(b"id,title\na,ok\nb,Cr\xe8me\n")
    with pytest.raises(DataError, match="0xe8") as info:
        read_catalog(target)
    assert (info.value.path, info.value.line) == (str(target), 3)


def test_csv_undecodable_row_skipped_in_skip_mode(tmp_path):
    target = tmp_path / "latin1.csv"
    target.write_bytes(b"id,title\na,ok\nb,Cr\xe8me\nc,fine\n")
    result = read_catalog(target, on_error="skip")
    assert [p.id for p in result] == ["a", "c"]
    assert result.skipped.errors[0].line == 3


# --------------------------------------------------------------------------- Product.from_dict


def test_product_parsing_variants():
    p = Product.from_dict(
        {
            "id": 123,
            "title": "Skillet",
            "brand": 3,
            "category": "Home > Kitchen >  > Cookware",
            "bullets": ["a", None, 2],
            "attributes": {"size": ["S", "M"], "n": 2, "skip": None},
            "price": "$1,299.50",
            "rating": "4.5",
            "rating_count": "12",
            "vendor": {"x": 1},
        }
    )
    assert p.id == "123" and p.brand == "3"
    assert p.category == ["Home", "Kitchen", "Cookware"]
    assert p.bullets == ["a", "2"]
    assert p.attributes == {"size": "S, M", "n": "2"}
    assert (p.price, p.rating, p.rating_count) == (1299.5, 4.5, 12)
    assert p.extra == {"vendor": {"x": 1}}
    assert p.to_dict()["vendor"] == {"x": 1}


@pytest.mark.parametrize(
    ("record", "field", "fragment"),
    [
        ({"title": "t"}, "id", "is required"),
        ({"id": " ", "title": "t"}, "id", "must not be empty"),
        ({"id": "a\tb", "title": "t"}, "id", "tabs or line breaks"),
        ({"id": True, "title": "t"}, "id", "must be a string"),
        ({"id": "a", "title": 5}, "title", "must be a string"),
        ({"id": "a", "title": "   "}, "title", "must not be empty"),
        ({"id": "a", "title": "t", "price": True}, "price", "boolean"),
        ({"id": "a", "title": "t", "price": "inf"}, "price", "finite"),
        ({"id": "a", "title": "t", "rating_count": 2.5}, "rating_count", "non-negative integer"),
        ({"id": "a", "title": "t", "rating_count": -1}, "rating_count", "non-negative integer"),
        ({"id": "a", "title": "t", "bullets": {"a": 1}}, "bullets", "list of strings"),
        ({"id": "a", "title": "t", "bullets": [["nested"]]}, "bullets", "item 0"),
        ({"id": "a", "title": "t", "attributes": ["x"]}, "attributes", "object"),
        ({"id": "a", "title": "t", "attributes": {"x": {"y": 1}}}, "attributes", "'x'"),
        ({"id": "a", "title": "t", "brand": ["x"]}, "brand", "must be a string"),
        # what cannot be stored as strict JSON in UTF-8: lone surrogates, NaN and infinity, at any depth
        ({"id": "a\ud800b", "title": "t"}, "id", "lone surrogate (U+D800)"),
        ({"id": "a", "title": "a\udc00"}, "title", "lone surrogate (U+DC00)"),
        ({"id": "a", "title": "t", "brand": "\udfff"}, "brand", "lone surrogate"),
        ({"id": "a", "title": "t", "vendor": {"names": ["ok", "x\ud800"]}}, "vendor", "vendor.names[1]: holds a lone"),
        ({"id": "a", "title": "t", "vendor": {"k\ud800": 1}}, "vendor", "the key holds a lone surrogate"),
        ({"id": "a", "title": "t", "k\ud800": 1}, "k\\ud800", "the field name holds a lone surrogate"),
        ({"id": "a", "title": "t", "weight": float("nan")}, "weight", "finite"),
        ({"id": "a", "title": "t", "specs": {"size": [1.0, float("inf")]}}, "specs", "specs.size[1]: must be a finite"),
        ({"id": "a", "title": "t", "attributes": {"w": float("-inf")}}, "attributes", "finite"),
        ({"id": "a", "title": "t", "price": float("nan")}, "price", "finite"),
        # ranges the filters assume
        ({"id": "a", "title": "t", "price": -0.01}, "price", "must not be negative"),
        ({"id": "a", "title": "t", "price": "-5"}, "price", "must not be negative"),
        ({"id": "a", "title": "t", "rating": 5.5}, "rating", "between 0 and 5"),
        ({"id": "a", "title": "t", "rating": -1}, "rating", "between 0 and 5"),
        ({"id": "a", "title": "t", "rating_count": "-3"}, "rating_count", "non-negative integer"),
    ],
)
def test_product_validation_errors(record, field, fragment):
    with pytest.raises(DataError) as info:
        Product.from_dict(record)
    assert info.value.field == field
    assert fragment in info.value.message
    assert info.value.path is None and info.value.line is None


def test_catalog_lookup_and_duplicates():
    cat = Catalog([Product("a", "A"), Product("b", "B")])
    assert "a" in cat and "z" not in cat
    assert cat.row_of("b") == 1 and cat.get("z") is None and cat[1].title == "B"
    with pytest.raises(KeyError):
        cat.row_of("z")
    with pytest.raises(DataError, match=r"duplicate id 'a' \(rows 1 and 2\)"):
        Catalog([Product("a", "A"), Product("a", "B")])


def test_product_bounds_are_inclusive():
    p = Product.from_dict({"id": "a", "title": "t", "price": 0, "rating": 5, "rating_count": 0})
    assert (p.price, p.rating, p.rating_count) == (0.0, 5.0, 0)
    assert Product.from_dict({"id": "a", "title": "t", "rating": 0}).rating == 0.0


def test_deeply_nested_extra_is_checked_without_recursion(tmp_path):
    nested: object = float("nan")
    for _ in range(5_000):
        nested = [nested]
    with pytest.raises(DataError, match="finite") as info:
        Product.from_dict({"id": "a", "title": "t", "deep": nested})
    assert info.value.field == "deep"


@pytest.mark.parametrize(
    ("line", "field", "fragment"),
    [
        ('{"id": "b2", "title": "t", "price": -3}', "price", "must not be negative"),
        ('{"id": "b2", "title": "t", "rating": 7}', "rating", "between 0 and 5"),
        ('{"id": "b2", "title": "t", "specs": {"weight": NaN}}', "specs", "specs.weight: must be a finite"),
        ('{"id": "b2", "title": "t", "specs": [1e400]}', "specs", "finite"),
        ('{"id": "b2", "title": "bad \\ud800 title"}', "title", "lone surrogate"),
    ],
)
def test_catalog_rows_with_unstorable_or_out_of_range_values_are_located(tmp_path, line, field, fragment):
    path = tmp_path / "products.jsonl"
    path.write_text('{"id": "b1", "title": "ok"}\n' + line + '\n{"id": "b3", "title": "ok"}\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_catalog(path)
    assert str(info.value).startswith(f"{path}:2: field '{field}': ") and fragment in str(info.value)
    assert [p.id for p in read_catalog(path, on_error="skip")] == ["b1", "b3"]


def test_csv_rating_out_of_range_is_located(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("id,title,rating\nb1,ok,4.5\nb2,too good,9\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_catalog(path)
    assert str(info.value) == f"{path}:3: field 'rating': must be between 0 and 5, got '9'"


def test_write_catalog_writes_strict_json(tmp_path):
    with pytest.raises(ValueError, match="JSON compliant"):
        write_catalog([Product("a", "A", extra={"x": float("nan")})], tmp_path / "out.jsonl")
