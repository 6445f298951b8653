"""Personalization from behaviour on simulated shoppers with latent brand and category preferences (esci-us-150).

Question: do per-shopper affinities (``shopmatch.personalize``: decayed brand, category and price-band
shares of a shopper's clicks, carts and purchases) lift the ranking *for that shopper* on their
later, held-out sessions, over the same learned ranker without them and over no ranker?

Protocol (every number seeded; nothing tuned on the reported population):

1. **Candidates**: each judged query's top ``--candidates`` (50) of the default pipeline
   (``/work/cache/esci-us-150-default``: BM25F + bi-encoder, RRF, feedback), and their 30 ranker
   features as the ranker stage computes them (``shopmatch.search.ranker_inputs``). Cached under
   ``bench/data/personalization/``.
2. **Shoppers** (``--users`` per population): each prefers 1–2 departments (top-level categories,
   drawn by how many queries they hold) and 1–2 brands (drawn, among the brands in the candidates
   of at least 3 of those departments' queries, by how many of the queries they appear in: a brand
   preference only shows across several searches). Each has ``--sessions`` (16) sessions spread over about
   two months (gaps exponential, mean 4 days); a session is one query, from a preferred department
   with probability 0.8, else any query. With ``--queries brand`` (brand-loyal shoppers) the 0.8 go to
   the queries whose candidates hold one of the shopper's brands instead: someone who likes a brand
   searches for what it makes.
3. **Clicks** (as ``bench/shopper_sim.py``): position ``i`` of the 10 shown is examined with
   probability ``1/i``; an examined product is clicked with probability
   ``(0.05 + 0.9 · gain / max gain) · (1 + 1.5 · preferred brand + 0.5 · preferred department) / 3``
   (ESCI gains; unjudged: 0.05 before the boost): shopper_sim's probability, scaled so that only an
   Exact product of a preferred brand in a preferred department reaches 0.95. (A first version
   capped ``min(0.95, (0.05 + 0.9 · gain) · boost)``: an Exact product reached the cap with or
   without the boost, so the preference only moved products that belong low anyway, and even the
   oracle boost lost NDCG on the dev population; see the record.) A click on an Exact product is carted with
   probability 0.5, and a cart bought with probability 0.5. That click probability is the
   shopper's **per-user relevance** of the product (the judged gain plus the preference).
4. **Logged period**: the first ``--train-sessions`` (12) sessions of every shopper are shown the plain
   pipeline's top 10, in 30 % of them (exploration) 10 random products of its top 30 in a random order.
   Their events (``user_id`` on each) are the training data.
5. **Training** (from the logged events only; one event-level training loop written here while
   ``rank/from_events.py`` does not exist): rows are the products shown by impressions with at
   least one click, labels 0 shown / 1 clicked / 2 carted / 3 bought. The user features of each
   impression come from ``profiles_at_impressions``: the shopper's profile built from strictly
   earlier events (no leakage). Every model is LightGBM's position-debiased LambdaMART (the shown
   position given as ``position``; without it the ranker learnt the position and stopped after one
   tree, on the dev population). Models: the **ranker** (30 features, 200 rounds), the
   **personalizer** (the 4 user features, monotone, boosted from the ranker's scores:
   ``shopmatch.personalize.model``), and for comparison a **joint** ranker on the 34 features in one
   model, and the personalizer boosted from the plain fused score (no ranker).
6. **Held-out**: every shopper's last ``sessions - train-sessions`` (4) sessions; the profile is the
   one built from the logged period, decayed to the session's time. Each system orders the 50
   candidates; NDCG@10 with the per-user relevance as gain, and the expected clicks in the top 10
   (``Σ 1/i · p(click)``). Paired by shopper (the mean over their held-out sessions),
   ``compare_paired`` (bootstrap interval, randomization p), improved/worsened shoppers.
   Cold start: the held-out sessions of shoppers with no logged session get the plain ranking
   exactly (counted).

Two populations: ``dev`` (seed 1: what the script was written and checked on) and ``test`` (seed 2:
reported). Settings (half-life 30 days, event weights 1/2/3, LightGBM parameters) are the package
defaults, not chosen on either.

Usage::

    python bench/experiments/personalization.py [--population test] [--users 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from _common import markdown_table, significance_columns  # noqa: E402

from shopmatch.events import Impression, Interaction, collect_events  # noqa: E402
from shopmatch.judgments import GainMap, read_judgments  # noqa: E402
from shopmatch.personalize.config import PersonalizeConfig  # noqa: E402
from shopmatch.personalize.features import USER_FEATURE_NAMES, user_features  # noqa: E402
from shopmatch.personalize.model import train_personalizer  # noqa: E402
from shopmatch.personalize.profiles import ProductFacts, ProfileStore, profiles_at_impressions  # noqa: E402
from shopmatch.rank.features import FEATURE_NAMES  # noqa: E402
from shopmatch.rank.model import Ranker  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "esci-us-150"
INDEX = Path("/work/cache/esci-us-150-default")
CACHE = REPO / "bench" / "data" / "personalization"
START = datetime(2026, 9, 1, tzinfo=UTC)
SEEDS = {"dev": 1, "test": 2}
K = 10
EXPLORE = 0.3
BRAND_BOOST, DEPARTMENT_BOOST = 1.5, 0.5
MAX_BOOST = 1.0 + BRAND_BOOST + DEPARTMENT_BOOST


# ---- candidates and their features (cached) ------------------------------------------------------


def candidates(depth: int) -> dict:
    """Per query: candidate ids (plain order), their 30 ranker features, their records."""
    path = CACHE / f"candidates-{depth}.npz"
    records_path = CACHE / f"records-{depth}.json"
    judged = read_judgments(DATA / "judgments.tsv", gains=GainMap.esci())
    if path.is_file() and records_path.is_file():
        saved = np.load(path, allow_pickle=False)
        records = json.loads(records_path.read_text())
        ids = json.loads(str(saved["ids"]))
        features = {q: saved[f"f_{q}"] for q in ids}
        return {"judged": judged, "ids": ids, "features": features, "records": records}
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.progress import track
    from shopmatch.rank.features import candidate_features
    from shopmatch.search import ranker_inputs

    pipeline = SearchPipeline.load(INDEX)
    snapshot = pipeline.snapshot
    ids, features, records = {}, {}, {}
    for q in track(judged.query_ids, total=len(judged.query_ids), description="Candidates"):
        text = judged.queries[q]
        found = [pid for pid, _ in pipeline.search_ids([text], k=depth)[0]]
        inputs = ranker_inputs(snapshot, text, found)
        n = int((inputs.hits.rows[0] >= 0).sum())
        block = candidate_features(snapshot, inputs.query, inputs.prepared, inputs.hits, n)
        by_id = {snapshot.id_of(int(row)): block[i] for i, row in enumerate(inputs.hits.rows[0, :n])}
        ids[q] = [pid for pid in found if pid in by_id]
        features[q] = np.stack([by_id[pid] for pid in ids[q]])
        for pid in ids[q]:
            r = snapshot.record(snapshot.rows_of([pid])[0])
            records[pid] = {"brand": r.get("brand"), "category": list(r.get("category") or ()), "price": r.get("price")}
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, ids=json.dumps(ids), **{f"f_{q}": f for q, f in features.items()})
    records_path.write_text(json.dumps(records))
    return {"judged": judged, "ids": ids, "features": features, "records": records}


# ---- shoppers -----------------------------------------------------------------------------------


def department(record: dict) -> str | None:
    category = record.get("category") or []
    return category[0] if category else None


def make_shoppers(data: dict, users: int, sessions: int, seed: int, choice: str = "department") -> list[dict]:
    """Each shopper's preferred departments and brands, and their sessions (query id, time)."""
    rng = np.random.default_rng([seed, 0])
    records, ids = data["records"], data["ids"]
    queries = sorted(ids)
    query_department = {}
    for q in queries:
        votes = Counter(department(records[p]) for p in ids[q][:K] if department(records[p]))
        query_department[q] = votes.most_common(1)[0][0] if votes else None
    by_department: dict[str, list[str]] = {}
    for q, d in query_department.items():
        if d is not None:
            by_department.setdefault(d, []).append(q)
    departments = sorted(d for d, qs in by_department.items() if len(qs) >= 3)
    weights = np.array([len(by_department[d]) for d in departments], dtype=float)
    out = []
    for u in range(users):
        chosen = list(rng.choice(departments, size=rng.integers(1, 3), replace=False, p=weights / weights.sum()))
        pool = [q for d in chosen for q in by_department[d]]
        brands = Counter(
            b for q in pool for b in {_key(records[p]["brand"]) for p in ids[q] if records[p].get("brand")}
        )
        names = sorted(b for b, c in brands.items() if c >= 3) or sorted(brands)
        counts = np.array([brands[b] for b in names], dtype=float)
        size = min(len(names), int(rng.integers(1, 3)))
        preferred = list(rng.choice(names, size=size, replace=False, p=counts / counts.sum())) if names else []
        if choice == "brand" and preferred:
            wanted = {_key(b) for b in preferred}
            pool = [q for q in queries if any(_key(records[p].get("brand") or "") in wanted for p in ids[q])]
        when = START + timedelta(days=float(rng.uniform(0, 10)))
        history = []
        for _ in range(sessions):
            q = pool[rng.integers(len(pool))] if rng.random() < 0.8 else queries[rng.integers(len(queries))]
            history.append((q, when))
            when += timedelta(days=float(rng.exponential(4.0)), minutes=1)
        out.append({"user": f"u{seed}-{u:04d}", "departments": set(chosen), "brands": {_key(b) for b in preferred},
                    "sessions": history})  # fmt: skip
    return out


