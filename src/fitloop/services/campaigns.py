"""Campaigns from the console: segment audience (consent-filtered), holdout, personalised items, CSV, attribution.

A shopper is a recipient only with consent for the channel's purpose (``email`` → ``marketing_email``,
``push`` → ``marketing_push``, ``in_app`` → ``personalisation``), decided by the append-only consent
ledger (latest entry per purpose wins). Consent is checked when the campaign launches *and again*
when the CSV is exported, so a shopper who withdrew in between is never sent anything.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from fitloop.errors import Conflict, InvalidInput, NotFound
from fitloop.marketing.campaigns import (
    CHANNEL_PURPOSE,
    Audience,
    CampaignOutcome,
    CampaignSpec,
    attribute_outcomes,
    build_audience,
    export_csv,
    personalise,
)
from fitloop.privacy.consent import ConsentLedger
from fitloop.privacy.manifest import Manifest, default_manifest
from fitloop.store import Stores
from fitloop.store.protocols import ConsoleDocument

__all__ = ["CampaignService", "ConsentChecker", "CHANNEL_SLOT", "validate_campaign_form"]

#: The recommendation slot whose lists personalise each channel.
CHANNEL_SLOT = {"email": "email", "push": "push", "in_app": "home"}
MAX_AUDIENCE = 50_000
_NAME = re.compile(r"^[\w .,:!&'()/-]{2,120}$")


class ConsentChecker:
    """``checker(user_id, purpose)``: the ledger's current decision for one shopper."""

    def __init__(self, stores: Stores, manifest: Manifest | None = None) -> None:
        self._stores = stores
        self._manifest = manifest or default_manifest()

    def __call__(self, user_id: str, purpose: str) -> bool:
        ledger = ConsentLedger(self._manifest, self._stores.users.consents(user_id))
        return ledger.allowed(user_id, purpose)


