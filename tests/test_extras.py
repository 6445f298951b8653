"""Extras per feature family: the core works without them; a missing one is named, never a bare
ModuleNotFoundError (each case runs in a fresh interpreter with the extra's packages blocked)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shopmatch.extras import EXTRAS, MissingExtra, require


def run_without(blocked: tuple[str, ...], code: str, cwd=None) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter in which importing any of ``blocked`` fails."""
    prelude = (
        "import importlib.abc, sys\n"
        "class Blocked(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        f"        if name.split('.')[0] in {blocked!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Blocked())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, timeout=300, cwd=cwd
    )


HEAVY = ("torch", "sentence_transformers", "transformers", "onnxruntime", "faiss", "gensim", "datasets", "fastapi")


def test_require_names_the_extra():
    require("parquet", "reading Parquet catalogs")  # installed here: no error
    with pytest.raises(MissingExtra, match=r"pip install 'shopmatch\[serve\]'") as info:
        require("serve", "the HTTP service", ("no_such_module_xyz",))
    assert isinstance(info.value, ImportError)
    assert set(EXTRAS) >= {"semantic", "serve", "train", "baselines", "parquet", "milvus"}


def test_the_core_indexes_searches_and_evaluates_without_any_extra(fixtures):
    done = run_without(
        HEAVY,
        f"""
        from shopmatch import PipelineConfig, SearchPipeline, evaluate_retrieval, read_catalog, read_judgments
        from shopmatch.judgments import GainMap
        products = read_catalog({str(fixtures / "catalog" / "products.jsonl")!r}).products
        pipeline = SearchPipeline.build(products, PipelineConfig(retrievers=("lexical",)))
        assert pipeline.search("usb c cable", k=3)[0]
        judged = read_judgments({str(fixtures / "catalog" / "judgments.tsv")!r})
        print(round(evaluate_retrieval(pipeline, judged, GainMap.esci()).metrics["ndcg@10"], 3))
        assert not [m for m in sys.modules if m in {HEAVY!r}]
        """,
    )
    assert done.returncode == 0, done.stderr


def test_the_default_hybrid_pipeline_names_the_semantic_extra(fixtures):
    done = run_without(
        ("torch", "sentence_transformers"),
        f"""
        from shopmatch import SearchPipeline, read_catalog
        products = read_catalog({str(fixtures / "catalog" / "products.jsonl")!r}).products
        SearchPipeline.build(products)
        """,
    )
    assert done.returncode != 0
    assert "the bi-encoder needs the optional dependency 'torch', which is not installed" in done.stderr
    assert "pip install 'shopmatch[semantic]'" in done.stderr


@pytest.mark.parametrize(
    ("blocked", "args", "extra"),
    [
        (("fastapi",), ["serve", "INDEX"], "serve"),
        (("datasets",), ["train", "cross-encoder", "--catalog", "C", "--judgments", "J", "-o", "OUT"], "train"),
        (("gensim",), ["train", "baseline", "--kind", "linear", "--pairs", "P", "-o", "OUT"], "baselines"),
        (("pymilvus",), ["index", "CATALOG", "-o", "OUT", "--milvus-uri", "x.db"], "milvus"),
    ],
)
def test_commands_name_the_missing_extra(index_dir, blocked, args, extra):
    catalog = str(Path(__file__).parent / "fixtures" / "catalog" / "products.jsonl")
    args = [str(index_dir) if a == "INDEX" else catalog if a == "CATALOG" else a for a in args]
    done = run_without(blocked, f"from shopmatch.cli import main\nsys.argv = ['shopmatch', *{args!r}]\nmain()")
    assert done.returncode == 2, done.stderr + done.stdout
    assert f"pip install 'shopmatch[{extra}]'" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_the_serving_path_imports_nothing_of_training():
    done = run_without(
        (),
        """
        import shopmatch.cli.serve, shopmatch.service.app, shopmatch.pipeline, shopmatch.search
        import shopmatch.backends.inprocess.live
        loaded = sorted(m for m in sys.modules if m.startswith(("shopmatch.train", "shopmatch.baselines")))
        assert not loaded, loaded
        """,
    )
    assert done.returncode == 0, done.stderr
