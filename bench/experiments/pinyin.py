"""Chinese query understanding on zh-ecom-query-item: pinyin queries, traditional queries, the jieba user dictionary.

Usage::

    python bench/experiments/pinyin.py [--no-default] [--dev-only] [--json FILE]

The catalog and judgments are built as ``bench/quality.py::zh_query_item`` does (the distinct
titles; the distinct queries with a label-1 title). Each query is asked four ways:

- **Chinese**: as written;
- **full pinyin**: each jieba word of the query as its pinyin syllables joined (``大落地窗`` →
  ``da luodichuang``), Latin letters and digits as written;
- **initials**: the first letter of every syllable, one word for the whole query (``dldc``);
- **traditional**: folded to traditional characters (OpenCC ``s2t``).

Systems: BM25F alone (``retrievers = ["lexical"]``) and the default pipeline (BM25F + MiniLM,
RRF), each with pinyin rewriting on (the default) and off. Every figure is NDCG@10 in retrieval
mode, compared with the same system's figure for the Chinese queries (paired bootstrap, 95%).

The user dictionary (``[lexical] user_dict``) is compared on the Chinese queries: ``off``,
``brands`` (the default; zh-ecom-query-item has titles only, so this is the same as ``off``
there) and ``brands+terms``. Its default is chosen on a separate collection, zh-qbqtc
(``test.tsv``: web query–title pairs, label ≥ 1 relevant), never on zh-ecom-query-item; the
``--dev-only`` flag runs only that choice. Nothing else here has a threshold set from these queries:
the pinyin rules (fewest pieces, most products, initials of two letters or more) were fixed
before measuring.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import SIGNIFICANCE_HEADERS, data_dir, markdown_table, significance_columns, write_json  # noqa: E402
from quality import zh_query_item  # noqa: E402

from shopmatch.catalog import Product  # noqa: E402
from shopmatch.config import PipelineConfig  # noqa: E402
from shopmatch.eval.evaluator import evaluate_retrieval  # noqa: E402
from shopmatch.judgments import GainMap, Judgment, Judgments, read_pairs  # noqa: E402
from shopmatch.pipeline import SearchPipeline  # noqa: E402
from shopmatch.query.pinyin import PinyinConfig  # noqa: E402
from shopmatch.text.chinese import CJK_RUN, segmenter  # noqa: E402

GAINS = "offset=0"  # numeric labels: gain = label; relevant = label 1


def full_pinyin(query: str) -> str:
    """Each jieba word of the Chinese runs as its joined pinyin syllables; the rest as written."""
    from pypinyin import lazy_pinyin

    out: list[str] = []
    position = 0
    for match in CJK_RUN.finditer(query):
        out.append(query[position : match.start()])
        out.extend(f" {''.join(lazy_pinyin(w))} " for w in segmenter().cut(match.group()))
        position = match.end()
    out.append(query[position:])
    return " ".join("".join(out).split())


def initials(query: str) -> str:
    """The first letter of every syllable; Latin letters and digits as written, in one word."""
    from pypinyin import Style, lazy_pinyin

    out = []
    position = 0
    for match in CJK_RUN.finditer(query):
        out.append(query[position : match.start()].strip())
        out.append("".join(lazy_pinyin(match.group(), style=Style.FIRST_LETTER)))
        position = match.end()
    out.append(query[position:].strip())
    return " ".join(p for p in out if p)


def traditional(query: str) -> str:
    import opencc

    return opencc.OpenCC("s2t").convert(query)


FORMS: dict[str, Callable[[str], str]] = {
    "Chinese": lambda q: q,
    "full pinyin": full_pinyin,
    "initials": initials,
    "traditional": traditional,
}


def asked_as(judgments: Judgments, form: Callable[[str], str]) -> Judgments:
    return Judgments([dataclasses.replace(j, query=form(j.query)) for j in judgments.rows])


def lexical(**settings) -> PipelineConfig:
    return PipelineConfig.from_dict({"pipeline": {"retrievers": ["lexical"]}, "lexical": settings})


def qbqtc(path: Path) -> tuple[list[Product], Judgments]:
    """zh-qbqtc as a retrieval collection: the distinct titles; a query's relevant titles are those labelled ≥ 1."""
    pairs = read_pairs(path)
    title_id = {t: f"t{i:05d}" for i, t in enumerate(sorted({p.text_b for p in pairs}), start=1)}
    query_id = {q: f"q{i:05d}" for i, q in enumerate(sorted({p.text_a for p in pairs}), start=1)}
    rows = [Judgment(query_id[p.text_a], p.text_a, title_id[p.text_b], str(int(p.label >= 1))) for p in pairs]
    relevant = {r.query_id for r in rows if r.label == "1"}
    return [Product(tid, t) for t, tid in title_id.items()], Judgments([r for r in rows if r.query_id in relevant])


