"""Evaluation reports: per-query comparisons, markdown/HTML/JSON output, plots, escaping, the output directory."""

from __future__ import annotations

import doctest
import json
import re
import struct
from pathlib import Path

import pytest

import shopmatch.eval.report as report_module
from shopmatch.errors import ShopmatchError
from shopmatch.eval.evaluator import EvalResult
from shopmatch.eval.report import compare_runs, read_results, write_report
from shopmatch.eval.significance import compare_paired
from shopmatch.judgments import Judgment, Judgments, MergeReport

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# baseline and run NDCG@10 per query, chosen so every delta is distinct except the planned ties:
#   q01 +0.50  q02 -0.30  q03  0     q04 +0.10  q05 -0.60  q06 +0.50 (ties q01; ordered by id)
#   q07  0     q08 -0.05  q09 +0.90  q10 -0.30 (ties q02 but for float noise)  q11 +1e-12 (unchanged)
BASE = {
    "q01": 0.25,
    "q02": 0.8,
    "q03": 0.5,
    "q04": 0.4,
    "q05": 0.9,
    "q06": 0.0,
    "q07": 1.0,
    "q08": 0.55,
    "q09": 0.1,
    "q10": 0.7,
    "q11": 0.3,
}
NEW = {
    "q01": 0.75,
    "q02": 0.5,
    "q03": 0.5,
    "q04": 0.5,
    "q05": 0.3,
    "q06": 0.5,
    "q07": 1.0,
    "q08": 0.5,
    "q09": 1.0,
    "q10": 0.4,
    "q11": 0.3 + 1e-12,
}
TEXTS = {q: f"query number {q[1:]}" for q in BASE}
TEXTS["q05"] = "<script>alert('x')</script> & mugs"


def _judgments(texts=TEXTS) -> Judgments:
    return Judgments([Judgment(q, text, f"p-{q}", "E") for q, text in texts.items()])


def _result(ndcg: dict[str, float], mode: str = "retrieval") -> EvalResult:
    mrr = {q: min(1.0, v + 0.1) for q, v in ndcg.items()}
    per_query = {"ndcg@10": dict(ndcg), "mrr@10": mrr}
    metrics = {m: sum(v.values()) / len(v) for m, v in per_query.items()}
    return EvalResult(mode, metrics, per_query, len(ndcg), {q: [f"p-{q}"] for q in ndcg}, "E=1,S=0.1,C=0.01,I=0")


@pytest.fixture
def two_runs(tmp_path):
    results = {"bm25": _result(BASE), "hybrid": _result(NEW)}
    report = write_report(results, _judgments(), tmp_path / "report", baseline="bm25", top=3)
    return report, results


# --------------------------------------------------------------------------- comparison


def test_counts_and_order():
    c = compare_runs(_result(NEW), _result(BASE), _judgments(), run="hybrid", baseline_name="bm25", top=10)
    assert (c.better, c.worse, c.unchanged, c.missing) == (4, 4, 3, 0)
    assert [d.query_id for d in c.improved] == ["q09", "q01", "q06", "q04"]
    assert [round(d.delta, 9) for d in c.improved] == [0.9, 0.5, 0.5, 0.1]
    assert [d.query_id for d in c.worsened] == ["q05", "q02", "q10", "q08"]
    assert [round(d.delta, 9) for d in c.worsened] == [-0.6, -0.3, -0.3, -0.05]
    worst = c.worsened[0]
    assert (worst.query, worst.baseline, worst.value) == (TEXTS["q05"], 0.9, 0.3)
    # every query, largest gain first
    assert [d.query_id for d in c.deltas] == [
        "q09",
        "q01",
        "q06",
        "q04",
        "q03",
        "q07",
        "q11",
        "q08",
        "q02",
        "q10",
        "q05",
    ]


def test_top_limits_lists_not_counts():
    c = compare_runs(_result(NEW), _result(BASE), _judgments(), top=2)
    assert [d.query_id for d in c.improved] == ["q09", "q01"]
    assert [d.query_id for d in c.worsened] == ["q05", "q02"]
    assert (c.better, c.worse, c.unchanged) == (4, 4, 3)


