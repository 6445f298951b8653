"""The query and its understanding: what a query asks for beyond its words (e.g. ``without chicken``)."""

from shopmatch.query.exclusion import NegationConfig, demote_excluded, excluded_rows
from shopmatch.query.negation import Exclusion, mentions, parse_exclusions
from shopmatch.query.query import Query, understand

__all__ = [
    "Exclusion",
    "NegationConfig",
    "Query",
    "demote_excluded",
    "excluded_rows",
    "mentions",
    "parse_exclusions",
    "understand",
]
