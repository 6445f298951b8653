"""Judgments, pair sets, gain maps and folds."""

from __future__ import annotations

import logging

import pytest

from shopmatch.errors import DataError
from shopmatch.judgments import (
    GainMap,
    Judgment,
    Judgments,
    MergeReport,
    averaged_letters,
    merge_labels,
    read_judgments,
    read_pairs,
)


def _write(tmp_path, text, name="j.tsv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- judgments


def test_esci_judgments(judgments):
    assert len(judgments) == 35
    assert judgments.query_ids == [f"en0{i}" for i in range(1, 9)]
    assert judgments.queries["en03"] == "12 inch cast iron skillet"
    qrels = judgments.qrels(GainMap.esci())
    assert qrels["en01"] == {"p001": 1.0, "p002": 0.01, "p003": 0.1, "p006": 0.0}
    relevant = judgments.relevant(GainMap.esci())
    assert relevant["en01"] == {"p001"}
    assert relevant["en02"] == {"p004", "p023"}


def test_numeric_judgments(fixtures):
    graded = read_judgments(fixtures / "catalog" / "judgments_graded.tsv")
    assert [r.label for r in graded.by_query["en01"]] == ["3", "1", "2", "0"]
    assert graded.qrels(GainMap.parse("offset=1"))["en01"] == {"p001": 2.0, "p002": 0.0, "p003": 1.0, "p006": 0.0}
    assert graded.relevant(GainMap.parse("offset=0"))["en01"] == {"p001", "p002", "p003"}
    assert graded.relevant(GainMap.parse("relevant>=2.5"))["en01"] == {"p001"}


def test_labels_kept_as_written_and_fields_stripped(tmp_path):
    path = _write(
        tmp_path, "query_id\tquery\tproduct_id\tlabel\r\n q1 \tRed Mug\tp1 \t e \r\nq1\tRed Mug\tp2\t2.33\r\n"
    )
    j = read_judgments(path)
    assert j.rows == [Judgment("q1", "Red Mug", "p1", "e"), Judgment("q1", "Red Mug", "p2", "2.33")]
    assert j.qrels(GainMap.esci()) == {"q1": {"p1": 1.0, "p2": 2.33}}


def test_column_order_from_header(tmp_path):
    path = _write(tmp_path, "label\tproduct_id\tquery\tquery_id\nE\tp1\tmug\tq1\n")
    assert read_judgments(path).rows == [Judgment("q1", "mug", "p1", "E")]


def test_unknown_label_depends_on_gain_map(tmp_path):
    path = _write(tmp_path, "query_id\tquery\tproduct_id\tlabel\nq1\tmug\tp1\tE\nq1\tmug\tp2\tS\n")
    with pytest.raises(DataError) as info:
        read_judgments(path, gains=GainMap.parse("E=1,I=0"))
    assert (info.value.line, info.value.field) == (3, "label")
    assert "unknown label 'S' (expected a number or one of E, I)" in str(info.value)


def test_duplicate_pair_is_an_error_with_duplicates_error(tmp_path):
    path = _write(tmp_path, "query_id\tquery\tproduct_id\tlabel\nq1\tmug\tp1\tE\nq2\tmug\tp1\tE\nq1\tmug\tp1\tI\n")
    with pytest.raises(DataError) as info:
        read_judgments(path, duplicates="error")
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), 4, "product_id")
    assert "query 'q1' judges product 'p1' twice (first on line 2)" in str(err)
    skipped = read_judgments(path, on_error="skip", duplicates="error")
    assert [(r.query_id, r.label) for r in skipped.rows] == [("q1", "E"), ("q2", "E")]
    assert skipped.skipped.count == 1
    assert skipped.merged == MergeReport("error", 0, 0)