def test_queries_in_one_run_only_are_left_out(caplog):
    partial = {q: v for q, v in NEW.items() if q not in ("q09", "q05")}
    c = compare_runs(_result(partial), _result(BASE), _judgments())
    assert c.missing == 2 and len(c.deltas) == 9
    assert (c.better, c.worse, c.unchanged) == (3, 3, 3)
    assert "2 queries are in only one of" in caplog.text
    assert c.significance["ndcg@10"].queries == 9


def test_missing_metric():
    no_ndcg = EvalResult("retrieval", {}, {"mrr@10": {"q01": 1.0}}, 1)
    with pytest.raises(ValueError, match="run 'run' has no per-query ndcg@10"):
        compare_runs(no_ndcg, _result(BASE), _judgments())


def test_significance_of_every_metric():
    c = compare_runs(_result(NEW), _result(BASE), _judgments())
    assert list(c.significance) == ["ndcg@10", "mrr@10"]
    for metric, tested in c.significance.items():
        assert tested == compare_paired(_result(BASE).per_query[metric], _result(NEW).per_query[metric])
    assert c.to_dict()["significance"]["ndcg@10"] == c.significance["ndcg@10"].to_dict()
    # a metric only one run has is not tested
    only_ndcg = EvalResult("retrieval", {}, {"ndcg@10": dict(BASE)}, 11)
    assert list(compare_runs(_result(NEW), only_ndcg, _judgments()).significance) == ["ndcg@10"]


# --------------------------------------------------------------------------- report files


def test_significance_in_markdown_html_and_json(tmp_path):
    # "tuned" gains 0.05 on 10 queries and ties on q07 (at 1.0 already): of the 2**11 sign flips only
    # all-plus and all-minus (times the tie's two signs) are as extreme -> p = 4 / 2048. A bootstrap
    # mean is 0.05 * (11 - k) / 11 with k ~ Binomial(11, 1/11) picks of the tie: P(k >= 4) = 0.014 and
    # P(k >= 3) = 0.072, so the 2.5th percentile is k = 3 (0.05 * 8/11); P(k = 0) = 0.35 puts the 97.5th at 0.05.
    tuned = {q: min(1.0, v + 0.05) for q, v in BASE.items()}
    results = {"bm25": _result(BASE), "hybrid": _result(NEW), "tuned": _result(tuned)}
    report = write_report(results, _judgments(), tmp_path / "r", baseline="bm25")
    t = report.comparisons["tuned"].significance["ndcg@10"]
    assert t.p_value == pytest.approx(4 / 2048) and t.significant
    assert (t.ci_low, t.ci_high) == pytest.approx((0.05 * 8 / 11, 0.05))
    assert (t.improved, t.worsened, t.tied) == (10, 0, 1)
    assert not report.comparisons["hybrid"].significance["ndcg@10"].significant

    text = report.markdown_path.read_text()
    assert "changes against it in brackets, \\* where significant (p < 0.05)" in text
    new, base = results["tuned"].metrics["ndcg@10"], results["bm25"].metrics["ndcg@10"]
    assert f"| tuned | retrieval | 11 | {new:.4f} ({new - base:+.4f}\\*) |" in text
    hybrid = results["hybrid"].metrics["ndcg@10"]
    assert f"| hybrid | retrieval | 11 | {hybrid:.4f} ({hybrid - base:+.4f}) |" in text  # no star
    section = text.split("## tuned against bm25")[1]
    assert "| metric | baseline | run | Δ | 95% CI | p | significant | better | worse | tied |" in section
    assert "| ndcg@10 | 0.5000 | 0.5455 | +0.0455 | \\[+0.0364, +0.0500\\] | 0.0020 | yes | 10 | 0 | 1 |" in section
    assert "paired bootstrap over the 11 queries (10,000 resamples, seed 0)" in section

    page = report.html_path.read_text()
    tuned_page = page.split("tuned against bm25")[1]
    assert '<td>[+0.0364, +0.0500]</td><td>0.0020</td><td class="better">yes</td>' in tuned_page
    assert '<td class="better">' not in page.split("hybrid against bm25")[1].split("Most improved")[0]

    data = json.loads((report.directory / "report.json").read_text())
    tested = data["comparisons"]["tuned"]["significance"]["ndcg@10"]
    assert tested["significant"] is True and tested["p_value"] == pytest.approx(4 / 2048)
    assert (tested["improved"], tested["worsened"], tested["tied"], tested["queries"]) == (10, 0, 1, 11)
    assert data["comparisons"]["hybrid"]["significance"]["mrr@10"]["significant"] is False


