"""SearchPipeline: build, search, rerank scoring, save/load round trip of the index directory."""

from __future__ import annotations

import json
import re
from importlib.metadata import version

import numpy as np
import pytest

from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.errors import IndexFormatError
from shopmatch.pipeline import INDEX_FORMAT_VERSION, INDEX_KIND, SearchPipeline
from shopmatch.retrieval.lexical import FieldWeight, LexicalConfig
from tests.conftest import LEXICAL

QUERIES = [
    "galaxy buds P70D20TL-D4",
    "65w usb c charger",
    '12" cast iron skillet',
    "3/4 copper elbow",
    "cordless drill 20v",
    "iphone 15 pro case",
    "mens running shoes",
    "usb c cable",
    "充电器",
    "手机壳",
    "nothing matches this zzz",
]


@pytest.fixture(scope="module")
def loaded(index_dir):
    return SearchPipeline.load(index_dir)


def test_search_results(pipeline, catalog):
    (results,) = pipeline.search("galaxy buds P70D20TL-D4", k=3)
    assert [(r.rank, r.product_id) for r in results] == [(1, "p001"), (2, "p002")]  # only two match
    assert results[0].product == catalog.get("p001").to_dict()
    assert results[0].score > results[1].score > 0
    (many,) = pipeline.search("usb c", k=3)
    assert [r.rank for r in many] == [1, 2, 3]
    assert many[0].score >= many[1].score >= many[2].score > 0
    d = results[0].to_dict()
    assert d.keys() == {"rank", "product_id", "score", "retrievers", "product"}
    assert d["score"] == round(results[0].score, 6)


def test_batch_and_string_queries_agree(pipeline):
    batch = pipeline.search(["usb c cable", "充电器"], k=5)
    assert len(batch) == 2
    assert [r.product_id for r in batch[0]] == [r.product_id for r in pipeline.search("usb c cable", k=5)[0]]
    assert pipeline.search("qqqq zzzz xxxx") == [[]]


def test_search_ids_matches_search(pipeline):
    ids = pipeline.search_ids(QUERIES, k=10)
    full = pipeline.search(QUERIES, k=10)
    for by_id, results in zip(ids, full, strict=True):
        assert by_id == [(r.product_id, r.score) for r in results]


def test_chinese_and_full_width_queries(pipeline):
    assert pipeline.search("小米 充电器", k=1)[0][0].product_id == "p023"
    assert pipeline.search("ＵＳＢ Ｃａｂｌｅ", k=1)[0][0].product_id in {"p006", "p021"}
    assert pipeline.search("iPhone 15 Pro 手机壳", k=1)[0][0].product_id == "p024"


def test_score_candidates(pipeline):
    scores = pipeline.score_candidates("65w charger", ["p004", "nope", "p031", "p005"])
    assert scores.dtype == np.float64 and scores.shape == (4,)
    full = dict(pipeline.search_ids(["65w charger"], k=32)[0])
    assert scores[0] == pytest.approx(full["p004"], rel=1e-6)
    assert scores[1] == -np.inf
    assert scores[2] == 0.0  # not matched
    assert scores[3] == pytest.approx(full["p005"], rel=1e-6)
    assert pipeline.score_candidates("65w charger", ["x", "y"]).tolist() == [-np.inf, -np.inf]
    # candidates are scored on their own, not limited to the global top k
    far = pipeline.search_ids(["charger"], k=32)[0][-1]
    assert pipeline.score_candidates("charger", [far[0]])[0] == pytest.approx(far[1], rel=1e-6)


# --------------------------------------------------------------------------- round trip


def test_round_trip_identical_results(pipeline, loaded):
    assert len(loaded) == len(pipeline) == 32
    for query in QUERIES:
        a, b = pipeline.search(query, k=32)[0], loaded.search(query, k=32)[0]
        assert [(r.product_id, r.rank, r.product) for r in a] == [(r.product_id, r.rank, r.product) for r in b]
        assert [r.score for r in a] == [r.score for r in b]  # bit-identical
    for query in QUERIES[:4]:
        ids = ["p001", "p004", "p021", "p031", "missing"]
        np.testing.assert_array_equal(pipeline.score_candidates(query, ids), loaded.score_candidates(query, ids))


def test_round_trip_records_and_ids(catalog, loaded):
    for row, product in enumerate(catalog):
        assert loaded.products.id_of(row) == product.id
        assert loaded.products.row_of(product.id) == row
        assert loaded.products.record(row) == product.to_dict()
    assert loaded.products.row_of("missing") is None


def test_manifest_contents(index_dir, pipeline):
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == INDEX_KIND == "shopmatch-index"
    assert manifest["format_version"] == INDEX_FORMAT_VERSION == 3
    assert manifest["library"] == "shopmatch"
    assert manifest["library_version"] == version("shopmatch")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["created"])
    assert manifest["products"] == 32
    assert manifest["config"] == pipeline.config.to_dict()
    assert PipelineConfig.from_dict(manifest["config"]) == pipeline.config


def test_index_layout(index_dir):
    names = sorted(str(p.relative_to(index_dir)) for p in index_dir.rglob("*") if p.is_file())
    assert names == [
        "ids.txt",
        "lexical/data.csc.index.npy",
        "lexical/field_lengths.json",
        "lexical/indices.csc.index.npy",
        "lexical/indptr.csc.index.npy",
        "lexical/lexical_config.json",
        "lexical/params.index.json",
        "lexical/user_words.txt",
        "lexical/vocab.index.json",
        "manifest.json",
        "offsets.npy",
        "pinyin/manifest.json",
        "pinyin/pinyin.json",
        "products.jsonl",
        "spelling/brands.txt",
        "spelling/manifest.json",
        "spelling/pairs.tsv",
        "spelling/words.tsv",
        "suggest/manifest.json",
        "suggest/suggest.json",
    ]