@pytest.mark.parametrize(
    ("body", "line", "field", "fragment"),
    [
        ("query_id\tquery\tproduct_id\tlabel\n\tmug\tp1\tE\n", 2, "query_id", "must not be empty"),
        ("query_id\tquery\tproduct_id\tlabel\nq1\tmug\t \tE\n", 2, "product_id", "must not be empty"),
        ("query_id\tquery\tproduct_id\tlabel\nq1\tmug\tp1\tE\textra\n", 2, ..., "has 5 tab-separated fields"),
        ("query_id\tquery\tproduct_id\n", 1, "label", "no 'label' column"),
        ("", 1, None, "is empty"),
    ],
)
def test_judgment_errors(tmp_path, body, line, field, fragment):
    path = _write(tmp_path, body)
    with pytest.raises(DataError) as info:
        read_judgments(path)
    assert (info.value.path, info.value.line) == (str(path), line)
    if field is not ...:
        assert info.value.field == field
    assert fragment in str(info.value)


def test_judgments_not_found(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_judgments(tmp_path / "missing.tsv")


def test_blank_lines_skipped_and_counted(tmp_path):
    path = _write(tmp_path, "query_id\tquery\tproduct_id\tlabel\nq1\tmug\tp1\tE\n\nq1\tmug\tp2\tZ\n")
    with pytest.raises(DataError) as info:
        read_judgments(path)
    assert info.value.line == 4


# --------------------------------------------------------------------------- several ratings per pair

ESCI = GainMap.esci()
HOME_DEPOT = GainMap.parse("offset=1,relevant>=2.5")


def _labels(judged: Judgments) -> dict[tuple[str, str], tuple[str, int]]:
    return {(r.query_id, r.product_id): (r.label, r.ratings) for r in judged.rows}


# ESCI letters, three raters: hand-merged under each policy (gains E=1, S=0.1, C=0.01, I=0).
CROWD_LETTERS = {
    "mean": {
        ("en01", "p001"): ("E", 2),  # E, E: ratings that agree keep their label
        ("en01", "p002"): ("C", 1),
        ("en01", "p003"): ("mean(E,I,S)", 3),  # S, E, I -> gain (0.1 + 1 + 0) / 3
        ("en02", "p004"): ("mean(E,S)", 2),  # E, S -> 0.55
        ("en02", "p005"): ("S", 1),
        ("en02", "p007"): ("I", 2),
        ("en03", "p008"): ("E", 1),
        ("en03", "p009"): ("mean(C,S)", 2),  # C, S -> 0.055
    },
    "max": {("en01", "p003"): ("E", 3), ("en02", "p004"): ("E", 2), ("en03", "p009"): ("S", 2)},
    "first": {("en01", "p003"): ("S", 3), ("en02", "p004"): ("E", 2), ("en03", "p009"): ("C", 2)},
}


@pytest.mark.parametrize("policy", ["mean", "max", "first"])
def test_crowd_letters_each_policy(fixtures, policy):
    judged = read_judgments(fixtures / "catalog" / "judgments_crowd.tsv", duplicates=policy)
    expected = {**CROWD_LETTERS["mean"], **CROWD_LETTERS[policy]}
    assert _labels(judged) == expected
    assert list(_labels(judged)) == list(expected)  # a merged pair sits where its first row was
    assert judged.merged == MergeReport(policy, pairs=5, rows=11)
    assert len(judged) == 8 and judged.queries["en02"] == "65w usb c charger"


def test_crowd_letters_mean_gains_and_relevance(fixtures):
    judged = read_judgments(fixtures / "catalog" / "judgments_crowd.tsv")
    qrels = judged.qrels(ESCI)
    assert qrels["en01"] == pytest.approx({"p001": 1.0, "p002": 0.01, "p003": 1.1 / 3})
    assert qrels["en02"] == pytest.approx({"p004": 0.55, "p005": 0.1, "p007": 0.0})
    assert qrels["en03"] == pytest.approx({"p008": 1.0, "p009": 0.055})
    # MRR/MAP count E only: a mean gain must reach E's gain (1), so E+S (0.55) does not count
    assert judged.relevant(ESCI) == {"en01": {"p001"}, "en02": set(), "en03": {"p008"}}
    # Recall counts E and S: a mean gain must reach 0.1, the smaller of the two
    assert judged.relevant(ESCI, for_recall=True) == {
        "en01": {"p001", "p003"},
        "en02": {"p004", "p005"},
        "en03": {"p008"},  # C, S -> 0.055 < 0.1
    }
    # the mean follows the gain map that evaluates, not the one that read the file
    assert judged.qrels(GainMap.parse("E=3,S=2,C=1,I=0"))["en02"]["p004"] == pytest.approx(2.5)


def test_crowd_letters_max_changes_relevance(fixtures):
    judged = read_judgments(fixtures / "catalog" / "judgments_crowd.tsv", duplicates="max")
    assert judged.relevant(ESCI) == {"en01": {"p001", "p003"}, "en02": {"p004"}, "en03": {"p008"}}


# Numeric labels 0-3, several raters, averaged as numbers.
CROWD_NUMBERS = {
    "mean": {
        ("en01", "p001"): ("2.3333333333333335", 3),  # 3, 2, 2
        ("en01", "p002"): ("1", 1),
        ("en01", "p003"): ("2.5", 2),  # 2, 3
        ("en02", "p004"): ("3", 2),  # 3, 3
        ("en02", "p005"): ("0.5", 2),  # 0, 1
        ("en02", "p007"): ("0", 1),
    },
    "max": {("en01", "p001"): ("3", 3), ("en01", "p003"): ("3", 2), ("en02", "p005"): ("1", 2)},
    "first": {("en01", "p001"): ("3", 3), ("en01", "p003"): ("2", 2), ("en02", "p005"): ("0", 2)},
}


@pytest.mark.parametrize("policy", ["mean", "max", "first"])
def test_crowd_numbers_each_policy(fixtures, policy):
    judged = read_judgments(fixtures / "catalog" / "judgments_crowd_graded.tsv", gains=HOME_DEPOT, duplicates=policy)
    assert _labels(judged) == {**CROWD_NUMBERS["mean"], **CROWD_NUMBERS[policy]}
    assert judged.merged == MergeReport(policy, pairs=4, rows=9)


def test_crowd_numbers_mean_against_threshold(fixtures):
    judged = read_judgments(fixtures / "catalog" / "judgments_crowd_graded.tsv", gains=HOME_DEPOT)
    # gain = max(mean - 1, 0); relevant when the mean label is >= 2.5
    assert judged.qrels(HOME_DEPOT)["en01"] == pytest.approx({"p001": 4 / 3, "p002": 0.0, "p003": 1.5})
    assert judged.qrels(HOME_DEPOT)["en02"] == {"p004": 2.0, "p005": 0.0, "p007": 0.0}
    assert judged.relevant(HOME_DEPOT) == {"en01": {"p003"}, "en02": {"p004"}}
    first = read_judgments(fixtures / "catalog" / "judgments_crowd_graded.tsv", gains=HOME_DEPOT, duplicates="first")
    assert first.relevant(HOME_DEPOT) == {"en01": {"p001"}, "en02": {"p004"}}


def test_merged_pairs_survive_subset_and_folds(fixtures):
    judged = read_judgments(fixtures / "catalog" / "judgments_crowd.tsv")
    part = judged.subset(["en02"])
    assert [(r.label, r.ratings) for r in part.rows] == [("mean(E,S)", 2), ("S", 1), ("I", 2)]
    assert part.qrels(ESCI) == {"en02": judged.qrels(ESCI)["en02"]}
    tested = {q: test for _, test in judged.folds(3) for q in test.query_ids}
    assert tested["en03"].qrels(ESCI)["en03"]["p009"] == pytest.approx(0.055)


def test_crowd_merge_is_logged(fixtures, caplog):
    path = fixtures / "catalog" / "judgments_crowd.tsv"
    with caplog.at_level(logging.INFO, logger="shopmatch.judgments"):
        read_judgments(path)
    assert f"{path}: 5 (query, product) pairs rated more than once (11 rows) averaged" in caplog.text


def test_extra_columns_ignored_with_one_warning(fixtures, caplog):
    path = fixtures / "catalog" / "judgments_crowd.tsv"
    with caplog.at_level(logging.WARNING, logger="shopmatch.judgments"):
        judged = read_judgments(path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"{path}: ignoring column(s) rater_id, timestamp; only query_id, query, product_id, label are read"
    ]
    assert len(judged) == 8


def test_no_warning_without_extra_columns(fixtures, caplog):
    with caplog.at_level(logging.WARNING, logger="shopmatch.judgments"):
        read_judgments(fixtures / "catalog" / "judgments.tsv")
    assert caplog.records == []


def test_rows_short_of_the_extra_columns_are_still_errors(tmp_path):
    path = _write(tmp_path, "query_id\tquery\tproduct_id\tlabel\trater_id\nq1\tmug\tp1\tE\tr1\nq1\tmug\tp1\tS\n")
    with pytest.raises(DataError) as info:
        read_judgments(path)
    assert (info.value.line, info.value.field) == (3, "rater_id")
    assert "has 4 tab-separated fields, the header has 5" in str(info.value)


def test_numbers_and_letters_for_one_pair_are_an_error(tmp_path):
    path = _write(tmp_path, "query_id\tquery\tproduct_id\tlabel\nq1\tmug\tp1\tE\nq1\tmug\tp2\tI\nq1\tmug\tp1\t2\n")
    with pytest.raises(DataError) as info:
        read_judgments(path)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 4, "label")
    assert "query 'q1' rates product 'p1' '2' here and 'E' on line 2" in str(info.value)
    skipped = read_judgments(path, on_error="skip")
    assert _labels(skipped) == {("q1", "p1"): ("E", 1), ("q1", "p2"): ("I", 1)}