def test_merged_judgments_are_noted(tmp_path):
    judged = _judgments()
    judged.merged = MergeReport("mean", pairs=5, rows=11)
    report = write_report({"bm25": _result(BASE)}, judged, tmp_path / "r")
    note = "Judgments: 5 (query, product) pairs rated more than once (11 rows) averaged."
    assert note in report.markdown_path.read_text() and note in report.html_path.read_text()
    data = json.loads((report.directory / "report.json").read_text())
    assert data["judgments"]["merged"] == {"policy": "mean", "pairs": 5, "rows": 11}
    plain = write_report({"bm25": _result(BASE)}, _judgments(), tmp_path / "plain")
    assert "Judgments:" not in plain.markdown_path.read_text()
    assert json.loads((plain.directory / "report.json").read_text())["judgments"]["merged"] is None


def test_files(two_runs):
    report, _ = two_runs
    names = sorted(str(p.relative_to(report.directory)) for p in report.directory.rglob("*") if p.is_file())
    assert names == [
        "manifest.json",
        "plots/metrics.png",
        "plots/ndcg_delta.png",
        "report.html",
        "report.json",
        "report.md",
    ]
    assert not [p for p in report.directory.parent.iterdir() if p.name.startswith(".report")]  # no temporary left
    assert report.directory.stat().st_mode & 0o777 == 0o755  # readable by a web server, unlike mkdtemp's 0700


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert data[12:16] == b"IHDR" and data[-8:-4] == b"IEND"
    return struct.unpack(">II", data[16:24])


def test_plots_are_png(two_runs):
    report, _ = two_runs
    width, height = _png_size(report.directory / "plots" / "metrics.png")
    assert width >= 600 and height >= 400
    width, height = _png_size(report.directory / "plots" / "ndcg_delta.png")
    assert width >= 600 and height >= 300


def test_markdown(two_runs):
    report, results = two_runs
    text = report.markdown_path.read_text()
    assert "| run | mode | queries | ndcg@10 | mrr@10 |" in text
    base, new = results["bm25"].metrics["ndcg@10"], results["hybrid"].metrics["ndcg@10"]
    assert f"| bm25 — baseline | retrieval | 11 | {base:.4f} |" in text
    assert f"| hybrid | retrieval | 11 | {new:.4f} ({new - base:+.4f}) |" in text
    ndcg = compare_paired(BASE, NEW)
    assert ndcg.p_value > 0.05
    assert (
        "4 of 11 queries better, 4 worse, 3 unchanged (NDCG@10 against bm25); "
        f"Δ {ndcg.delta:+.4f}, 95% CI \\[{ndcg.ci_low:+.4f}, {ndcg.ci_high:+.4f}\\], p = {ndcg.p_value:.4f}: "
        "not significant at α = 0.05."
    ) in text
    improved = text.split("### Most improved (top 3)")[1].split("###")[0]
    rows = [line for line in improved.splitlines() if re.match(r"\| q\d", line)]
    assert rows == [
        "| q09 | query number 09 | 0.1000 | 1.0000 | +0.9000 |",
        "| q01 | query number 01 | 0.2500 | 0.7500 | +0.5000 |",
        "| q06 | query number 06 | 0.0000 | 0.5000 | +0.5000 |",
    ]
    worsened = text.split("### Most worsened (top 3)")[1].split("##")[0]
    rows = [line.split(" | ")[0] for line in worsened.splitlines() if re.match(r"\| q\d", line)]
    assert rows == ["| q05", "| q02", "| q10"]
    # user text cannot inject markup into the markdown either
    assert "<script>" not in text
    assert "&lt;script&gt;alert('x')&lt;/script&gt; &amp; mugs" in text
    assert "![metrics per run](plots/metrics.png)" in text
    assert "![per-query NDCG@10 change](plots/ndcg_delta.png)" in text


