"""``[personalize]``: per-shopper affinities from behaviour, and the model that turns them into a re-ordering.

Example:
    >>> config = PersonalizeConfig.from_dict({"profiles": "profiles.json", "model": "personal"})
    >>> config.enabled, config.half_life_days
    (True, 30.0)
"""

from __future__ import annotations

from dataclasses import dataclass

from shopmatch.settings import ConfigSection, setting


@dataclass(frozen=True)
class PersonalizeConfig(ConfigSection):
    """Personalization (off unless ``model`` names a trained personalizer directory).

    Attributes:
        profiles: a profiles file written by ``shopmatch events profiles`` ("" = none; the service
            builds profiles live from the events it captures).
        model: a personalizer directory (``bench/experiments/personalization.py`` or
            :func:`shopmatch.personalize.stage.train_personalizer` writes one); "" = no personalization.
        top_n: how many of the final candidates the personalizer re-orders per query.
        half_life_days: an event counts half as much after this many days.
        click, add_to_cart, purchase: the weight of each kind of event in a profile.
    """

    SECTION = "personalize"

    profiles: str = ""
    model: str = ""
    top_n: int = setting(100, minimum=1)
    half_life_days: float = setting(30.0, greater_than=0.0)
    click: float = setting(1.0, minimum=0.0)
    add_to_cart: float = setting(2.0, minimum=0.0)
    purchase: float = setting(3.0, minimum=0.0)

    @property
    def enabled(self) -> bool:
        return bool(self.model)

    def weights(self) -> dict[str, float]:
        """Each interaction type's weight."""
        return {"click": self.click, "add_to_cart": self.add_to_cart, "purchase": self.purchase}
