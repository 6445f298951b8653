"""`shopmatch suggest` and what `shopmatch search` shows of a pinyin query."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from shopmatch.catalog import Product
from shopmatch.cli import app
from shopmatch.config import PipelineConfig
from shopmatch.pipeline import SearchPipeline

runner = CliRunner()


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    products = [
        Product("p1", "苹果手机 256G 黑色", brand="苹果"),
        Product("p2", "新鲜苹果 水果 5斤"),
        Product("p3", "Wireless [2 pack] mouse", brand="Clicky"),
    ]
    config = PipelineConfig.from_dict({"pipeline": {"retrievers": ["lexical"]}})
    return SearchPipeline.build(products, config).save(tmp_path_factory.mktemp("cli") / "index")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_suggest_prints_phrases_and_json(index_dir):
    result = invoke("suggest", index_dir, "pingg", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == ["苹果", "2"]
    result = invoke("suggest", index_dir, "wirless", "--json")
    answer = json.loads(result.output)
    assert answer["query"] == "wirless" and answer["suggestions"][0]["typo"] is True
    assert answer["suggestions"][0]["text"].startswith("wireless")
    assert invoke("suggest", index_dir, "zzzz").output.strip() == "no suggestions for 'zzzz'"
    assert invoke("suggest", index_dir, "usb", "--limit", "0").exit_code != 0


def test_suggest_on_an_index_without_suggestions_fails_clearly(index_dir, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(index_dir, old)
    shutil.rmtree(old / "suggest")
    result = invoke("suggest", old, "usb")
    assert result.exit_code != 0 and "no suggestions" in result.output


def test_search_says_how_a_pinyin_query_was_read(index_dir):
    result = invoke("search", index_dir, "pgsj", "--json")
    understood = json.loads(result.output)["understanding"]
    assert understood["pinyin"]["to"] == "苹果手机"
    result = invoke("search", index_dir, "pingguo shouji")
    assert result.exit_code == 0 and "read as '苹果 手机' (pinyin)" in result.output


def test_suggest_with_an_events_file(index_dir, tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"type": "impression", "search_id": "s1", "query": "Wireless Gaming Mouse", "results": ["p3"],'
        ' "ts": "2026-12-06T10:00Z"}\n'
        '{"type": "click", "search_id": "s1", "product_id": "p3", "ts": "2026-12-06T10:01Z"}\n'
    )
    answer = json.loads(invoke("suggest", index_dir, "wireless g", "--events", events, "--json").output)
    assert answer["suggestions"][0] == {"text": "wireless gaming mouse", "results": 0, "clicks": 1}
    events.write_text('{"type": "click"}\n')
    result = invoke("suggest", index_dir, "wireless", "--events", events)
    assert result.exit_code != 0 and "events.jsonl" in result.output
