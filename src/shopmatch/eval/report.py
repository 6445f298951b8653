"""Evaluation reports: metric tables, per-query NDCG@10 changes against a baseline, plots.

:func:`write_report` writes a report directory::

    report.md          metric table; per run against the baseline: whether each metric's change is
                       significant (Δ, 95% interval, p, queries better/worse), the queries that
                       got better/worse
    report.html        the same as one self-contained page (inline CSS, plots linked relatively)
    report.json        every number: metrics and per-query values of each run, the comparisons
    plots/metrics.png  grouped bar chart, one group per metric, one bar per run
    plots/ndcg_delta.png  per-query NDCG@10 change against the baseline, sorted (only with a baseline)
    manifest.json      kind ``shopmatch-report``, format version

Significance (:mod:`shopmatch.eval.significance`): every metric both runs have per query is
compared query by query; Δ is the mean change, the interval a seeded paired bootstrap, p a
two-sided paired randomization test, and a change is significant when p < 0.05. The metric
table marks significant changes with ``*``.

The directory is written to a temporary sibling and renamed into place. Every text that can
come from a user (query texts, run names, the title) is HTML-escaped in the page and in the
markdown, so a query such as ``<script>`` shows as text.

Example:
    >>> import tempfile, pathlib
    >>> from shopmatch.eval.evaluator import EvalResult
    >>> from shopmatch.judgments import Judgment, Judgments
    >>> j = Judgments([Judgment("q1", "red mug", "a", "E"), Judgment("q2", "blue mug", "b", "E")])
    >>> base = EvalResult("retrieval", {"ndcg@10": 0.5}, {"ndcg@10": {"q1": 0.0, "q2": 1.0}}, 2)
    >>> new = EvalResult("retrieval", {"ndcg@10": 1.0}, {"ndcg@10": {"q1": 1.0, "q2": 1.0}}, 2)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> report = write_report({"bm25": base, "hybrid": new}, j, out, baseline="bm25")
    >>> c = report.comparisons["hybrid"]
    >>> (c.better, c.worse, c.unchanged), c.improved[0].query_id
    ((1, 0, 1), 'q1')
    >>> c.significance["ndcg@10"].p_value   # changes (+1, 0): every sign flip is as far from 0
    1.0
"""

from __future__ import annotations

import html
import json
import logging
import math
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopmatch.errors import ShopmatchError
from shopmatch.eval.evaluator import EvalResult
from shopmatch.eval.significance import (
    DEFAULT_ALPHA,
    DEFAULT_RESAMPLES,
    PairedComparison,
    compare_metrics,
    format_interval,
    format_p,
)
from shopmatch.judgments import Judgments, MergeReport
from shopmatch.store import MANIFEST, atomic_directory, library_version, write_manifest

logger = logging.getLogger(__name__)

REPORT_KIND = "shopmatch-report"
REPORT_FORMAT_VERSION = 1
DELTA_METRIC = "ndcg@10"
TOLERANCE = 1e-9
"""Per-query changes at most this large (in absolute value) count as unchanged."""

_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
_BETTER, _WORSE, _SAME = "#2e7d32", "#c62828", "#9e9e9e"


@dataclass(frozen=True)
class QueryDelta:
    """One query's metric in the baseline run and in the compared run."""

    query_id: str
    query: str
    baseline: float
    value: float

    @property
    def delta(self) -> float:
        return self.value - self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "query": self.query,
            "baseline": self.baseline,
            "run": self.value,
            "delta": self.delta,
        }


@dataclass
class Comparison:
    """Per-query changes of one run against the baseline run.

    Attributes:
        run: Name of the compared run.
        baseline: Name of the baseline run.
        metric: The per-query metric compared (``ndcg@10``).
        deltas: Every query both runs have, largest gain first (ties by query id).
        better, worse, unchanged: Query counts (``|delta| <= TOLERANCE`` is unchanged).
        improved: The ``top`` queries that gained most, largest gain first.
        worsened: The ``top`` queries that lost most, largest loss first.
        missing: Queries only one of the two runs has (not compared).
        significance: Metric → paired comparison over the shared queries, for every metric
            both runs have per query.
    """

    run: str
    baseline: str
    metric: str
    deltas: list[QueryDelta]
    better: int
    worse: int
    unchanged: int
    improved: list[QueryDelta]
    worsened: list[QueryDelta]
    missing: int = 0
    significance: dict[str, PairedComparison] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "baseline": self.baseline,
            "metric": self.metric,
            "better": self.better,
            "worse": self.worse,
            "unchanged": self.unchanged,
            "missing": self.missing,
            "improved": [d.to_dict() for d in self.improved],
            "worsened": [d.to_dict() for d in self.worsened],
            "significance": {m: c.to_dict() for m, c in self.significance.items()},
        }


