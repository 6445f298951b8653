"""Team-draft interleaving: fairness, order, no duplicates; credit, the sign test, the report."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from shopmatch.cli import app
from shopmatch.events.interleaving import CANDIDATE, CONTROL, credit, outcomes, sign_test, team_draft
from shopmatch.events.io import collect_events
from shopmatch.events.model import Impression, Interaction

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def _subsequence(part, whole) -> bool:
    where = [whole.index(p) for p in part]
    return where == sorted(where)


@pytest.mark.parametrize("seed", range(20))
def test_no_duplicates_order_kept_and_each_side_in_its_team(seed):
    rng = random.Random(seed)
    pool = [f"p{i}" for i in range(30)]
    a, b = rng.sample(pool, 12), rng.sample(pool, 12)
    merged, teams = team_draft(a, b, 10, random.Random(seed))
    assert len(merged) == 10 == len(set(merged)) == len(teams)
    for side, ranking in ((CONTROL, a), (CANDIDATE, b)):
        mine = [p for p, t in zip(merged, teams, strict=True) if t == side]
        assert all(p in ranking for p in mine)
        assert _subsequence(mine, ranking)  # each side's picks keep its order
        # team draft: a side's pick is its best product not yet shown
        for p in mine:
            earlier = merged[: merged.index(p)]
            assert all(q in earlier for q in ranking[: ranking.index(p)])
    assert abs(teams.count(CONTROL) - teams.count(CANDIDATE)) <= 1


def test_each_side_contributes_half_and_leads_half_in_expectation():
    a, b = [f"a{i}" for i in range(10)], [f"b{i}" for i in range(10)]
    rng = random.Random(0)
    first = sum(team_draft(a, b, 10, rng)[1][0] == CANDIDATE for _ in range(4000))
    assert 1850 < first < 2150  # the coin: each side leads about half the time
    odd = [team_draft(a, b, 9, rng)[1].count(CANDIDATE) for _ in range(4000)]
    assert 4.4 < sum(odd) / len(odd) < 4.6  # 9 slots: 4 or 5 each, 4.5 in expectation


def test_identical_rankings_interleave_to_the_same_list_and_short_lists_fill_in():
    merged, teams = team_draft(["x", "y", "z"], ["x", "y", "z"], 3, random.Random(3))
    assert merged == ["x", "y", "z"] and set(teams) <= {CONTROL, CANDIDATE}
    merged, teams = team_draft(["x"], ["y", "z", "w"], 4, random.Random(3))
    assert sorted(merged) == ["w", "x", "y", "z"] and teams.count(CONTROL) == 1
    assert team_draft([], [], 5, random.Random(0)) == ([], [])


def test_credit_and_the_sign_test():
    assert credit([CONTROL, CANDIDATE, CANDIDATE], [1, 2]) == {CONTROL: 0, CANDIDATE: 2}
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 5) == 1.0
    assert sign_test(10, 0) == pytest.approx(2 / 1024)
    assert sign_test(3, 12) == pytest.approx(sign_test(12, 3)) == pytest.approx(0.03515625)
    assert sign_test(2600, 2400) == pytest.approx(0.0048836497375, rel=1e-8)  # scipy.stats.binomtest's value
    assert sign_test(1000, 1000) == 1.0


def _log():
    events = []
    # three interleaved impressions in two sessions, and one plain impression
    shown = [
        ("s1", "ses-1", ["a", "b"], [CONTROL, CANDIDATE], ["b"]),  # candidate wins
        ("s2", "ses-1", ["c", "d"], [CANDIDATE, CONTROL], ["c"]),  # candidate wins
        ("s3", "ses-2", ["e", "f"], [CONTROL, CANDIDATE], ["e"]),  # loss
        ("s4", "ses-2", ["g", "h"], [CONTROL, CANDIDATE], []),  # tie, no clicks
    ]
    for search_id, session, results, teams, clicked in shown:
        extra = {"interleaving": {"experiment": "v2", "teams": teams}}
        events.append(Impression(search_id, "q", tuple(results), NOW, session_id=session, extra=extra))
        events += [Interaction("click", search_id, p, NOW) for p in clicked]
    events.append(Impression("plain", "q", ("a",), NOW))
    events.append(Interaction("click", "plain", "a", NOW))
    return collect_events(events)


def test_outcomes_per_impression_and_per_session():
    outcome = outcomes(_log())["v2"]
    assert (outcome.impressions.wins, outcome.impressions.losses, outcome.impressions.ties) == (2, 1, 1)
    assert outcome.impressions.no_clicks == 1
    assert (outcome.sessions.wins, outcome.sessions.losses, outcome.sessions.ties) == (1, 1, 0)
    assert outcome.clicks == {CONTROL: 1, CANDIDATE: 2}


def test_experiment_report_command(tmp_path):
    from shopmatch.events.io import write_events

    path = tmp_path / "events.jsonl"
    write_events(_log().events(), path)
    result = CliRunner().invoke(app, ["experiment", "report", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["v2"]
    assert report["per_impression"]["wins"] == 2 and report["per_session"]["losses"] == 1
    assert report["per_impression"]["p_value"] == pytest.approx(sign_test(2, 1))
    assert report["verdict"].startswith("candidate preferred, not significant")
    table = CliRunner().invoke(app, ["experiment", "report", str(path)])
    assert table.exit_code == 0 and "session" in table.stdout and "sign test" in table.stdout
    plain = tmp_path / "plain.jsonl"
    plain.write_text(
        '{"type": "impression", "search_id": "x", "query": "q", "results": [], "ts": "2026-12-06T10:00Z"}\n'
    )
    missing = CliRunner().invoke(app, ["experiment", "report", str(plain)])
    assert missing.exit_code == 2 and "no impression of an interleaving experiment" in missing.output
