"""An online experiment: a share of ``/search`` traffic sees two rankers team-draft interleaved.

``[experiment]`` (a TOML table, or ``shopmatch serve --experiment-*``) names the control and the
candidate ranker directories (either may be empty: no ranker), the ``share`` of searches that are
interleaved and a ``seed``. Whether a search is in the experiment is decided by a hash of its
session (``session_id``, else ``user_id``, else the search itself), so a shopper stays in or out
for the whole session. An interleaved first page (``offset`` 0) merges the control's and the
candidate's pages (:func:`shopmatch.events.interleaving.team_draft`, the coin seeded by the search
id); its impression records each product's team, and ``shopmatch experiment report`` credits the
clicks. Other pages and other searches are served by the service's own models.

Example:
    >>> config = ExperimentConfig(control="", candidate="models/v2", share=0.5, seed=7)
    >>> config.enabled, in_share(config, "session-1") == in_share(config, "session-1")
    (True, True)
    >>> ExperimentConfig(share=1.5)
    Traceback (most recent call last):
    ...
    shopmatch.errors.ConfigError: experiment.share must be a number in [0, 1], got 1.5
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shopmatch.events.interleaving import CANDIDATE, CONTROL, EXTRA_KEY, team_draft
from shopmatch.service.models import ModelRejected, ModelSet, load_ranker, model_version
from shopmatch.settings import ConfigSection, setting


@dataclass(frozen=True)
class ExperimentConfig(ConfigSection):
    """An interleaving experiment (``[experiment]``).

    Attributes:
        name: recorded in each interleaved impression (``shopmatch experiment report`` groups by it).
        control, candidate: ranker directories (``shopmatch train ranker``, ``shopmatch retrain``);
            empty: that side searches with no ranker.
        share: the share of searches (of sessions, when they carry one) interleaved, 0 to 1.
        seed: which sessions fall in the share, and the coin of each search.
    """

    SECTION = "experiment"

    name: str = "experiment"
    control: str = ""
    candidate: str = ""
    share: float = setting(0.0, minimum=0.0, maximum=1.0)
    seed: int = 0

    @property
    def enabled(self) -> bool:
        return self.share > 0 and self.control != self.candidate

    @classmethod
    def from_toml(cls, path: str | Path) -> ExperimentConfig:
        """The ``[experiment]`` table of a TOML file (none: no experiment)."""
        return cls.from_toml_section(path)


def in_share(config: ExperimentConfig, key: str) -> bool:
    """Whether ``key`` (a session, a user or a search) is in the experiment's share: a seeded hash, so
    the same key always gets the same answer."""
    return _unit(f"{config.seed}\x00{config.name}\x00{key}") < config.share


def _unit(text: str) -> float:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class Experiment:
    """A running experiment: both sides' rankers loaded once, at start.

    Raises:
        ModelRejected: a ranker directory that cannot be loaded (the service does not start).
    """

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.rankers = {}
        self.versions = {}
        for team, source in ((CONTROL, config.control), (CANDIDATE, config.candidate)):
            try:
                self.rankers[team] = load_ranker(source) if source else None
            except ModelRejected as err:
                raise ModelRejected(f"experiment.{team}", err.message) from None
            self.versions[team] = model_version(source or None, ["ranker.json", "model.txt"], "start")

    def applies(self, search_id: str, *, user_id: str | None, session_id: str | None, offset: int) -> bool:
        """Whether this search is interleaved (first pages of searches in the share)."""
        return offset == 0 and in_share(self.config, session_id or user_id or search_id)

    def models(self, base: ModelSet, team: str) -> ModelSet:
        """The service's models with ``team``'s ranker instead of its own."""
        source = self.config.control if team == CONTROL else self.config.candidate
        config = replace(base.config, ranker=replace(base.config.ranker, model=source))
        return replace(base, config=config, ranker=self.rankers[team])

    def merge(self, search_id: str, control: list[dict[str, Any]], candidate: list[dict[str, Any]], k: int):
        """The interleaved results (positions renumbered) and the team of each."""
        by_id = {r["product_id"]: r for r in candidate}
        by_id.update({r["product_id"]: r for r in control})
        rng = random.Random(f"{self.config.seed}\x00{search_id}")
        ids, teams = team_draft([r["product_id"] for r in control], [r["product_id"] for r in candidate], k, rng)
        results = [{**by_id[pid], "rank": i} for i, pid in enumerate(ids, start=1)]
        return results, teams

    def record(self, teams: list[str]) -> dict[str, Any]:
        """The impression's extra key: the experiment and each result's team."""
        return {EXTRA_KEY: {"experiment": self.config.name, "teams": teams}}

    def describe(self) -> dict[str, Any]:
        return {"name": self.config.name, "share": self.config.share, "seed": self.config.seed, **self.versions}