def test_unknown_label_in_a_repeated_pair_names_its_line(tmp_path):
    path = _write(tmp_path, "query_id\tquery\tproduct_id\tlabel\nq1\tmug\tp1\tE\nq1\tmug\tp1\tX\n")
    with pytest.raises(DataError) as info:
        read_judgments(path)
    assert (info.value.line, info.value.field) == (3, "label")


def test_unknown_duplicates_policy():
    with pytest.raises(ValueError, match="duplicates must be one of mean, max, first, error, got 'median'"):
        read_judgments("unused.tsv", duplicates="median")


@pytest.mark.parametrize(
    ("labels", "policy", "merged"),
    [
        (["S", "E", "S"], "mean", "mean(E,S,S)"),
        (["s", "S"], "mean", "s"),  # agreeing ratings keep the first as written
        (["mean(E,S)", "E"], "mean", "mean(E,E,S)"),  # an averaged label counts as its letters
        (["2", "3"], "mean", "2.5"),
        (["2", "2.0"], "mean", "2"),
        (["1", "1", "2", "2"], "mean", "1.5"),
        (["C", "S", "I"], "max", "S"),
        (["S", "s"], "max", "S"),  # the first of equal gains
        (["0", "0.5"], "max", "0.5"),  # both gain 0 under offset=1: the higher label
        (["2", "3"], "first", "2"),
        (["I"], "mean", "I"),
    ],
)
def test_merge_labels(labels, policy, merged):
    assert merge_labels(labels, policy, GainMap.parse("offset=1")) == merged


