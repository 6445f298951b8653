"""Team-draft interleaving: merge two rankings, credit each click to the side that contributed it.

Team draft (Radlinski, Kurup and Joachims, CIKM 2008): in each round a coin decides which side
picks first; each side then adds its highest-ranked product not already in the merged list. Every
product carries its team (``control`` or ``candidate``); a click on it counts for that team. Per
impression (or per session, summed) the side with more clicked products wins; a binomial sign test
on wins against losses says whether the difference is more than chance.

An interleaved impression records its teams in the extra key ``interleaving`` of the impression
(``{"experiment": NAME, "teams": ["control", "candidate", ...]}``, one team per result, in order),
so any log reader keeps it and :func:`outcomes` can credit the clicks later.

Example:
    >>> import random
    >>> merged, teams = team_draft(["a", "b", "c"], ["b", "d", "a"], 4, random.Random(1))
    >>> sorted(merged) == sorted(set(merged)), len(merged)
    (True, 4)
    >>> sign_test(8, 2) < 0.11 < sign_test(6, 4)
    True
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shopmatch.events.io import EventLog

CONTROL = "control"
CANDIDATE = "candidate"
TEAMS = (CONTROL, CANDIDATE)
EXTRA_KEY = "interleaving"
"""The impression key holding ``{"experiment": name, "teams": [...]}``."""


def team_draft(
    control: Sequence[str], candidate: Sequence[str], k: int, rng: random.Random
) -> tuple[list[str], list[str]]:
    """The team-draft interleaving of two rankings, at most ``k`` products, and each one's team.

    Each side's products keep their relative order in the merged list; no product appears twice;
    when one side runs out the other fills the rest.

    Args:
        control, candidate: the two rankings, best first (a repeated id counts once).
        k: how many products to merge.
        rng: the coin tosses (seed it per search for a reproducible page).
    """
    lists = {CONTROL: list(dict.fromkeys(control)), CANDIDATE: list(dict.fromkeys(candidate))}
    cursor = {CONTROL: 0, CANDIDATE: 0}
    picked = {CONTROL: 0, CANDIDATE: 0}
    merged: list[str] = []
    teams: list[str] = []
    seen: set[str] = set()

    def next_of(team: str) -> str | None:
        items = lists[team]
        while cursor[team] < len(items) and items[cursor[team]] in seen:
            cursor[team] += 1
        return items[cursor[team]] if cursor[team] < len(items) else None

    while len(merged) < k:
        if picked[CONTROL] < picked[CANDIDATE]:
            team = CONTROL
        elif picked[CANDIDATE] < picked[CONTROL]:
            team = CANDIDATE
        else:
            team = CONTROL if rng.random() < 0.5 else CANDIDATE
        product = next_of(team)
        if product is None:
            team = CANDIDATE if team == CONTROL else CONTROL
            product = next_of(team)
            if product is None:
                break
        merged.append(product)
        teams.append(team)
        seen.add(product)
        picked[team] += 1
    return merged, teams


def credit(teams: Sequence[str], clicked_positions: Iterable[int]) -> dict[str, int]:
    """Clicked products per team; ``clicked_positions`` are 0-based places in the merged list
    (a position clicked twice counts once, one outside the list not at all).

    Example:
        >>> credit(["control", "candidate", "control"], [0, 2, 2, 7])
        {'control': 2, 'candidate': 0}
    """
    out = {team: 0 for team in TEAMS}
    for position in set(clicked_positions):
        if 0 <= position < len(teams):
            out[teams[position]] += 1
    return out


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial sign test of ``wins`` against ``losses`` (ties left out); 1.0 when both are 0.

    Example:
        >>> round(sign_test(9, 1), 4)
        0.0215
    """
    n = wins + losses
    if n == 0:
        return 1.0
    low = min(wins, losses)
    if n <= 1000:
        tail = sum(math.comb(n, i) for i in range(low + 1)) / (1 << n)
    else:  # the same sum in log space (exact integers get slow and 2**n overflows a float)
        logs = [
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(low + 1)
        ]
        top = max(logs)
        tail = math.exp(top) * sum(math.exp(v - top) for v in logs)
    return min(1.0, 2.0 * tail)


