"""Per-shopper affinities from behaviour: brand, category and price-band shares of what a shopper
clicked, carted and bought, exponentially decayed by age.

An interaction of type ``t`` at time ``ts`` adds ``weight[t] · 2^(-(now - ts) / half_life)`` to the
shopper's brand (the product's brand), to every prefix of its category path, and to its price band
(:func:`price_band`: powers of two, ``"16-32"``); the **share** of a value is its weight over the
shopper's total weight (all products, with or without a brand or a price). Shares do not change as
time passes (every weight decays alike); the total, the size of the history, does. A profile keeps its
weights as of its last event (``as_of``); :meth:`UserProfile.at` decays it to a later time.

:class:`ProfileStore` holds every shopper's profile; ``shopmatch events profiles`` builds one from
an events file and writes it (:meth:`ProfileStore.save`, JSON, the largest ``max_values`` values of
each kind per shopper); the service updates it live from the events it captures.
:func:`profiles_at_impressions` gives each impression its shopper's profile *as it was when the
results were shown*, built from strictly earlier events only: what training may use without
leaking the future (or the clicks on the very results it learns to rank).

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> p = UserProfile()
    >>> t0 = datetime(2026, 12, 1, tzinfo=UTC)
    >>> p.add(ProductFacts("Acme", ("Tools", "Drills"), 45.0), 1.0, t0, half_life_days=30)
    >>> p.add(ProductFacts("Bolt", ("Tools",), None), 1.0, t0 + timedelta(days=30), half_life_days=30)
    >>> [round(x, 3) for x in (p.brand_share("acme"), p.category_share(("Tools", "Drills")), p.price_share(40.0))]
    [0.333, 0.667, 0.333]
    >>> round(p.at(t0 + timedelta(days=60), half_life_days=30).total, 3)
    0.75
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from shopmatch.errors import DataError
from shopmatch.events.io import EventLog
from shopmatch.events.model import Impression, Interaction, format_timestamp, parse_timestamp
from shopmatch.personalize.config import PersonalizeConfig

PROFILES_KIND = "shopmatch-profiles"
FORMAT_VERSION = 1
MAX_VALUES = 50
"""Values of each kind (brands, category prefixes, price bands) a saved profile keeps per shopper."""
SECONDS_PER_DAY = 86_400.0
LIFT_PRIOR = 5.0
"""The weight (in events) of the population's brand shares in a shopper's smoothed brand lift."""
RECENT_EVENT_IDS = 100_000
"""How many ``event_id``\\s a store remembers so that a repeated event is counted once."""


@dataclass(frozen=True)
class ProductFacts:
    """What a profile counts of a product: its brand, category path and price (each may be missing).

    Example:
        >>> ProductFacts.of({"brand": " Acme ", "category": ["Tools"], "price": 9.5})
        ProductFacts(brand='acme', category=('tools',), price=9.5)
    """

    brand: str | None
    category: tuple[str, ...] = ()
    price: float | None = None

    def __post_init__(self) -> None:
        brand = _key(self.brand) if self.brand else None
        object.__setattr__(self, "brand", brand or None)
        object.__setattr__(self, "category", tuple(c for c in (_key(c) for c in self.category) if c))

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> ProductFacts:
        """The facts of a product record (the catalog format: ``brand``, ``category``, ``price``)."""
        price = record.get("price")
        return cls(record.get("brand"), tuple(record.get("category") or ()), float(price) if price else None)

    def prefixes(self) -> list[str]:
        """Every prefix of the category path, as profile keys (``"tools"``, ``"tools > drills"``)."""
        return [" > ".join(self.category[: d + 1]) for d in range(len(self.category))]


def price_band(price: float | None) -> str | None:
    """The price band of a price: ``[2^k, 2^(k+1))`` written ``"2^k-2^(k+1)"``; below 1 is ``"0-1"``.

    Example:
        >>> price_band(45.0), price_band(0.5), price_band(None)
        ('32-64', '0-1', None)
    """
    if price is None or not math.isfinite(price) or price < 0:
        return None
    if price < 1:
        return "0-1"
    k = int(math.floor(math.log2(price)))
    return f"{2**k}-{2 ** (k + 1)}"


@dataclass
class UserProfile:
    """One shopper's decayed weights, as of ``as_of`` (the time of the last event counted).

    Attributes:
        total: the decayed weight of every counted interaction.
        events: how many interactions were counted (not decayed).
        brands, categories, price_bands: decayed weight per value (category: every path prefix).
    """

    as_of: datetime | None = None
    total: float = 0.0
    events: int = 0
    brands: dict[str, float] = field(default_factory=dict)
    categories: dict[str, float] = field(default_factory=dict)
    price_bands: dict[str, float] = field(default_factory=dict)
    population: UserProfile | None = field(default=None, repr=False, compare=False)

    @property
    def empty(self) -> bool:
        return self.total <= 0.0

    def add(self, facts: ProductFacts, weight: float, ts: datetime, *, half_life_days: float) -> None:
        """Count one interaction of ``weight`` at ``ts`` (events may come out of order)."""
        if weight <= 0:
            return
        if self.as_of is None:
            self.as_of = ts
        elif ts > self.as_of:
            self._scale(_decay(ts, self.as_of, half_life_days))
            self.as_of = ts
        else:
            weight *= _decay(self.as_of, ts, half_life_days)
        self.total += weight
        self.events += 1
        if facts.brand:
            self.brands[facts.brand] = self.brands.get(facts.brand, 0.0) + weight
        for prefix in facts.prefixes():
            self.categories[prefix] = self.categories.get(prefix, 0.0) + weight
        band = price_band(facts.price)
        if band is not None:
            self.price_bands[band] = self.price_bands.get(band, 0.0) + weight

    def at(self, now: datetime, *, half_life_days: float) -> UserProfile:
        """A copy decayed to ``now`` (unchanged when ``now`` is not later than ``as_of``)."""
        out = self.copy()
        if self.as_of is not None and now > self.as_of:
            out._scale(_decay(now, self.as_of, half_life_days))
            out.as_of = now
        return out

    def brand_share(self, brand: str | None) -> float:
        """The share of the shopper's weight on this brand (0 without a history or a brand)."""
        if self.empty or not brand:
            return 0.0
        return self.brands.get(_key(brand), 0.0) / self.total

    def brand_lift(self, brand: str | None, prior: float = LIFT_PRIOR) -> float:
        """How much more the shopper goes for this brand than all shoppers together do:
        ``log(((w + prior · p) / (W + prior)) / p)``, ``w`` the shopper's weight on the brand, ``W``
        their total, ``p`` the brand's share of everyone's weight (:attr:`population`). 0 without a
        history, a population or a brand the population knows; the same (negative) number for every
        brand the shopper never went for. Unlike the share, it tells a taste from a popular brand."""
        if self.empty or not brand or self.population is None or self.population.empty:
            return 0.0
        key = _key(brand)
        p = self.population.brands.get(key, 0.0) / self.population.total
        if p <= 0.0:
            return 0.0
        return math.log((self.brands.get(key, 0.0) + prior * p) / (self.total + prior) / p)

    def category_share(self, category: Sequence[str]) -> float:
        """The mean share over the prefixes of this category path (a product in the shopper's
        department but another aisle gets part of the credit)."""
        prefixes = ProductFacts(None, tuple(category)).prefixes()
        if self.empty or not prefixes:
            return 0.0
        return sum(self.categories.get(p, 0.0) for p in prefixes) / (len(prefixes) * self.total)

    def price_share(self, price: float | None) -> float:
        """The share of the shopper's weight in this price's band."""
        band = price_band(price)
        if self.empty or band is None:
            return 0.0
        return self.price_bands.get(band, 0.0) / self.total

    def copy(self) -> UserProfile:
        return UserProfile(
            self.as_of,
            self.total,
            self.events,
            dict(self.brands),
            dict(self.categories),
            dict(self.price_bands),
            self.population,
        )

    def compact(self, max_values: int = MAX_VALUES) -> None:
        """Keep the ``max_values`` largest weights of each kind (the total keeps the rest's weight)."""
        for name in ("brands", "categories", "price_bands"):
            values = getattr(self, name)
            if len(values) > max_values:
                setattr(self, name, dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:max_values]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": format_timestamp(self.as_of) if self.as_of is not None else None,
            "total": round(self.total, 9),
            "events": self.events,
            "brands": _rounded(self.brands),
            "categories": _rounded(self.categories),
            "price_bands": _rounded(self.price_bands),
        }

    @classmethod
    def from_dict(cls, record: Any) -> UserProfile:
        """Validate a saved profile; :class:`DataError` names the field."""
        if not isinstance(record, Mapping):
            raise DataError(f"must be an object, got {type(record).__name__}")
        as_of = record.get("as_of")
        total = record.get("total")
        if not _number(total) or total < 0:
            raise DataError(f"must be a number ≥ 0, got {total!r}", field="total")
        events = record.get("events", 0)
        if isinstance(events, bool) or not isinstance(events, int) or events < 0:
            raise DataError(f"must be a whole number ≥ 0, got {events!r}", field="events")
        values = {}
        for name in ("brands", "categories", "price_bands"):
            raw = record.get(name, {})
            if not isinstance(raw, Mapping) or not all(_number(v) and v >= 0 for v in raw.values()):
                raise DataError("must be an object of numbers ≥ 0", field=name)
            values[name] = {str(k): float(v) for k, v in raw.items()}
        return cls(parse_timestamp(as_of, "as_of") if as_of is not None else None, float(total), events, **values)

    def _scale(self, factor: float) -> None:
        self.total *= factor
        for values in (self.brands, self.categories, self.price_bands):
            for key in values:
                values[key] *= factor


