"""Plain-words labels for segments: each cluster named by its most distinguishing tags.

A *feature* is either a tag share (``"colour:Black"``: share of the shopper's
purchases in black) or a behaviour measure (``"price_level"``, ``"discount_share"``,
``"eco_share"``, ``"frequency"``, ``"recency"``). A cluster's distinguishing
tags are the features whose cluster mean lies furthest above (or, for behaviour
measures with a word for "low", below) the population mean, in population
standard deviations. Labels hold at most ``max_tags`` tags joined by ``" · "``
and are unique across the clusters of one model.

>>> tag_words("colour:Black")
'black'
>>> tag_words("price_level", direction=-1)
'price-sensitive'
>>> join_tags(["black", "white", "jersey basic"])
'black & white · jersey basic'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["BEHAVIOUR_WORDS", "tag_words", "join_tags", "distinguishing_tags", "label_clusters"]

#: Behaviour measures and their words for (high, low) values; ``None`` = no word.
BEHAVIOUR_WORDS: dict[str, tuple[str | None, str | None]] = {
    "price_level": ("premium", "price-sensitive"),
    "discount_share": ("deal hunters", None),
    "eco_share": ("eco", None),
    "frequency": ("frequent buyers", "one-off buyers"),
    "recency": ("lapsing", "recently active"),
}

#: Words that read better than the raw attribute value.
_VALUE_WORDS: dict[str, str] = {
    "solid": "plain",
    "all over pattern": "all-over prints",
    "baby/children": "kidswear",
    "divided": "divided (young fashion)",
    "lingeries/tights": "lingerie & tights",
}


def tag_words(feature: str, direction: int = 1) -> str | None:
    """The plain words for ``feature`` when a cluster is high (``direction=1``) or low (-1) on it."""
    if feature in BEHAVIOUR_WORDS:
        high, low = BEHAVIOUR_WORDS[feature]
        return high if direction > 0 else low
    if direction < 0 or ":" not in feature:
        return None
    column, value = feature.split(":", 1)
    words = " ".join(value.replace("_", " ").split()).lower()
    if not words or words in ("unknown", "other", "nan", "none", "other structure", "other pattern"):
        return None
    words = _VALUE_WORDS.get(words, words)
    if column == "eco":
        return "eco" if words in ("true", "1", "yes") else None
    if column == "pattern":
        return _PATTERN_WORDS.get(words, words)
    return words
_PATTERN_WORDS: dict[str, str] = {"stripe": "stripes", "check": "checks", "dot": "dots", "denim": "denim look"}


def _is_colour(feature: str) -> bool:
    return feature.split(":", 1)[0] in ("colour", "color", "colour_group_name", "perceived_colour_master_name")


def join_tags(words: Sequence[str], colour_words: Sequence[bool] | None = None) -> str:
    """Join tag words with " · "; two adjacent colours read as one tag ("black & white").

    Without ``colour_words`` the first two words are merged only if both are single
    colour-like words; callers that know which tags are colours pass the flags.
    """
    flags = list(colour_words) if colour_words is not None else [_looks_like_colour(w) for w in words]
    out: list[str] = []
    i = 0
    while i < len(words):
        if i + 1 < len(words) and flags[i] and flags[i + 1]:
            out.append(f"{words[i]} & {words[i + 1]}")
            i += 2
        else:
            out.append(words[i])
            i += 1
    return " · ".join(out)


_COLOURS = frozenset(
    "black white grey gray blue red green yellow pink beige brown orange purple navy khaki "
    "cream ivory gold silver turquoise lilac".split()
)


def _looks_like_colour(word: str) -> bool:
    return word in _COLOURS


def distinguishing_tags(
    cluster_mean: np.ndarray,
    population_mean: np.ndarray,
    population_std: np.ndarray,
    feature_names: Sequence[str],
    min_z: float = 0.25,
) -> list[tuple[str, str, float, int]]:
    """All labelable features of one cluster as ``(feature, words, z, direction)``, strongest first.

    ``z`` is the cluster mean minus the population mean, in population standard deviations.
    """
    std = np.where(population_std > 1e-12, population_std, np.inf)
    z = (cluster_mean - population_mean) / std
    out: list[tuple[str, str, float, int]] = []
    for j, name in enumerate(feature_names):
        if not np.isfinite(z[j]) or abs(z[j]) < min_z:
            continue
        direction = 1 if z[j] > 0 else -1
        words = tag_words(name, direction)
        if words:
            out.append((name, words, float(abs(z[j])), direction))
    out.sort(key=lambda t: (-t[2], t[0]))
    return out


def label_clusters(
    candidates: Sequence[Sequence[tuple[str, str, float, int]]],
    max_tags: int = 3,
    redundant: Callable[[str, str], bool] | None = None,
) -> list[tuple[str, list[str]]]:
    """Pick each cluster's label from its candidate tags so that labels are unique.

    Clusters are labelled in the order given (callers pass the largest first); when a
    cluster's best label is taken, the weakest tag is swapped for the next candidate.
    ``redundant(a, b)`` says two features say the same thing (e.g. "dresses" and
    "dress"); a tag redundant with a stronger one is skipped.
    Returns ``(label, features used)`` per cluster.

    >>> a = [("colour:Black", "black", 2.0, 1), ("price_level", "premium", 1.0, 1)]
    >>> b = [("colour:Black", "black", 1.5, 1), ("price_level", "premium", 0.9, 1), ("eco_share", "eco", 0.5, 1)]
    >>> [lab for lab, _ in label_clusters([a, b], max_tags=2)]
    ['black · premium', 'black · eco']
    """
    used: set[str] = set()
    out: list[tuple[str, list[str]]] = []
    for n, cands in enumerate(candidates):
        # Drop repeated words (two features can render alike).
        seen: set[str] = set()
        uniq: list[tuple[str, str, float, int]] = []
        for c in cands:
            if c[1] in seen or (redundant and any(redundant(c[0], u[0]) for u in uniq)):
                continue
            seen.add(c[1])
            uniq.append(c)
        chosen = _first_unique(uniq, max_tags, used)
        feats: list[str] = []
        if chosen is None:
            label = f"segment {n + 1}"
            while label in used:
                label += "'"
        else:
            label, feats = chosen
        used.add(label)
        out.append((label, feats))
    return out


def _render(tags: Sequence[tuple[str, str, float, int]]) -> str:
    # Adjacent colours merge ("black & white"); order colours first so they can pair up.
    ordered = sorted(tags, key=lambda t: (not _is_colour(t[0]), -t[2]))
    return join_tags([t[1] for t in ordered], [_is_colour(t[0]) for t in ordered])


def _first_unique(
    cands: Sequence[tuple[str, str, float, int]], max_tags: int, used: set[str]
) -> tuple[str, list[str]] | None:
    if not cands:
        return None
    base = list(cands[:max_tags])
    label = _render(base)
    if label not in used:
        return label, [t[0] for t in base]
    # Keep the strongest tags, swap the weakest for the next candidates in turn.
    for keep in range(len(base) - 1, -1, -1):
        for extra in cands[len(base) :]:
            trial = base[:keep] + [extra]
            label = _render(trial)
            if label not in used:
                return label, [t[0] for t in trial]
    return None
