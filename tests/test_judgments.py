"""Judgments, pair sets, gain maps and folds."""

from __future__ import annotations

import logging

import pytest

from shopmatch.errors import DataError
from shopmatch.judgments import GainMap, Judgment, Judgments, read_judgments, read_pairs


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


def test_duplicate_pair(tmp_path):
    path = _write(tmp_path, "query_id\tquery\tproduct_id\tlabel\nq1\tmug\tp1\tE\nq2\tmug\tp1\tE\nq1\tmug\tp1\tI\n")
    with pytest.raises(DataError) as info:
        read_judgments(path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), 4, "product_id")
    assert "query 'q1' judges product 'p1' twice (first on line 2)" in str(err)
    skipped = read_judgments(path, on_error="skip")
    assert [(r.query_id, r.label) for r in skipped.rows] == [("q1", "E"), ("q2", "E")]
    assert skipped.skipped.count == 1


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
