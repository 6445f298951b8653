"""How much Chinese the bundled all-MiniLM-L6-v2 tokenizer loses to ``[UNK]``, before and after vocabulary extension.

Protocol: the vocabulary is extended (``shopmatch.train.vocab.extend_vocabulary``) with the CJK
characters of zh-qbqtc ``train.tsv`` (both text columns), with ``min_count`` 1 and 2; the
saved tokenizer is then reloaded from the output directory. For each tokenizer, the share of
``[UNK]`` tokens (special tokens not counted) and of texts with at least one ``[UNK]`` on
zh-qbqtc train (the texts the vocabulary was built from), zh-qbqtc test and zh-ecom-query-item
``pairs.tsv`` (both held out: characters only they use stay unknown). No training.

Usage::

    .venv/bin/python bench/experiments/vocab_coverage.py | tee bench/results/vocab_coverage.md
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import data_dir, machine_header, machine_info, markdown_table, skip_if_missing  # noqa: E402

SETS = {
    "qbqtc train": "zh-qbqtc/train.tsv",
    "qbqtc test": "zh-qbqtc/test.tsv",
    "zh-ecom pairs": "zh-ecom-query-item/pairs.tsv",
}


def note(message: str) -> None:
    print(f"[vocab_coverage {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def read_texts(path: Path) -> list[str]:
    from shopmatch.judgments import read_pairs

    return [text for pair in read_pairs(path) for text in (pair.text_a, pair.text_b)]


def unk_shares(tokenizer: Any, texts: list[str]) -> tuple[float, float, int]:
    """(share of [UNK] tokens, share of texts with an [UNK], number of tokens)."""
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    unk = tokenizer.unk_token_id
    tokens = sum(len(row) for row in ids)
    unknown = sum(row.count(unk) for row in ids)
    return unknown / max(tokens, 1), sum(unk in row for row in ids) / max(len(ids), 1), tokens


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data folder (default: ../shared/data)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)

    from transformers import AutoTokenizer

    from shopmatch.encoders.models import DEFAULT_MODEL, resolve_model_dir
    from shopmatch.train.vocab import extend_vocabulary, is_cjk_character

    folder = args.data or data_dir()
    print(f"# Chinese vocabulary coverage of {DEFAULT_MODEL}\n")
    print("\n".join(machine_header(machine_info())) + "\n")
    if not skip_if_missing(folder / SETS["qbqtc train"], "zh-qbqtc train"):
        return 0
    texts = {name: read_texts(folder / rel) for name, rel in SETS.items() if skip_if_missing(folder / rel, name)}
    train = texts["qbqtc train"]

    base = resolve_model_dir(DEFAULT_MODEL)
    tokenizers: list[tuple[str, int, Any]] = []
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    tokenizers.append(("bundled (English WordPiece)", 0, tokenizer))
    vocab = tokenizer.get_vocab()
    distinct = {c for text in train for c in text if is_cjk_character(c)}
    known = sum(c in vocab for c in distinct)
    with tempfile.TemporaryDirectory(prefix="vocab-coverage-") as tmp:
        for min_count in (1, 2):
            started = time.perf_counter()
            ext = extend_vocabulary(base, train, Path(tmp) / f"min{min_count}", min_count=min_count)
            note(f"min_count={min_count}: {len(ext.added)} added in {time.perf_counter() - started:.1f} s")
            extended = AutoTokenizer.from_pretrained(ext.out_dir, local_files_only=True)
            tokenizers.append((f"extended, min_count={min_count}", len(ext.added), extended))

    rows = []
    for label, added, tok in tokenizers:
        row: list[Any] = [label, added, len(tok)]
        for name in texts:
            token_share, text_share, _ = unk_shares(tok, texts[name])
            row += [f"{100 * token_share:.2f} %", f"{100 * text_share:.1f} %"]
        rows.append(row)
    headers = ["tokenizer", "CJK chars added", "vocab size"]
    for name in texts:
        headers += [f"[UNK] tokens, {name}", f"texts with [UNK], {name}"]
    sizes = ", ".join(f"{name} {len(t):,} texts" for name, t in texts.items())
    print(f"Texts: both columns of each pair ({sizes}). The vocabulary is built from qbqtc train only.\n")
    print(
        f"qbqtc train has {len(distinct):,} distinct CJK characters (as written, before the "
        "tokenizer's normalization); "
        f"the bundled vocabulary knows {known:,} of them.\n"
    )
    print(markdown_table(headers, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