@dataclass
class Report:
    """What :func:`write_report` wrote (also in ``report.json``)."""

    directory: Path
    title: str
    results: dict[str, EvalResult]
    baseline: str | None
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    merged: MergeReport | None = None
    """How the judgments merged pairs rated more than once (``Judgments.merged``)."""

    @property
    def html_path(self) -> Path:
        return self.directory / "report.html"

    @property
    def markdown_path(self) -> Path:
        return self.directory / "report.md"


def compare_runs(
    result: EvalResult,
    baseline: EvalResult,
    judgments: Judgments,
    *,
    run: str = "run",
    baseline_name: str = "baseline",
    metric: str = DELTA_METRIC,
    top: int = 10,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    alpha: float = DEFAULT_ALPHA,
) -> Comparison:
    """Per-query ``metric`` changes of ``result`` against ``baseline``, and the significance of
    the change in every metric both runs have per query.

    Args:
        result: The run to compare.
        baseline: The run compared against.
        judgments: Where the query texts come from.
        run, baseline_name: Names used in the report.
        metric: A metric both runs have per query.
        top: How many most improved / most worsened queries to keep.
        resamples, seed, alpha: Passed to :func:`~shopmatch.eval.significance.compare_paired`.

    Returns:
        A :class:`Comparison`.

    Raises:
        ValueError: ``metric`` is missing from one of the runs.

    Example:
        >>> from shopmatch.judgments import Judgment, Judgments
        >>> j = Judgments([Judgment("q1", "mug", "a", "E"), Judgment("q2", "cup", "b", "E")])
        >>> old = EvalResult("retrieval", {}, {"ndcg@10": {"q1": 0.2, "q2": 0.9}}, 2)
        >>> new = EvalResult("retrieval", {}, {"ndcg@10": {"q1": 0.7, "q2": 0.4}}, 2)
        >>> c = compare_runs(new, old, j)
        >>> c.better, c.worse, [d.query for d in c.worsened]
        (1, 1, ['cup'])
        >>> c.significance["ndcg@10"].p_value   # +0.5 and -0.5: no change on average
        1.0
    """
    for name, res in ((run, result), (baseline_name, baseline)):
        if metric not in res.per_query:
            raise ValueError(f"run {name!r} has no per-query {metric}")
    mine, theirs = result.per_query[metric], baseline.per_query[metric]
    shared = sorted(mine.keys() & theirs.keys())
    missing = len(mine.keys() ^ theirs.keys())
    if missing:
        logger.warning(
            "%d queries are in only one of %r and %r; they are left out of the comparison", missing, run, baseline_name
        )
    deltas = [QueryDelta(q, judgments.queries.get(q, ""), float(theirs[q]), float(mine[q])) for q in shared]
    # rounded keys: changes equal but for float noise (0.5 - 0.8 vs 0.4 - 0.7) tie, and ties go by query id
    deltas.sort(key=lambda d: (-round(d.delta, 9), d.query_id))
    better = [d for d in deltas if d.delta > TOLERANCE]
    worse = sorted((d for d in deltas if d.delta < -TOLERANCE), key=lambda d: (round(d.delta, 9), d.query_id))
    return Comparison(
        run=run,
        baseline=baseline_name,
        metric=metric,
        deltas=deltas,
        better=len(better),
        worse=len(worse),
        unchanged=len(deltas) - len(better) - len(worse),
        improved=better[:top],
        worsened=worse[:top],
        missing=missing,
        significance=compare_metrics(baseline.per_query, result.per_query, resamples=resamples, seed=seed, alpha=alpha),
    )


