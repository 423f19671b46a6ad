"""Ingestion: authenticate the source, validate each message, gate it, and store it exactly once.

The flow for one request (``/v1/batch``, ``/v1/track`` …):

1. :meth:`IngestService.authenticate` maps the write key (HTTP Basic user, or
   ``writeKey`` in the body for ``sendBeacon``) to a :class:`~fitloop.store.Source`;
   sources with an HMAC secret must also sign the body.
2. :meth:`IngestService.prepare` parses the body, enforces the size limits,
   normalises each message (:func:`fitloop.collect.normalise`) and asks the
   :class:`CollectionGate` about each event. Invalid messages become sealed
   quarantine records: never dropped, always with a reason and a code.
3. The events, quarantine records and identity links go to the
   :class:`~fitloop.services.group_commit.GroupCommitter`, which commits them
   with other requests' work in one transaction; the request is acknowledged
   only after that commit. Event ids are ``source:messageId``, so a retried
   message is stored once (the unique ``event_id`` column deduplicates forever,
   which covers Segment's 7-day window and more).
4. After the commit, each new event is published on the bus topic ``events``.

>>> from fitloop.data import Event, EventType
>>> from datetime import datetime, timezone
>>> from fitloop.store import Source
>>> ev = Event("web:m1", EventType.IDENTIFY, "u1", datetime.now(timezone.utc), properties={"email": "a@b", "city": "Lyon"})
>>> d = DefaultGate().check(Source("web", "o", "h", datetime.now(timezone.utc)), ev, ())
>>> d.store, dict(d.event.properties)
(True, {'city': 'Lyon'})
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from fitloop.collect import (
    MAX_EVENT_BYTES,
    InvalidEvent,
    QuarantineRecord,
    check_batch_size,
    check_event_size,
    derive_key,
    new_record,
    normalise,
    seal,
    unseal,
)
from fitloop.collect.limits import MAX_BATCH_EVENTS
from fitloop.collect.segment import MAX_SOURCE_NAME
from fitloop.data import Event, EventType, fastjson
from fitloop.errors import Conflict, InvalidInput, NotFound, StoreUnavailable, Unauthorized
from fitloop.services.group_commit import GroupCommitter, JobResult
from fitloop.services.pseudonyms import pseudonymise_normalised
from fitloop.services.writer import BatchWriter
from fitloop.store import CommitResult, IngestLog, IngestStat, QuarantineStore, Source, SourceStore, Stores

__all__ = [
    "CollectionGate",
    "DefaultGate",
    "GateDecision",
    "IngestService",
    "IngestReport",
    "Prepared",
    "QuarantineView",
    "ReplayResult",
    "derive_admin_token",
    "hash_write_key",
    "sign_body",
    "DEMO_SOURCE",
    "IDENTITY_FIELDS",
]

log = logging.getLogger(__name__)

DEMO_SOURCE = "demo-shop"
#: Identity fields that may arrive in ``identify`` traits but never go into the behaviour log
#: (they belong to the encrypted identity tier, which the privacy package manages).
IDENTITY_FIELDS = frozenset({"name", "email", "phone", "push_token", "address", "payment_token", "customer_id"})
SIGNATURE_TOLERANCE_S = 300
_SOURCE_NAME = re.compile(rf"^[a-z0-9][a-z0-9-]{{0,{MAX_SOURCE_NAME - 1}}}$")


# ------------------------------------------------------------------------------------------- the gate
@dataclass(frozen=True, slots=True)
class GateDecision:
    """What to do with one validated event.

    ``store`` False with a ``quarantine_reason`` sends the whole message to the quarantine under ``code``;
    ``store`` False without a reason drops the event on purpose (e.g. no consent) and only counts it.
    ``event`` is what gets stored (possibly with fields stripped).
    """

    store: bool
    event: Event
    quarantine_reason: str | None = None
    code: str | None = None


class CollectionGate(Protocol):
    """Called for each validated event before storage (the privacy gate plugs in here)."""

    def check(self, source: Source, event: Event,
              undeclared_fields: tuple[str, ...] | Mapping[str, Any]) -> GateDecision:
        """``undeclared_fields``: names, or names with the values sent (kept encrypted for review)."""
        ...


class DefaultGate:
    """Undeclared fields send the message to the quarantine (``undeclared_field``); identity fields of
    ``identify`` traits are kept out of the behaviour log."""

    def check(self, source: Source, event: Event,
              undeclared_fields: tuple[str, ...] | Mapping[str, Any]) -> GateDecision:
        if undeclared_fields:
            names = ", ".join(list(undeclared_fields)[:10])
            return GateDecision(False, event, f"fields not declared in the {event.type.value} schema: {names}; "
                                "declare them (new schema version) or stop sending them", "undeclared_field")
        if event.type is EventType.IDENTIFY and IDENTITY_FIELDS.intersection(event.properties):
            props = {k: v for k, v in event.properties.items() if k not in IDENTITY_FIELDS}
            return GateDecision(True, replace(event, properties=props))
        return GateDecision(True, event)


# ------------------------------------------------------------------------------------------- helpers
def hash_write_key(write_key: str) -> str:
    return hashlib.sha256(write_key.encode()).hexdigest()


def sign_body(secret: str, body: bytes, timestamp: int | str) -> str:
    """The ``X-Fitloop-Signature`` value for ``body`` sent at unix time ``timestamp``.

    >>> sig = sign_body("s3cret", b"{}", 1700000000)
    >>> sig.startswith("sha256="), len(sig)
    (True, 71)
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def derive_admin_token(secret_key: str, explicit: str = "") -> str:
    """The bearer token of the admin endpoints: ``FITLOOP_ADMIN_TOKEN`` when set, else derived from the secret key."""
    if explicit:
        return explicit
    return "fla_" + hmac.new(secret_key.encode(), b"fitloop admin token v1", hashlib.sha256).hexdigest()[:40]