@pytest.mark.parametrize(
    ("labels", "policy", "fragment"),
    [
        (["E", "2"], "mean", "cannot merge numbers with letters"),
        ([], "mean", "at least one"),
        (["E"], "error", "must be one of mean, max, first"),
    ],
)
def test_merge_labels_errors(labels, policy, fragment):
    with pytest.raises(ValueError, match=fragment):
        merge_labels(labels, policy, ESCI)


def test_averaged_label_in_the_gain_map():
    assert averaged_letters(" Mean(E, s) ") == ["E", "S"] and averaged_letters("E") is None
    assert ESCI.is_known("mean(E,S)") and not ESCI.is_known("mean(E,X)") and not ESCI.is_known("mean()")
    assert ESCI.gain("mean(E,S,S)") == pytest.approx(0.4)
    with pytest.raises(KeyError):
        ESCI.gain("mean(E,X)")
    # 0.1 three times sums to 0.30000000000000004: still S's gain, still relevant for Recall
    assert ESCI.is_relevant("mean(S,S,S)", for_recall=True)
    assert not ESCI.is_relevant("mean(C,S)", for_recall=True)
    assert ESCI.is_relevant("mean(E,E)") and not ESCI.is_relevant("mean(E,E,S)")
    # relevant= moves the threshold to the smallest gain among the relevant letters
    wide = GainMap.parse("E=1,S=0.1,C=0.01,I=0,relevant=E+S")
    assert wide.is_relevant("mean(E,I)") and not wide.is_relevant("mean(S,I)")
    nothing = GainMap.parse("E=0,S=0,C=0,I=0")
    assert not nothing.is_relevant("mean(E,S)")


