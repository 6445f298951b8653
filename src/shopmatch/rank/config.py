"""``[ranker]``: the learned ranker stage (off unless ``model`` names a trained ranker directory).

Example:
    >>> RankerConfig.from_dict({"model": "my-ranker", "top_n": 50}).enabled
    True
"""

from __future__ import annotations

from dataclasses import dataclass

from shopmatch.settings import ConfigSection, setting


@dataclass(frozen=True)
class RankerConfig(ConfigSection):
    """The learned ranker stage.

    Attributes:
        model: a ranker directory written by ``shopmatch train ranker``; empty means no ranker.
        top_n: how many candidates (after fusion, feedback and the cross-encoder) the ranker
            re-orders per query; the rest keep their order after them.
    """

    SECTION = "ranker"

    model: str = ""
    top_n: int = setting(100, minimum=1)

    @property
    def enabled(self) -> bool:
        return bool(self.model)
