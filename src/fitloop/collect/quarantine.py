"""Quarantine records: events refused with their reason, kept (encrypted) until fixed and replayed.

Nothing a shop sends is silently dropped: an event that breaks its schema, is
too large, names an unknown event or carries undeclared fields is kept here
with a stable ``code``, the human ``reason`` and the raw payload sealed with
:mod:`fitloop.collect.sealing` (raw payloads may hold personal data).

>>> r = new_record("shop", "unknown_event", "unknown event 'x'", b"{}", message_id="m1")
>>> r.status, r.code, len(r.quarantine_id)
('open', 'unknown_event', 32)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["QuarantineRecord", "QuarantineStatus", "new_record", "CODES"]

QuarantineStatus = str  # "open" | "replayed"

#: Codes an event can be quarantined with.
CODES: dict[str, str] = {
    "invalid_envelope": "the Segment envelope is malformed (type, ids, timestamps)",
    "missing_identity": "neither userId nor anonymousId",
    "unknown_event": "a track call names an event outside the catalogue",
    "unknown_schema_version": "context.schema_version names a schema that does not exist",
    "invalid_properties": "properties break the event's schema (types, ranges, required fields)",
    "undeclared_field": "properties or traits carry fields the schema does not declare",
    "event_too_large": "one event of a batch is over 32 KB",
    "refused_by_gate": "the collection gate refused it",
}


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """One quarantined message. ``payload`` is sealed; only the ingest service can open it."""

    quarantine_id: str
    source: str
    code: str
    reason: str
    payload: bytes
    received_at: datetime
    message_id: str | None = None
    event_type: str | None = None
    status: QuarantineStatus = "open"
    attempts: int = 0
    resolved_at: datetime | None = None
    user_ref: str | None = None  # userId or anonymousId when readable: lets erasure find the record


def new_record(source: str, code: str, reason: str, payload: bytes, *, message_id: str | None = None,
               event_type: str | None = None, received_at: datetime | None = None,
               user_ref: str | None = None) -> QuarantineRecord:
    return QuarantineRecord(uuid.uuid4().hex, source, code, reason[:1000], payload,
                            received_at or datetime.now(UTC), message_id, event_type, user_ref=user_ref)