def _key(text: str) -> str:
    return " ".join(str(text).casefold().split())


def click_probability(data: dict, shopper: dict, q: str, products: list[str]) -> np.ndarray:
    """The shopper's chance to click each product when examined: the per-user relevance."""
    judged = data["qrels"].get(q, {})
    top = data["top_gain"]
    out = []
    for p in products:
        record = data["records"][p]
        base = 0.05 + 0.9 * judged[p] / top if p in judged else 0.05
        boost = 1.0
        if record.get("brand") and _key(record["brand"]) in shopper["brands"]:
            boost += BRAND_BOOST
        if department(record) in shopper["departments"]:
            boost += DEPARTMENT_BOOST
        out.append(base * boost / MAX_BOOST)
    return np.array(out)


def exact(data: dict, q: str, products: list[str]) -> np.ndarray:
    judged = data["qrels"].get(q, {})
    return np.array([judged.get(p, 0.0) >= 1.0 for p in products])


def logged_events(data: dict, shoppers: list[dict], train_sessions: int, seed: int) -> list:
    """Impressions and interactions of every shopper's logged sessions."""
    events = []
    examined = 1.0 / np.arange(1, K + 1)
    for s_i, shopper in enumerate(shoppers):
        rng = np.random.default_rng([seed, 1, s_i])
        for n, (q, when) in enumerate(shopper["sessions"][:train_sessions]):
            plain = data["ids"][q]
            if rng.random() < EXPLORE:
                pick = rng.permutation(min(30, len(plain)))[:K]
                shown = [plain[i] for i in pick]
            else:
                shown = plain[:K]
            search_id = f"{shopper['user']}-s{n}"
            user = shopper["user"]
            events.append(Impression(search_id, data["judged"].queries[q], tuple(shown), when, user_id=user))
            p = click_probability(data, shopper, q, shown)
            best = exact(data, q, shown)
            looks = rng.random(len(shown)) < examined[: len(shown)]
            clicks = rng.random(len(shown)) < p
            carts, buys = rng.random(len(shown)) < 0.5, rng.random(len(shown)) < 0.5
            step = 0
            for i, product in enumerate(shown):
                if not (looks[i] and clicks[i]):
                    continue
                step += 1
                at = when + timedelta(seconds=5 * step)
                events.append(Interaction("click", search_id, product, at, i + 1, user_id=user))
                if best[i] and carts[i]:
                    events.append(Interaction("add_to_cart", search_id, product, at + timedelta(seconds=1), i + 1))
                    if buys[i]:
                        events.append(Interaction("purchase", search_id, product, at + timedelta(seconds=2), i + 1))
    return events


