"""The privacy gate in the data path: manifest + consent decide what of an event is stored.

For one incoming event the gate answers, without touching any store:

* ``admit``: store the event only if at least one of its purposes is allowed
  (consented, or on another lawful basis such as contract). Otherwise the
  event is only counted.
* ``purposes``: the allowed purposes the stored event is tagged with; consumers
  use it only for those (a view stored for analytics never feeds personalisation).
* ``kept``: fields in the manifest that serve an allowed purpose.
* ``withheld``: fields in the manifest whose purposes all lack consent (dropped).
* ``stripped``: fields outside the manifest: encrypt them into the quarantine
  and report them to the :class:`~fitloop.privacy.compliance.ComplianceMonitor`.

>>> from fitloop.privacy.manifest import default_manifest
>>> gate = PrivacyGate(default_manifest())
>>> d = gate.check("product_viewed", {"item_id": "s1", "latitude": 31.2, "phone": "138"},
...                allowed=lambda purpose: purpose == "analytics")
>>> d.admit, d.purposes, d.kept, d.withheld, sorted(d.stripped)
(True, ('analytics',), {'item_id': 's1'}, ('latitude',), ['phone'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fitloop.privacy.consent import ConsentLedger
from fitloop.privacy.manifest import Manifest

__all__ = ["GateDecision", "PrivacyGate"]


@dataclass(frozen=True, slots=True)
class GateDecision:
    """What to do with one event. ``reason`` is ``admitted`` or ``no_consent``."""

    event_type: str
    admit: bool
    purposes: tuple[str, ...]
    kept: Mapping[str, Any] = field(default_factory=dict)
    withheld: tuple[str, ...] = ()
    stripped: Mapping[str, Any] = field(default_factory=dict)
    unconsented: tuple[str, ...] = ()
    reason: str = "admitted"


class PrivacyGate:
    """Pure decision logic; the ingest service applies it before anything is written."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest

    def check(self, event_type: str, fields: Mapping[str, Any], *, allowed: Callable[[str], bool]) -> GateDecision:
        """Decide for an event of ``event_type`` with property ``fields``.

        ``allowed(purpose)`` says whether the purpose may be used for this
        shopper (e.g. ``lambda p: ledger.allowed(user, p)``). Raises
        :class:`~fitloop.errors.InvalidInput` for an event type outside the manifest.
        """
        et = getattr(event_type, "value", event_type)
        spec = self.manifest.event(et)
        ok = tuple(p for p in spec.purposes if allowed(p))
        unconsented = tuple(p for p in spec.purposes if p not in ok)
        in_manifest, stripped = self.manifest.check_event(et, fields)
        if not ok:
            # Nothing of it is stored. Fields outside the manifest still count as a violation of the source.
            return GateDecision(et, False, (), {}, tuple(in_manifest), stripped, unconsented, "no_consent")
        kept: dict[str, Any] = {}
        withheld: list[str] = []
        for name, value in in_manifest.items():
            if any(p in ok for p in self.manifest.field_purposes(et, name)):
                kept[name] = value
            else:
                withheld.append(name)
        return GateDecision(et, True, ok, kept, tuple(withheld), stripped, unconsented, "admitted")

    def check_for(self, ledger: ConsentLedger, user_id: str, event_type: str, fields: Mapping[str, Any],
                  at: datetime | None = None) -> GateDecision:
        """:meth:`check` with consent from ``ledger`` for ``user_id``."""
        allowed = ledger.allowed_purposes(user_id, at)
        return self.check(event_type, fields, allowed=allowed.__contains__)
