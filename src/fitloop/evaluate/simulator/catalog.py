"""A fashion catalog with real structure, generated as numpy columns.

Category shares follow H&M's ``product_group_name`` shares of articles (upper body 40 %,
lower body 19 %, full body 13 %, accessories 11 %, shoes 5 %, swimwear 3 %), colour and
pattern weights follow H&M's ``colour_group_name`` and ``graphical_appearance_name``
(black 22 %, dark blue 12 %, white 9 %, ...; solid 47 %, all-over print 16 %, ...), and
colourways per style (``product_code``) follow H&M's 2.2 articles per product code.
Median prices per category follow the H&M median purchase price per product group
(x1000: upper body 22, lower/full body and shoes 34, accessories 13.5).

>>> import numpy as np
>>> cat = generate_catalog(120, 30, 0.25, 14.0, np.random.default_rng(1))
>>> len(cat.item_ids) == 120 and len(set(cat.item_ids)) == 120
True
>>> bool((cat.stock[~cat.size_mask] == 0).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np

from fitloop.data import Item, Variant

__all__ = [
    "ArticleType",
    "ARTICLE_TYPES",
    "CATEGORIES",
    "STYLES",
    "COLOURS",
    "PATTERNS",
    "MATERIALS",
    "SIZE_SYSTEMS",
    "CatalogArrays",
    "generate_catalog",
    "build_items",
]


@dataclass(frozen=True, slots=True)
class ArticleType:
    """One kind of garment: its category, size system, warmth and typical price.

    ``warmth``: -1 (made for heat) .. +1 (made for cold); ``rain``: 1 when it is made for wet
    days; ``weight``: share in the catalog; ``price``: median price in shop currency.
    """

    name: str
    category: str
    size_system: str
    warmth: float
    weight: float
    price: float
    occasions: tuple[str, ...]
    materials: tuple[str, ...]
    rain: float = 0.0


# fmt: off
ARTICLE_TYPES: tuple[ArticleType, ...] = (
    ArticleType("t-shirt", "tops", "top", -0.6, 0.10, 14.0, ("everyday", "sport"), ("cotton", "organic cotton", "jersey")),
    ArticleType("blouse", "tops", "top", -0.3, 0.06, 25.0, ("work", "party", "everyday"), ("viscose", "linen", "lyocell")),
    ArticleType("shirt", "tops", "top", -0.2, 0.05, 25.0, ("work", "everyday"), ("cotton", "linen", "organic cotton")),
    ArticleType("vest top", "tops", "top", -0.9, 0.04, 10.0, ("everyday", "beach", "sport"), ("cotton", "jersey")),
    ArticleType("sweater", "tops", "top", 0.7, 0.07, 30.0, ("everyday", "work"), ("wool", "cotton", "recycled polyester")),
    ArticleType("cardigan", "tops", "top", 0.4, 0.04, 30.0, ("everyday", "work"), ("wool", "cotton", "viscose")),
    ArticleType("hoodie", "tops", "top", 0.5, 0.04, 25.0, ("everyday", "sport"), ("cotton", "organic cotton", "recycled polyester")),
    ArticleType("trousers", "bottoms", "bottom", 0.1, 0.07, 30.0, ("work", "everyday"), ("cotton", "wool", "lyocell")),
    ArticleType("jeans", "bottoms", "bottom", 0.2, 0.06, 35.0, ("everyday",), ("denim", "organic cotton")),
    ArticleType("shorts", "bottoms", "bottom", -0.8, 0.03, 18.0, ("everyday", "beach", "sport"), ("cotton", "denim", "linen")),
    ArticleType("skirt", "bottoms", "bottom", -0.3, 0.03, 25.0, ("everyday", "party", "work"), ("viscose", "cotton", "denim")),
    ArticleType("dress", "dresses", "top", -0.4, 0.09, 35.0, ("party", "everyday", "work"), ("viscose", "cotton", "lyocell", "linen")),
    ArticleType("jumpsuit", "dresses", "top", -0.2, 0.02, 35.0, ("party", "everyday"), ("viscose", "cotton")),
    ArticleType("jacket", "outerwear", "top", 0.5, 0.04, 45.0, ("everyday", "outdoor"), ("denim", "cotton", "recycled polyester")),
    ArticleType("coat", "outerwear", "top", 0.95, 0.03, 80.0, ("work", "everyday"), ("wool", "recycled polyester")),
    ArticleType("parka", "outerwear", "top", 1.0, 0.02, 90.0, ("outdoor", "everyday"), ("down", "recycled polyester", "nylon")),
    ArticleType("blazer", "outerwear", "top", 0.3, 0.02, 50.0, ("work", "party"), ("wool", "viscose")),
    ArticleType("raincoat", "outerwear", "top", 0.3, 0.01, 50.0, ("outdoor", "everyday"), ("nylon", "recycled polyester"), rain=1.0),
    ArticleType("sneakers", "shoes", "shoe", 0.0, 0.025, 40.0, ("everyday", "sport"), ("leather", "recycled polyester")),
    ArticleType("boots", "shoes", "shoe", 0.8, 0.015, 55.0, ("everyday", "outdoor"), ("leather",), rain=0.7),
    ArticleType("sandals", "shoes", "shoe", -0.9, 0.01, 25.0, ("beach", "everyday"), ("leather", "recycled polyester")),
    ArticleType("swimsuit", "swimwear", "top", -1.0, 0.03, 20.0, ("beach",), ("recycled polyester", "nylon")),
    ArticleType("bag", "accessories", "one", 0.0, 0.04, 25.0, ("everyday", "work", "party"), ("leather", "cotton", "recycled polyester")),
    ArticleType("scarf", "accessories", "one", 0.8, 0.03, 13.0, ("everyday",), ("wool", "viscose", "cotton")),
    ArticleType("hat", "accessories", "one", 0.3, 0.02, 12.0, ("everyday", "beach", "outdoor"), ("cotton", "wool")),
    ArticleType("sunglasses", "accessories", "one", -0.7, 0.02, 13.0, ("beach", "everyday"), ("recycled polyester",)),
)
# fmt: on

CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(a.category for a in ARTICLE_TYPES))
STYLES: tuple[str, ...] = ("casual", "classic", "sporty", "romantic", "minimal", "street", "party")

#: Colour weights follow H&M colour groups (black 22 %, dark blue 12 %, white 9 %, ...).
COLOURS: tuple[tuple[str, float], ...] = (
    ("black", 0.215),
    ("navy", 0.115),
    ("white", 0.115),
    ("light pink", 0.055),
    ("grey", 0.07),
    ("beige", 0.085),
    ("blue", 0.06),
    ("red", 0.05),
    ("khaki", 0.045),
    ("brown", 0.04),
    ("green", 0.04),
    ("yellow", 0.025),
    ("lilac", 0.02),
    ("orange", 0.015),
)
#: Pattern weights follow H&M graphical appearance (solid 47 %, all-over pattern 16 %, ...).
PATTERNS: tuple[tuple[str, float], ...] = (
    ("solid", 0.50),
    ("all-over print", 0.16),
    ("melange", 0.06),
    ("stripe", 0.06),
    ("floral", 0.05),
    ("check", 0.04),
    ("front print", 0.06),
    ("dot", 0.03),
    ("lace", 0.02),
    ("colour block", 0.02),
)
#: material -> (eco, price multiplier, warmth shift)
MATERIALS: dict[str, tuple[bool, float, float]] = {
    "cotton": (False, 1.0, 0.0),
    "organic cotton": (True, 1.15, 0.0),
    "jersey": (False, 0.9, 0.0),
    "linen": (False, 1.2, -0.2),
    "viscose": (False, 1.0, -0.1),
    "lyocell": (True, 1.2, -0.1),
    "wool": (False, 1.5, 0.3),
    "recycled polyester": (True, 1.05, 0.0),
    "denim": (False, 1.1, 0.1),
    "leather": (False, 1.8, 0.1),
    "down": (False, 1.4, 0.2),
    "nylon": (False, 1.0, 0.0),
}
#: size system -> size labels, in order (index = size step).
SIZE_SYSTEMS: dict[str, tuple[str, ...]] = {
    "top": ("XS", "S", "M", "L", "XL", "XXL"),
    "bottom": ("XS", "S", "M", "L", "XL", "XXL"),
    "shoe": tuple(str(s) for s in range(36, 46)),
    "one": ("ONE SIZE",),
}
MAX_SIZES: int = max(len(v) for v in SIZE_SYSTEMS.values())
SYSTEM_NAMES: tuple[str, ...] = tuple(SIZE_SYSTEMS)
#: Stock is bought to demand: centred on the shoppers' mean size (M; EU 39-40 for shoes).
_STOCK_CENTRE: dict[str, float] = {"top": 2.0, "bottom": 2.0, "shoe": 3.5, "one": 0.0}
_STYLE_WORDS: dict[str, str] = {
    "casual": "relaxed, easy-going",
    "classic": "timeless, tailored",
    "sporty": "sporty, technical",
    "romantic": "soft, feminine",
    "minimal": "clean, minimalist",
    "street": "oversized, streetwear",
    "party": "statement, going-out",
}
#: Which styles an article type is made in (others are allowed but rarer).
_STYLE_BIAS: dict[str, tuple[str, ...]] = {
    "sport": ("sporty", "street"),
    "party": ("party", "romantic"),
    "work": ("classic", "minimal"),
    "beach": ("casual", "romantic"),
    "outdoor": ("sporty", "casual"),
    "everyday": ("casual", "minimal", "street"),
}


@dataclass
class CatalogArrays:
    """The catalog as columns, one row per item (colourway). ``stock`` is mutable shop state."""

    item_ids: list[str]
    product_codes: list[str]
    article_type: np.ndarray  # index into ARTICLE_TYPES
    category: np.ndarray  # index into CATEGORIES
    size_system: np.ndarray  # index into SYSTEM_NAMES
    style: np.ndarray  # index into STYLES
    colour: np.ndarray  # index into COLOURS
    pattern: np.ndarray  # index into PATTERNS
    material: list[str]
    occasion: list[str]
    eco: np.ndarray  # bool
    price: np.ndarray  # float, shop currency
    warmth: np.ndarray  # -1 .. 1
    rain: np.ndarray  # 0 .. 1
    appeal: np.ndarray  # latent general attractiveness (drives popularity skew)
    size_bias: np.ndarray  # + runs large, - runs small, in size steps
    created_day: np.ndarray  # day offset (negative: before the window)
    size_mask: np.ndarray  # (n, MAX_SIZES) bool: size exists
    stock: np.ndarray  # (n, MAX_SIZES) int

    def __len__(self) -> int:
        return len(self.item_ids)

    def seasons(self, i: int) -> tuple[str, ...]:
        return _seasons(float(self.warmth[i]), float(self.rain[i]))


def _seasons(warmth: float, rain: float) -> tuple[str, ...]:
    out = []
    if warmth <= 0.2:
        out.append("summer")
    if -0.7 <= warmth <= 0.6 or rain > 0.5:
        out += ["spring", "autumn"]
    if warmth >= 0.3:
        out.append("winter")
    order = ("spring", "summer", "autumn", "winter")
    return tuple(s for s in order if s in out)


def generate_catalog(
    n_items: int,
    n_days: int,
    new_arrival_share: float,
    mean_stock: float,
    rng: np.random.Generator,
    size_bias_sd: float = 0.2,
) -> CatalogArrays:
    """Generate ``n_items`` colourways grouped into styles (product codes)."""
    at_w = np.array([a.weight for a in ARTICLE_TYPES])
    at_w = at_w / at_w.sum()
    # Colourways per style: 1 + geometric, mean about 2.2 like H&M's product codes.
    n_codes_guess = int(n_items / 2.2) + 10
    ways = np.minimum(rng.geometric(1 / 2.2, size=n_codes_guess), 8)
    while ways.sum() < n_items:
        ways = np.concatenate([ways, np.minimum(rng.geometric(1 / 2.2, size=n_codes_guess), 8)])
    cum = np.cumsum(ways)
    n_codes = int(np.searchsorted(cum, n_items) + 1)
    ways = ways[:n_codes].copy()
    ways[-1] -= int(cum[n_codes - 1] - n_items)
    code_of_item = np.repeat(np.arange(n_codes), ways)
    way_of_item = np.concatenate([np.arange(w) for w in ways])

    # Style-level attributes (shared by colourways).
    c_at = rng.choice(len(ARTICLE_TYPES), size=n_codes, p=at_w)
    c_style = np.empty(n_codes, dtype=np.int64)
    c_material: list[str] = []
    c_occasion: list[str] = []
    for k in range(n_codes):
        a = ARTICLE_TYPES[c_at[k]]
        occ = a.occasions[int(rng.integers(len(a.occasions)))]
        c_occasion.append(occ)
        c_material.append(a.materials[int(rng.integers(len(a.materials)))])
        biased = _STYLE_BIAS[occ]
        if rng.random() < 0.6:
            c_style[k] = STYLES.index(biased[int(rng.integers(len(biased)))])
        else:
            c_style[k] = int(rng.integers(len(STYLES)))
    mat_mult = np.array([MATERIALS[m][1] for m in c_material])
    mat_warm = np.array([MATERIALS[m][2] for m in c_material])
    base_price = np.array([ARTICLE_TYPES[i].price for i in c_at])
    # Lognormal spread around the type's median (H&M's log-price sd over all purchases is 0.65).
    c_price = base_price * mat_mult * np.exp(rng.normal(0.0, 0.5, n_codes))
    c_price = np.round(np.clip(c_price, 3.0, 400.0)) - 0.01
    c_appeal = rng.normal(0.0, 0.6, n_codes)
    c_bias = rng.normal(0.0, size_bias_sd, n_codes)
    # New arrivals: launched during the window (uniformly), the rest before it.
    c_created = np.where(
        rng.random(n_codes) < new_arrival_share,
        rng.integers(1, max(n_days, 2), n_codes),
        -rng.integers(1, 365, n_codes),
    )

    at = c_at[code_of_item]
    colour_w = np.array([w for _, w in COLOURS])
    colour_w = colour_w / colour_w.sum()
    pat_w = np.array([w for _, w in PATTERNS])
    pat_w = pat_w / pat_w.sum()
    colour = rng.choice(len(COLOURS), size=n_items, p=colour_w)
    # Colourways of one style share the pattern most of the time.
    c_pattern = rng.choice(len(PATTERNS), size=n_codes, p=pat_w)
    pattern = np.where(rng.random(n_items) < 0.8, c_pattern[code_of_item], rng.choice(len(PATTERNS), n_items, p=pat_w))
    pattern = np.where(np.array([c_material[c] == "denim" for c in code_of_item]), 0, pattern)
    material = [c_material[c] for c in code_of_item]
    eco = np.array([MATERIALS[m][0] for m in material], dtype=bool)
    category = np.array([CATEGORIES.index(ARTICLE_TYPES[i].category) for i in at])
    system = np.array([SYSTEM_NAMES.index(ARTICLE_TYPES[i].size_system) for i in at])
    warmth = np.clip(np.array([ARTICLE_TYPES[i].warmth for i in at]) + mat_warm[code_of_item], -1.0, 1.0)
    rain = np.array([ARTICLE_TYPES[i].rain for i in at])

    # Sizes and stock: bell-shaped over sizes around the middle; some sizes start sold out.
    size_mask = np.zeros((n_items, MAX_SIZES), dtype=bool)
    centre = np.zeros(n_items)
    for s, name in enumerate(SYSTEM_NAMES):
        rows = system == s
        k = len(SIZE_SYSTEMS[name])
        size_mask[rows, :k] = True
        centre[rows] = _STOCK_CENTRE[name]
    steps = np.arange(MAX_SIZES)[None, :]
    bell = np.exp(-0.5 * ((steps - centre[:, None]) / 1.4) ** 2) * size_mask
    bell = bell / bell.sum(axis=1, keepdims=True)
    total = rng.gamma(2.0, mean_stock / 2.0, n_items)
    stock = rng.poisson(bell * total[:, None])
    stock = np.where(size_mask, stock, 0).astype(np.int64)

    product_codes = [f"{1_000_001 + c:07d}" for c in range(n_codes)]
    item_ids = [
        f"{product_codes[c]}{w + 1:03d}" for c, w in zip(code_of_item.tolist(), way_of_item.tolist(), strict=True)
    ]
    return CatalogArrays(
        item_ids=item_ids,
        product_codes=[product_codes[c] for c in code_of_item],
        article_type=at,
        category=category,
        size_system=system,
        style=c_style[code_of_item],
        colour=colour,
        pattern=pattern,
        material=material,
        occasion=[c_occasion[c] for c in code_of_item],
        eco=eco,
        price=c_price[code_of_item],
        warmth=warmth,
        rain=rain,
        appeal=c_appeal[code_of_item] + rng.normal(0.0, 0.2, n_items),
        size_bias=c_bias[code_of_item],
        created_day=c_created[code_of_item],
        size_mask=size_mask,
        stock=stock,
    )


def describe(cat: CatalogArrays, i: int) -> tuple[str, str]:
    """Title and description text of item ``i``, generated from its attributes (for TF-IDF)."""
    a = ARTICLE_TYPES[int(cat.article_type[i])]
    colour = COLOURS[int(cat.colour[i])][0]
    pattern = PATTERNS[int(cat.pattern[i])][0]
    style = STYLES[int(cat.style[i])]
    material = cat.material[i]
    title = f"{colour.capitalize()} {material} {a.name}"
    pat = "" if pattern == "solid" else f"{pattern} "
    seasons = cat.seasons(i)
    parts = [
        f"{style.capitalize()} {a.name} in {colour} {pat}{material}.",
        f"A {_STYLE_WORDS[style]} piece for {cat.occasion[i]} wear.",
    ]
    if seasons:
        parts.append(f"Made for {', '.join(seasons)}.")
    if a.rain > 0.5:
        parts.append("Water-repellent for rainy days.")
    if cat.eco[i]:
        parts.append(f"Sustainable choice: {material}.")
    return title, " ".join(parts)


def build_items(cat: CatalogArrays, start: date) -> list[Item]:
    """Materialise :class:`fitloop.data.Item` objects with the current stock."""
    items: list[Item] = []
    base = datetime.combine(start, time(0, 0))
    systems = [SIZE_SYSTEMS[n] for n in SYSTEM_NAMES]
    stock = cat.stock.tolist()
    for i, item_id in enumerate(cat.item_ids):
        a = ARTICLE_TYPES[int(cat.article_type[i])]
        labels = systems[int(cat.size_system[i])]
        title, desc = describe(cat, i)
        row = stock[i]
        items.append(
            Item(
                item_id=item_id,
                title=title,
                category=a.category,
                article_type=a.name,
                price=float(cat.price[i]),
                colour=COLOURS[int(cat.colour[i])][0],
                pattern=PATTERNS[int(cat.pattern[i])][0],
                material=cat.material[i],
                style=STYLES[int(cat.style[i])],
                occasion=cat.occasion[i],
                eco=bool(cat.eco[i]),
                seasons=cat.seasons(i),
                product_code=cat.product_codes[i],
                description=desc,
                created_at=base + timedelta(days=int(cat.created_day[i])),
                variants=tuple(Variant(lbl, int(row[s])) for s, lbl in enumerate(labels)),
                attributes={"warmth": round(float(cat.warmth[i]), 2), "rain_ready": bool(cat.rain[i] > 0.5)},
            )
        )
    return items