# ---- training from the logged events -------------------------------------------------------------


def training_rows(data: dict, log, shoppers: list[dict]) -> dict:
    """Rows of the impressions with a click: 30 features, user features at impression time, labels."""
    facts = {p: ProductFacts.of(r) for p, r in data["records"].items()}
    at_impression = profiles_at_impressions(log, facts.get, PersonalizeConfig())
    query_of = {text: q for q, text in data["judged"].queries.items()}
    grade = {"click": 1, "add_to_cart": 2, "purchase": 3}
    labels_of: dict[str, dict[str, int]] = {}
    for e in log.interactions:
        best = labels_of.setdefault(e.search_id, {})
        best[e.product_id] = max(best.get(e.product_id, 0), grade[e.type])
    blocks, users, labels, groups, user_of, positions = [], [], [], [], [], []
    for impression in log.impressions:
        clicked = labels_of.get(impression.search_id)
        if not clicked:
            continue
        q = query_of[impression.query]
        where = {p: i for i, p in enumerate(data["ids"][q])}
        shown = list(impression.results)
        blocks.append(data["features"][q][[where[p] for p in shown]])
        users.append(user_features(at_impression[impression.search_id], [data["records"][p] for p in shown]))
        labels.append([clicked.get(p, 0) for p in shown])
        positions.append(np.arange(1, len(shown) + 1))
        groups.append(len(shown))
        user_of.append(impression.user_id)
    return {
        "features": np.concatenate(blocks),
        "user": np.concatenate(users),
        "labels": np.concatenate([np.asarray(x) for x in labels]),
        "positions": np.concatenate(positions),
        "groups": groups,
        "user_of": user_of,
        "with_history": sum(1 for p in at_impression.values() if p is not None),
        "impressions": len(at_impression),
    }


