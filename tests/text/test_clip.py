"""Cutting a text after its first N words (shopmatch.text.clip)."""

from __future__ import annotations

import pytest

from shopmatch.text.clip import clip_words


def test_keeps_the_first_words_and_their_spacing():
    assert clip_words("Red  ceramic\nmug, 12 oz", 3) == "Red  ceramic\nmug,"


def test_punctuation_runs_are_kept_but_not_counted():
    # "--", "®" and a lone combining accent may give no token at all, so they do not count
    assert clip_words("mug -- ® \u0301 12 oz", 2) == "mug -- ® \u0301 12"
    assert clip_words("-- mug_cover x", 1) == "-- mug_cover"


def test_a_text_with_no_more_words_is_returned_whole():
    text = "short text  \n"
    assert clip_words(text, 2) is text
    assert clip_words(text, 5) is text
    assert clip_words("", 1) == ""


def test_text_without_spaces_is_one_word():
    assert clip_words("防水手机壳红色", 1) == "防水手机壳红色"


def test_words_below_one_is_an_error():
    with pytest.raises(ValueError, match="at least 1"):
        clip_words("a b", 0)
