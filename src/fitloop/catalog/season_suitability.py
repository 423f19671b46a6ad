"""How well an item suits today's temperature and rain, learned from real catalog and sales data.

The model is log-linear in temperature. For each article type it holds a slope ``beta``: how
much the type's share of sales (or of seasonal labels) changes per °C, in log units. Colour
lightness and material add their own slopes, learned *within* article types so that "coats are
dark" does not make every dark item a winter item. An item's suitability at ``T`` °C is

    score = tanh(beta_item * (T - pivot_c) / 2)   (+ a small rain rule), clipped to [-1, 1]

``tanh(x/2)`` maps a log ratio ``x`` to ``(r - 1) / (r + 1)`` with ``r = exp(x)``: +0.5 means the
item typically sells three times as well at ``T`` as on a mild ``pivot_c`` day, -0.5 a third as well.

Where the slopes come from (see :func:`learn_suitability` and ``benchmarks/learn_season_suitability.py``):

- Myntra styles: the season label (Summer vs Winter) of 44k products per article type, as
  log-odds against the catalog average, divided by a nominal 20 °C summer/winter gap.
- H&M sales: weekly counts of each product type vs the expected count from its overall share,
  Poisson-regressed on the typical temperature of that ISO week (Stockholm normals).
- Both estimates are pooled by precision with a zero-mean prior, so rare types stay neutral.

Rain is a rule, not learned (neither dataset records rain): rain gear rises, sandals and suede sink.

>>> from fitloop.data import Item
>>> m = SuitabilityModel.default()
>>> dress = Item("d1", "Linen dress", "dresses", "Dress", 30.0, colour="light beige", material="linen")
>>> coat = Item("c1", "Wool coat", "outerwear", "Coat", 90.0, colour="black", material="wool")
>>> m.score(dress, 28).score > 0 > m.score(coat, 28).score
True
>>> m.score(coat, 2).score > 0 > m.score(dress, 2).score
True
>>> m.score(dress, 28, city="Shanghai").reason
'light linen dress for 28 °C in Shanghai'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitloop.data import Item
from fitloop.errors import InvalidInput, ModelBundleError

__all__ = [
    "SuitabilityConfig",
    "Suitability",
    "SuitabilityModel",
    "learn_suitability",
    "type_key",
    "colour_class",
    "materials_of",
    "MATERIALS",
    "DEFAULT_MODEL_FILE",
]

FORMAT_VERSION = 1
DEFAULT_MODEL_FILE = "season_suitability_default.json"

#: Material words looked for in an item's material, title and description (H&M's detail_desc).
MATERIALS: tuple[str, ...] = (
    "linen", "cotton", "wool", "cashmere", "down", "padded", "fleece", "denim", "jersey", "chiffon",
    "satin", "lace", "leather", "quilted", "knit", "faux fur", "mesh", "viscose", "corduroy", "velvet",
    "seersucker", "broderie anglaise", "teddy", "suede", "waterproof", "thermal", "crochet",
)

_LIGHT = ("white", "cream", "beige", "ivory", "off white", "off-white", "pastel", "light", "pale", "nude",
          "sand", "lemon", "mint", "peach", "skin")
_DARK = ("black", "navy", "dark", "burgundy", "maroon", "brown", "charcoal", "coffee", "wine", "olive",
         "khaki green", "bordeaux", "anthracite")
_BRIGHT = ("bright", "neon", "red", "orange", "yellow", "fuchsia", "turquoise", "pink", "magenta", "lime")

#: H&M's perceived_colour_value_name -> lightness class.
HM_COLOUR_VALUE_CLASS: dict[str, str] = {
    "Light": "light", "Dusty Light": "light", "Dark": "dark", "Bright": "bright",
    "Medium": "medium", "Medium Dusty": "medium",
}

_RAIN_UP = ("rain", "waterproof", "trench", "boot", "umbrella", "parka", "wellington")
_RAIN_DOWN = ("sandal", "flip flop", "flip-flop", "espadrille", "suede", "ballerina", "canvas")


def type_key(name: str) -> str:
    """Normalised article-type key: lower case, letters only, simple plural removed.

    >>> type_key("T-shirts"), type_key("Dresses"), type_key("Leggings/Tights"), type_key("Coat")
    ('tshirt', 'dress', 'leggingstight', 'coat')
    """
    k = re.sub(r"[^a-z]", "", name.casefold())
    if k.endswith("sses"):
        return k[:-2]
    if k.endswith("s") and not k.endswith("ss") and len(k) > 3:
        return k[:-1]
    return k


def colour_class(colour: str) -> str:
    """Lightness class of a colour name: light, dark, bright or medium (unknown → medium).

    >>> colour_class("Light Beige"), colour_class("navy blue"), colour_class("Red"), colour_class("Grey")
    ('light', 'dark', 'bright', 'medium')
    """
    c = colour.casefold()
    if not c:
        return "medium"
    for words, cls in ((_DARK, "dark"), (_LIGHT, "light"), (_BRIGHT, "bright")):
        if any(w in c for w in words):
            return cls
    return "medium"


def materials_of(text: str) -> tuple[str, ...]:
    """Material words found in ``text`` (whole words; "knitted" counts as knit)."""
    t = text.casefold()
    found = []
    for m in MATERIALS:
        pattern = r"\bknit(ted|wear)?\b" if m == "knit" else rf"\b{re.escape(m)}\b"
        if re.search(pattern, t):
            found.append(m)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class SuitabilityConfig:
    """Hyperparameters of :func:`learn_suitability`.

    ``prior_sd``: sd of the zero-mean prior on each slope (log units per °C) — the shrinkage;
    ``summer_winter_gap_c``: nominal temperature gap between Myntra's Summer and Winter labels;
    ``min_count``: types/colours/materials with fewer observations are left out (neutral).
    """

    pivot_c: float = 15.0
    prior_sd: float = 0.05
    summer_winter_gap_c: float = 20.0
    min_count: int = 30
    rain_threshold_mm: float = 5.0
    rain_effect: float = 0.3


@dataclass(frozen=True, slots=True)
class Suitability:
    """Suitability of one item for the weather: score in [-1, 1] and the reason in plain words."""

    score: float
    reason: str
    beta: float = 0.0
    known_type: bool = True


@dataclass(frozen=True)
class SuitabilityModel:
    """Learned slopes per article type, colour-lightness class and material; see the module doc."""

    types: Mapping[str, float]
    colours: Mapping[str, float] = field(default_factory=dict)
    materials: Mapping[str, float] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)  # type key -> display name
    occasions: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # type -> usage share
    config: SuitabilityConfig = field(default_factory=SuitabilityConfig)
    sources: Mapping[str, Any] = field(default_factory=dict)

    # -- scoring --------------------------------------------------------------------------------
    def type_beta(self, item: Item) -> tuple[str | None, float]:
        """The learned slope for the item's article type (falling back to words in it, then the category)."""
        # Exact article type, then a known word in it ("light cardigan" → "cardigan"), then the
        # category, then a known word in the title; last words first (the noun ends an English phrase).
        def exact(name: str) -> str | None:
            k = type_key(name or "")
            return k if k in self.types else None

        def by_word(name: str) -> str | None:
            for word in reversed(re.findall(r"[a-zA-Z-]+", name or "")):
                k = type_key(word)
                if k in self.types:
                    return k
            return None

        for find, name in ((exact, item.article_type), (by_word, item.article_type), (exact, item.category),
                           (by_word, item.title), (by_word, item.category)):
            key = find(name)
            if key is not None:
                return key, self.types[key]
        return None, 0.0

    def item_beta(self, item: Item) -> tuple[float, str | None, str, tuple[str, ...]]:
        # Serving scores the same items again and again; their text parsing (regexes) is memoised.
        memo_key = (item.item_id, item.article_type, item.category, item.title, item.colour, item.material,
                    len(item.description))
        cache: dict[tuple[object, ...], tuple[float, str | None, str, tuple[str, ...]]] = \
            self.__dict__.setdefault("_beta_memo", {})
        hit = cache.get(memo_key)
        if hit is not None:
            return hit
        if len(cache) > 200_000:
            cache.clear()
        cache[memo_key] = out = self._item_beta(item)
        return out

    def _item_beta(self, item: Item) -> tuple[float, str | None, str, tuple[str, ...]]:
        key, beta = self.type_beta(item)
        cls = colour_class(item.colour)
        beta += self.colours.get(cls, 0.0)
        mats = tuple(m for m in materials_of(" ".join((item.material, item.title, item.description)))
                     if m in self.materials)
        if mats:
            beta += float(np.mean([self.materials[m] for m in mats]))
        return beta, key, cls, mats

    def score(self, item: Item, temperature_c: float, rain_mm: float | None = None,
              city: str | None = None) -> Suitability:
        """Suitability of ``item`` at ``temperature_c`` (and ``rain_mm``), with the reason."""
        if not math.isfinite(temperature_c):
            raise InvalidInput("temperature_c must be a finite number of °C")
        cfg = self.config
        beta, key, cls, mats = self.item_beta(item)
        s = math.tanh(beta * (temperature_c - cfg.pivot_c) / 2)
        rain_note = ""
        if rain_mm is not None and rain_mm >= cfg.rain_threshold_mm:
            text = " ".join((item.article_type, item.title, item.material, item.description)).casefold()
            if any(w in text for w in _RAIN_UP):
                s += cfg.rain_effect
                rain_note = f"rain-ready for {rain_mm:g} mm of rain"
            elif any(w in text for w in _RAIN_DOWN):
                s -= cfg.rain_effect
                rain_note = f"not for {rain_mm:g} mm of rain"
        s = max(-1.0, min(1.0, s))
        label = (self.labels.get(key, key) if key else (item.article_type or "item")).lower()
        noun = " ".join((*(m for m in mats[:1]), label))
        where = f" in {city}" if city else ""
        t = f"{temperature_c:g} °C"
        warm_day = temperature_c >= cfg.pivot_c
        if key is None and not mats and cls == "medium" and not rain_note:
            reason = f"no season data for {label}"
        elif abs(s) < 0.05:
            reason = f"{noun} is fine for {t}{where}"
        elif s > 0:
            adj = ("light" if cls != "dark" else "airy") if warm_day else "warm"
            reason = f"{adj} {noun} for {t}{where}"
        else:
            reason = f"{noun} is too {'warm' if warm_day else 'light'} for {t}{where}"
        if rain_note:
            reason = f"{reason}; {rain_note}"
        return Suitability(s, reason, beta, key is not None)

    def occasion_share(self, item: Item, occasion: str) -> float:
        """Share of the item's article type used for ``occasion`` (Myntra usage labels; 0 if unknown)."""
        if item.occasion:
            return 1.0 if item.occasion.casefold() == occasion.casefold() else 0.0
        key, _ = self.type_beta(item)
        return float(self.occasions.get(key or "", {}).get(occasion.casefold(), 0.0))

    # -- persistence ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        c = self.config
        return {
            "format": "fitloop.season_suitability", "format_version": FORMAT_VERSION,
            "config": {f: getattr(c, f) for f in c.__dataclass_fields__},
            "types": {k: round(v, 5) for k, v in sorted(self.types.items())},
            "colours": {k: round(v, 5) for k, v in sorted(self.colours.items())},
            "materials": {k: round(v, 5) for k, v in sorted(self.materials.items())},
            "labels": dict(sorted(self.labels.items())),
            "occasions": {k: {u: round(s, 4) for u, s in v.items()} for k, v in sorted(self.occasions.items())},
            "sources": dict(self.sources),
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SuitabilityModel:
        if raw.get("format") != "fitloop.season_suitability" or raw.get("format_version") != FORMAT_VERSION:
            raise ModelBundleError(
                f"not a season-suitability model of format version {FORMAT_VERSION}; "
                "relearn it with benchmarks/learn_season_suitability.py")
        try:
            return cls(
                types={str(k): float(v) for k, v in raw["types"].items()},
                colours={str(k): float(v) for k, v in raw.get("colours", {}).items()},
                materials={str(k): float(v) for k, v in raw.get("materials", {}).items()},
                labels={str(k): str(v) for k, v in raw.get("labels", {}).items()},
                occasions={str(k): {str(u): float(s) for u, s in v.items()}
                           for k, v in raw.get("occasions", {}).items()},
                config=SuitabilityConfig(**raw.get("config", {})),
                sources=dict(raw.get("sources", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelBundleError(f"season-suitability model is malformed: {exc}") from exc

    @classmethod
    def load(cls, path: str | Path) -> SuitabilityModel:
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ModelBundleError(f"cannot read season-suitability model {path}: {exc}") from exc
        return cls.from_dict(raw)

    @classmethod
    def default(cls) -> SuitabilityModel:
        """The model shipped with fitloop, learned from Myntra styles and H&M sales (numbers only)."""
        text = resources.files("fitloop.catalog").joinpath(DEFAULT_MODEL_FILE).read_text()
        return cls.from_dict(json.loads(text))


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------
def _poisson_slope(counts: np.ndarray, expected: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """MLE of ``b`` in counts ~ Poisson(expected * exp(a + b x)) and its standard error (Newton)."""
    keep = expected > 0
    y, e, x = counts[keep].astype(float), expected[keep].astype(float), x[keep].astype(float)
    if y.sum() == 0 or len(y) < 3:
        return 0.0, float("inf")
    x = x - np.average(x, weights=e)
    a, b = math.log(y.sum() / e.sum()), 0.0
    for _ in range(50):
        mu = e * np.exp(a + b * x)
        g = np.array([np.sum(y - mu), np.sum((y - mu) * x)])
        h = np.array([[mu.sum(), (mu * x).sum()], [(mu * x).sum(), (mu * x * x).sum()]])
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            return 0.0, float("inf")
        a, b = a + step[0], b + step[1]
        if np.abs(step).max() < 1e-9:
            break
    mu = e * np.exp(a + b * x)
    h = np.array([[mu.sum(), (mu * x).sum()], [(mu * x).sum(), (mu * x * x).sum()]])
    try:
        var_b = float(np.linalg.inv(h)[1, 1])
    except np.linalg.LinAlgError:
        return 0.0, float("inf")
    return float(b), math.sqrt(max(var_b, 1e-12))


def _pool(estimates: list[tuple[float, float]], prior_sd: float) -> float:
    """Posterior mean of a slope from independent (estimate, se) pairs and a N(0, prior_sd²) prior."""
    num, den = 0.0, 1.0 / prior_sd**2
    for b, se in estimates:
        if math.isfinite(se) and se > 0:
            num += b / se**2
            den += 1.0 / se**2
    return num / den


def _myntra_type_slopes(styles: pd.DataFrame, cfg: SuitabilityConfig) -> dict[str, tuple[float, float, int, str]]:
    s = styles[styles["season"].isin(["Summer", "Winter"])]
    if "masterCategory" in s.columns:
        # Myntra's season labels on accessories and personal care are catalogue artefacts
        # (watches, sunglasses, heels, camisoles come out as winter items); only outer apparel is used.
        s = s[(s["masterCategory"] == "Apparel")
              & ~s.get("subCategory", pd.Series("", index=s.index)).isin(["Innerwear", "Loungewear and Nightwear"])]
    keys = s["articleType"].map(type_key)
    tab = pd.crosstab(keys, s["season"])
    base = math.log((tab["Summer"].sum() + 0.5) / (tab["Winter"].sum() + 0.5))
    labels = styles.assign(k=styles["articleType"].map(type_key)).groupby("k")["articleType"].first()
    out = {}
    for k, row in tab.iterrows():
        n = int(row["Summer"] + row["Winter"])
        if n < cfg.min_count or not k:
            continue
        lo = math.log((row["Summer"] + 0.5) / (row["Winter"] + 0.5)) - base
        se = math.sqrt(1 / (row["Summer"] + 0.5) + 1 / (row["Winter"] + 0.5))
        out[str(k)] = (lo / cfg.summer_winter_gap_c, se / cfg.summer_winter_gap_c, n, str(labels.get(k, k)))
    return out


def _myntra_occasions(styles: pd.DataFrame, cfg: SuitabilityConfig) -> dict[str, dict[str, float]]:
    s = styles[styles["usage"].astype(str).str.len() > 0]
    tab = pd.crosstab(s["articleType"].map(type_key), s["usage"].str.casefold())
    out = {}
    for k, row in tab.iterrows():
        if row.sum() >= cfg.min_count and k:
            share = row / row.sum()
            out[str(k)] = {u: float(v) for u, v in share.items() if v >= 0.02}
    return out


def _hm_frames(transactions: pd.DataFrame, articles: pd.DataFrame,
               week_temperature: Mapping[int, float]) -> pd.DataFrame:
    a = articles[["article_id", "product_type_name", "perceived_colour_value_name", "detail_desc",
                  "prod_name"]]
    tx = transactions[["t_dat", "article_id"]].merge(a, on="article_id", how="inner")
    tx["week"] = tx["t_dat"].dt.isocalendar().week.astype(int).clip(upper=52)
    tx["temp"] = tx["week"].map(week_temperature).astype(float)
    if tx["temp"].isna().any():
        raise InvalidInput("week_temperature must give a temperature for ISO weeks 1..52")
    tx["type"] = tx["product_type_name"].map(type_key)
    tx["yw"] = tx["t_dat"].dt.strftime("%G-%V")
    return tx


def _hm_type_slopes(tx: pd.DataFrame, cfg: SuitabilityConfig) -> dict[str, tuple[float, float, int, str]]:
    weeks = tx.groupby("yw").agg(n=("type", "size"), temp=("temp", "first"))
    counts = pd.crosstab(tx["yw"], tx["type"]).reindex(weeks.index, fill_value=0)
    share = counts.sum() / counts.values.sum()
    labels = tx.groupby("type")["product_type_name"].first()
    out = {}
    for k in counts.columns:
        n = int(counts[k].sum())
        if n < cfg.min_count or not k:
            continue
        b, se = _poisson_slope(counts[k].to_numpy(), (weeks["n"] * share[k]).to_numpy(), weeks["temp"].to_numpy())
        out[str(k)] = (b, se, n, str(labels[k]))
    return out


def _within_type_slopes(tx: pd.DataFrame, flag: pd.Series, cfg: SuitabilityConfig) -> tuple[float, float, int]:
    """Slope of a binary attribute (a colour class, a material) with each type's own weekly sales as offset.

    Expected weekly count = Σ_type (type's sales that week × the attribute's share within that type),
    so only the attribute's shift *within* types is measured.
    """
    weeks = tx.groupby("yw")["temp"].first()
    by_type_week = pd.crosstab(tx["yw"], tx["type"]).reindex(weeks.index, fill_value=0)
    share_in_type = flag.groupby(tx["type"]).mean()
    expected = (by_type_week * share_in_type.reindex(by_type_week.columns).fillna(0)).sum(axis=1)
    counts = flag.groupby(tx["yw"]).sum().reindex(weeks.index, fill_value=0)
    n = int(flag.sum())
    if n < cfg.min_count:
        return 0.0, float("inf"), n
    b, se = _poisson_slope(counts.to_numpy(), expected.to_numpy(), weeks.to_numpy())
    return b, se, n


def learn_suitability(
    styles: pd.DataFrame | None,
    transactions: pd.DataFrame | None,
    articles: pd.DataFrame | None,
    week_temperature: Mapping[int, float] | None = None,
    config: SuitabilityConfig | None = None,
) -> SuitabilityModel:
    """Learn a :class:`SuitabilityModel` from Myntra styles and/or H&M transactions + articles.

    ``styles``: columns articleType, season, usage (``fitloop.datasets.myntra.load_styles``).
    ``transactions``/``articles``: ``fitloop.datasets.hm`` frames; ``week_temperature`` maps ISO
    week 1..52 to the typical temperature (°C) where the shoppers live (needed with H&M data).
    """
    cfg = config or SuitabilityConfig()
    if styles is None and transactions is None:
        raise InvalidInput("give Myntra styles, H&M transactions + articles, or both")
    per_type: dict[str, list[tuple[float, float]]] = {}
    labels: dict[str, str] = {}
    sources: dict[str, Any] = {}
    occasions: dict[str, dict[str, float]] = {}
    if styles is not None:
        my = _myntra_type_slopes(styles, cfg)
        for k, (b, se, _n, lab) in my.items():
            per_type.setdefault(k, []).append((b, se))
            labels.setdefault(k, lab)
        occasions = _myntra_occasions(styles, cfg)
        sources["myntra_styles"] = {"rows": int(len(styles)), "types": len(my)}
    colours: dict[str, float] = {}
    materials: dict[str, float] = {}
    if transactions is not None:
        if articles is None or week_temperature is None:
            raise InvalidInput("H&M learning needs articles and week_temperature too")
        tx = _hm_frames(transactions, articles, week_temperature)
        hm = _hm_type_slopes(tx, cfg)
        for k, (b, se, _n, lab) in hm.items():
            per_type.setdefault(k, []).append((b, se))
            labels[k] = lab  # H&M names read better ("T-shirt" rather than "Tshirts")
        cls = tx["perceived_colour_value_name"].map(HM_COLOUR_VALUE_CLASS).fillna("medium")
        for c in ("light", "dark", "bright"):
            b, se, n = _within_type_slopes(tx, (cls == c).astype(int), cfg)
            if n >= cfg.min_count:
                colours[c] = _pool([(b, se)], cfg.prior_sd)
        text = (tx["prod_name"].astype(str) + " " + tx["detail_desc"].astype(str)).str.casefold()
        for m in MATERIALS:
            pattern = r"\bknit(?:ted|wear)?\b" if m == "knit" else rf"\b{re.escape(m)}\b"
            flag = text.str.contains(pattern, regex=True).astype(int)
            b, se, n = _within_type_slopes(tx, flag, cfg)
            if n >= cfg.min_count:
                materials[m] = _pool([(b, se)], cfg.prior_sd)
        sources["hm_transactions"] = {"rows": int(len(transactions)), "matched": int(len(tx)), "types": len(hm)}
    types = {k: _pool(v, cfg.prior_sd) for k, v in per_type.items()}
    return SuitabilityModel(types, colours, materials, labels, occasions, cfg, sources)
