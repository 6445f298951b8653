"""Generate a large, deterministic synthetic catalog for the scale benchmarks.

The catalog is written in the canonical ``products.jsonl`` format (one JSON
object per line with ``id``, ``title``, ``brand``, ``color``, ``category``,
``bullets``, ``price``, ``rating`` and ``rating_count``).  Base titles come from
the Home Depot and ESCI sets in ``../shared/data`` and are varied with sizes,
colours, pack counts, model numbers, wattages/voltages and brand swaps, so that
the result looks like a real, repetitive e-commerce catalog with many near
duplicates.

The output depends only on the arguments and the source files: running the
script twice with the same arguments gives byte-identical files.

Usage::

    # 1,000,000 products into bench/data/scale-1m.jsonl (the default)
    python bench/make_scale_catalog.py

    # a smaller catalog plus 1,000 benchmark queries
    python bench/make_scale_catalog.py -n 20000 -o bench/data/scale-20k.jsonl \\
        --queries-out bench/data/scale-20k-queries.txt

    # explicit source folders (each holding products.jsonl and, optionally,
    # judgments.tsv), another seed
    python bench/make_scale_catalog.py --source ../shared/data/homedepot \\
        --source ../shared/data/esci-us-150 --seed 1

A ``--source`` folder may also be a parent folder (such as ``../shared/data``)
whose ``homedepot`` and ``esci-us-150`` sub-folders are then used.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import math
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("make_scale_catalog")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_SUBDIRS = ("homedepot", "esci-us-150")
DEFAULT_OUT = REPO_ROOT / "bench" / "data" / "scale-1m.jsonl"
N_QUERIES = 1000
LOG_EVERY = 100_000

# --------------------------------------------------------------------------
# Vocabulary for the variations
# --------------------------------------------------------------------------

# fmt: off
BASE_COLORS: tuple[str, ...] = (
    "Black", "White", "Blue", "Red", "Brown", "Silver", "Clear", "Green", "Gray",
    "Pink", "Navy", "Orange", "Gold", "Yellow", "Tan", "Purple", "Natural",
    "Charcoal", "Matte Black", "Chrome", "Rose Gold", "Brushed Nickel", "Beige",
    "Stainless Steel", "Oil-Rubbed Bronze", "Almond", "Ivory", "Teal", "Burgundy",
    "Espresso", "Walnut", "Oak", "Copper", "Graphite", "Sand", "Olive",
)

_FRACTIONS = ("1/8", "1/4", "3/8", "1/2", "5/8", "3/4", "1", "1-1/4", "1-1/2", "2", "3", "4")
_LENGTHS = ("2 ft.", "3 ft.", "4 ft.", "6 ft.", "8 ft.", "10 ft.", "12 ft.", "25 ft.", "50 ft.",
            "100 ft.")
_INCHES = ("6", "8", "10", "12", "14", "16", "18", "20", "24", "30", "36", "42", "48", "60", "72")
_VOLUMES = ("8 oz.", "12 oz.", "16 oz.", "20 oz.", "32 oz.", "1 qt.", "1 gal.", "2 gal.", "5 gal.",
            "500 ml", "1 L", "1.5 L", "2 L")
_METRIC = ("5 mm", "6 mm", "8 mm", "10 mm", "12 mm", "15 mm", "20 mm", "25 mm", "30 cm", "50 cm",
           "1 m", "2 m")
_APPAREL = ("Small", "Medium", "Large", "X-Large", "XX-Large", "Size 8", "Size 9", "Size 10",
            "Size 11", "Twin", "Full", "Queen", "King", "California King")
# fmt: on


def _size_pool() -> list[str]:
    sizes: list[str] = []
    sizes += [f"{f} in." for f in _FRACTIONS]
    sizes += [f"{i} in." for i in _INCHES]
    sizes += [f"{f} in. x {length}" for f in _FRACTIONS for length in _LENGTHS]
    sizes += [f"{a} in. x {b} in." for a in _INCHES[:8] for b in _INCHES[4:]]
    sizes += list(_VOLUMES) + list(_METRIC) + list(_APPAREL)
    sizes += [f'{i}"' for i in _INCHES]
    return sizes


# fmt: off
SIZES: tuple[str, ...] = tuple(_size_pool())
PACK_COUNTS = (2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 25, 36, 48, 50, 100)
PACK_FORMATS = ("Pack of {n}", "{n}-Pack", "({n}-Pack)", "Set of {n}", "{n} Count", "{n} Pcs")
WATTAGES = (5, 7, 9, 10, 12, 15, 18, 20, 25, 30, 40, 45, 60, 65, 75, 90, 100, 120, 150, 200,
            250, 300, 500, 750, 1000, 1200, 1500, 1800)
VOLTAGES = (3.7, 5, 12, 18, 20, 24, 36, 40, 56, 60, 110, 120, 220, 240)
MODEL_PATTERNS = (
    "LDDLDDLL-LD",   # P70D20TL-D4
    "LL-DDDDL",      # XR-2231B
    "LLDDDD",        # DW7440
    "LLL-DDDD",      # HBX-1042
    "DDDD-DDD",      # 1804-220
    "LLDDLL",        # KB15TS
    "LDDDDLL-DD",    # M1805AB-01
    "LLLDDDLLLL",    # RBS123ABCD
    "LL-DDDD-LL",    # AC-3311-BK
    "DDLDDDD",       # 12K4501
)
MODEL_FORMATS = ("{m}", "{m}", "Model {m}", "({m})", "#{m}", "- {m}")
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_DIGITS = "0123456789"

# Home Depot titles come without a category: a small keyword table gives one.
HD_CATEGORY_KEYWORDS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("faucet", "faucets"), ("Home Improvement", "Plumbing", "Faucets")),
    (("shower", "showerhead", "tub", "bathtub"), ("Home Improvement", "Bath", "Showers & Tubs")),
    (("toilet", "toilets"), ("Home Improvement", "Bath", "Toilets")),
    (("sink", "sinks", "disposer", "disposal"), ("Home Improvement", "Kitchen", "Sinks")),
    (("pipe", "fitting", "coupling", "elbow", "valve", "pvc", "copper", "tee"),
     ("Home Improvement", "Plumbing", "Pipe & Fittings")),
    (("drill", "driver", "saw", "grinder", "sander", "router", "nailer", "impact"),
     ("Tools", "Power Tools", "Drills & Saws")),
    (("wrench", "hammer", "screwdriver", "plier", "pliers", "tape", "level", "chisel"),
     ("Tools", "Hand Tools", "Hand Tools")),
    (("mower", "trimmer", "blower", "chainsaw", "edger", "tiller"),
     ("Outdoors", "Outdoor Power Equipment", "Lawn & Garden Equipment")),
    (("grill", "grills", "gazebo", "patio", "umbrella", "hammock"),
     ("Outdoors", "Patio", "Patio & Grills")),
    (("hose", "sprinkler", "spray", "planter", "garden", "soil", "mulch", "seed"),
     ("Outdoors", "Garden Center", "Watering & Planting")),
    (("light", "lights", "lighting", "lamp", "bulb", "bulbs", "led", "fixture", "chandelier",
      "sconce", "pendant", "flashlight"), ("Lighting", "Lighting & Fixtures", "Lighting")),
    (("fan", "fans"), ("Lighting", "Ceiling Fans", "Ceiling Fans")),
    (("paint", "primer", "stain", "coating", "sealer", "caulk", "brush", "roller"),
     ("Paint", "Paint & Supplies", "Paint")),
    (("tile", "flooring", "carpet", "laminate", "vinyl", "rug", "rugs", "mat"),
     ("Flooring", "Flooring", "Floor Coverings")),
    (("door", "doors", "knob", "lever", "hinge", "lock", "deadbolt", "lockset"),
     ("Building Materials", "Doors & Windows", "Doors & Door Hardware")),
    (("window", "windows", "blind", "blinds", "shade", "shades", "curtain", "rod"),
     ("Home Decor", "Window Treatments", "Blinds & Shades")),
    (("washer", "dryer", "refrigerator", "dishwasher", "range", "microwave", "oven", "freezer",
      "cooktop"), ("Appliances", "Major Appliances", "Appliances")),
    (("wire", "cable", "outlet", "switch", "breaker", "cord", "extension", "conduit", "box"),
     ("Electrical", "Wiring Devices", "Electrical")),
    (("screw", "screws", "bolt", "bolts", "nut", "nuts", "anchor", "nail", "nails", "bracket",
      "angle", "hanger", "tie", "stake", "stakes"),
     ("Hardware", "Fasteners", "Fasteners & Connectors")),
    (("lumber", "board", "plywood", "mdf", "casing", "moulding", "molding", "trim", "paneling",
      "wainscot", "drywall", "post", "panel"),
     ("Building Materials", "Lumber & Composites", "Mouldings & Panels")),
    (("cabinet", "cabinets", "vanity", "shelf", "shelving", "storage", "organizer", "closet"),
     ("Storage & Organization", "Storage", "Cabinets & Shelving")),
    (("heater", "thermostat", "filter", "humidifier", "dehumidifier", "conditioner", "vent"),
     ("Heating & Cooling", "HVAC", "Heating, Venting & Cooling")),
)
HD_DEFAULT_CATEGORY = ("Home Improvement", "General")
# fmt: on

STOPWORDS = frozenset(
    "a an and the of for with in on to by from or at as is x w/ set pack kit piece pc pcs "
    "not only new inch in. ft. ft".split()
)
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z\-']+")
_TYPE_CUT_RE = re.compile(r"\s+(?:in|with|for|by|from|-|–|—)\s+|[,(\[|]")


# --------------------------------------------------------------------------
# Source data
# --------------------------------------------------------------------------


@dataclass(slots=True)
class Base:
    """One source product that variants are derived from."""

    title: str
    brand: str
    color: str | None
    category: tuple[str, ...]
    bullets: tuple[str, ...]
    price: float
    rating: float | None
    rating_count: int | None
    ptype: str  # short product-type phrase, lower case ("convection microwave")


@dataclass(slots=True)
class Sample:
    """What the query builder needs to know about one generated product."""

    model: str | None
    brand: str
    ptype: str
    color: str
    mods: tuple[str, ...]  # sizes, wattages, voltages put in the title


@dataclass(slots=True)
class Source:
    name: str
    bases: list[Base] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)


def resolve_sources(dirs: Sequence[Path] | None) -> list[Path]:
    """Turn ``--source`` arguments into folders holding a products.jsonl."""
    candidates = list(dirs) if dirs else [DEFAULT_DATA]
    out: list[Path] = []
    for d in candidates:
        d = d.expanduser()
        if (d / "products.jsonl").is_file():
            out.append(d)
            continue
        subs = [d / s for s in DEFAULT_SUBDIRS if (d / s / "products.jsonl").is_file()]
        if not subs:
            raise SystemExit(f"no products.jsonl in {d} (nor in its {', '.join(DEFAULT_SUBDIRS)} sub-folders)")
        out.extend(subs)
    return out


def _clean(text: str) -> str:
    return " ".join(html.unescape(text).split())


def _product_type(title: str) -> str:
    """A short lower-case product-type phrase: the last content words of the title's head."""
    head = _TYPE_CUT_RE.split(title, maxsplit=1)[0]
    words = [w.lower() for w in _WORD_RE.findall(head)]
    words = [w for w in words if w not in STOPWORDS and len(w) > 1]
    return " ".join(words[-2:])