def test_labeled_pairs_use_the_averaged_gain(fixtures):
    from shopmatch.catalog import Product
    from shopmatch.train.data import labeled_pairs

    judged = read_judgments(fixtures / "catalog" / "judgments_crowd.tsv")
    products = {r.product_id: Product(r.product_id, f"title {r.product_id}") for r in judged.rows}
    targets = {(p.query_id, p.product_id): p.target for p in labeled_pairs(judged, products, ESCI)}
    assert len(targets) == 8  # one training pair per (query, product), not per rating
    assert targets[("en01", "p003")] == pytest.approx(1.1 / 3)
    assert targets[("en02", "p004")] == pytest.approx(0.55)
    assert targets[("en02", "p007")] == 0.0


# --------------------------------------------------------------------------- pairs


def test_pairs(fixtures):
    pairs = read_pairs(fixtures / "pairs" / "pairs.tsv")
    assert len(pairs) == 20
    assert {p.label for p in pairs} == {0, 1}
    assert (pairs[0].text_a, pairs[0].text_b, pairs[0].label) == (
        "65w usb c charger",
        "65W USB-C charger, GaN, 2 ports",
        1,
    )
    three = read_pairs(fixtures / "pairs" / "pairs_3class.tsv")
    assert len(three) == 20 and {p.label for p in three} == {0, 1, 2}
    assert any("手机壳" in p.text_a for p in three)


@pytest.mark.parametrize(("raw", "ok"), [("1.0", 1), ("0", 0), ("-1", None), ("1.5", None), ("nan", None), ("", None)])
def test_pair_labels(tmp_path, raw, ok):
    path = _write(tmp_path, f"text_a\ttext_b\tlabel\na\tb\t{raw}\n", "pairs.tsv")
    if ok is None:
        with pytest.raises(DataError) as info:
            read_pairs(path)
        assert (info.value.line, info.value.field) == (2, "label")
    else:
        assert read_pairs(path)[0].label == ok


def test_pair_label_inf_is_data_error(tmp_path):
    path = _write(tmp_path, "text_a\ttext_b\tlabel\na\tb\tinf\nc\td\t1\n", "pairs.tsv")
    with pytest.raises(DataError):
        read_pairs(path)


def test_pairs_skip_reports_in_log(fixtures, caplog):
    path = fixtures / "bad" / "pairs_bad_label.tsv"
    with caplog.at_level(logging.WARNING, logger="shopmatch.judgments"):
        pairs = read_pairs(path, on_error="skip")
    assert len(pairs) == 1
    assert f"{path}: skipped 1 bad row(s)" in caplog.text
    assert f"{path}:2: field 'label': must be a non-negative integer class, got 'yes'" in caplog.text


# --------------------------------------------------------------------------- GainMap


def test_gain_map_esci_default():
    g = GainMap.esci()
    assert [g.gain(x) for x in "ESCI"] == [1.0, 0.1, 0.01, 0.0]
    assert g.gain("e") == 1.0
    assert [g.is_relevant(x) for x in "ESCI"] == [True, False, False, False]
    assert GainMap.parse("E=1,S=0.1,C=0.01,I=0") == g
    assert GainMap.parse("") == g


@pytest.mark.parametrize(
    ("spec", "label", "gain", "relevant"),
    [
        ("offset=1", "2.5", 1.5, True),
        ("offset=1", "0.5", 0.0, False),  # clamped at 0
        ("offset=1", "E", 1.0, True),  # letters keep their default gains
        ("relevant>=2.5", "2", 2.0, False),
        ("relevant>=2.5", "3", 3.0, True),
        ("relevant=E+S", "S", 0.1, True),
        ("relevant=E+S", "C", 0.01, False),
        (" e = 3 , s = 2 , relevant = e+s ", "s", 2.0, True),
        ("E=1,S=1,C=0,I=0", "S", 1.0, True),  # ties for the top gain are all relevant
        ("E=0,S=0,C=0,I=0", "E", 0.0, False),
    ],
)
def test_gain_map_parse_variants(spec, label, gain, relevant):
    g = GainMap.parse(spec)
    assert g.gain(label) == pytest.approx(gain)
    assert g.is_relevant(label) is relevant


