"""OpenMP's wait policy in serving processes (shopmatch.cpu_threads)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shopmatch.cpu_threads import is_serving, quiet_openmp_threads


@pytest.mark.parametrize(
    ("argv", "serving"),
    [
        (["serve", "idx"], True),
        (["demo", "--no-serve"], True),
        (["--verbose", "serve", "idx"], True),
        (["train", "cross-encoder"], False),
        (["index", "products.jsonl", "-o", "serve"], False),
        ([], False),
    ],
)
def test_serving_commands(argv, serving):
    assert is_serving(argv) is serving


def test_sets_passive_unless_the_user_chose():
    env: dict[str, str] = {}
    quiet_openmp_threads(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    chosen = {"OMP_WAIT_POLICY": "ACTIVE"}
    quiet_openmp_threads(chosen)
    assert chosen == {"OMP_WAIT_POLICY": "ACTIVE"}


@pytest.mark.parametrize(("command", "expected"), [("serve", "PASSIVE"), ("train", None)])
def test_the_cli_sets_it_before_torch_loads(command, expected):
    # a fresh interpreter: the CLI module is imported without torch, main() runs on the command
    code = (
        "import os, sys; import shopmatch.cli as cli; "
        "loaded = 'torch' in sys.modules; "
        f"sys.argv = ['shopmatch', {command!r}, '--help']; "
        "cli.app = lambda: None; cli.main(); "
        "print(loaded, os.environ.get('OMP_WAIT_POLICY'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["False", str(expected)]
