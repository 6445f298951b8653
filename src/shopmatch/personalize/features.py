"""The user feature group: how much a candidate matches the shopper's profile.

:data:`USER_FEATURE_NAMES`, in this order:

- ``user_brand_affinity``: the share of the shopper's (decayed) weight on the candidate's brand;
- ``user_category_affinity``: the mean share over the prefixes of the candidate's category path;
- ``user_price_affinity``: the share in the candidate's price band (:func:`~.profiles.price_band`);
- ``user_brand_lift``: how much more the shopper goes for the brand than everyone does
  (:meth:`~.profiles.UserProfile.brand_lift`; 0 without the population's shares);
- ``user_history``: ``log(1 + total weight)``, the size of the history (the same for every candidate).

Every feature is 0 without a shopper, or for a shopper with no history: the personalizer then adds
the same number to every candidate, so the order is the plain one (:mod:`.stage`).

Example:
    >>> from datetime import UTC, datetime
    >>> from shopmatch.personalize.profiles import ProductFacts, UserProfile
    >>> p = UserProfile()
    >>> p.add(ProductFacts("Acme", ("Tools",), 20.0), 1.0, datetime(2026, 12, 6, tzinfo=UTC), half_life_days=30)
    >>> candidates = [{"brand": "ACME", "category": ["Tools", "Saws"]}, {"brand": "Bolt"}]
    >>> user_features(p, candidates).astype(float).round(3).tolist()
    [[1.0, 0.5, 0.0, 0.0, 0.693], [0.0, 0.0, 0.0, 0.0, 0.693]]
    >>> user_features(None, [{"brand": "Acme"}]).tolist()
    [[0.0, 0.0, 0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shopmatch.personalize.profiles import UserProfile

USER_FEATURE_NAMES: tuple[str, ...] = (
    "user_brand_affinity",
    "user_category_affinity",
    "user_price_affinity",
    "user_brand_lift",
    "user_history",
)


def user_features(profile: UserProfile | None, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The ``(len(records), len(USER_FEATURE_NAMES))`` float32 user features of these candidates."""
    out = np.zeros((len(records), len(USER_FEATURE_NAMES)), dtype=np.float32)
    if profile is None or profile.empty:
        return out
    for i, record in enumerate(records):
        price = record.get("price")
        out[i, 0] = profile.brand_share(record.get("brand"))
        out[i, 1] = profile.category_share(record.get("category") or ())
        out[i, 2] = profile.price_share(float(price) if price else None)
        out[i, 3] = profile.brand_lift(record.get("brand"))
    out[:, 4] = math.log1p(profile.total)
    return out