def _hd_category(title: str) -> tuple[str, ...]:
    words = set(w.lower() for w in _WORD_RE.findall(title))
    for keys, cat in HD_CATEGORY_KEYWORDS:
        for k in keys:
            if k in words:
                return cat
    return HD_DEFAULT_CATEGORY


def _find_color(title: str, colors: Sequence[str]) -> str | None:
    low = f" {title.lower()} "
    for c in colors:
        if f" {c.lower()} " in low or f" {c.lower()}," in low:
            return c
    return None


def _derive_brands(titles: Sequence[str], min_count: int = 3) -> list[str]:
    """Brand per title from its first words, learned from how often title prefixes repeat.

    A prefix of one word is extended by the next word while the longer prefix covers at
    least 80% of the titles starting with the shorter one (``Simpson`` → ``Simpson
    Strong-Tie``, ``Hampton`` → ``Hampton Bay``, ``House`` → ``House of Fara``).
    """
    split = [t.split() for t in titles]
    counts: Counter[str] = Counter()
    for words in split:
        for k in range(1, min(4, len(words)) + 1):
            counts[" ".join(words[:k])] += 1
    brands: list[str] = []
    for words in split:
        if not words or not words[0][0].isalpha():
            brands.append("Generic")
            continue
        k = 1
        while k < min(4, len(words)):
            nxt = words[k]
            if not nxt[0].isalpha() or (nxt.lower() in {"in", "with", "x", "for", "and"} and k == 1):
                break
            longer, shorter = " ".join(words[: k + 1]), " ".join(words[:k])
            if words[k - 1].lower() in {"the", "of", "&", "and"} or (
                counts[longer] >= min_count and counts[longer] >= 0.8 * counts[shorter]
            ):
                k += 1
            else:
                break
        brand = " ".join(words[:k])
        if brand.split()[-1].lower() in {"of", "and", "&", "by", "the"}:
            brand = " ".join(words[: k - 1]) or words[0]
        brands.append(brand)
    return brands


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _read_queries(path: Path) -> list[str]:
    """Distinct queries of a judgments.tsv, in order of first appearance."""
    if not path.is_file():
        return []
    seen: dict[str, None] = {}
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        qi = header.index("query")
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) > qi:
                q = " ".join(parts[qi].split())
                if q:
                    seen.setdefault(q, None)
    return list(seen)