def validate_campaign_form(form: dict[str, str], segment_ids: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Parse the campaign form; returns ``(values, problems)`` with one problem per bad field."""
    problems: list[str] = []
    name = (form.get("name") or "").strip()
    if not _NAME.match(name):
        problems.append("name: 2 to 120 letters, digits, spaces or simple punctuation")
    segment = form.get("segment") or ""
    if segment not in segment_ids:
        problems.append("audience: choose a segment (build segments first on the Segments page)"
                        if not segment_ids else "audience: choose one of the listed segments")
    channel = form.get("channel") or ""
    if channel not in CHANNEL_PURPOSE:
        problems.append(f"channel: choose one of {', '.join(CHANNEL_PURPOSE)}")
    holdout = k = 0.0
    try:
        holdout = float(form.get("holdout_pct") or "") / 100
        if not 0.01 <= holdout <= 0.5:
            raise ValueError
    except ValueError:
        problems.append("holdout: a percentage between 1 and 50 (10 is usual)")
    try:
        k = int(form.get("k_items") or "")
        if not 1 <= k <= 20:
            raise ValueError
    except ValueError:
        problems.append("items per message: a whole number between 1 and 20")
    scheduled: datetime | None = None
    raw = (form.get("scheduled_at") or "").strip()
    if raw:
        try:
            scheduled = datetime.fromisoformat(raw)
            scheduled = scheduled.replace(tzinfo=UTC) if scheduled.tzinfo is None else scheduled
        except ValueError:
            problems.append("schedule: a date and time like 2026-06-01T09:00, or empty to send on launch")
    message = (form.get("message") or "").strip()
    if len(message) > 500:
        problems.append("message: at most 500 characters")
    values = {"name": name, "segment": segment, "channel": channel, "holdout_share": holdout, "k_items": int(k),
              "scheduled_at": scheduled.isoformat() if scheduled else None, "message": message}
    return values, problems


class CampaignService:
    """Campaign documents in the document store; ``recommend(user, k, slot)`` personalises."""

    def __init__(self, stores: Stores, *, members_of: Callable[[str], list[str]],
                 recommend: Callable[[str, int, str], list[str]],
                 has_consent: Callable[[str, str], bool] | None = None) -> None:
        if stores.documents is None:
            raise InvalidInput("these stores have no console tables; run `fitloop db upgrade`")
        self._stores = stores
        self._docs = stores.documents
        self._members_of = members_of
        self._recommend = recommend
        self.has_consent = has_consent or ConsentChecker(stores)

    # ------------------------------------------------------------------ documents
    def create(self, values: dict[str, Any], *, by: str, now: datetime | None = None) -> ConsoleDocument:
        now = now or datetime.now(UTC)
        spec = self._spec(values)  # validates again: the service never trusts the form layer alone
        doc = ConsoleDocument(uuid.uuid4().hex[:16], "campaign", spec.name, "draft", by, now, now,
                              {**values, "seed": spec.seed})
        self._docs.put(doc)
        return doc

    def get(self, campaign_id: str) -> ConsoleDocument:
        doc = self._docs.get(campaign_id)
        if doc is None or doc.kind != "campaign":
            raise NotFound(f"no campaign {campaign_id!r}")
        return doc

    def list(self) -> list[ConsoleDocument]:
        return list(self._docs.list("campaign"))

    @staticmethod
    def _spec(d: dict[str, Any] | Any) -> CampaignSpec:
        sched = d.get("scheduled_at")
        return CampaignSpec(name=d["name"], channel=d["channel"], holdout_share=float(d["holdout_share"]),
                            k_items=int(d["k_items"]), seed=int(d.get("seed", 0)),
                            scheduled_at=datetime.fromisoformat(sched) if sched else None, message=d.get("message", ""))

    # ------------------------------------------------------------------ launch
    def audience(self, campaign_id: str) -> Audience:
        doc = self.get(campaign_id)
        members = self._members_of(doc.data["segment"])
        if len(members) > MAX_AUDIENCE:
            raise InvalidInput(f"the segment has {len(members):,} shoppers; campaigns take at most {MAX_AUDIENCE:,}")
        return build_audience(self._spec(doc.data), members, has_consent=self.has_consent)

    def launch(self, campaign_id: str, *, by: str, now: datetime | None = None) -> ConsoleDocument:
        """Fix the audience and holdout, personalise each recipient's items, and record it all."""
        doc = self.get(campaign_id)
        if doc.status != "draft":
            raise Conflict(f"campaign {doc.name!r} is already {doc.status}", code="campaign_not_draft")
        spec = self._spec(doc.data)
        aud = self.audience(campaign_id)
        slot = CHANNEL_SLOT[spec.channel]
        content = personalise(aud.recipients, lambda u, k: self._recommend(u, k, slot), spec.k_items)
        now = now or datetime.now(UTC)
        data = {**doc.data, "launched_at": now.isoformat(), "launched_by": by, "recipients": aud.recipients,
                "holdout": aud.holdout, "no_consent": len(aud.no_consent), "content": content,
                "purpose": spec.purpose}
        new = ConsoleDocument(doc.doc_id, "campaign", doc.name, "launched", doc.created_by, doc.created_at, now, data)
        self._docs.put(new)
        return new

    def export(self, campaign_id: str, *,
               customer_id: Callable[[str], str | None] | None = None) -> tuple[str, int]:
        """CSV for the shop's sending tool and how many recipients were dropped for withdrawn consent.

        Recipients are pseudonyms. ``customer_id`` (pseudonym → the shop's customer id from the identity
        vault) adds a ``customer_id`` column: pass it only for roles that may see identity data (L1).
        """
        doc = self.get(campaign_id)
        if doc.status != "launched":
            raise Conflict("launch the campaign first: the CSV lists the launched audience", code="campaign_not_launched")
        spec = self._spec(doc.data)
        content = doc.data.get("content", {})
        # Consent is checked again now: a shopper who withdrew since launch is not sent anything.
        kept = {u: items for u, items in content.items() if self.has_consent(u, spec.purpose)}
        ids = {u: customer_id(u) for u in kept} if customer_id is not None else None
        return export_csv(spec, kept, ids), len(content) - len(kept)

    def outcome(self, campaign_id: str, *, until: datetime | None = None) -> CampaignOutcome:
        """Recipients against the holdout since launch (orders from the event store)."""
        doc = self.get(campaign_id)
        if doc.status != "launched":
            raise Conflict("the campaign has not been launched yet", code="campaign_not_launched")
        since = datetime.fromisoformat(doc.data["launched_at"])
        frame = self._stores.events.frame(since=since, types=["order_completed"])
        orders = pd.DataFrame({"user_id": frame["user_id"], "ts": frame["ts"],
                               "revenue": frame["price"].fillna(0.0) * frame["value"].fillna(1.0)})
        aud = Audience(list(doc.data["recipients"]), list(doc.data["holdout"]))
        return attribute_outcomes(aud, orders, since=since, until=until or datetime.now(UTC))

    @staticmethod
    def outcome_dict(o: CampaignOutcome) -> dict[str, Any]:
        return {"recipients": o.recipients, "holdout": o.holdout, "conversion": asdict(o.conversion),
                "revenue": asdict(o.revenue) if o.revenue else None, "incremental_orders": o.incremental_orders,
                "incremental_revenue": o.incremental_revenue, "summary": o.summary}