@dataclass
class Tally:
    """Wins (the candidate got more clicks), losses (fewer) and ties (as many; no clicks included)."""

    wins: int = 0
    losses: int = 0
    ties: int = 0
    no_clicks: int = 0

    def add(self, clicks: dict[str, int]) -> None:
        if clicks[CANDIDATE] > clicks[CONTROL]:
            self.wins += 1
        elif clicks[CANDIDATE] < clicks[CONTROL]:
            self.losses += 1
        else:
            self.ties += 1
            if not clicks[CANDIDATE]:
                self.no_clicks += 1

    @property
    def total(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def delta(self) -> float:
        """``(wins + ties/2) / total − 0.5``: above 0 the candidate is preferred (Chapelle et al. 2012)."""
        return (self.wins + 0.5 * self.ties) / self.total - 0.5 if self.total else 0.0

    @property
    def p_value(self) -> float:
        return sign_test(self.wins, self.losses)

    def to_dict(self) -> dict[str, Any]:
        return {
            "wins": self.wins,
            "losses": self.losses,
            "ties": self.ties,
            "no_clicks": self.no_clicks,
            "total": self.total,
            "delta": round(self.delta, 6),
            "p_value": self.p_value,
        }


@dataclass
class ExperimentOutcome:
    """What one experiment's interleaved impressions say, per impression and per session."""

    experiment: str
    impressions: Tally = field(default_factory=Tally)
    sessions: Tally = field(default_factory=Tally)
    clicks: dict[str, int] = field(default_factory=lambda: {team: 0 for team in TEAMS})
    unsessioned: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "per_impression": self.impressions.to_dict(),
            "per_session": self.sessions.to_dict(),
            "clicks": dict(self.clicks),
            "impressions_without_session": self.unsessioned,
        }


def outcomes(log: EventLog) -> dict[str, ExperimentOutcome]:
    """Each experiment's outcome in ``log``: clicks (and carts, purchases: a product engaged with
    counts once) credited to the team that contributed the product.

    A session is the impression's ``session_id`` (else its ``user_id``); impressions with neither
    count per impression only.
    """
    engaged: dict[str, set[str]] = {}
    for event in log.interactions:
        engaged.setdefault(event.search_id, set()).add(event.product_id)
    found: dict[str, ExperimentOutcome] = {}
    session_clicks: dict[tuple[str, str], dict[str, int]] = {}
    for shown in log.impressions:
        teams = teams_of(shown.extra)
        if teams is None:
            continue
        name, teams = teams
        outcome = found.setdefault(name, ExperimentOutcome(name))
        hit = engaged.get(shown.search_id, set())
        clicks = credit(teams, [i for i, pid in enumerate(shown.results) if pid in hit])
        outcome.impressions.add(clicks)
        for team in TEAMS:
            outcome.clicks[team] += clicks[team]
        who = shown.session_id or shown.user_id
        if who is None:
            outcome.unsessioned += 1
            continue
        total = session_clicks.setdefault((name, who), {team: 0 for team in TEAMS})
        for team in TEAMS:
            total[team] += clicks[team]
    for (name, _), clicks in session_clicks.items():
        found[name].sessions.add(clicks)
    return found


def teams_of(extra: dict[str, Any]) -> tuple[str, list[str]] | None:
    """``(experiment, teams)`` of an impression's extra keys, or None when it was not interleaved
    (or its record is not one this module wrote)."""
    record = extra.get(EXTRA_KEY)
    if not isinstance(record, dict):
        return None
    teams = record.get("teams")
    if not isinstance(teams, list) or any(team not in TEAMS for team in teams):
        return None
    return str(record.get("experiment", "experiment")), teams
