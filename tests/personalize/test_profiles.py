"""Profiles: decay math, event weights, the store's joins and de-duplication, the file, and the
leakage guard (profiles as they were when the results were shown)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shopmatch.errors import DataError
from shopmatch.events import Impression, Interaction, collect_events
from shopmatch.personalize.config import PersonalizeConfig
from shopmatch.personalize.profiles import (
    ProductFacts,
    ProfileStore,
    UserProfile,
    catalog_facts,
    price_band,
    profiles_at_impressions,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
FACTS = {
    "a": ProductFacts("Acme", ("Tools", "Drills"), 40.0),
    "b": ProductFacts("Bolt", ("Tools", "Saws"), 100.0),
    "c": ProductFacts(None, ("Garden",), None),
}


def test_a_click_counts_half_after_one_half_life_and_shares_do_not_decay():
    p = UserProfile()
    p.add(FACTS["a"], 1.0, T0, half_life_days=30)
    later = p.at(T0 + timedelta(days=30), half_life_days=30)
    assert later.total == pytest.approx(0.5)
    assert later.brand_share("ACME ") == p.brand_share("acme") == 1.0
    assert p.at(T0 + timedelta(days=90), half_life_days=30).total == pytest.approx(0.125)
    assert p.at(T0 - timedelta(days=5), half_life_days=30).total == 1.0  # never grows backwards


def test_older_events_weigh_less_in_either_order():
    in_order, out_of_order = UserProfile(), UserProfile()
    in_order.add(FACTS["a"], 1.0, T0, half_life_days=10)
    in_order.add(FACTS["b"], 1.0, T0 + timedelta(days=10), half_life_days=10)
    out_of_order.add(FACTS["b"], 1.0, T0 + timedelta(days=10), half_life_days=10)
    out_of_order.add(FACTS["a"], 1.0, T0, half_life_days=10)
    for p in (in_order, out_of_order):
        assert p.total == pytest.approx(1.5)
        assert p.brand_share("acme") == pytest.approx(1 / 3)
        assert p.brand_share("bolt") == pytest.approx(2 / 3)
        assert p.category_share(("Tools",)) == pytest.approx(1.0)
        assert p.category_share(("Tools", "Drills")) == pytest.approx((1 + 1 / 3) / 2)  # mean over the prefixes
        assert p.price_share(50.0) == pytest.approx(1 / 3) and price_band(50.0) == "32-64"
        assert p.events == 2 and p.as_of == T0 + timedelta(days=10)


def test_products_without_brand_or_price_count_in_the_total_only():
    p = UserProfile()
    p.add(FACTS["a"], 1.0, T0, half_life_days=30)
    p.add(FACTS["c"], 1.0, T0, half_life_days=30)
    assert p.brand_share("acme") == 0.5 and p.price_share(40.0) == 0.5
    assert p.brand_share(None) == 0.0 and p.price_share(None) == 0.0
    assert UserProfile().brand_share("acme") == 0.0 and UserProfile().empty


def test_event_weights_and_the_impressions_user():
    shown = Impression("s1", "drill", ("a", "b"), T0, user_id="u1")
    log = collect_events([
        shown,
        Interaction("click", "s1", "a", T0 + timedelta(seconds=5)),  # whose: the impression says
        Interaction("purchase", "s1", "b", T0 + timedelta(seconds=9), event_id="e1"),
        Interaction("purchase", "s1", "b", T0 + timedelta(seconds=9), event_id="e1"),  # a repeat
        Interaction("click", "s9", "a", T0, user_id="u2"),  # an orphan with its own user
        Interaction("click", "s9", "zzz", T0, user_id="u2"),  # a product the catalog does not have
        Interaction("click", "s8", "a", T0),  # nobody's
    ])  # fmt: skip
    store = ProfileStore.build(log, FACTS.get, PersonalizeConfig(click=1.0, purchase=3.0))
    u1 = store.get("u1")
    assert u1.brand_share("bolt") == pytest.approx(0.75, abs=1e-6) and u1.events == 2
    assert store.get("u2").events == 1 and store.unknown_products == 1
    assert sorted(store.users) == ["u1", "u2"] and store.get("nobody") is None
    again = store.update(log.interactions, FACTS.get, shown=log.by_search_id.get)
    assert store.get("u1").events == 3  # the click without an event_id counts again, the purchase e1 does not
    assert again == 2  # the click of u1 and the one of u2


def test_the_profiles_file_round_trips_and_bad_files_name_the_field(tmp_path):
    store = ProfileStore(PersonalizeConfig(half_life_days=7))
    for i in range(5):
        store.add("u1", "click", ProductFacts(f"brand{i}", ("Tools",), 10.0 * i + 1), T0 + timedelta(hours=i))
    path = store.save(tmp_path / "profiles.json", max_values=3)
    loaded = ProfileStore.load(path)
    assert loaded.config.half_life_days == 7 and loaded.until == T0 + timedelta(hours=4)
    kept = loaded.get("u1")
    assert len(kept.brands) == 3 and kept.brand_share("brand4") == pytest.approx(store.get("u1").brand_share("brand4"))
    assert kept.total == pytest.approx(store.get("u1").total)  # the dropped brands still count in the total
    document = json.loads(path.read_text())
    document["users"]["u1"]["brands"]["x"] = -1
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match=r"profiles.json: field 'users.u1.brands'"):
        ProfileStore.load(path)
    path.write_text('{"kind": "something else"}')
    with pytest.raises(DataError, match="not a shopmatch profiles file"):
        ProfileStore.load(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not a JSON profiles file"):
        ProfileStore.load(path)
    with pytest.raises(DataError, match="profiles file not found"):
        ProfileStore.load(tmp_path / "missing.json")


def test_profiles_at_impressions_see_only_earlier_events():
    log = collect_events([
        Impression("s1", "drill", ("a", "b"), T0, user_id="u1"),
        Interaction("click", "s1", "a", T0 + timedelta(minutes=1)),
        Interaction("click", "s0", "b", T0, user_id="u1"),  # the same instant as s1: not before it
        Impression("s2", "saw", ("b",), T0 + timedelta(days=1), user_id="u1"),
        Interaction("click", "s2", "b", T0 + timedelta(days=1, minutes=1)),  # on s2's own results: after it
        Impression("s3", "saw", ("b",), T0 + timedelta(days=2), user_id="u1"),
        Impression("s4", "saw", ("b",), T0 + timedelta(days=2), user_id="u2"),
        Impression("s5", "saw", ("b",), T0 + timedelta(days=2)),
    ])  # fmt: skip
    profiles = profiles_at_impressions(log, catalog_facts({k: {"brand": v.brand} for k, v in FACTS.items()}))
    assert profiles["s1"] is None  # nothing strictly before it
    s2 = profiles["s2"]
    assert s2.events == 2 and s2.brand_share("acme") == pytest.approx(s2.brand_share("bolt"), abs=1e-4)
    assert s2.as_of == T0 + timedelta(days=1)  # decayed to the moment it was shown
    assert profiles["s3"].events == 3 and profiles["s3"].brand_share("bolt") > 0.5
    assert profiles["s4"] is None and profiles["s5"] is None


def test_brand_lift_tells_a_taste_from_a_popular_brand(tmp_path):
    store = ProfileStore()
    for i in range(20):  # everyone buys Acme
        store.add(f"crowd{i}", "click", FACTS["a"], T0)
    for _ in range(3):
        store.add("fan", "click", FACTS["a"], T0)
        store.add("fan", "click", FACTS["b"], T0)  # only the fan goes for Bolt
    fan, crowd = store.get("fan"), store.get("crowd0")
    assert fan.brand_share("acme") == fan.brand_share("bolt") == 0.5
    assert fan.brand_lift("bolt") > 0.5 > fan.brand_lift("acme")
    assert fan.brand_lift("nobody-knows") == 0.0 and UserProfile().brand_lift("bolt") == 0.0
    assert crowd.brand_lift("bolt") < 0 < crowd.brand_lift("acme")
    loaded = ProfileStore.load(store.save(tmp_path / "p.json")).get("fan")
    assert loaded.brand_lift("bolt") == pytest.approx(fan.brand_lift("bolt"))