def write_report(
    results: Mapping[str, EvalResult],
    judgments: Judgments,
    out_dir: str | Path,
    *,
    baseline: str | None = None,
    title: str = "shopmatch evaluation report",
    top: int = 10,
) -> Report:
    """Write ``report.md``, ``report.html``, ``report.json`` and ``plots/`` into ``out_dir``.

    Args:
        results: Run name → evaluation of that run (at least one), in the order to show them.
        judgments: The judgments the runs were evaluated on (for query texts).
        out_dir: The report directory; created, or replaced if it holds an earlier report.
        baseline: Name of the run (a key of ``results``) every other run is compared with,
            query by query on NDCG@10; ``None`` for no comparison.
        title: Heading of the report.
        top: How many most improved / most worsened queries to list per run.

    Returns:
        The :class:`Report` written.

    Raises:
        ValueError: no runs, or ``baseline`` is not one of them.
        ShopmatchError: ``out_dir`` exists, is not empty and is not an earlier report
            (it is never replaced then).

    Example:
        >>> import tempfile, pathlib
        >>> from shopmatch.judgments import Judgment, Judgments
        >>> j = Judgments([Judgment("q1", "mug", "a", "E")])
        >>> only = EvalResult("retrieval", {"ndcg@10": 1.0}, {"ndcg@10": {"q1": 1.0}}, 1)
        >>> r = write_report({"bm25": only}, j, pathlib.Path(tempfile.mkdtemp()) / "r")
        >>> sorted(p.name for p in r.directory.iterdir())
        ['manifest.json', 'plots', 'report.html', 'report.json', 'report.md']
    """
    if not results:
        raise ValueError("write_report needs at least one run")
    if baseline is not None and baseline not in results:
        raise ValueError(f"baseline {baseline!r} is not one of the runs: {', '.join(results)}")
    out_dir = Path(out_dir)
    _check_replaceable(out_dir)
    results = dict(results)
    modes = {r.mode for r in results.values()}
    if len(modes) > 1:
        logger.warning("the runs were evaluated in different modes (%s); compare with care", ", ".join(sorted(modes)))
    comparisons = {}
    if baseline is not None:
        for name, result in results.items():
            if name != baseline:
                comparisons[name] = compare_runs(
                    result, results[baseline], judgments, run=name, baseline_name=baseline, top=top
                )
    report = Report(out_dir, title, results, baseline, comparisons, judgments.merged)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with atomic_directory(out_dir) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; a report is meant to be read and served
        (tmp / "plots").mkdir()
        plots = {"metrics": "plots/metrics.png"}
        _plot_metrics(results, tmp / plots["metrics"])
        if comparisons:
            plots["ndcg_delta"] = "plots/ndcg_delta.png"
            _plot_deltas(list(comparisons.values()), tmp / plots["ndcg_delta"])
        data = _report_json(report, created, plots)
        (tmp / "report.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "report.md").write_text(_markdown(report, created, plots), encoding="utf-8")
        (tmp / "report.html").write_text(_html(report, created, plots), encoding="utf-8")
        write_manifest(
            tmp,
            kind=REPORT_KIND,
            format_version=REPORT_FORMAT_VERSION,
            config={"title": title, "baseline": baseline, "top": top},
            runs=list(results),
        )
    logger.info("wrote report %s (%d runs, baseline %s)", out_dir, len(results), baseline)
    return report


def read_results(report_dir: str | Path) -> dict[str, EvalResult]:
    """The runs of a report directory back as :class:`EvalResult` (without the ranked lists).

    Example:
        >>> import tempfile, pathlib
        >>> from shopmatch.judgments import Judgment, Judgments
        >>> only = EvalResult("retrieval", {"ndcg@10": 0.5}, {"ndcg@10": {"q1": 0.5}}, 1)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "r"
        >>> _ = write_report({"bm25": only}, Judgments([Judgment("q1", "mug", "a", "E")]), path)
        >>> read_results(path)["bm25"].per_query == only.per_query
        True
    """
    data = json.loads((Path(report_dir) / "report.json").read_text(encoding="utf-8"))
    return {
        name: EvalResult(run["mode"], run["metrics"], run["per_query"], run["queries"], gains=run["gains"])
        for name, run in data["runs"].items()
    }


# --------------------------------------------------------------------------- output directory


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a directory that holds anything but an earlier report."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ShopmatchError(f"{out_dir}: exists and is not a directory")
    if not any(out_dir.iterdir()):
        return
    try:
        kind = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        kind = None
    if kind != REPORT_KIND:
        raise ShopmatchError(f"{out_dir}: is not empty and not a shopmatch report; choose another report directory")


# --------------------------------------------------------------------------- numbers


def _metric_names(results: Mapping[str, EvalResult]) -> list[str]:
    names: list[str] = []
    for result in results.values():
        names.extend(m for m in result.metrics if m not in names)
    return names


def _fmt(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _signed(value: float) -> str:
    return "±0.0000" if abs(value) <= TOLERANCE else f"{value:+.4f}"


def _metric_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the metric table (plain text, not escaped); changes against the baseline in brackets."""
    names = _metric_names(report.results)
    base = report.results.get(report.baseline) if report.baseline else None
    rows = []
    for run, result in report.results.items():
        cells = [run + (" — baseline" if run == report.baseline else ""), result.mode, str(result.queries)]
        for name in names:
            value = result.metrics.get(name)
            cell = _fmt(value)
            if base is not None and run != report.baseline and value is not None and name in base.metrics:
                tested = report.comparisons[run].significance.get(name) if run in report.comparisons else None
                cell += f" ({_signed(value - base.metrics[name])}{'*' if tested and tested.significant else ''})"
            cells.append(cell)
        rows.append(cells)
    return ["run", "mode", "queries", *names], rows


def _delta_rows(deltas: Sequence[QueryDelta]) -> list[list[str]]:
    return [[d.query_id, d.query, _fmt(d.baseline), _fmt(d.value), _signed(d.delta)] for d in deltas]


_DELTA_HEADER = ["query id", "query", "baseline NDCG@10", "run NDCG@10", "delta"]


def _significance_header(c: Comparison) -> list[str]:
    level = next(iter(c.significance.values())).confidence if c.significance else 1 - DEFAULT_ALPHA
    return ["metric", "baseline", "run", "Δ", f"{level:.0%} CI", "p", "significant", "better", "worse", "tied"]


def _significance_rows(c: Comparison) -> list[list[str]]:
    return [
        [
            metric,
            _fmt(t.baseline_mean),
            _fmt(t.system_mean),
            _signed(t.delta),
            format_interval(t.ci_low, t.ci_high),
            format_p(t.p_value),
            "yes" if t.significant else "no",
            str(t.improved),
            str(t.worsened),
            str(t.tied),
        ]
        for metric, t in c.significance.items()
    ]


def _significance_note(c: Comparison) -> str:
    first = next(iter(c.significance.values()), None)
    if first is None:
        return "No metric has per-query values in both runs: nothing to test."
    return (
        f"Δ: mean per-query change against {c.baseline}; CI: paired bootstrap over the {first.queries} queries "
        f"({first.resamples:,} resamples, seed {first.seed}); p: two-sided paired randomization test; "
        f"significant when p < {first.alpha:g}."
    )


def _merged_note(report: Report) -> str | None:
    if report.merged is None or not report.merged.pairs:
        return None
    return f"Judgments: {report.merged}."


def _report_json(report: Report, created: str, plots: Mapping[str, str]) -> dict[str, Any]:
    return {
        "kind": REPORT_KIND,
        "format_version": REPORT_FORMAT_VERSION,
        "library_version": library_version(),
        "created": created,
        "title": report.title,
        "baseline": report.baseline,
        "delta_metric": DELTA_METRIC,
        "runs": {
            name: {
                "mode": r.mode,
                "gains": r.gains,
                "queries": r.queries,
                "metrics": r.metrics,
                "per_query": r.per_query,
            }
            for name, r in report.results.items()
        },
        "comparisons": {name: c.to_dict() for name, c in report.comparisons.items()},
        "judgments": {"merged": report.merged.to_dict() if report.merged else None},
        "plots": dict(plots),
    }


def _summary(c: Comparison) -> str:
    total = c.better + c.worse + c.unchanged
    text = (
        f"{c.better} of {total} queries better, {c.worse} worse, {c.unchanged} unchanged (NDCG@10 against {c.baseline})"
    )
    if c.missing:
        text += f"; {c.missing} queries in only one of the two runs were left out"
    tested = c.significance.get(c.metric)
    if tested is not None:
        verdict = "significant" if tested.significant else "not significant"
        text += (
            f"; Δ {tested.delta:+.4f}, {tested.confidence:.0%} CI {format_interval(tested.ci_low, tested.ci_high)}, "
            f"p {format_p(tested.p_value, clause=True)}: {verdict} at α = {tested.alpha:g}"
        )
    return text


def _no_baseline_note(report: Report) -> str | None:
    if report.baseline is not None:
        return None
    if len(report.results) == 1:
        return "No baseline: this report shows one run only, with no per-query comparison."
    return "No baseline was chosen: the runs are not compared query by query."


# --------------------------------------------------------------------------- markdown


def _md_escape(text: str) -> str:
    """Table-cell safe markdown: HTML entities for ``<>&``, backslashes before markdown punctuation."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    for char in "\\`*_[]|":
        text = text.replace(char, "\\" + char)
    return text


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(_md_escape(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return lines


def _markdown(report: Report, created: str, plots: Mapping[str, str]) -> str:
    lines = [f"# {_md_escape(report.title)}", "", f"Written {created} by shopmatch {library_version()}.", ""]
    note = _no_baseline_note(report)
    if note:
        lines += [note, ""]
    else:
        lines += [
            f"Baseline: **{_md_escape(report.baseline)}**; changes against it in brackets, "
            "\\* where significant (p < 0.05).",
            "",
        ]
    merged = _merged_note(report)
    if merged:
        lines += [_md_escape(merged), ""]
    lines += ["## Metrics", ""]
    header, rows = _metric_rows(report)
    lines += _md_table(header, rows, right_from=2)
    lines += ["", f"![metrics per run]({plots['metrics']})", ""]
    for c in report.comparisons.values():
        lines += [f"## {_md_escape(c.run)} against {_md_escape(c.baseline)}", "", _md_escape(_summary(c)) + ".", ""]
        lines += ["### Significance", "", _md_escape(_significance_note(c)), ""]
        if c.significance:
            lines += _md_table(_significance_header(c), _significance_rows(c), right_from=1) + [""]
        for heading, chosen, empty in (
            (f"Most improved (top {len(c.improved)})", c.improved, "No query got better."),
            (f"Most worsened (top {len(c.worsened)})", c.worsened, "No query got worse."),
        ):
            lines += [f"### {heading}", ""]
            lines += (_md_table(_DELTA_HEADER, _delta_rows(chosen), right_from=2) if chosen else [empty]) + [""]
    if "ndcg_delta" in plots:
        lines += ["## Per-query NDCG@10 change", "", f"![per-query NDCG@10 change]({plots['ndcg_delta']})", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; margin: 2rem auto;
       max-width: 68rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; }
.meta, .note { color: #59636e; } .note { background: #f6f8fa; border-left: 4px solid #d0d7de; padding: .5rem 1rem; }
table { border-collapse: collapse; margin: .8rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: right; vertical-align: top; }
th { background: #f6f8fa; } td.text, th.text { text-align: left; }
td.query { max-width: 34rem; overflow-wrap: anywhere; }
td.better { color: #1a7f37; font-weight: 600; } td.worse { color: #cf222e; font-weight: 600; }
img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    text_columns: int = 1,
    classes: Sequence[str] = (),
    *,
    row_classes: Sequence[str] = (),
    column: int = -1,
) -> str:
    """A table; ``classes`` gives each column's cells a class, ``row_classes`` one cell (``column``) per row."""

    def cls(i: int, cell: bool = True, extra: str = "") -> str:
        names = ["text"] if i < text_columns else []
        if cell and i < len(classes) and classes[i]:
            names.append(classes[i])
        if cell and extra and i == column:
            names.append(extra)
        return f' class="{" ".join(names)}"' if names else ""

    out = ["<table>", "<tr>" + "".join(f"<th{cls(i, False)}>{_e(h)}</th>" for i, h in enumerate(header)) + "</tr>"]
    for r, row in enumerate(rows):
        extra = row_classes[r] if r < len(row_classes) else ""
        out.append("<tr>" + "".join(f"<td{cls(i, extra=extra)}>{_e(c)}</td>" for i, c in enumerate(row)) + "</tr>")
    return "\n".join([*out, "</table>"])


def _html(report: Report, created: str, plots: Mapping[str, str]) -> str:
    body = [
        f"<h1>{_e(report.title)}</h1>",
        f'<p class="meta">Written {_e(created)} by shopmatch {_e(library_version())}.</p>',
    ]
    note = _no_baseline_note(report)
    if note:
        body.append(f'<p class="note">{_e(note)}</p>')
    else:
        body.append(
            f"<p>Baseline: <strong>{_e(report.baseline)}</strong>; changes against it in brackets, "
            "* where significant (p &lt; 0.05).</p>"
        )
    merged = _merged_note(report)
    if merged:
        body.append(f"<p>{_e(merged)}</p>")
    header, rows = _metric_rows(report)
    body += ["<h2>Metrics</h2>", _html_table(header, rows, text_columns=2)]
    body.append(f'<p><img src="{_e(plots["metrics"])}" alt="bar chart of the metrics per run"></p>')
    for c in report.comparisons.values():
        body += [f"<h2>{_e(c.run)} against {_e(c.baseline)}</h2>", f"<p>{_e(_summary(c))}.</p>"]
        body += ["<h3>Significance</h3>", f'<p class="meta">{_e(_significance_note(c))}</p>']
        if c.significance:
            rows = _significance_rows(c)
            kinds = [
                "better" if t.significant and t.delta > 0 else "worse" if t.significant else ""
                for t in c.significance.values()
            ]
            body.append(_html_table(_significance_header(c), rows, text_columns=1, row_classes=kinds, column=6))
        for heading, chosen, empty, kind in (
            (f"Most improved (top {len(c.improved)})", c.improved, "No query got better.", "better"),
            (f"Most worsened (top {len(c.worsened)})", c.worsened, "No query got worse.", "worse"),
        ):
            body.append(f"<h3>{_e(heading)}</h3>")
            if chosen:
                classes = ["", "query", "", "", kind]
                body.append(_html_table(_DELTA_HEADER, _delta_rows(chosen), text_columns=2, classes=classes))
            else:
                body.append(f"<p>{_e(empty)}</p>")
    if "ndcg_delta" in plots:
        body += [
            "<h2>Per-query NDCG@10 change</h2>",
            f'<p><img src="{_e(plots["ndcg_delta"])}" alt="per-query NDCG@10 change against the baseline"></p>',
        ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(report.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- plots


def _label(text: str) -> str:
    """Matplotlib treats ``$...$`` as mathtext; show dollars as dollars."""
    return text.replace("$", r"\$")


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas: no display, no pyplot global state
    return fig


def _save(fig, path: Path) -> None:
    fig.savefig(path, format="png", metadata={"Software": None})


def _plot_metrics(results: Mapping[str, EvalResult], path: Path) -> None:
    """Grouped bars: one group per metric, one bar per run, values written on the bars."""
    names = _metric_names(results)
    runs = list(results)
    width = 0.8 / len(runs)
    fig = _figure(max(6.0, 1.2 + len(names) * (0.5 + 0.45 * len(runs))), 4.2)
    ax = fig.add_subplot()
    for i, run in enumerate(runs):
        xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(names))]
        values = [results[run].metrics.get(n, math.nan) for n in names]
        bars = ax.bar(xs, values, width * 0.92, label=_label(run), color=_COLORS[i % len(_COLORS)])
        ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=7 if len(runs) > 2 else 8, padding=2)
    ax.set_xticks(range(len(names)), [n.upper() for n in names])
    top = max([1.0, *(v for r in results.values() for v in r.metrics.values() if math.isfinite(v))])
    ax.set_ylim(0, top * 1.12)
    ax.set_ylabel("mean over queries")
    ax.set_title("Metrics per run")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=min(len(runs), 3), frameon=False, fontsize=8)
    _save(fig, path)


def _plot_deltas(comparisons: Sequence[Comparison], path: Path) -> None:
    """One panel per compared run: per-query NDCG@10 change against the baseline, largest gain first."""
    fig = _figure(8.0, 1.0 + 2.9 * len(comparisons))
    axes = fig.subplots(len(comparisons), 1, squeeze=False)[:, 0]
    for ax, c in zip(axes, comparisons, strict=True):
        deltas = [d.delta for d in c.deltas]
        xs = list(range(1, len(deltas) + 1))
        colors = [_BETTER if v > TOLERANCE else _WORSE if v < -TOLERANCE else _SAME for v in deltas]
        if len(deltas) <= 400:
            ax.bar(xs, deltas, width=1.0 if len(deltas) > 60 else 0.8, color=colors, linewidth=0)
        else:  # thousands of bars draw slowly and alias; a filled step curve looks the same
            ax.fill_between(xs, deltas, 0, where=[v > 0 for v in deltas], color=_BETTER, step="mid", linewidth=0)
            ax.fill_between(xs, deltas, 0, where=[v < 0 for v in deltas], color=_WORSE, step="mid", linewidth=0)
        ax.axhline(0, color="#444444", linewidth=0.8)
        ax.set_xlim(0.5, max(len(deltas), 1) + 0.5)
        ax.set_ylim(-1.05, 1.05)
        ax.set_ylabel("Δ NDCG@10")
        title = f"{c.run} vs {c.baseline}: {c.better} better, {c.worse} worse, {c.unchanged} unchanged"
        tested = c.significance.get(c.metric)
        if tested is not None:
            title += f"; Δ {tested.delta:+.4f}, p {format_p(tested.p_value, clause=True)}"
        ax.set_title(_label(textwrap.fill(title, 95)), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1].set_xlabel("queries, sorted by change")
    _save(fig, path)
