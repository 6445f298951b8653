"""store.py: manifests, format versions, atomic directory writes (also through SearchPipeline.save)."""

from __future__ import annotations

import json

import pytest

from shopmatch.errors import IndexFormatError
from shopmatch.pipeline import SearchPipeline
from shopmatch.store import atomic_directory, library_version, read_manifest, write_manifest
from tests.conftest import LEXICAL


def _leftovers(parent, name):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def test_write_and_read_manifest(tmp_path):
    written = write_manifest(tmp_path, kind="thing", format_version=3, config={"a": [1, "二"]}, rows=7)
    on_disk = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == written
    assert on_disk["kind"] == "thing" and on_disk["format_version"] == 3 and on_disk["rows"] == 7
    assert on_disk["config"] == {"a": [1, "二"]}
    assert on_disk["library"] == "shopmatch" and on_disk["library_version"] == library_version()
    assert read_manifest(tmp_path, kind="thing", supported_version=3) == written
    assert "二" in (tmp_path / "manifest.json").read_text(encoding="utf-8")


def test_read_manifest_newer_version_names_both(tmp_path):
    write_manifest(tmp_path, kind="thing", format_version=5, config={})
    with pytest.raises(IndexFormatError) as info:
        read_manifest(tmp_path, kind="thing", supported_version=4)
    assert "format version 5" in str(info.value) and "reads up to version 4" in str(info.value)
    assert read_manifest(tmp_path, kind="thing", supported_version=6)["format_version"] == 5


def test_read_manifest_missing(tmp_path):
    with pytest.raises(IndexFormatError, match="no such directory"):
        read_manifest(tmp_path / "x", kind="thing", supported_version=1)
    with pytest.raises(IndexFormatError, match=r"not a shopmatch thing \(no manifest.json\)"):
        read_manifest(tmp_path, kind="thing", supported_version=1)


def test_atomic_directory_success(tmp_path):
    target = tmp_path / "idx"
    with atomic_directory(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        assert not target.exists()  # nothing visible until the block ends
        (tmp / "a.txt").write_text("new")
    assert (target / "a.txt").read_text() == "new"
    assert _leftovers(tmp_path, "idx") == []


def test_atomic_directory_replaces(tmp_path):
    target = tmp_path / "idx"
    with atomic_directory(target) as tmp:
        (tmp / "old.txt").write_text("old")
    with atomic_directory(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert _leftovers(tmp_path, "idx") == []


def test_atomic_directory_exception_keeps_previous(tmp_path):
    target = tmp_path / "idx"
    with atomic_directory(target) as tmp:
        (tmp / "keep.txt").write_text("previous")
    with pytest.raises(RuntimeError, match="boom"), atomic_directory(target) as tmp:
        (tmp / "keep.txt").write_text("half-written")
        (tmp / "more.txt").write_text("x")
        raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]
    assert (target / "keep.txt").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]  # no temp dirs behind


def test_atomic_directory_keyboard_interrupt_cleans_up(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_directory(tmp_path / "idx") as tmp:
        (tmp / "x").write_text("x")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_no_overwrite(tmp_path):
    target = tmp_path / "idx"
    target.mkdir()
    with pytest.raises(FileExistsError), atomic_directory(target, overwrite=False):
        pytest.fail("must not get here")
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_directory_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "idx"
    with atomic_directory(target) as tmp:
        (tmp / "f").write_text("1")
    assert (target / "f").read_text() == "1"


def test_failed_pipeline_save_leaves_previous_index(catalog, tmp_path, monkeypatch):
    target = tmp_path / "idx"
    first = SearchPipeline.build(catalog.products[:5], LEXICAL)
    first.save(target)
    before = SearchPipeline.load(target).search_ids(["galaxy buds"], k=5)
    bigger = SearchPipeline.build(catalog.products, LEXICAL)

    def crash(directory):
        (directory / "partial.npy").mkdir(parents=True)
        raise OSError("disk full")

    monkeypatch.setattr(bigger.retrievers["lexical"], "save", crash)
    with pytest.raises(OSError, match="disk full"):
        bigger.save(target)
    again = SearchPipeline.load(target)
    assert len(again) == 5
    assert again.search_ids(["galaxy buds"], k=5) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]