@pytest.mark.parametrize("spec", ["E=1,S=0.1,C=0.01,I=0", "offset=1", "E=3,S=1,relevant=E+S", "relevant>=2.5"])
def test_gain_map_str_round_trip(spec):
    g = GainMap.parse(spec)
    assert GainMap.parse(str(g)) == g


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("E", "is not KEY=VALUE"),
        ("E=abc", "'abc' is not a number"),
        ("offset=x", "'x' is not a number"),
        ("relevant>=high", "'high' is not a number"),
        ("E=-1", "non-negative"),
        ("E=nan", "non-negative"),
        ("E=inf", "non-negative"),
    ],
)
def test_gain_map_parse_errors(spec, fragment):
    with pytest.raises(ValueError, match=fragment):
        GainMap.parse(spec)


def test_gain_map_unknown_label():
    g = GainMap.esci()
    assert not g.is_known("X") and not g.is_known("nan") and g.is_known("2") and g.is_known("s")
    with pytest.raises(KeyError):
        g.gain("X")


# --------------------------------------------------------------------------- folds


def test_folds_by_sorted_query_position(judgments):
    folds = judgments.folds(5)
    assert len(folds) == 5
    ids = judgments.query_ids  # en01..en08
    for fold, (train, test) in enumerate(folds):
        expected = [q for i, q in enumerate(ids) if i % 5 == fold]
        assert test.query_ids == expected
        assert train.query_ids == [q for q in ids if q not in expected]
        # a query's judgments all go to the same side
        assert len(train) + len(test) == len(judgments)
    tested = [q for _, test in folds for q in test.query_ids]
    assert sorted(tested) == ids and len(tested) == len(set(tested))


def test_folds_use_sorted_ids_not_file_order():
    rows = [Judgment(q, q, "p", "E") for q in ["q9", "q10", "a", "q2", "b", "c", "d"]]
    folds = Judgments(rows).folds(3)
    # sorted: a b c d q10 q2 q9 -> folds 0 1 2 0 1 2 0
    assert [test.query_ids for _, test in folds] == [["a", "d", "q9"], ["b", "q10"], ["c", "q2"]]


def test_recall_relevance_follows_esci_protocol_and_can_be_set():
    esci = GainMap.esci()
    # ESCI protocol: MRR/MAP count E only, Recall counts E and S
    assert [esci.is_relevant(x) for x in "ESCI"] == [True, False, False, False]
    assert [esci.is_relevant(x, for_recall=True) for x in "ESCI"] == [True, True, False, False]
    # an explicit relevant= set applies to Recall too, unless recall= says otherwise
    only_e = GainMap.parse("E=1,S=0.1,C=0.01,I=0,relevant=E")
    assert [only_e.is_relevant(x, for_recall=True) for x in "ESCI"] == [True, False, False, False]
    wide = GainMap.parse("E=1,S=0.1,C=0.01,I=0,recall=E+S+C")
    assert [wide.is_relevant(x, for_recall=True) for x in "ESCI"] == [True, True, True, False]
    assert str(wide).endswith("recall=C+E+S")
    # numeric labels: Recall uses the same threshold as MRR
    hd = GainMap.parse("offset=1,relevant>=2.5")
    assert hd.is_relevant("2.67", for_recall=True) and not hd.is_relevant("2.33", for_recall=True)


def test_judgments_relevant_for_recall():
    j = Judgments([Judgment("q", "x", "a", "E"), Judgment("q", "x", "b", "S"), Judgment("q", "x", "c", "I")])
    assert j.relevant(GainMap.esci()) == {"q": {"a"}}
    assert j.relevant(GainMap.esci(), for_recall=True) == {"q": {"a", "b"}}