def split_rows(rows: dict, keep: set[str]) -> dict:
    starts = np.concatenate([[0], np.cumsum(rows["groups"])])
    picks = [i for i, u in enumerate(rows["user_of"]) if u in keep]
    index = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in picks])
    return {
        "features": rows["features"][index],
        "user": rows["user"][index],
        "labels": rows["labels"][index],
        "positions": rows["positions"][index],
        "groups": [rows["groups"][i] for i in picks],
    }


def click_ranker(features: np.ndarray, rows: dict, names: tuple[str, ...], seed: int) -> Ranker:
    """LambdaMART from clicks, position-debiased (LightGBM's ``position``), 200 rounds, the
    package's ranker parameters otherwise: the minimal training-from-events loop this study needs
    (``rank/from_events.py`` will be the real one)."""
    import lightgbm as lgb

    params = {
        "objective": "lambdarank", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 20,
        "seed": seed, "deterministic": True, "num_threads": 1, "verbosity": -1,
    }  # fmt: skip
    names_ok = [n.replace("@", "_") for n in names]
    data = lgb.Dataset(features, rows["labels"], group=rows["groups"], feature_name=names_ok,
                       position=rows["positions"] - 1)  # fmt: skip
    return Ranker(lgb.train(params, data, num_boost_round=200), names)


def train_models(rows: dict, shoppers: list[dict], seed: int) -> dict:
    ranker = click_ranker(rows["features"], rows, FEATURE_NAMES, seed)
    joint = click_ranker(np.hstack([rows["features"], rows["user"]]), rows, (*FEATURE_NAMES, *USER_FEATURE_NAMES), seed)
    base = ranker.predict(rows["features"])
    personal = train_personalizer(rows["user"], rows["labels"], rows["groups"], base, positions=rows["positions"])
    fused = rows["features"][:, FEATURE_NAMES.index("fused_score")].astype(np.float64)
    personal_plain = train_personalizer(
        rows["user"], rows["labels"], rows["groups"], fused, positions=rows["positions"]
    )
    return {"ranker": ranker, "joint": joint, "personal": personal, "personal_plain": personal_plain}


# ---- held-out evaluation -------------------------------------------------------------------------


