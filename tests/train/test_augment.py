from __future__ import annotations

import random

import pytest

from shopmatch.errors import ConfigError
from shopmatch.train.augment import Augmenter, field_shuffle, synonym, token_dropout, typo, word_swap


def test_token_dropout_keeps_at_least_one_word():
    rng = random.Random(0)
    for _ in range(50):
        out = token_dropout("one two three", rng, rate=0.99)
        assert out and set(out.split()) <= {"one", "two", "three"}
    assert token_dropout("single", rng, rate=1.0) == "single"


def test_word_swap_swaps_two_adjacent_words():
    out = word_swap("a b c d", random.Random(1))
    assert sorted(out.split()) == ["a", "b", "c", "d"] and out != "a b c d"
    diffs = [i for i, (x, y) in enumerate(zip(out.split(), "a b c d".split(), strict=True)) if x != y]
    assert len(diffs) == 2 and diffs[1] - diffs[0] == 1


def test_typo_changes_one_long_word_only():
    rng = random.Random(3)
    for _ in range(30):
        out = typo("usb charger cable", rng)
        changed = [(a, b) for a, b in zip("usb charger cable".split(), out.split(), strict=True) if a != b]
        assert len(changed) <= 1
        assert "usb" in out.split()  # words under four letters are left alone
    assert typo("usb c", rng) == "usb c"


def test_field_shuffle_keeps_the_title_first():
    text = "Title\nBrand | Color\nCategory\nBullets"
    rng = random.Random(0)
    outs = {field_shuffle(text, rng) for _ in range(20)}
    assert all(o.split("\n")[0] == "Title" and sorted(o.split("\n")) == sorted(text.split("\n")) for o in outs)
    assert len(outs) > 1


def test_synonym_swaps_a_known_word():
    assert synonym("leather sofa", random.Random(0)) == "leather couch"
    assert synonym("garden hose", random.Random(0)) == "garden hose"


def test_augmenter_is_seeded_and_respects_probability():
    pairs = [("red leather sofa", "Sofa\nAcme\nHome")] * 20
    aug1, aug2 = Augmenter(("typo", "word_swap"), 0.5, seed=7), Augmenter(("typo", "word_swap"), 0.5, seed=7)
    assert [aug1(q, t) for q, t in pairs] == [aug2(q, t) for q, t in pairs]
    never = Augmenter(("typo",), 0.0)
    assert all(never(q, t) == (q, t) for q, t in pairs)
    always = Augmenter(("word_swap",), 1.0)
    assert all(always(q, t)[0] != q for q, t in pairs)


def test_unknown_operation_is_an_error():
    with pytest.raises(ConfigError, match="unknown augmentation"):
        Augmenter(("spellcheck",))
