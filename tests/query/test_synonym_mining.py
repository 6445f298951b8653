"""Synonym mining: catalog candidates, events candidates, the reviewable file and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from typer.testing import CliRunner

from shopmatch.cli import app
from shopmatch.events.io import EventLog
from shopmatch.events.model import Impression, Interaction
from shopmatch.query.synonym_mining import Candidate, mine_catalog, mine_events, write_candidates
from shopmatch.query.synonyms import parse_synonyms
from shopmatch.retrieval.lexical import LexicalConfig

ANALYZER = LexicalConfig().analyzer()


def fake_encoder(words):
    """couch, sofa and sofaless point nearly the same way; every other word has its own axis."""
    out = np.zeros((len(words), 16), dtype=np.float32)
    for i, word in enumerate(words):
        if word in ("couch", "sofa", "sofaless"):
            out[i, 0], out[i, 1] = 1.0, {"couch": 0.0, "sofa": 0.3, "sofaless": 0.1}[word]
        else:
            out[i, 2 + sum(map(ord, word)) % 14] = 1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


TITLES = [f"Leather couch {i}" for i in range(5)] + [f"Velvet sofa {i}" for i in range(5)]
TITLES += [f"Garden hose {i}" for i in range(5)] + [f"Sofaless frame {i}" for i in range(5)]
VECTORS = np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (20, 1))
VECTORS[10:15] = [0.0, 1.0]


def test_catalog_mining_pairs_close_terms_that_share_a_category_and_not_a_title():
    categories = [["Furniture"]] * 10 + [["Garden"]] * 5 + [["Beds"]] * 5
    found = mine_catalog(TITLES, categories, VECTORS, fake_encoder, ANALYZER, min_df=5)
    assert [c.phrases for c in found] == [("couch", "sofa")]
    assert found[0].evidence["shared categories"] == 1
    assert found[0].evidence["titles"] == "5/5"
    apart = [["Furniture"]] * 5 + [["Beds"]] * 5 + [["Garden"]] * 10
    assert mine_catalog(TITLES, apart, VECTORS, fake_encoder, ANALYZER, min_df=5) == []


def test_catalog_mining_leaves_out_a_word_and_its_negation():
    categories = [["Furniture"]] * 20
    found = mine_catalog(TITLES, categories, VECTORS, fake_encoder, ANALYZER, min_df=5)
    pairs = [c.phrases for c in found]
    assert ("sofa", "sofaless") not in pairs and ("sofaless", "sofa") not in pairs
    assert ("couch", "sofaless") in pairs  # the same evidence without the negation


def test_events_mining_pairs_queries_with_the_same_purchases():
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    shown = [Impression(f"s{i}", q, ("p1", "p2", "p3"), ts) for i, q in enumerate(["couch", "Sofa", "lamp"])]
    bought = [Interaction("purchase", s, p, ts) for s in ("s0", "s1") for p in ("p1", "p2")]
    bought += [Interaction("purchase", "s2", "p1", ts), Interaction("click", "s2", "p2", ts)]
    found = mine_events(EventLog(shown, bought), ANALYZER, min_shared=2)
    assert [(c.phrases, c.evidence["shared purchased products"]) for c in found] == [(("couch", "sofa"), 2)]


def test_the_candidates_file_applies_nothing_until_a_line_is_uncommented(tmp_path):
    path = tmp_path / "candidates.txt"
    candidates = [Candidate(("couch", "sofa"), "catalog", {"titles": "5/5"}), Candidate(("a,b", "c"), "events", {})]
    assert write_candidates(candidates, path, header=["from a test"]) == 2
    text = path.read_text()
    assert parse_synonyms(text.splitlines()) == []  # everything is commented out
    assert "# catalog: titles 5/5\n# couch, sofa\n" in text
    accepted = text.replace("\n# couch, sofa\n", "\ncouch, sofa\n").replace("\n# a\\,b, c\n", "\na\\,b, c\n")
    rules = parse_synonyms(accepted.splitlines())
    assert [r.inputs for r in rules] == [("couch", "sofa"), ("a,b", "c")]


def test_cli_mine_writes_a_commented_file(tmp_path, catalog, tiny_hybrid_config):
    from shopmatch.pipeline import SearchPipeline

    index = SearchPipeline.build(catalog.products, tiny_hybrid_config).save(tmp_path / "index")
    out = tmp_path / "candidates.txt"
    result = CliRunner().invoke(app, ["synonyms", "mine", str(index), "-o", str(out), "--min-df", "2"])
    assert result.exit_code == 0, result.output
    assert "candidates written" in result.output
    text = out.read_text()
    assert text.startswith("# Synonym candidates mined")
    assert parse_synonyms(text.splitlines()) == []


def test_cli_mine_without_a_bi_encoder_fails_clearly(tmp_path, catalog):
    from shopmatch.config import PipelineConfig
    from shopmatch.pipeline import SearchPipeline

    index = SearchPipeline.build(catalog.products, PipelineConfig(retrievers=("lexical",))).save(tmp_path / "i")
    result = CliRunner().invoke(app, ["synonyms", "mine", str(index), "-o", str(tmp_path / "c.txt")])
    assert result.exit_code != 0
    assert "dense retriever" in result.output