def ndcg(gains_in_order: np.ndarray, all_gains: np.ndarray, k: int = K) -> float:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = float((np.sort(all_gains)[::-1][:k] * discounts[: min(k, len(all_gains))]).sum())
    got = float((gains_in_order[:k] * discounts[: min(k, len(gains_in_order))]).sum())
    return got / ideal if ideal > 0 else 0.0


def evaluate(data: dict, shoppers: list[dict], models: dict, store: ProfileStore, train_sessions: int) -> dict:
    """Per shopper: the mean NDCG@10 (per-user gains) and expected clicks@10 of each system."""
    half_life = store.config.half_life_days
    examined = 1.0 / np.arange(1, K + 1)
    systems = ("no ranker", "no ranker + personalizer", "ranker", "ranker + personalizer", "joint ranker")
    per_user: dict[str, dict[str, list[tuple[float, float]]]] = {s: {} for s in systems}
    sessions = same_as_plain = cold = cold_same = 0
    branded: dict[str, dict[str, float]] = {"ranker": {}, "ranker + personalizer": {}}
    for shopper in shoppers:
        held = shopper["sessions"][train_sessions:]
        for q, when in held:
            products = data["ids"][q]
            features = data["features"][q]
            records = [data["records"][p] for p in products]
            kept = store.users.get(shopper["user"])
            profile = kept.at(when, half_life_days=half_life) if kept is not None else None
            users = user_features(profile, records)
            plain = np.arange(len(products))
            base = models["ranker"].predict(features)
            fused = features[:, FEATURE_NAMES.index("fused_score")].astype(np.float64)
            scores = {
                "no ranker": -plain.astype(float),
                "no ranker + personalizer": fused + models["personal_plain"].predict(users),
                "ranker": base,
                "ranker + personalizer": base + models["personal"].predict(users),
                "joint ranker": models["joint"].predict(np.hstack([features, users])),
            }
            gains = click_probability(data, shopper, q, products)
            orders = {}
            for name, score in scores.items():
                order = np.argsort(-score, kind="stable")
                orders[name] = order
                top = gains[order][:K]
                per_user[name].setdefault(shopper["user"], []).append(
                    (ndcg(gains[order], gains), float((examined[: len(top)] * top).sum()))
                )
            if any(r.get("brand") and _key(r["brand"]) in shopper["brands"] for r in records):
                key = f"{shopper['user']}-{sessions}"
                for name in branded:
                    branded[name][key] = per_user[name][shopper["user"]][-1][0]
            sessions += 1
            if profile is None or profile.empty:
                cold += 1
                cold_same += int(np.array_equal(orders["ranker"], orders["ranker + personalizer"]))
            same_as_plain += int(np.array_equal(orders["ranker"], orders["ranker + personalizer"]))
    means = {
        s: {u: (float(np.mean([v[0] for v in vs])), float(np.mean([v[1] for v in vs]))) for u, vs in by.items()}
        for s, by in per_user.items()
    }
    return {
        "per_user": means, "sessions": sessions, "unchanged": same_as_plain, "cold": cold, "cold_same": cold_same,
        "branded": branded,
    }  # fmt: skip


def cold_start_check(data: dict, models: dict, seed: int) -> tuple[int, int]:
    """Shoppers with no history: rankings by the ranker and by ranker + personalizer, equal or not."""
    rng = np.random.default_rng([seed, 3])
    queries = sorted(data["ids"])
    same = 0
    for _ in range(200):
        q = queries[rng.integers(len(queries))]
        features = data["features"][q]
        users = user_features(None, [data["records"][p] for p in data["ids"][q]])
        base = models["ranker"].predict(features)
        personalized = base + models["personal"].predict(users)
        same += int(np.array_equal(np.argsort(-base, kind="stable"), np.argsort(-personalized, kind="stable")))
    return same, 200


