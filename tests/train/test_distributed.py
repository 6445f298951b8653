"""Data-parallel training on CPUs: ``torchrun`` with two processes (gloo) makes the same kind of
model directory as one process — the same files, loadable, with a summary written once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist
from typer.testing import CliRunner

from shopmatch.cli import app
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="this torch build has no torch.distributed with the gloo backend (needed for CPU data parallelism)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def commands(fixtures: Path, model: Path, out: Path) -> list[list[str]]:
    data = ["--catalog", str(fixtures / "catalog" / "products.jsonl"),
            "--judgments", str(fixtures / "catalog" / "judgments.tsv"), "--dev-fraction", "0.25", "--device", "cpu",
            "--model", str(model), "--epochs", "1", "--mine-with", "lexical"]  # fmt: skip
    return [
        ["train", "cross-encoder", *data, "--batch-size", "4", "--max-length", "32", "--negatives", "2",
         "--extend-vocab", "-o", str(out / "reranker")],
        ["train", "bi-encoder", *data, "--batch-size", "2", "--patience", "1", "-o", str(out / "bi-encoder")],
    ]  # fmt: skip


def files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def test_two_processes_make_the_model_directory_one_process_makes(fixtures, tiny_model, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for args in commands(fixtures, tiny_model, one):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    script = Path(__file__).with_name("commands.py")
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
              "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
              str(script), json.dumps(commands(fixtures, tiny_model, two))]  # fmt: skip
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert done.stdout.count("summary: ") == 2  # each command reported once (the main process), not per process
    for name in ("reranker", "bi-encoder"):
        assert files(two / name) == files(one / name)
        summaries = [json.loads((d / name / "training_summary.json").read_text()) for d in (one, two)]
        assert [s["data"]["processes"] for s in summaries] == [1, 2]
        assert all("dev_ndcg@10" in e for s in summaries for e in s["epochs"])
        assert summaries[1]["best_epoch"] == 1
        assert not (two / f"{name}.checkpoints").exists()
    assert files(two / "reranker.vocab") == files(one / "reranker.vocab")  # written by the main process
    from sentence_transformers import CrossEncoder, SentenceTransformer

    assert CrossEncoder(str(two / "reranker")).predict([("usb c cable", "USB-C cable")]).shape == (1,)
    assert SentenceTransformer(str(two / "bi-encoder"), device="cpu").encode(["usb c cable"]).shape == (1, 32)