def _event_message(ev: Event) -> dict[str, Any]:
    return {"event_id": ev.event_id, "type": ev.type.value, "user_id": ev.user_id, "anonymous_id": ev.anonymous_id,
            "ts": ev.ts.isoformat(), "item_id": ev.item_id, "size": ev.size, "quantity": ev.quantity,
            "price": ev.price, "source": ev.source, "properties": dict(ev.properties)}


# ------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class Prepared:
    """A parsed, validated and gated request, ready for the group commit."""

    source: str
    n_messages: int
    events: tuple[Event, ...]
    quarantine: tuple[QuarantineRecord, ...]
    links: tuple[tuple[str, str, str], ...]
    withheld: int = 0
    errors: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class IngestReport:
    """The acknowledgement: sent only after the commit."""

    received: int
    stored: int
    duplicates: int
    quarantined: int
    withheld: int = 0
    errors: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"success": True, "received": self.received, "stored": self.stored, "duplicates": self.duplicates,
                "quarantined": self.quarantined, "withheld": self.withheld, "errors": list(self.errors)}


@dataclass(frozen=True, slots=True)
class QuarantineView:
    quarantine_id: str
    source: str
    code: str
    reason: str
    received_at: datetime
    message_id: str | None
    event_type: str | None
    status: str
    attempts: int
    payload: Any = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__slots__}
        d["received_at"] = self.received_at.isoformat()
        if self.payload is None:
            d.pop("payload")
        return d


@dataclass(frozen=True, slots=True)
class ReplayResult:
    quarantine_id: str
    status: str  # "replayed" | "open"
    stored: int = 0
    duplicates: int = 0
    code: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass
