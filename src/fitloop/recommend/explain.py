"""Plain-language reasons for recommended items, one code per candidate source.

>>> reason_text(reason_code("copurchase", "x"), "Strap top")
'often bought with Strap top'
>>> reason_text(POPULAR_COLD)
"popular this week — we don't know you yet"
"""

from __future__ import annotations

__all__ = [
    "REASONS",
    "BOUGHT_BEFORE",
    "SAME_STYLE",
    "BOUGHT_WITH",
    "VIEWED_WITH",
    "SEQUENCE",
    "SIMILAR",
    "NEW_ARRIVAL",
    "TASTE",
    "POPULAR",
    "POPULAR_COLD",
    "TRENDING",
    "reason_code",
    "reason_text",
    "REASON_SOURCES",
]

BOUGHT_BEFORE, SAME_STYLE, BOUGHT_WITH, VIEWED_WITH, SEQUENCE, SIMILAR, NEW_ARRIVAL, TASTE, POPULAR, POPULAR_COLD, TRENDING = range(11)

#: Templates by code; ``{anchor}`` is the title of the item that explains the suggestion.
REASONS: tuple[str, ...] = (
    "bought before",
    "same style as {anchor}, in another colour",
    "often bought with {anchor}",
    "often viewed with {anchor}",
    "often comes next after what you bought",
    "similar to items you liked",
    "new arrival like your style",
    "shoppers with your taste bought this",
    "popular this week",
    "popular this week — we don't know you yet",
    "trending this week",
)

#: The candidate source behind each reason code (for ``ScoredItem.source``).
REASON_SOURCES: tuple[str, ...] = (
    "repeat", "style", "copurchase", "coview", "sequence", "content", "content", "mf", "popular", "popular", "popular",
)

_BY_SOURCE = {"repeat": BOUGHT_BEFORE, "style": SAME_STYLE, "copurchase": BOUGHT_WITH, "coview": VIEWED_WITH,
              "sequence": SEQUENCE, "content": SIMILAR, "als": TASTE, "bpr": TASTE, "popular": POPULAR}


def reason_code(source: str, anchor: str = "") -> int:
    """The reason code for a candidate from ``source`` (with its source-specific ``anchor``)."""
    if source == "content" and anchor == "new":
        return NEW_ARRIVAL
    if source == "popular" and anchor == "trending":
        return TRENDING
    return _BY_SOURCE.get(source, POPULAR)


def reason_text(code: int, anchor_title: str = "") -> str:
    """The reason in words; templates that name an item fall back to a generic phrase without one."""
    template = REASONS[code]
    if "{anchor}" in template:
        if not anchor_title:
            return {SAME_STYLE: "same style as something you bought, in another colour",
                    BOUGHT_WITH: "often bought with items you bought",
                    VIEWED_WITH: "often viewed with items you viewed"}[code]
        return template.format(anchor=anchor_title)
    return template