def load_source(folder: Path, rng: random.Random, colors: Sequence[str]) -> Source:
    rows = _read_jsonl(folder / "products.jsonl")
    src = Source(folder.name)
    titles = [_clean(str(r.get("title", ""))) for r in rows]
    need_brand = [i for i, r in enumerate(rows) if not r.get("brand")]
    derived = _derive_brands([titles[i] for i in need_brand])
    brand_of = dict(zip(need_brand, derived, strict=True))
    for i, r in enumerate(rows):
        title = titles[i]
        if not title:
            continue
        brand = _clean(str(r["brand"])) if r.get("brand") else brand_of[i]
        color = _clean(str(r["color"])) if r.get("color") else None
        if color and (len(color) > 24 or not color[0].isalpha()):
            color = None
        if color:
            color = color.title() if color.isupper() or color.islower() else color
        else:
            color = _find_color(title, colors)
        cat = r.get("category")
        if isinstance(cat, str):
            category = tuple(c.strip() for c in cat.split(">") if c.strip())
        elif isinstance(cat, list) and cat:
            category = tuple(_clean(str(c)) for c in cat[:4])
        else:
            category = _hd_category(title)
        bullets = tuple(_clean(str(b))[:160] for b in (r.get("bullets") or [])[:2] if str(b).strip())
        price = r.get("price")
        if not isinstance(price, (int, float)) or price <= 0:
            price = round(math.exp(rng.uniform(1.6, 6.2)), 2)
        rating = r.get("rating") if isinstance(r.get("rating"), (int, float)) else None
        rc = r.get("rating_count") if isinstance(r.get("rating_count"), int) else None
        src.bases.append(
            Base(
                title,
                brand,
                color,
                category,
                bullets,
                float(price),
                rating,
                rc,
                _product_type(title),
            )
        )
    src.queries = _read_queries(folder / "judgments.tsv")
    log.info("%s: %d base products, %d distinct queries", folder, len(src.bases), len(src.queries))
    return src


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


