"""Synthetic query–text pairs from unlabeled texts (product titles), for a first training stage.

A shop always has its catalog, even in a language its pretrained model barely knows. From each
text a few of its words make a pseudo-query, in the text's order (shoppers type a few words of
the title, not a sentence): ``(query, its text)`` is a match, ``(query, another text sharing none
of the query's words)`` a non-match. Training a pair classifier on such pairs first teaches it
the lexical part of relevance — which words of the query the text holds — before the few judged
pairs teach the rest. (The inverse cloze task of Lee et al., 2019, cut to e-commerce queries.)

For a re-ranker the pseudo-query comes from a product's title and its match is the whole product
text the re-ranker reads (title, brand, category, bullets; :func:`train_reranker_on_synthetic_pairs`),
so the stage sees the same inputs as the fine-tuning after it.

Words: Chinese runs are segmented with jieba; other text splits into words and identifiers as
for BM25 (:mod:`shopmatch.text.tokenize`), keeping their surface form. Chinese words are joined
without spaces, others with one.

Example:
    >>> titles = ["蓝牙耳机 无线 运动", "Galanz microwave oven 20L", "陶瓷 马克杯 咖啡杯"]
    >>> for pair in synthetic_pairs(titles, count=2, seed=0):
    ...     print(pair.label, pair.text_a, "|", pair.text_b)
    1 无线运动 | 蓝牙耳机 无线 运动
    0 无线运动 | 陶瓷 马克杯 咖啡杯
    1 Galanz oven 20L | Galanz microwave oven 20L
    0 Galanz oven 20L | 陶瓷 马克杯 咖啡杯
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from shopmatch.errors import ConfigError, DataError
from shopmatch.judgments import Pair
from shopmatch.settings import ConfigSection, require_int, setting
from shopmatch.text.tokenize import _CJK_RUN, _TOKEN, _jieba

if TYPE_CHECKING:
    from shopmatch.catalog import Product
    from shopmatch.encoders.product_text import ProductTextTemplate
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig
    from shopmatch.train.summary import TrainingSummary


@dataclass(frozen=True)
class SyntheticPairsConfig(ConfigSection):
    """How pseudo-queries are drawn.

    Attributes:
        max_words: A pseudo-query takes 1 to ``max_words`` words of its text (uniformly).
        window: The words come from a run of at most ``window`` × the query's word count
            consecutive words, so a query stays about one thing, as typed queries do.
        negatives: Non-matching texts per pseudo-query.
        tries: Random texts tried for each negative before that negative is given up (a text
            is rejected when it shares a query word).
    """

    SECTION = "synthetic"

    max_words: int = setting(3, minimum=1)
    window: int = setting(2, minimum=1)
    negatives: int = setting(1, minimum=0)
    tries: int = setting(20, minimum=1)


def words_of(text: str) -> list[str]:
    """The words of ``text`` in order: jieba words for Chinese runs, words and identifiers else.

    >>> words_of("蓝牙耳机 Sony WH-1000XM4")
    ['蓝牙', '耳机', 'Sony', 'WH-1000XM4']
    """
    words: list[str] = []
    position = 0
    for run in _CJK_RUN.finditer(text):
        words.extend(_TOKEN.findall(text[position : run.start()]))
        words.extend(w for w in _jieba().lcut(run.group(), HMM=False) if w.strip())
        position = run.end()
    words.extend(_TOKEN.findall(text[position:]))
    return words


def _join(words: Sequence[str]) -> str:
    query = words[0]
    for word in words[1:]:
        chinese = _CJK_RUN.fullmatch(query[-1]) and _CJK_RUN.fullmatch(word[0])
        query += word if chinese else " " + word
    return query


def synthetic_pairs(
    texts: Sequence[str],
    *,
    count: int,
    config: SyntheticPairsConfig | None = None,
    seed: int = 0,
    sources: Sequence[str] | None = None,
) -> list[Pair]:
    """``count`` pseudo-queries drawn from ``texts``, each followed by its match and its non-matches.

    Each pseudo-query gives one ``Pair(query, text, 1)`` and ``config.negatives`` pairs
    ``Pair(query, other_text, 0)``, where ``other_text`` contains none of the query's words
    (case-insensitive substring test). Texts without words are skipped. The same texts (in any
    order), count, config and seed give the same pairs.

    Args:
        sources: the part of each text its pseudo-queries are drawn from (``sources[i]`` for
            ``texts[i]``, e.g. a product's title for its whole text); default: the text itself.

    Raises:
        ConfigError: ``count`` is not a positive integer, or ``sources`` and ``texts`` differ in length.
        DataError: fewer than two distinct texts with words (no negative could be drawn).
    """
    config = config or SyntheticPairsConfig()
    require_int(SyntheticPairsConfig.SECTION, "count", count)
    if sources is not None and len(sources) != len(texts):
        raise ConfigError(f"sources must give one text per text: {len(sources)} sources for {len(texts)} texts")
    pairs_in = zip(texts, texts if sources is None else sources, strict=True)
    distinct = sorted({(t, s) for t, s in pairs_in if t and t.strip()})
    segmented = [(t, words_of(s)) for t, s in distinct]
    segmented = [(t, w) for t, w in segmented if w]
    if len(segmented) < 2:
        raise DataError(f"synthetic pairs need at least two distinct texts with words, got {len(segmented)}")
    lowered = [t.lower() for t, _ in segmented]
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for _ in range(count):
        index = rng.randrange(len(segmented))
        text, words = segmented[index]
        size = rng.randint(1, min(config.max_words, len(words)))
        span = min(len(words), config.window * size)
        start = rng.randrange(len(words) - span + 1)
        picked = sorted(rng.sample(range(start, start + span), size))
        query_words = [words[i] for i in picked]
        query = _join(query_words)
        pairs.append(Pair(query, text, 1))
        needles = [w.lower() for w in query_words]
        for _ in range(config.negatives):
            for _ in range(config.tries):
                other = rng.randrange(len(segmented))
                if other != index and not any(n in lowered[other] for n in needles):
                    pairs.append(Pair(query, segmented[other][0], 0))
                    break
    return pairs


def train_on_synthetic_pairs(
    texts: Sequence[str],
    out_dir: str | Path,
    config: CrossEncoderTrainConfig | None = None,
    *,
    count: int,
    model_dir: str | Path | None = None,
    learning_rate: float | None = 1e-4,
    pairs_config: SyntheticPairsConfig | None = None,
) -> TrainingSummary:
    """First training stage: a binary pair classifier on ``count`` pseudo-queries of ``texts``.

    One epoch over :func:`synthetic_pairs` (drawn with ``config.seed``) at ``learning_rate``
    (``None``: ``config``'s; 1e-4 by default, what the Chinese benchmarks used), otherwise with
    ``config``'s settings and no dev set; the result in ``out_dir`` is the start model of the
    fine-tuning on judged pairs (``train_pair_classifier(..., model_dir=out_dir)``), which keeps
    its head when the judged pairs have two classes too.

    Example:
        >>> summary = train_on_synthetic_pairs(catalog_titles, "models/stage1", count=10_000)  # doctest: +SKIP
        >>> train_pair_classifier(judged, "models/ce", config, model_dir="models/stage1")  # doctest: +SKIP
    """
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig, train_pair_classifier

    config = config or CrossEncoderTrainConfig()
    pairs = synthetic_pairs(texts, count=count, config=pairs_config, seed=config.seed)
    stage = replace(config, epochs=1, patience=0, learning_rate=learning_rate or config.learning_rate)
    return train_pair_classifier(pairs, out_dir, stage, model_dir=model_dir)


def train_reranker_on_synthetic_pairs(
    products: Sequence[Product],
    out_dir: str | Path,
    config: CrossEncoderTrainConfig | None = None,
    *,
    count: int,
    template: ProductTextTemplate | None = None,
    texts: Sequence[str] = (),
    model_dir: str | Path | None = None,
    learning_rate: float | None = 1e-4,
    pairs_config: SyntheticPairsConfig | None = None,
) -> TrainingSummary:
    """First training stage of a re-ranker: ``count`` pseudo-queries of a catalog's titles.

    Each pseudo-query is a few words of one product's title; its match (target 1) is that
    product's whole text as ``template`` renders it, its non-matches (target 0) other products'
    texts without its words. ``texts`` (e.g. the titles of a larger catalog) add plain texts that
    are both source and match. One epoch of :func:`~shopmatch.train.cross_encoder.train_cross_encoder`
    at ``learning_rate`` (``None``: ``config``'s), no dev set; fine-tune the result on the judged
    pairs with ``model_dir=out_dir`` (it keeps the stage's head).

    Example:
        >>> train_reranker_on_synthetic_pairs(catalog.products, "stage1", count=10_000)  # doctest: +SKIP
        >>> train_cross_encoder(judged_pairs, "models/ce", config, model_dir="stage1")  # doctest: +SKIP
    """
    from shopmatch.encoders.product_text import ProductTextTemplate
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig, train_cross_encoder
    from shopmatch.train.data import LabeledPair

    config = config or CrossEncoderTrainConfig()
    template = template or ProductTextTemplate()
    rendered = [template.render(p) for p in products]
    sources = [p.title for p in products] + list(texts)
    pairs = synthetic_pairs(rendered + list(texts), count=count, config=pairs_config, seed=config.seed, sources=sources)
    labeled = [LabeledPair(p.text_a, p.text_b, float(p.label), query_id=f"synthetic:{p.text_a}") for p in pairs]
    stage = replace(config, epochs=1, patience=0, learning_rate=learning_rate or config.learning_rate)
    return train_cross_encoder(labeled, out_dir, stage, template=template, model_dir=model_dir)