FactsOf = Callable[[str], ProductFacts | None]
"""A product id's facts, or None for a product the catalog does not have."""


class ProfileStore:
    """Every shopper's :class:`UserProfile`, updated event by event (thread-safe).

    Example:
        >>> from datetime import UTC, datetime
        >>> store = ProfileStore()
        >>> t = datetime(2026, 12, 6, tzinfo=UTC)
        >>> store.add("u1", "click", ProductFacts("Acme"), t)
        >>> store.get("u1").brand_share("Acme"), store.get("nobody")
        (1.0, None)
    """

    def __init__(self, config: PersonalizeConfig | None = None) -> None:
        self.config = config or PersonalizeConfig()
        self.users: dict[str, UserProfile] = {}
        self.population = UserProfile()
        """Everyone's interactions together (the brand lift's reference)."""
        self.until: datetime | None = None
        self.unknown_products = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._weights = self.config.weights()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.users)

    def add(self, user_id: str, kind: str, facts: ProductFacts, ts: datetime) -> None:
        """Count one interaction (``click``, ``add_to_cart`` or ``purchase``) of ``user_id``."""
        weight = self._weights[kind]
        with self._lock:
            profile = self.users.get(user_id)
            if profile is None:
                profile = self.users[user_id] = UserProfile()
            profile.add(facts, weight, ts, half_life_days=self.config.half_life_days)
            self.population.add(facts, weight, ts, half_life_days=self.config.half_life_days)
            if len(profile.categories) > 2 * MAX_VALUES or len(profile.brands) > 2 * MAX_VALUES:
                profile.compact()
            self.until = ts if self.until is None or ts > self.until else self.until

    def get(
        self, user_id: str | None, now: datetime | None = None, *, frozen_population: bool = False
    ) -> UserProfile | None:
        """A copy of ``user_id``'s profile (decayed to ``now`` when given), or None if it has none;
        its :attr:`~UserProfile.population` is the store's (a copy of its brands with ``frozen_population``:
        what training needs, as later events must not change it)."""
        if user_id is None:
            return None
        with self._lock:
            profile = self.users.get(user_id)
            if profile is None:
                return None
            out = profile.at(now, half_life_days=self.config.half_life_days) if now else profile.copy()
            population = self.population
            if frozen_population:
                population = UserProfile(population.as_of, population.total, population.events, dict(population.brands))
            out.population = population
            return out

    def update(
        self,
        events: Iterable[Impression | Interaction],
        facts_of: FactsOf,
        *,
        shown: Callable[[str], Impression | None] = lambda search_id: None,
    ) -> int:
        """Count the interactions among ``events`` (impressions tell whose an interaction without a
        ``user_id`` is; so does ``shown``, a search id's impression seen before); returns how many counted.
        An ``event_id`` already counted (among the last :data:`RECENT_EVENT_IDS`) is not counted again."""
        events = list(events)
        impressions = {e.search_id: e for e in events if isinstance(e, Impression)}
        counted = 0
        for event in events:
            if not isinstance(event, Interaction):
                continue
            if event.event_id is not None:
                if event.event_id in self._seen:
                    continue
                self._seen[event.event_id] = None
                if len(self._seen) > RECENT_EVENT_IDS:
                    self._seen.popitem(last=False)
            user_id = interaction_user(event, impressions.get(event.search_id) or shown(event.search_id))
            if user_id is None:
                continue
            facts = facts_of(event.product_id)
            if facts is None:
                self.unknown_products += 1
                continue
            self.add(user_id, event.type, facts, event.ts)
            counted += 1
        return counted

    @classmethod
    def build(cls, log: EventLog, facts_of: FactsOf, config: PersonalizeConfig | None = None) -> ProfileStore:
        """The profiles of every shopper with a ``user_id`` in ``log``, events counted in time order."""
        store = cls(config)
        ordered = sorted(log.interactions, key=lambda e: e.ts)
        store.update(ordered, facts_of, shown=log.by_search_id.get)
        return store

    # ---- the profiles file -----------------------------------------------------------------------

    def save(self, path: str | Path, *, max_values: int = MAX_VALUES) -> Path:
        """Write the profiles as JSON (to a temporary sibling, then renamed into place)."""
        path = Path(path)
        with self._lock:
            users = {}
            for user_id, profile in sorted(self.users.items()):
                kept = profile.copy()
                kept.compact(max_values)
                users[user_id] = kept.to_dict()
            document = {
                "kind": PROFILES_KIND,
                "format_version": FORMAT_VERSION,
                "config": self.config.to_dict(),
                "until": format_timestamp(self.until) if self.until is not None else None,
                "population": _population(self.population, max_values * 100),
                "users": users,
            }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ProfileStore:
        """Read a profiles file; :class:`DataError` names the file and the field (``users.u7.total``)."""
        path = Path(path)
        if not path.is_file():
            raise DataError("profiles file not found", path=path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise DataError(f"not a JSON profiles file ({err})", path=path) from None
        if not isinstance(document, Mapping) or document.get("kind") != PROFILES_KIND:
            raise DataError(f"not a shopmatch profiles file (kind {PROFILES_KIND!r} expected)", path=path)
        if document.get("format_version") != FORMAT_VERSION:
            message = f"format version {document.get('format_version')!r}; this version reads {FORMAT_VERSION}"
            raise DataError(message, path=path, field="format_version")
        try:
            config = PersonalizeConfig.from_dict(document.get("config") or {})
        except Exception as err:  # noqa: BLE001 - any config problem, named with the file
            raise DataError(str(err), path=path, field="config") from None
        store = cls(config)
        users = document.get("users")
        if not isinstance(users, Mapping):
            raise DataError("must be an object of profiles by user id", path=path, field="users")
        for user_id, record in users.items():
            try:
                store.users[str(user_id)] = UserProfile.from_dict(record)
            except DataError as err:
                where = f"users.{user_id}" + (f".{err.field}" if err.field else "")
                raise DataError(err.message, path=path, field=where) from None
        if document.get("population") is not None:
            try:
                store.population = UserProfile.from_dict(document["population"])
            except DataError as err:
                where = "population" + (f".{err.field}" if err.field else "")
                raise DataError(err.message, path=path, field=where) from None
        until = document.get("until")
        store.until = parse_timestamp(until, "until") if until is not None else None
        return store


def interaction_user(event: Interaction, impression: Impression | None) -> str | None:
    """Whose interaction this is: its own ``user_id``, else its impression's."""
    if event.user_id is not None:
        return event.user_id
    return impression.user_id if impression is not None else None


def profiles_at_impressions(
    log: EventLog, facts_of: FactsOf, config: PersonalizeConfig | None = None
) -> dict[str, UserProfile | None]:
    """Each impression's shopper profile from the events **strictly before** it was shown, decayed to
    that moment (None: no ``user_id``, or no earlier interaction), by ``search_id``.

    Interactions at the same instant as an impression do not count for it, and neither do the
    interactions with the impression's own results: nothing a ranker trained on these profiles
    reads comes from the future.
    """
    config = config or PersonalizeConfig()
    store = ProfileStore(config)
    timeline: list[tuple[datetime, int, Impression | Interaction]] = [(i.ts, 0, i) for i in log.impressions]
    timeline += [(e.ts, 1, e) for e in log.interactions]
    timeline.sort(key=lambda item: (item[0], item[1]))
    out: dict[str, UserProfile | None] = {}
    for ts, _, event in timeline:
        if isinstance(event, Impression):
            out[event.search_id] = store.get(event.user_id, ts, frozen_population=True)
        else:
            store.update([event], facts_of, shown=log.by_search_id.get)
    return out


def catalog_facts(records: Mapping[str, Mapping[str, Any]]) -> FactsOf:
    """A :data:`FactsOf` over product records by id (the catalog, or an index's records)."""
    cache: dict[str, ProductFacts | None] = {}

    def facts_of(product_id: str) -> ProductFacts | None:
        if product_id not in cache:
            record = records.get(product_id)
            cache[product_id] = ProductFacts.of(record) if record is not None else None
        return cache[product_id]

    return facts_of


def _population(population: UserProfile, max_values: int) -> dict[str, Any]:
    kept = population.copy()
    kept.compact(max_values)
    return kept.to_dict()


def _decay(later: datetime, earlier: datetime, half_life_days: float) -> float:
    days = (later - earlier).total_seconds() / SECONDS_PER_DAY
    return 2.0 ** (-days / half_life_days)


def _key(text: str) -> str:
    return " ".join(str(text).casefold().split())


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _rounded(values: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 9) for k, v in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))}