def make_model(rng: random.Random) -> str:
    pat = MODEL_PATTERNS[rng.randrange(len(MODEL_PATTERNS))]
    letters, digits = _LETTERS, _DIGITS
    return "".join(
        letters[rng.randrange(23)] if c == "L" else digits[rng.randrange(10)] if c == "D" else c for c in pat
    )


def _fmt_volt(v: float) -> str:
    return f"{v:g}V"


class Generator:
    """Builds product dicts one at a time from the bases, with a private RNG."""

    def __init__(self, sources: Sequence[Source], seed: int, colors: Sequence[str]) -> None:
        self.rng = random.Random(seed)
        self.bases: list[Base] = [b for s in sources for b in s.bases]
        if not self.bases:
            raise SystemExit("the sources hold no products")
        brand_counts = Counter(b.brand for b in self.bases if b.brand != "Generic")
        self.brands: list[str] = sorted(
            (b for b, c in brand_counts.items() if c >= 2), key=lambda b: (-brand_counts[b], b)
        ) or sorted(brand_counts)
        self.colors = list(colors)
        # every so often a generated product is remembered, for the benchmark queries
        self.samples: list[Sample] = []

    def product(self, i: int, keep: bool) -> dict:
        rng = self.rng
        r = rng.random
        base = self.bases[rng.randrange(len(self.bases))]
        title = base.title
        brand = base.brand

        # brand swap (15%)
        if r() < 0.15 and self.brands:
            new = self.brands[rng.randrange(len(self.brands))]
            if title.lower().startswith(brand.lower()):
                title = new + title[len(brand) :]
            else:
                title = f"{new} {title}"
            brand = new

        parts = [title]
        price = base.price * (0.8 + 0.5 * r())

        # colour (45% re-coloured, mentioned in the title)
        color = base.color
        if r() < 0.45 or color is None:
            color = self.colors[rng.randrange(len(self.colors))]
            if r() < 0.6:
                parts.append(f"in {color}" if r() < 0.5 else f", {color}")
        mods: list[str] = []
        # size (40%)
        if r() < 0.40:
            mods.append(SIZES[rng.randrange(len(SIZES))])
        # wattage / voltage (20%)
        x = r()
        if x < 0.12:
            mods.append(f"{WATTAGES[rng.randrange(len(WATTAGES))]}W")
        elif x < 0.20:
            mods.append(_fmt_volt(VOLTAGES[rng.randrange(len(VOLTAGES))]))
        parts += mods
        # pack count (25%)
        pack = 1
        if r() < 0.25:
            pack = PACK_COUNTS[rng.randrange(len(PACK_COUNTS))]
            parts.append(PACK_FORMATS[rng.randrange(len(PACK_FORMATS))].format(n=pack))
            price *= 0.7 * pack if pack <= 12 else 0.4 * pack
        # model number (55%)
        model = None
        if r() < 0.55:
            model = make_model(rng)
            parts.append(MODEL_FORMATS[rng.randrange(len(MODEL_FORMATS))].format(m=model))
        full = " ".join(parts).replace(" ,", ",")

        bullets = list(base.bullets)
        if model is not None and r() < 0.5:
            bullets.append(f"Model number: {model}")
        if pack > 1:
            bullets.append(f"Includes {pack} pieces")

        if base.rating is not None and r() < 0.7:
            rating = base.rating
        else:
            rating = round(2.5 + 2.5 * r(), 1)
        rating_count = (base.rating_count if base.rating_count is not None else 0) // 7 + rng.randrange(5000)

        if keep:
            self.samples.append(Sample(model, brand, base.ptype, color, tuple(mods)))

        return {
            "id": f"SYN{i:07d}",
            "title": full,
            "brand": brand,
            "color": color,
            "category": list(base.category),
            "bullets": bullets,
            "price": round(max(price, 0.5), 2),
            "rating": rating,
            "rating_count": rating_count,
        }