def test_field_lengths_are_saved_and_loaded(index_dir, pipeline):
    loaded = SearchPipeline.load(index_dir).retrievers["lexical"].average_lengths
    assert loaded == pytest.approx(pipeline.retrievers["lexical"].average_lengths)
    assert loaded["title"] > 1 and set(loaded) <= set(pipeline.config.lexical.fields)


def test_no_pickle_anywhere(index_dir):
    npys = list(index_dir.rglob("*.npy"))
    assert len(npys) == 4
    for path in npys:
        array = np.load(path, allow_pickle=False)
        assert array.dtype != object
    for path in index_dir.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    for path in index_dir.rglob("*"):
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), f"{path} looks like a pickle"
    lines = (index_dir / "products.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == (index_dir / "ids.txt").read_text().split()


def test_custom_config_survives_round_trip(catalog, tmp_path):
    config = PipelineConfig(
        retrievers=("lexical",),
        lexical=LexicalConfig(
            fields={"title": FieldWeight(1.0, 0.5), "brand": FieldWeight(2.0, 0.0)}, k1=2.0, chinese="char"
        ),
    )
    built = SearchPipeline.build(catalog.products, config)
    loaded = SearchPipeline.load(built.save(tmp_path / "idx"))
    assert loaded.config == config and loaded.retrievers["lexical"].config == config.lexical
    for query in ("voltra charger", "充电器", "samsung buds"):
        a, b = built.search(query, k=10)[0], loaded.search(query, k=10)[0]
        assert [(r.product_id, r.score) for r in a] == [(r.product_id, r.score) for r in b]
    # brand weight 2 with b=0: a brand-only query ranks that brand first
    assert {r.product_id for r in loaded.search("voltra", k=5)[0]} == {"p004", "p005", "p006", "p007", "p021"}


def test_save_overwrites_existing_index(catalog, tmp_path):
    target = tmp_path / "idx"
    SearchPipeline.build(catalog.products[:3], LEXICAL).save(target)
    SearchPipeline.build(catalog.products, LEXICAL).save(target)
    assert len(SearchPipeline.load(target)) == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_loaded_pipeline_cannot_be_saved(loaded, tmp_path):
    with pytest.raises(ValueError, match="build it again"):
        loaded.save(tmp_path / "copy")


def test_empty_pipeline_round_trip(tmp_path):
    loaded = SearchPipeline.load(SearchPipeline.build([], LEXICAL).save(tmp_path / "empty"))
    assert len(loaded) == 0 and loaded.search("anything") == [[]]


def test_unicode_ids_round_trip(tmp_path):
    products = [Product("商品 1", "红色 杯子"), Product("é/2", "red mug"), Product("3", "line\u2028sep mug")]
    loaded = SearchPipeline.load(SearchPipeline.build(products, LEXICAL).save(tmp_path / "idx"))
    assert [loaded.products.id_of(i) for i in range(3)] == ["商品 1", "é/2", "3"]
    assert loaded.search("杯子")[0][0].product_id == "商品 1"
    assert loaded.products.record(2)["title"] == "line\u2028sep mug"


# --------------------------------------------------------------------------- load errors


def test_load_missing_directory(tmp_path):
    with pytest.raises(IndexFormatError, match="no such directory"):
        SearchPipeline.load(tmp_path / "nope")


def test_load_not_an_index(tmp_path):
    (tmp_path / "stuff.txt").write_text("x")
    with pytest.raises(IndexFormatError, match="not a shopmatch shopmatch-index"):
        SearchPipeline.load(tmp_path)


def _copy_index(index_dir, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(index_dir, target)
    return target


def _edit_manifest(path, **changes):
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(changes)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_load_newer_format_version(index_dir, tmp_path):
    target = _copy_index(index_dir, tmp_path)
    _edit_manifest(target, format_version=INDEX_FORMAT_VERSION + 1, library_version="9.9.9")
    with pytest.raises(IndexFormatError) as info:
        SearchPipeline.load(target)
    message = str(info.value)
    assert "format version 4" in message and "reads up to version 3" in message
    assert "9.9.9" in message and str(target) in message


def test_load_older_format_version_is_fine(index_dir, tmp_path):
    target = _copy_index(index_dir, tmp_path)
    _edit_manifest(target, format_version=0)
    assert len(SearchPipeline.load(target)) == 32


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"kind": "shopmatch-model"}, "is a 'shopmatch-model', expected a 'shopmatch-index'"),
        ({"format_version": "1"}, "format_version is missing or not an integer"),
        ({"format_version": None}, "format_version is missing or not an integer"),
    ],
)
def test_load_wrong_manifest(index_dir, tmp_path, changes, fragment):
    target = _copy_index(index_dir, tmp_path)
    _edit_manifest(target, **changes)
    with pytest.raises(IndexFormatError, match=re.escape(fragment)):
        SearchPipeline.load(target)


def test_load_damaged_manifest(index_dir, tmp_path):
    target = _copy_index(index_dir, tmp_path)
    (target / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFormatError, match="damaged manifest"):
        SearchPipeline.load(target)


def test_load_manifest_not_an_object(index_dir, tmp_path):
    target = _copy_index(index_dir, tmp_path)
    (target / "manifest.json").write_text("[]")
    with pytest.raises(IndexFormatError):
        SearchPipeline.load(target)


def test_load_index_missing_lexical_dir(index_dir, tmp_path):
    import shutil

    target = _copy_index(index_dir, tmp_path)
    shutil.rmtree(target / "lexical")
    with pytest.raises(IndexFormatError):
        SearchPipeline.load(target)