def test_html_escapes_user_text(tmp_path):
    texts = dict(TEXTS, q09='"><img src=x onerror=alert(1)>')
    results = {"<b>bm25</b>": _result(BASE), "hybrid": _result(NEW)}
    report = write_report(results, _judgments(texts), tmp_path / "r", baseline="<b>bm25</b>", title="<i>t</i>")
    page = report.html_path.read_text()
    assert "<script>" not in page and "<img src=x" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; mugs" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<title>&lt;i&gt;t&lt;/i&gt;</title>" in page
    assert "<h2>hybrid against &lt;b&gt;bm25&lt;/b&gt;</h2>" in page
    # the only tags are the page's own
    tags = set(re.findall(r"<([a-z0-9]+)[\s>]", page))
    assert tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "strong", "table"} | {
        "tr",
        "th",
        "td",
        "img",
    }


def test_html_content(two_runs):
    report, _ = two_runs
    page = report.html_path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and 'charset="utf-8"' in page
    assert '<img src="plots/metrics.png"' in page and '<img src="plots/ndcg_delta.png"' in page
    assert "http://" not in page and "https://" not in page  # self-contained
    assert "4 of 11 queries better, 4 worse, 3 unchanged" in page
    improved = page.split("Most improved (top 3)")[1].split("Most worsened")[0]
    assert re.findall(r'<td class="text">(q\d+)</td>', improved) == ["q09", "q01", "q06"]
    assert '<td class="better">+0.9000</td>' in improved
    worsened = page.split("Most worsened (top 3)")[1]
    assert re.findall(r'<td class="text">(q\d+)</td>', worsened) == ["q05", "q02", "q10"]
    assert '<td class="worse">-0.6000</td>' in worsened


def test_json_round_trip(two_runs):
    report, results = two_runs
    data = json.loads((report.directory / "report.json").read_text())
    assert data["kind"] == "shopmatch-report" and data["format_version"] == 1
    assert data["baseline"] == "bm25" and list(data["runs"]) == ["bm25", "hybrid"]
    c = data["comparisons"]["hybrid"]
    assert (c["better"], c["worse"], c["unchanged"]) == (4, 4, 3)
    assert [q["query_id"] for q in c["improved"]] == ["q09", "q01", "q06"]
    assert c["worsened"][0] == pytest.approx(
        {"query_id": "q05", "query": TEXTS["q05"], "baseline": 0.9, "run": 0.3, "delta": -0.6}
    )
    assert data["plots"] == {"metrics": "plots/metrics.png", "ndcg_delta": "plots/ndcg_delta.png"}
    back = read_results(report.directory)
    assert list(back) == ["bm25", "hybrid"]
    for name, result in results.items():
        assert back[name].metrics == result.metrics  # exact: floats survive JSON
        assert back[name].per_query == result.per_query
        assert (back[name].mode, back[name].queries, back[name].gains) == (result.mode, result.queries, result.gains)
    manifest = json.loads((report.directory / "manifest.json").read_text())
    assert manifest["kind"] == "shopmatch-report" and manifest["runs"] == ["bm25", "hybrid"]