def _publish(tmp: str, out: Path) -> None:
    """Give the temp file the usual permissions (mkstemp makes it 0600), move it into place."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, out)


def write_catalog(gen: Generator, n: int, out: Path, n_samples: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    # remember one product every `stride` (deterministic), for the queries
    stride = max(1, n // max(1, n_samples))
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    t0 = time.perf_counter()
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            buf: list[str] = []
            for i in range(1, n + 1):
                buf.append(dumps(gen.product(i, keep=(i % stride == 0))))
                if len(buf) >= 10_000:
                    fh.write("\n".join(buf))
                    fh.write("\n")
                    buf.clear()
                if i % LOG_EVERY == 0:
                    dt = time.perf_counter() - t0
                    log.info("%9d / %d products  %.1fs  (%.0f/s)", i, n, dt, i / dt)
            if buf:
                fh.write("\n".join(buf))
                fh.write("\n")
        _publish(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_queries(gen: Generator, sources: Sequence[Source], seed: int, total: int = N_QUERIES) -> list[str]:
    """``total`` queries: original judged queries, model numbers, keyword and brand queries."""
    rng = random.Random(seed + 7919)
    n_orig, n_model, n_kw = int(total * 0.4), int(total * 0.2), int(total * 0.2)

    chosen: dict[str, None] = {}

    def add(q: str) -> bool:
        q = " ".join(q.split())
        if q and q not in chosen and len(chosen) < total:
            chosen[q] = None
            return True
        return False

    # 1. original queries: an equal share per source, a smaller source's unused share
    #    going to the others
    left = n_orig
    by_size = sorted(sources, key=lambda s: (len(s.queries), s.name))
    for j, s in enumerate(by_size):
        share = left // (len(by_size) - j)
        pool = [q for q in s.queries if q not in chosen]
        take = pool if len(pool) <= share else rng.sample(pool, share)
        before = len(chosen)
        for q in take:
            add(q)
        left -= len(chosen) - before
    target = len(chosen)

    # 2. exact model numbers that exist in the catalog (some with the brand or the type)
    samples = gen.samples
    order = rng.sample(range(len(samples)), len(samples))
    target += n_model
    k = 0
    for idx in order:
        if len(chosen) >= target:
            break
        sm = samples[idx]
        if sm.model is None:
            continue
        k += 1
        if k % 4 == 0 and sm.brand != "Generic":
            add(f"{sm.brand} {sm.model}")
        elif k % 7 == 0 and sm.ptype:
            add(f"{sm.model} {sm.ptype}")
        else:
            add(sm.model)

    # 3. short keyword queries: a generated product's type + one of its sizes/wattages/colours
    target += n_kw
    for idx in order[::-1]:
        if len(chosen) >= target:
            break
        sm = samples[idx]
        if not sm.ptype:
            continue
        mod = sm.mods[rng.randrange(len(sm.mods))] if sm.mods and rng.random() < 0.7 else sm.color
        mod = mod.lower().replace(".", "")
        add(f"{sm.ptype} {mod}" if rng.random() < 0.7 else f"{mod} {sm.ptype}")

    bases = gen.bases
    tries = 0
    # 4. brand + product type (fills up to `total`)
    while len(chosen) < total and tries < 100 * total:
        tries += 1
        b = bases[rng.randrange(len(bases))]
        if b.ptype and b.brand != "Generic" and not set(b.ptype.split()) & set(b.brand.lower().split()):
            add(f"{b.brand.lower()} {b.ptype}")

    out = list(chosen)
    rng.shuffle(out)
    return out


def write_lines(lines: Iterable[str], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for line in lines:
                fh.write(line.replace("\n", " ") + "\n")
        _publish(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def color_pool(sources: Sequence[Source]) -> list[str]:
    counts: Counter[str] = Counter(b.color for s in sources for b in s.bases if b.color)
    extra = sorted(
        (c for c, k in counts.items() if k >= 5 and c not in BASE_COLORS),
        key=lambda c: (-counts[c], c),
    )
    return list(BASE_COLORS) + extra[:40]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Generate a deterministic synthetic products.jsonl for the scale benchmarks.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("-n", "--num-products", type=int, default=1_000_000, help="number of products")
    p.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help="output products.jsonl")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument(
        "--source",
        type=Path,
        action="append",
        default=None,
        metavar="DIR",
        help=f"folder with products.jsonl (and judgments.tsv); repeatable; default: {DEFAULT_DATA}/"
        f"{{{','.join(DEFAULT_SUBDIRS)}}}",
    )
    p.add_argument(
        "--queries-out",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"also write {N_QUERIES} queries, one per line",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings")
    args = p.parse_args(argv)
    if args.num_products < 1:
        p.error("-n must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    t0 = time.perf_counter()
    folders = resolve_sources(args.source)
    load_rng = random.Random(args.seed ^ 0x5EED)
    sources = [load_source(f, load_rng, BASE_COLORS) for f in folders]
    colors = color_pool(sources)
    gen = Generator(sources, args.seed, colors)
    log.info(
        "%d base products, %d brands, %d colours; writing %d products to %s",
        len(gen.bases),
        len(gen.brands),
        len(colors),
        args.num_products,
        args.out,
    )
    write_catalog(gen, args.num_products, args.out, 2 * N_QUERIES if args.queries_out else 0)
    if args.queries_out:
        queries = build_queries(gen, sources, args.seed)
        write_lines(queries, args.queries_out)
        log.info("wrote %d queries to %s", len(queries), args.queries_out)
    dt = time.perf_counter() - t0
    size = args.out.stat().st_size
    print(
        f"wrote {args.num_products:,} products ({size / 1e6:.1f} MB) to {args.out} in {dt:.1f}s"
        + (f"; queries: {args.queries_out}" if args.queries_out else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
