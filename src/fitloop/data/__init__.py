"""Pure data types: events, items and their sizes, users, consent, context, served lists."""

from fitloop.data.codec import event_from_dict, event_to_dict
from fitloop.data.interactions import INTERACTION_COLUMNS, check_interactions, make_interactions
from fitloop.data.types import (
    RETURN_REASONS,
    Consent,
    Context,
    Event,
    EventType,
    Item,
    Recommendations,
    ScoredItem,
    User,
    Variant,
)

__all__ = [
    "INTERACTION_COLUMNS",
    "RETURN_REASONS",
    "Consent",
    "Context",
    "Event",
    "EventType",
    "Item",
    "Recommendations",
    "ScoredItem",
    "User",
    "Variant",
    "check_interactions",
    "event_from_dict",
    "event_to_dict",
    "make_interactions",
]