def report(result: dict, args, extra: dict) -> str:
    per_user = result["per_user"]
    users = sorted(per_user["no ranker"])
    lines = [
        f"population {args.population} (seed {SEEDS[args.population]}), queries by {args.queries}: "
        f"{len(users)} shoppers, "
        f"{result['sessions']} held-out sessions; {extra['logged']}",
        "",
    ]
    headers = ["system", "NDCG@10 (per-user)", "expected clicks@10"]
    rows = [[s, f"{np.mean([v[0] for v in by.values()]):.4f}", f"{np.mean([v[1] for v in by.values()]):.4f}"]
            for s, by in per_user.items()]  # fmt: skip
    lines += [markdown_table(headers, rows), ""]
    pairs = [
        ("ranker", "ranker + personalizer"),
        ("no ranker", "ranker"),
        ("no ranker", "ranker + personalizer"),
        ("no ranker", "no ranker + personalizer"),
        ("ranker", "joint ranker"),
        ("joint ranker", "ranker + personalizer"),
    ]
    for metric, m in (("NDCG@10", 0), ("expected clicks@10", 1)):
        rows = []
        for a, b in pairs:
            cells = significance_columns([per_user[a][u][m] for u in users], [per_user[b][u][m] for u in users])
            rows.append([f"{b} vs {a}", *cells])
        headers = ["comparison", "Δ", "95% CI", "p", "significant", "better/worse shoppers"]
        lines += [f"{metric}, paired by shopper:", "", markdown_table(headers, rows), ""]
    branded = result["branded"]
    if branded["ranker"]:
        keys = sorted(branded["ranker"])
        cells = significance_columns(
            [branded["ranker"][k] for k in keys], [branded["ranker + personalizer"][k] for k in keys]
        )
        lines += [
            f"NDCG@10 of the {len(keys)} held-out sessions whose candidates hold one of the shopper's preferred brands "
            "(paired by session; diagnostic slice by the simulation's latent truth):",
            "",
            markdown_table(["comparison", "Δ", "95% CI", "p", "significant", "better/worse sessions"],
                           [["ranker + personalizer vs ranker", *cells]]),
            "",
        ]  # fmt: skip
    lines.append(
        f"ranker + personalizer ordered the candidates exactly as the ranker in {result['unchanged']} of "
        f"{result['sessions']} held-out sessions; cold start (no profile): {extra['cold'][0]} of {extra['cold'][1]} "
        "rankings identical"
    )
    lines.append(f"personalizer gain importance: {extra['importance']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", choices=sorted(SEEDS), default="test")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--train-sessions", type=int, default=12)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument(
        "--queries", choices=("department", "brand"), default="department",
        help="a session's query: from the preferred departments (default) or among those whose candidates "
        "hold a preferred brand (brand-loyal shoppers), with probability 0.8",
    )  # fmt: skip
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    seed = SEEDS[args.population]
    data = candidates(args.candidates)
    data["qrels"] = data["judged"].qrels(GainMap.esci())
    data["top_gain"] = max((g for judged in data["qrels"].values() for g in judged.values()), default=1.0)
    print(f"candidates of {len(data['ids'])} queries ({time.perf_counter() - started:.0f} s)", flush=True)
    shoppers = make_shoppers(data, args.users, args.sessions, seed, args.queries)
    log = collect_events(logged_events(data, shoppers, args.train_sessions, seed))
    rows = training_rows(data, log, shoppers)
    logged = (
        f"logged: {len(log.impressions)} impressions, {len(log.interactions)} interactions; "
        f"{len(rows['groups'])} impressions with a click used for training, "
        f"{rows['with_history']} of {rows['impressions']} impressions had an earlier profile"
    )
    print(logged, flush=True)
    models = train_models(rows, shoppers, seed)
    facts = {p: ProductFacts.of(r) for p, r in data["records"].items()}
    store = ProfileStore.build(log, facts.get)
    result = evaluate(data, shoppers, models, store, args.train_sessions)
    extra = {
        "logged": logged,
        "cold": cold_start_check(data, models, seed),
        "importance": models["personal"].importances(),
    }
    text = report(result, args, extra)
    print(text)
    print(f"took {time.perf_counter() - started:.0f} s")
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": vars(args) | {"json": str(args.json), "markdown": str(args.markdown)},
                    "per_user": result["per_user"],
                    "extra": extra,
                },
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
