"""Storage tiers by sensitivity, console roles, and who may see what.

Every stored field belongs to one tier:

* ``L1`` identity: name, phone, e-mail, address, payment token. Encrypted per
  person in the :mod:`~fitloop.privacy.vault`; erased by crypto-shredding.
* ``L2`` orders and returns: what was bought, in which size, at what price.
* ``L3`` behaviour (views, clicks, carts, searches), keyed by a pseudonym.
* ``L4`` aggregates (segment sizes, trends); shared outside only with DP noise.

A field the classifier does not know is treated as ``L1``: unknown data is
assumed to be the most sensitive until someone classifies it.

>>> can_see(Role.MARKETER, Tier.L1), can_see(Role.MARKETER, Tier.L3)
(False, True)
>>> redact_for(Role.MARKETER, {"email": "a@b.cn", "item_id": "sku-1", "mystery": 1})
{'item_id': 'sku-1'}
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from fitloop.errors import InvalidInput

__all__ = ["Tier", "Role", "ROLE_TIERS", "DEFAULT_FIELD_TIERS", "can_see", "tier_of", "redact_for", "parse_tier"]


class Tier(enum.IntEnum):
    """Sensitivity tier; a lower number is more sensitive."""

    L1 = 1
    L2 = 2
    L3 = 3
    L4 = 4

    @property
    def label(self) -> str:
        return {1: "identity", 2: "orders and returns", 3: "behaviour (pseudonymous)", 4: "aggregates"}[int(self)]


class Role(enum.StrEnum):
    """Console roles. Values are the wire names."""

    ADMIN = "admin"
    MARKETER = "marketer"
    ANALYST = "analyst"
    MERCHANDISER = "merchandiser"
    DPO = "dpo"


#: The tiers each role may read. A marketer never sees L1 identity data; a
#: merchandiser works on aggregates only.
ROLE_TIERS: Mapping[Role, frozenset[Tier]] = {
    Role.ADMIN: frozenset(Tier),
    Role.DPO: frozenset(Tier),
    Role.MARKETER: frozenset({Tier.L2, Tier.L3, Tier.L4}),
    Role.ANALYST: frozenset({Tier.L2, Tier.L3, Tier.L4}),
    Role.MERCHANDISER: frozenset({Tier.L4}),
}

#: Built-in classification, used when no manifest says otherwise.
DEFAULT_FIELD_TIERS: Mapping[str, Tier] = {
    # L1 identity
    **{f: Tier.L1 for f in ("name", "first_name", "last_name", "email", "phone", "address", "street", "postcode",
                            "payment_token", "latitude", "longitude", "ip", "push_token", "photo_id")},
    # L2 orders and returns
    **{f: Tier.L2 for f in ("order_id", "total", "currency", "quantity", "price", "reason", "coupon",
                            "shipping_method", "items")},
    # L3 behaviour, keyed by pseudonym
    **{f: Tier.L3 for f in ("user_id", "anonymous_id", "item_id", "size", "list_id", "position", "request_id",
                            "slot", "policy_version", "item_ids", "positions", "propensities", "dwell_ms",
                            "depth_pct", "path", "referrer", "title", "query", "results_count", "filters",
                            "network", "action", "caption", "fit_feedback", "city", "usual_size",
                            "birth_year", "utm_source", "utm_medium", "utm_campaign", "category", "cart_id")},
    # L4 aggregates
    **{f: Tier.L4 for f in ("segment_size", "trend", "count", "share")},
}


def parse_tier(value: str | int | Tier) -> Tier:
    """``"L1"``, ``1`` or ``Tier.L1`` → ``Tier.L1``; anything else is refused.

    >>> parse_tier("l2")
    <Tier.L2: 2>
    """
    if isinstance(value, Tier):
        return value
    text = str(value).strip().upper().removeprefix("L")
    if text in {"1", "2", "3", "4"}:
        return Tier(int(text))
    raise InvalidInput(f"unknown tier {value!r}; use one of L1, L2, L3, L4", code="invalid_tier")


def can_see(role: Role | str, tier: Tier) -> bool:
    """True when ``role`` may read data of ``tier``."""
    try:
        r = Role(role)
    except ValueError as exc:
        raise InvalidInput(f"unknown role {role!r}; use one of {[x.value for x in Role]}", code="invalid_role") from exc
    return tier in ROLE_TIERS[r]


def tier_of(field: str, classification: Mapping[str, Tier] | None = None) -> Tier:
    """The tier of ``field``: from ``classification`` (e.g. ``manifest.field_tiers``), else the
    built-in table, else ``L1`` (fail closed)."""
    if classification is not None and field in classification:
        return classification[field]
    return DEFAULT_FIELD_TIERS.get(field, Tier.L1)


def redact_for(role: Role | str, record: Mapping[str, Any], classification: Mapping[str, Tier] | None = None) -> dict[str, Any]:
    """A copy of ``record`` without the fields ``role`` may not see.

    Fields are dropped rather than masked so that nothing downstream can
    mistake a placeholder for data.
    """
    return {k: v for k, v in record.items() if can_see(role, tier_of(k, classification))}