class _KeyCache:
    ttl_s: float
    entries: dict[str, tuple[Source | None, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


# ------------------------------------------------------------------------------------------- the service
class IngestService:
    """Sources, ingestion with group commit, quarantine and replay."""

    def __init__(
        self,
        stores: Stores,
        *,
        master_key: str,
        gate: CollectionGate | None = None,
        pseudonymise: Callable[[str], str] | None = None,
        commit_timeout_s: float = 30.0,
        max_group_events: int = 5000,
        key_cache_ttl_s: float = 30.0,
    ) -> None:
        if stores.sources is None or stores.ingest is None or stores.quarantine is None:
            raise InvalidInput("these stores have no collection roles (sources, ingest, quarantine)")
        self._sources: SourceStore = stores.sources
        self._log: IngestLog = stores.ingest
        self._quarantine: QuarantineStore = stores.quarantine
        self._bus = stores.bus
        self._qkey = derive_key(master_key, "quarantine")
        self._skey = derive_key(master_key, "source-hmac")
        self._demo_key_seed = derive_key(master_key, "demo-shop-write-key")
        self.gate: CollectionGate = gate or DefaultGate()
        #: Shop ids → pseudonyms before the gate and storage (the installation always sets it: wiring.build).
        self.pseudonymise = pseudonymise
        self._timeout = commit_timeout_s
        self._keys = _KeyCache(key_cache_ttl_s)
        self.committer = GroupCommitter(self._log.commit, on_committed=self._publish, max_events=max_group_events)
        self._publisher: BatchWriter[Event] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the publisher and the group committer (again after :meth:`stop`, e.g. per app lifespan)."""
        if self._publisher is None:
            self._publisher = BatchWriter(self._publish_many, max_batch=2000, max_delay_s=0.05, name="event-publisher")
            self._publisher.start()
        self.committer.start()

    def stop(self) -> None:
        self.committer.stop()
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None

    def _publish(self, result: CommitResult) -> None:
        publisher = self._publisher
        if publisher is None:  # stopped: consumers catch up from the event log
            return
        publisher.put_many(list(result.inserted))  # one queue operation per group, not one per event

    def _publish_many(self, events: list[Event]) -> None:
        for ev in events:
            try:
                self._bus.publish("events", _event_message(ev))
            except Exception:  # noqa: BLE001 - the log is the record; bus consumers catch up with scan(after_seq)
                log.warning("could not publish event %s on the bus", ev.event_id, exc_info=True)

    # ------------------------------------------------------------------ sources
    def add_source(self, name: str, owner: str, *, hmac_secret: bool = False,
                   write_key: str | None = None) -> tuple[Source, str, str | None]:
        """Create a source. Returns ``(source, write key, hmac secret or None)``; the key is shown only now."""
        if not _SOURCE_NAME.match(name):
            raise InvalidInput(f"source names are 1-{MAX_SOURCE_NAME} lowercase letters, digits or '-', "
                               f"starting with a letter or digit; got {name!r}", code="invalid_source_name")
        if "@" not in owner or len(owner) > 254:
            raise InvalidInput("--owner must be the e-mail address of the person responsible for this source",
                               code="invalid_owner")
        key = write_key or f"fl_{secrets.token_urlsafe(24)}"
        secret = secrets.token_urlsafe(32) if hmac_secret else None
        sealed = seal(self._skey, secret.encode(), aad=b"hmac:" + name.encode()) if secret else None
        src = Source(name, owner, hash_write_key(key), datetime.now(UTC), hmac_secret=sealed)
        self._sources.add(src)
        return src, key, secret

    def revoke_source(self, name: str) -> None:
        self._sources.revoke(name, datetime.now(UTC))
        with self._keys.lock:
            self._keys.entries.clear()

    def list_sources(self) -> list[Source]:
        return self._sources.list()

    def demo_write_key(self) -> str:
        """The public browser key of the ``demo-shop`` source, creating the source on first use.

        The key is derived from the master key, so the demo shop page can embed it although only its
        hash is stored (browser write keys are public, as Segment's are).
        """
        key = "fl_demo_" + hmac.new(self._demo_key_seed, b"demo-shop", hashlib.sha256).hexdigest()[:32]
        if self._sources.get(DEMO_SOURCE) is None:
            try:
                self.add_source(DEMO_SOURCE, "demo@fitloop.invalid", write_key=key)
            except Conflict:
                pass  # created concurrently
        return key

    def authenticate(self, write_key: str | None) -> Source:
        """The active source for ``write_key`` or :class:`~fitloop.errors.Unauthorized`."""
        if not write_key:
            raise Unauthorized("no write key: send it as the HTTP Basic user name (empty password) "
                               "or as writeKey in the body", code="missing_write_key")
        h = hash_write_key(write_key)
        now = time.monotonic()
        with self._keys.lock:
            hit = self._keys.entries.get(h)
        if hit is None or hit[1] < now:
            src = self._sources.by_key_hash(h)
            with self._keys.lock:
                if len(self._keys.entries) > 10_000:
                    self._keys.entries.clear()
                self._keys.entries[h] = (src, now + self._keys.ttl_s)
        else:
            src = hit[0]
        if src is None:
            raise Unauthorized("unknown write key; `fitloop sources add` creates a source and prints its key",
                               code="invalid_write_key")
        if src.revoked_at is not None:
            raise Unauthorized(f"the write key of source {src.name!r} was revoked", code="revoked_write_key")
        return src

    def verify_signature(self, source: Source, body: bytes, timestamp: str | None, signature: str | None,
                         *, now: float | None = None) -> None:
        """Check ``X-Fitloop-Signature`` when the source has an HMAC secret (no-op otherwise)."""
        if source.hmac_secret is None:
            return
        if not timestamp or not signature:
            raise Unauthorized(f"source {source.name!r} requires signed requests: send X-Fitloop-Timestamp and "
                               "X-Fitloop-Signature (see docs/COLLECTION.md)", code="signature_required")
        try:
            ts = int(timestamp)
        except ValueError:
            raise Unauthorized("X-Fitloop-Timestamp must be unix seconds", code="invalid_signature") from None
        if abs((now if now is not None else time.time()) - ts) > SIGNATURE_TOLERANCE_S:
            raise Unauthorized("the request signature is too old or from the future (more than 5 minutes): "
                               "check the sender's clock", code="signature_expired")
        secret = unseal(self._skey, source.hmac_secret, aad=b"hmac:" + source.name.encode()).decode()
        if not hmac.compare_digest(sign_body(secret, body, ts), signature.strip()):
            raise Unauthorized("the request signature does not match the body", code="invalid_signature")

    # ------------------------------------------------------------------ preparing a request
    @staticmethod
    def parse_body(body: bytes) -> Any:
        check_batch_size(len(body))
        try:
            return fastjson.loads(body)  # orjson, falling back to json.loads: same results and errors
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"the body is not valid JSON: {exc}", code="invalid_json") from None

    @staticmethod
    def write_key_in_body(payload: Any) -> str | None:
        """``writeKey`` from the body (``sendBeacon`` cannot set an Authorization header)."""
        if isinstance(payload, Mapping) and isinstance(payload.get("writeKey"), str):
            return str(payload["writeKey"])
        return None

    def _seal_message(self, source: str, message: Any) -> bytes:
        raw = json.dumps(message, separators=(",", ":"), default=str).encode()
        return seal(self._qkey, raw, aad=source.encode())

    def _quarantine_record(self, source: str, message: Any, code: str, reason: str, received_at: datetime,
                           event_type: str | None = None) -> QuarantineRecord:
        mid = uref = None
        if isinstance(message, Mapping):
            mid = message.get("messageId") if isinstance(message.get("messageId"), str) else None
            for k in ("userId", "anonymousId"):
                if isinstance(message.get(k), str):
                    uref = str(message[k])[:128]
                    if self.pseudonymise is not None:  # erasure finds it by the pseudonym, like everything else
                        uref = self.pseudonymise(uref)
                    break
            if event_type is None and isinstance(message.get("event"), str):
                event_type = str(message["event"])[:64]
            elif event_type is None and isinstance(message.get("type"), str):
                event_type = str(message["type"])[:64]
        return new_record(source, code, reason, self._seal_message(source, message), message_id=mid[:128] if mid else None,
                          event_type=event_type, received_at=received_at, user_ref=uref)

    def prepare(self, source: Source, payload: Any, *, kind: str = "batch", body_size: int | None = None,
                received_at: datetime | None = None) -> Prepared:
        """Validate and gate a parsed body. ``kind`` is ``batch`` or a Segment type for single-event endpoints."""
        received_at = received_at or datetime.now(UTC)
        if kind == "batch":
            if not isinstance(payload, Mapping) or not isinstance(payload.get("batch"), list):
                raise InvalidInput('a batch body is {"batch": [event, …]} (Segment batch format)', code="invalid_batch")
            messages: list[Any] = payload["batch"]
            if len(messages) > MAX_BATCH_EVENTS:
                raise InvalidInput(f"at most {MAX_BATCH_EVENTS} events per batch", code="batch_too_long")
            sent_at_raw = payload.get("sentAt")
            batch_ctx = payload.get("context") if isinstance(payload.get("context"), Mapping) else None
            default_type = None
        else:
            if not isinstance(payload, Mapping):
                raise InvalidInput("the body must be a JSON object (one Segment call)", code="invalid_envelope")
            if body_size is not None:
                check_event_size(body_size)
            messages = [payload]
            sent_at_raw, batch_ctx, default_type = None, None, kind
        batch_sent_at = _parse_dt(sent_at_raw)
        sizes_matter = body_size is None or body_size > MAX_EVENT_BYTES
        events: list[Event] = []
        quarantine: list[QuarantineRecord] = []
        links: list[tuple[str, str, str]] = []
        errors: list[dict[str, Any]] = []
        withheld = 0
        name = source.name
        for i, m in enumerate(messages):
            if kind == "batch" and isinstance(m, Mapping):
                # Keep batch-level defaults with the message so a quarantined copy replays identically.
                if sent_at_raw is not None and "sentAt" not in m:
                    m = {**m, "sentAt": sent_at_raw}
                if batch_ctx is not None and "context" not in m:
                    m = {**m, "context": batch_ctx}
            try:
                if sizes_matter and kind == "batch":
                    check_event_size(len(json.dumps(m, separators=(",", ":"), default=str).encode()))
                n = normalise(m, source=name, received_at=received_at, batch_sent_at=batch_sent_at,
                              default_type=default_type)
            except InvalidEvent as exc:
                q = self._quarantine_record(name, m, exc.code, exc.message, received_at)
                quarantine.append(q)
                errors.append({"index": i, "code": exc.code, "message": exc.message, "quarantine_id": q.quarantine_id})
                continue
            except InvalidInput as exc:  # event_too_large (PayloadTooLarge) inside a batch
                q = self._quarantine_record(name, m, exc.code, exc.message, received_at)
                quarantine.append(q)
                errors.append({"index": i, "code": exc.code, "message": exc.message, "quarantine_id": q.quarantine_id})
                continue
            if self.pseudonymise is not None:
                # Before the gate: consent, the vault and the quarantine are keyed by pseudonym too.
                n = pseudonymise_normalised(n, self.pseudonymise)
            kept: list[Event] = []
            refusal: tuple[str, str] | None = None
            for ev in n.events:
                d = self.gate.check(source, ev, n.undeclared_values or n.undeclared)
                if d.store:
                    kept.append(d.event)
                elif d.quarantine_reason is not None:
                    refusal = (d.code or "refused_by_gate", d.quarantine_reason)
                    break
                else:
                    withheld += 1
            if refusal is not None:
                et = n.events[0].type.value if n.events else None
                q = self._quarantine_record(name, m, refusal[0], refusal[1], received_at, event_type=et)
                quarantine.append(q)
                errors.append({"index": i, "code": refusal[0], "message": refusal[1], "quarantine_id": q.quarantine_id})
                continue
            events.extend(kept)
            if n.link is not None:
                links.append((n.link[0], n.link[1], name))
        return Prepared(name, len(messages), tuple(events), tuple(quarantine), tuple(links), withheld, tuple(errors))

    # ------------------------------------------------------------------ committing
    def _report(self, p: Prepared, r: JobResult) -> IngestReport:
        return IngestReport(p.n_messages, r.inserted, r.duplicates, r.quarantined, p.withheld, p.errors)

    def commit(self, prepared: Prepared) -> IngestReport:
        """Store synchronously (blocks until the group commit confirms)."""
        r = self.committer.submit_wait(prepared.events, prepared.quarantine, prepared.links, timeout_s=self._timeout)
        return self._report(prepared, r)

    async def commit_async(self, prepared: Prepared) -> IngestReport:
        """Store from an event loop: waits for the group commit without holding a thread."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[JobResult | BaseException] = loop.create_future()

        def _set(r: JobResult | BaseException) -> None:
            if not fut.done():
                fut.set_result(r)

        def _done(r: JobResult | BaseException) -> None:
            loop.call_soon_threadsafe(_set, r)

        self.committer.submit(prepared.events, prepared.quarantine, prepared.links, _done)
        try:
            r = await asyncio.wait_for(fut, self._timeout)
        except TimeoutError:
            raise StoreUnavailable("the event store did not confirm the write in time; retry (it is idempotent)",
                                   code="commit_timeout", retry_after_s=2) from None
        if isinstance(r, BaseException):
            raise r
        return self._report(prepared, r)

    def ingest(self, source: Source, payload: Any, *, kind: str = "batch") -> IngestReport:
        """Prepare and commit a parsed body synchronously (server-side imports, tests)."""
        return self.commit(self.prepare(source, payload, kind=kind))

    # ------------------------------------------------------------------ quarantine
    def _view(self, r: QuarantineRecord, with_payload: bool) -> QuarantineView:
        payload = None
        if with_payload:
            payload = json.loads(unseal(self._qkey, r.payload, aad=r.source.encode()))
        return QuarantineView(r.quarantine_id, r.source, r.code, r.reason, r.received_at, r.message_id,
                              r.event_type, r.status, r.attempts, payload)

    def quarantine_list(self, *, source: str | None = None, code: str | None = None, status: str | None = "open",
                        limit: int = 100, offset: int = 0) -> list[QuarantineView]:
        return [self._view(r, False) for r in self._quarantine.list(source=source, code=code, status=status,
                                                                      limit=limit, offset=offset)]

    def quarantine_show(self, quarantine_id: str) -> QuarantineView:
        r = self._quarantine.get(quarantine_id)
        if r is None:
            raise NotFound(f"no quarantined event {quarantine_id!r}; `fitloop events quarantine list` shows them")
        return self._view(r, True)

    def replay(self, quarantine_id: str) -> ReplayResult:
        """Run a quarantined message through today's schemas and gate; store it if it now passes."""
        r = self._quarantine.get(quarantine_id)
        if r is None:
            raise NotFound(f"no quarantined event {quarantine_id!r}; `fitloop events quarantine list` shows them")
        if r.status != "open":
            return ReplayResult(r.quarantine_id, r.status, code=r.code, reason="already replayed")
        message = json.loads(unseal(self._qkey, r.payload, aad=r.source.encode()))
        src = self._sources.get(r.source) or Source(r.source, "", "", r.received_at)
        p = self.prepare(src, {"batch": [message]}, received_at=r.received_at)
        now = datetime.now(UTC)
        if p.quarantine:
            err = p.errors[0]
            self._quarantine.resolve(r.quarantine_id, status="open", code=err["code"], reason=err["message"], at=now)
            return ReplayResult(r.quarantine_id, "open", code=err["code"], reason=err["message"])
        res = self.committer.submit_wait(p.events, (), p.links, timeout_s=self._timeout)
        self._quarantine.resolve(r.quarantine_id, status="replayed", code=r.code,
                                 reason=f"replayed: {res.inserted} stored, {res.duplicates} duplicates", at=now)
        return ReplayResult(r.quarantine_id, "replayed", res.inserted, res.duplicates)

    def replay_all(self, *, source: str | None = None, code: str | None = None, limit: int = 10_000) -> list[ReplayResult]:
        records = self._quarantine.list(source=source, code=code, status="open", limit=limit)
        return [self.replay(r.quarantine_id) for r in records]

    def stats(self) -> list[IngestStat]:
        return self._log.stats()

    def open_quarantine(self) -> int:
        return self._quarantine.count()


def _parse_dt(v: Any) -> datetime | None:
    if not isinstance(v, str):
        return None
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
