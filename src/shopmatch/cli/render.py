"""Tables the commands print: ranked results, metrics, training summaries, pipeline descriptions."""

from __future__ import annotations

from rich.table import Table


def describe_pipeline(config) -> str:
    """A short description of the stages, e.g. ``lexical + dense (int8 ONNX), rrf``."""
    from shopmatch.retrieval.registry import retriever_class

    text = " + ".join(retriever_class(name).describe(config) for name in config.retrievers)
    if len(config.retrievers) > 1:
        text += f", {config.fusion.method} fusion"
    if config.rerank.enabled:
        text += f", top {config.rerank.top_n} re-ranked by {config.rerank.model} ({config.rerank.backend})"
    return text


def results_table(query: str, results) -> Table:
    table = Table(title=f"“{query}”", title_justify="left")
    columns = [("#", "right"), ("score", "right"), ("id", "left"), ("title", "left"), ("brand", "left")]
    fused = bool(results) and len(results[0].sources) > 1
    if fused:
        columns.append(("ranks by retriever", "left"))
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")
    for r in results:
        title = r.product.get("title", "")
        cells = [
            str(r.rank),
            f"{r.score:.3f}" if fused else f"{r.score:.2f}",
            r.product_id,
            title[:90] + ("…" if len(title) > 90 else ""),
            str(r.product.get("brand") or ""),
        ]
        if fused:
            cells.append(" ".join(f"{n} {s['rank'] or '–'}" for n, s in r.sources.items()))
        table.add_row(*cells)
    return table


def metrics_table(title: str, results: dict, caption: str | None = None) -> Table:
    names = list(next(iter(results.values())).metrics)
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    table.add_column("run")
    for name in names:
        table.add_column(name, justify="right")
    for label, result in results.items():
        table.add_row(label, *(f"{result.metrics[n]:.4f}" for n in names))
    return table


def significance_table(title: str, comparisons: dict) -> Table:
    """One row per metric: Δ, the bootstrap interval, p, whether significant, and how many queries
    got better, worse, or stayed the same (``+/−/=``; one column so the table fits 80 columns)."""
    from shopmatch.eval.significance import format_interval, format_p

    first = next(iter(comparisons.values()), None)
    if first is None:
        return Table(title=title, title_justify="left", caption="no metric to compare", caption_justify="left")
    caption = (
        f"Δ: mean per-query change; CI: paired bootstrap ({first.resamples:,} resamples); p: paired "
        f"randomization test; significant when p < {first.alpha:g}; +/−/=: queries better, worse, tied"
    )
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    table.add_column("metric", no_wrap=True)
    for name in ("Δ", f"{first.confidence:.0%} CI", "p", "significant", "+/−/="):
        table.add_column(name, justify="right", no_wrap=True)
    for metric, c in comparisons.items():
        table.add_row(
            metric,
            f"{c.delta:+.4f}",
            format_interval(c.ci_low, c.ci_high),
            format_p(c.p_value),
            "yes" if c.significant else "no",
            f"{c.improved}/{c.worsened}/{c.tied}",
        )
    return table
