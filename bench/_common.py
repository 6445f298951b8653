"""Helpers shared by the benchmark scripts in ``bench/``.

- :func:`machine_header`: markdown lines naming the machine and library versions, printed
  above every table (see ``../shared/docs/benchmarks.md``).
- :func:`percentiles`, :func:`median_of_runs`: latency summaries (ms) and the median over runs.
- :func:`markdown_table`: a GitHub markdown table.
- :func:`data_dir`, :func:`skip_if_missing`: where the shared data sets live
  (``../shared/data``, or ``$SHOPMATCH_DATA``) and a polite check for absent files.
- :func:`write_json`: a script's results as JSON (``--json``), folders created.
- :func:`significance_columns`, :data:`SIGNIFICANCE_HEADERS`: the cells that say whether a
  system's difference from a baseline is significant (Δ, 95% CI, p, yes/no, better/worse),
  from :func:`shopmatch.eval.significance.compare_paired`.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("shopmatch", "bm25s", "numpy", "numba", "scipy", "ranx", "jieba", "rank_bm25")


def data_dir() -> Path:
    """The shared data folder: ``$SHOPMATCH_DATA`` or ``<repo>/../shared/data``."""
    override = os.environ.get("SHOPMATCH_DATA")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


def skip_if_missing(path: str | Path, what: str = "") -> bool:
    """True if ``path`` exists; otherwise print why the part that needs it is skipped."""
    path = Path(path)
    if path.exists():
        return True
    label = f"{what}: " if what else ""
    print(f"\n> {label}skipped, `{path}` does not exist.\n", flush=True)
    return False


def _read_key(path: str, key: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return None


def _git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev}{' + uncommitted src changes' if dirty else ''}"


def machine_info() -> dict[str, Any]:
    """Date, CPU, memory, Python and library versions (what :func:`machine_header` prints)."""
    mem_kb = _read_key("/proc/meminfo", "MemTotal")
    versions: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": _read_key("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "ram_gib": round(int(mem_kb.split()[0]) / 2**20, 1) if mem_kb else None,
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "git": _git_revision(),
        "versions": versions,
    }


def machine_header(info: Mapping[str, Any] | None = None) -> list[str]:
    """Markdown lines describing the machine, to print above the tables."""
    info = info or machine_info()
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
    return [
        f"- date: {info['date']}",
        f"- machine: nproc={info['nproc']}, CPU {info['cpu']}, RAM {info['ram_gib']} GiB, "
        f"load average at start {info['loadavg']}",
        f"- Python {info['python']} ({sys.executable})",
        f"- shopmatch commit: {info['git']}",
        f"- versions: {versions}",
    ]


def percentiles(samples_seconds: Sequence[float] | np.ndarray) -> dict[str, float]:
    """p50 and p99 of latency samples given in seconds, in milliseconds."""
    ms = np.asarray(samples_seconds, dtype=np.float64) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def alternating_search_times(
    pipelines: Mapping[str, Any], texts: Sequence[str], rounds: int
) -> dict[str, list[float]]:
    """Seconds per whole search (``search_pages``) of each text under each named pipeline, the
    pipelines taking turns query by query (so both see the same machine load), ``rounds`` times."""
    from shopmatch.query import Query

    times: dict[str, list[float]] = {label: [] for label in pipelines}
    for _ in range(rounds):
        for text in texts:
            for label, pipe in pipelines.items():
                started = time.perf_counter()
                pipe.search_pages([Query(text)])
                times[label].append(time.perf_counter() - started)
    return times


def median_of_runs(
    fn: Callable[[], Mapping[str, float]], runs: int = 5
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Call ``fn`` ``runs`` times; return the median of each metric and the per-run values."""
    per_run = [dict(fn()) for _ in range(max(runs, 1))]
    medians = {key: float(statistics.median(run[key] for run in per_run)) for key in per_run[0]}
    return medians, per_run


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table; floats are printed with 3 significant decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 100 else f"{value:,.1f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB.

    Reads ``VmHWM``, which starts afresh at ``exec``; ``ru_maxrss`` does not (a child keeps
    the high-water mark of the parent it was forked from), so it is only the fallback.
    """
    value = _read_key("/proc/self/status", "VmHWM")
    if value:
        return int(value.split()[0]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mib() -> float:
    """Current resident set size of this process (``VmRSS``), in MiB."""
    value = _read_key("/proc/self/status", "VmRSS")
    return int(value.split()[0]) / 1024 if value else float("nan")


def write_json(path: Path | None, data: Any) -> None:
    """Write ``data`` to ``path`` as indented JSON (numpy numbers as floats); nothing when ``None``."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=float), encoding="utf-8")


SIGNIFICANCE_HEADERS = ("Δ", "95% CI", "p", "significant", "better/worse")
"""Headers of the cells :func:`significance_columns` returns, in order."""


def significance_columns(
    a_per_query: Mapping[str, float] | Sequence[float],
    b_per_query: Mapping[str, float] | Sequence[float],
    **options: Any,
) -> list[str]:
    """Table cells for system ``b`` against baseline ``a`` on one metric, paired by query.

    Args:
        a_per_query, b_per_query: Per-query values (query id → value, or sequences in the same
            query order), e.g. ``EvalResult.per_query["ndcg@10"]`` of each system.
        **options: ``resamples``, ``seed``, ``alpha`` for ``compare_paired``.

    Returns:
        Cells under :data:`SIGNIFICANCE_HEADERS`, e.g.
        ``["+0.0123", "[+0.0031, +0.0210]", "0.0040", "yes", "31/12"]``.

    Example:
        >>> significance_columns([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
        ['+1.0000', '[+1.0000, +1.0000]', '0.2500', 'no', '3/0']
    """
    from shopmatch.eval.significance import compare_paired, format_interval, format_p

    c = compare_paired(a_per_query, b_per_query, **options)
    return [
        f"{c.delta:+.4f}",
        format_interval(c.ci_low, c.ci_high),
        format_p(c.p_value),
        "yes" if c.significant else "no",
        f"{c.improved}/{c.worsened}",
    ]


def cached_ranker_rows(stem: str, pipeline: Any, judgments: Any, gains: Any) -> Any:
    """The training rows ``shopmatch train ranker --judgments`` extracts for ``judgments`` — the
    base features and the groups it adds for this index (category intent where the index has an
    intent model) — cached as ``bench/data/{stem}[-group…].npz`` (delete it after changing features)."""
    from shopmatch.rank.feature_groups import default_groups
    from shopmatch.rank.training import RankingData, ranking_data

    groups = default_groups(pipeline.snapshot)
    path = REPO_ROOT / "bench" / "data" / f"{stem}{''.join('-' + g.name for g in groups)}.npz"
    if path.exists():
        return RankingData.load(str(path), feature_groups=groups)
    print(
        f"> {stem}: features of {len(judgments.query_ids)} queries (groups: {[g.name for g in groups]}) …",
        file=sys.stderr,
        flush=True,
    )
    data = ranking_data(pipeline, judgments, gains, feature_groups=groups)
    path.parent.mkdir(parents=True, exist_ok=True)
    data.save(str(path))
    return data
