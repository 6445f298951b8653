"""Shared fixtures. No network: Hugging Face libraries are forced offline before anything imports them."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import tempfile  # noqa: E402

# Exported ONNX models go to a cache; the tests use their own, never the user's.
os.environ["SHOPMATCH_CACHE"] = tempfile.mkdtemp(prefix="shopmatch-test-cache-")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups for ``pytest -n N --dist loadgroup`` (``make test``): a module's tests run on one
    worker (its module fixtures are built once); every test that reads the demo index joins one
    group, run first, so ``shopmatch demo`` (the slowest fixture) is built once, not per worker."""
    for item in items:
        group = "demo" if "demo_run" in getattr(item, "fixturenames", ()) else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: "demo_run" not in getattr(item, "fixturenames", ()))


def _lexical_config():
    from shopmatch.config import PipelineConfig

    return PipelineConfig(retrievers=("lexical",))


LEXICAL = _lexical_config()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random sentence-transformers model directory (2 layers, 32 dimensions)."""
    from tests.tiny_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_hybrid_config(tiny_model):
    """Hybrid BM25F + dense pipeline config on the tiny model (int8 ONNX, exact index)."""
    from shopmatch.config import PipelineConfig

    return PipelineConfig.from_dict({"dense": {"model": str(tiny_model), "quantization": "avx2"}})


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The tests/fixtures directory."""
    return FIXTURES


@pytest.fixture(scope="session")
def catalog(fixtures):
    """The fixture catalog (32 products, English, Chinese, full-width, one minimal)."""
    from shopmatch.catalog import read_catalog

    return read_catalog(fixtures / "catalog" / "products.jsonl")


@pytest.fixture(scope="session")
def judgments(fixtures):
    from shopmatch.judgments import read_judgments

    return read_judgments(fixtures / "catalog" / "judgments.tsv")


@pytest.fixture(scope="session")
def pipeline(catalog):
    """The fixture catalog indexed in memory, lexical stage only (built once)."""
    from shopmatch.pipeline import SearchPipeline

    return SearchPipeline.build(catalog.products, LEXICAL)


@pytest.fixture(scope="session")
def index_dir(pipeline, tmp_path_factory) -> Path:
    """The fixture pipeline saved to disk once; tests must not modify it."""
    return pipeline.save(tmp_path_factory.mktemp("index") / "fixture-index")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """`shopmatch demo --index-dir DIR` run once for the whole session (about two minutes on two cores)."""
    from typer.testing import CliRunner

    from shopmatch.cli import app

    target = tmp_path_factory.mktemp("demo") / "demo-index"
    result = CliRunner().invoke(app, ["demo", "--no-serve", "--index-dir", str(target)])
    return result, target