def test_single_run_without_baseline(tmp_path):
    report = write_report({"bm25": _result(BASE)}, _judgments(), tmp_path / "r")
    assert sorted(p.name for p in (report.directory / "plots").iterdir()) == ["metrics.png"]
    text = report.markdown_path.read_text()
    assert "No baseline: this report shows one run only" in text
    assert "Most improved" not in text and "ndcg_delta" not in text
    assert "| bm25 | retrieval | 11 |" in text
    page = report.html_path.read_text()
    assert "No baseline: this report shows one run only" in page and "ndcg_delta" not in page
    data = json.loads((report.directory / "report.json").read_text())
    assert data["baseline"] is None and data["comparisons"] == {} and "ndcg_delta" not in data["plots"]


def test_three_runs_each_compared(tmp_path):
    other = {q: min(1.0, v + 0.05) for q, v in BASE.items()}
    results = {"bm25": _result(BASE), "hybrid": _result(NEW), "tuned": _result(other)}
    report = write_report(results, _judgments(), tmp_path / "r", baseline="bm25")
    assert list(report.comparisons) == ["hybrid", "tuned"]
    tuned = report.comparisons["tuned"]
    assert (tuned.better, tuned.worse, tuned.unchanged) == (10, 0, 1)  # q07 is at 1.0 already
    _png_size(report.directory / "plots" / "ndcg_delta.png")


def test_mixed_metrics_show_a_dash(tmp_path):
    rerank = EvalResult("rerank", {"ndcg@10": 0.5}, {"ndcg@10": dict(BASE)}, 11)
    retrieval = EvalResult("retrieval", {"ndcg@10": 0.6, "recall@100": 0.7}, {"ndcg@10": dict(NEW)}, 11)
    report = write_report({"a": rerank, "b": retrieval}, _judgments(), tmp_path / "r")
    text = report.markdown_path.read_text()
    assert "| a | rerank | 11 | 0.5000 | – |" in text
    assert "| b | retrieval | 11 | 0.6000 | 0.7000 |" in text
    assert "No baseline was chosen" in text


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="at least one run"):
        write_report({}, _judgments(), tmp_path / "r")
    with pytest.raises(ValueError, match="baseline 'nope' is not one of the runs: bm25"):
        write_report({"bm25": _result(BASE)}, _judgments(), tmp_path / "r", baseline="nope")
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- output directory


def test_replaces_an_earlier_report(two_runs):
    report, _ = two_runs
    again = write_report({"bm25": _result(BASE)}, _judgments(), report.directory)
    assert not (again.directory / "plots" / "ndcg_delta.png").exists()  # nothing stale kept
    assert json.loads((again.directory / "report.json").read_text())["baseline"] is None


def test_never_replaces_other_directories(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    with pytest.raises(ShopmatchError, match="is not empty and not a shopmatch report"):
        write_report({"bm25": _result(BASE)}, _judgments(), precious)
    assert (precious / "thesis.txt").read_text() == "do not delete"
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ShopmatchError, match="exists and is not a directory"):
        write_report({"bm25": _result(BASE)}, _judgments(), afile)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (write_report({"bm25": _result(BASE)}, _judgments(), empty).directory / "report.md").is_file()


def test_dollar_signs_in_names_do_not_break_plots(tmp_path):
    report = write_report({"$5 $x^": _result(BASE), "b": _result(NEW)}, _judgments(), tmp_path / "r", baseline="$5 $x^")
    _png_size(report.directory / "plots" / "metrics.png")
    _png_size(report.directory / "plots" / "ndcg_delta.png")


def test_many_queries_plot(tmp_path):
    base = {f"q{i:04d}": (i % 7) / 7 for i in range(1500)}
    new = {q: (v + 0.3) % 1.0 for q, v in base.items()}
    texts = {q: f"query {q}" for q in base}
    report = write_report({"a": _result(base), "b": _result(new)}, _judgments(texts), tmp_path / "r", baseline="a")
    c = report.comparisons["b"]
    assert c.better + c.worse + c.unchanged == 1500 and len(c.improved) == 10
    _png_size(report.directory / "plots" / "ndcg_delta.png")


def test_doctests():
    assert doctest.testmod(report_module).failed == 0
