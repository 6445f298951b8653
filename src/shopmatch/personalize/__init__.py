"""Personalization from behaviour: shopper profiles from events, user features, and the stage that
re-orders a shopper's results.

- :mod:`.profiles`: :class:`ProfileStore` / :class:`UserProfile` (decayed brand, category and
  price-band shares), :func:`profiles_at_impressions` (profiles as they were, for training);
- :mod:`.features`: :data:`USER_FEATURE_NAMES`, :func:`user_features`;
- :mod:`.model`: :func:`train_personalizer` (LambdaMART over the user features, boosted from the
  plain scores);
- :mod:`.stage`: the search path's hook (:func:`~.stage.personalized`);
- :mod:`.config`: ``[personalize]``.

Example:
    >>> USER_FEATURE_NAMES[0]
    'user_brand_affinity'
"""

from __future__ import annotations

from shopmatch.personalize.config import PersonalizeConfig
from shopmatch.personalize.features import USER_FEATURE_NAMES, user_features
from shopmatch.personalize.profiles import (
    ProductFacts,
    ProfileStore,
    UserProfile,
    catalog_facts,
    price_band,
    profiles_at_impressions,
)

__all__ = [
    "USER_FEATURE_NAMES",
    "PersonalizeConfig",
    "ProductFacts",
    "ProfileStore",
    "UserProfile",
    "catalog_facts",
    "price_band",
    "profiles_at_impressions",
    "user_features",
]
