"""Collection: Segment-compatible payloads → validated, deduplicable events; the event catalogue;
size limits; quarantine records and their sealing. Pure library code (no web framework, no SQL).
"""

from fitloop.collect.limits import MAX_BATCH_BYTES, MAX_EVENT_BYTES, check_batch_size, check_event_size
from fitloop.collect.quarantine import CODES, QuarantineRecord, new_record
from fitloop.collect.schemas import CATALOGUE, CURRENT_VERSION, InvalidEvent, resolve_event_type, validate_properties
from fitloop.collect.sealing import SealError, derive_key, seal, unseal
from fitloop.collect.segment import Message, Normalised, corrected_ts, event_id_for, keep_context, normalise

__all__ = [
    "CATALOGUE",
    "CODES",
    "CURRENT_VERSION",
    "InvalidEvent",
    "MAX_BATCH_BYTES",
    "MAX_EVENT_BYTES",
    "Message",
    "Normalised",
    "QuarantineRecord",
    "SealError",
    "check_batch_size",
    "check_event_size",
    "corrected_ts",
    "derive_key",
    "event_id_for",
    "keep_context",
    "new_record",
    "normalise",
    "resolve_event_type",
    "seal",
    "unseal",
    "validate_properties",
]