def user_dict_rows(products, judgments, gains) -> tuple[list[list], dict]:
    results = {}
    for mode in ("off", "brands", "brands+terms"):
        started = time.perf_counter()
        pipe = SearchPipeline.build(products, lexical(user_dict=mode))
        results[mode] = evaluate_retrieval(pipe, judgments, gains)
        print(f"  user_dict={mode}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    base = results["off"].per_query["ndcg@10"]
    rows = [
        [mode, f"{r.metrics['ndcg@10']:.4f}", *significance_columns(base, r.per_query["ndcg@10"])]
        for mode, r in results.items()
    ]
    return rows, {mode: r.metrics for mode, r in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-default", action="store_true", help="BM25F only (no MiniLM encoding)")
    parser.add_argument("--dev-only", action="store_true", help="only the user-dictionary choice on zh-qbqtc")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    gains = GainMap.parse(GAINS)
    record: dict = {}
    blocks: list[str] = []

    dev_products, dev_judgments = qbqtc(data_dir() / "zh-qbqtc" / "test.tsv")
    print(f"zh-qbqtc: {len(dev_products)} titles, {len(dev_judgments.queries)} queries", file=sys.stderr)
    rows, record["user_dict_dev"] = user_dict_rows(dev_products, dev_judgments, gains)
    blocks += ["### user dictionary, dev (zh-qbqtc test.tsv, BM25F, NDCG@10 vs off)", ""]
    blocks.append(markdown_table(["user_dict", "NDCG@10", *SIGNIFICANCE_HEADERS], rows))
    if args.dev_only:
        print("\n".join(blocks))
        write_json(args.json, record)
        return

    products, judgments, dropped = zh_query_item(data_dir() / "zh-ecom-query-item" / "pairs.tsv")
    record.update(queries=len(judgments.queries), titles=len(products), dropped=dropped)
    rows, record["user_dict"] = user_dict_rows(products, judgments, gains)
    blocks += ["", "### user dictionary, zh-ecom-query-item (BM25F, Chinese queries, NDCG@10 vs off)", ""]
    blocks.append(markdown_table(["user_dict", "NDCG@10", *SIGNIFICANCE_HEADERS], rows))

    systems: dict[str, SearchPipeline] = {"BM25F": SearchPipeline.build(products, lexical())}
    if not args.no_default:
        systems["default pipeline"] = SearchPipeline.build(products, PipelineConfig())
    unfolded = SearchPipeline.build(products, lexical(traditional=False))
    rows = []
    record["forms"] = {}
    for name, base in systems.items():
        off = base.with_config(pinyin=PinyinConfig(enabled=False))
        chinese = evaluate_retrieval(base, judgments, gains).per_query["ndcg@10"]
        variants = [(name, base), (f"{name}, pinyin off", off)]
        if name == "BM25F":
            variants.append(("BM25F, traditional folding off", unfolded))
        for form_name, form in FORMS.items():
            asked = asked_as(judgments, form)
            for label, pipe in variants:
                if form_name == "Chinese" and pipe is not base:
                    continue
                result = evaluate_retrieval(pipe, asked, gains)
                ndcg = result.per_query["ndcg@10"]
                rows.append(
                    [label, form_name, f"{result.metrics['ndcg@10']:.4f}", *significance_columns(chinese, ndcg)]
                )
                record["forms"][f"{label} | {form_name}"] = result.metrics
                print(f"  {label} | {form_name}: {result.metrics['ndcg@10']:.4f}", file=sys.stderr)
    blocks += ["", "### query forms (NDCG@10 vs the same system's Chinese queries)", ""]
    blocks.append(markdown_table(["system", "queries", "NDCG@10", *SIGNIFICANCE_HEADERS], rows))
    examples = [(q, full_pinyin(q), initials(q)) for q in list(judgments.queries.values())[:5]]
    base = systems["BM25F"]
    blocks += ["", "### examples (BM25F's rewrite)", ""]
    blocks.append(
        markdown_table(
            ["query", "full pinyin", "rewritten", "initials", "rewritten"],
            [
                [q, f, base.search_pages([f])[0].query.searched, i, base.search_pages([i])[0].query.searched]
                for q, f, i in examples
            ],
        )
    )
    print("\n".join(blocks))
    write_json(args.json, record)


if __name__ == "__main__":
    main()
