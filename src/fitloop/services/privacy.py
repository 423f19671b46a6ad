"""Privacy in the running system: consent over the stored ledger, the collection gate, the identity vault,
the compliance monitor with persisted alerts, pauses and audit, and DP releases under a persisted budget.

The library (:mod:`fitloop.privacy`) decides; this service loads and stores what it decides on:

* **Consent** is read from ``stores.users.consents`` and cached per shopper. Once per ``consent_cache_s``
  (1 s by default) one query asks the store which shoppers' ledgers grew since the last check
  (``users.consent_changes``) and drops exactly those, so a withdrawal recorded by any process is
  honoured everywhere within that time; the process that records it drops its cache entry at once.
  A shopper's ledger is therefore read once, not once a second (serving asks on every request).
* **The gate** (:class:`PrivacyCollectionGate`) plugs into :class:`~fitloop.services.ingest.IngestService`.
* **Pauses** live in ``stores.privacy`` (``compliance_alerts``); every process re-reads them at most once a
  second, so a pause opened or resumed by one API process holds in all of them.

>>> from fitloop.config import Settings
>>> from fitloop.wiring import build_stores
>>> stores = build_stores(Settings(database_url="sqlite:///:memory:", demo=True))
>>> svc = PrivacyService(stores, secret_key="s" * 32, master_key="m" * 32, pseudonym_key="p" * 32)
>>> svc.allowed_purposes("u1") >= {"personalisation"}
False
>>> _ = svc.record_consent("u1", {"personalisation": True}, source="banner")
>>> "personalisation" in svc.allowed_purposes("u1"), svc.personalised("u1")
(True, True)
>>> stores.close()
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from fitloop.data import Consent, Event
from fitloop.errors import InvalidInput
from fitloop.privacy import (
    Alert,
    AuditEntry,
    ComplianceMonitor,
    ConsentLedger,
    DataKeyErased,
    DPAggregator,
    InMemoryDataKeyStore,
    LogNotifier,
    Manifest,
    MasterKeyring,
    Notifier,
    Observation,
    Owner,
    PauseKey,
    PrivacyBudgetExceeded,
    PrivacyGate,
    Pseudonymiser,
    Tier,
    Vault,
    default_manifest,
    default_rules,
    ropa_json,
    tier_of,
)
from fitloop.privacy.compliance import PurposeWithoutConsent
from fitloop.services.ingest import GateDecision
from fitloop.services.pseudonyms import CUSTOMER_ID_FIELD, CachedPseudonyms, resolve_operator_input
from fitloop.store import Source, Stores
from fitloop.store.protocols import PrivacyStore, StrippedField

__all__ = ["ConsentCache", "PrivacyConfig", "PrivacyService", "PrivacyCollectionGate", "SYSTEM_FIELDS", "PURPOSES_FIELD",
           "IDENTITY_TABLE", "STRIPPED_TABLE", "usable_for"]

log = logging.getLogger(__name__)

#: Properties the collector itself adds (already minimised by it): passed through the gate untouched.
SYSTEM_FIELDS = frozenset({"context", "line", "n_lines", "discount"})
#: The property that tags a stored event with the purposes it may be used for.
PURPOSES_FIELD = "_purposes"
#: Table names bound into the vault's ciphertexts (associated data).
IDENTITY_TABLE = "identity_vault"
STRIPPED_TABLE = "privacy_quarantine"


@dataclass(frozen=True, slots=True)
class PrivacyConfig:
    """Knobs of the privacy service.

    ``consent_cache_s``: how stale a consent decision may be in another process (withdrawal must
    take effect within 5 s; the default 1 s leaves room). ``dp_*``: the budget per period (a calendar
    month by default) for aggregates released outside the shop.
    """

    consent_cache_s: float = 1.0
    pause_sync_s: float = 1.0
    dp_epsilon_total: float = 1.0
    dp_default_epsilon: float = 0.1
    dp_min_group_size: int = 20
    purpose_without_consent_min_events: int = 5


class ConsentCache:
    """Consent ledgers per shopper, kept exact across processes by following the store's change mark.

    Every ``check_s`` at most, one call ``changes(after)`` (:meth:`UserStore.consent_changes`) lists
    the ``(seq, shopper)`` ledger entries since the last check; those shoppers' entries are dropped.
    A store may list entries again that an earlier check already saw (PostgreSQL re-lists the last
    few below the mark, for transactions that committed late): ``seq`` values seen in the previous
    check are skipped, so a shopper is not re-read every second for an old change. ``on_check`` runs
    at the same moment (the service reloads erasures there: an erasure deletes a ledger, which the
    mark does not show, so new erasures clear everything). Entries are also re-read after ``max_age_s``
    whatever happens: a bound on what any gap in the mark could cost.

    With ``changes=None`` (a store without the mark) entries simply expire after ``check_s``.

    A reader takes :meth:`stamp` before it reads a ledger and hands it to :meth:`put`: if entries
    were dropped in between (a check, or this process recording a decision), what it read may be
    older than the drop and is not cached.

    >>> marks = {"seq": 0, "changed": []}
    >>> cache = ConsentCache(lambda after: (marks["seq"], list(marks["changed"])), check_s=0.0)
    >>> cache.put("u1", ("granted",), since=cache.stamp()); cache.get("u1")
    ('granted',)
    >>> marks.update(seq=1, changed=[(1, "u1")]); cache.get("u1") is None
    True
    """

    def __init__(self, changes: Callable[[int | None], tuple[int, list[tuple[int, str]] | None]] | None, *,
                 check_s: float = 1.0, max_age_s: float = 300.0, on_check: Callable[[], None] | None = None,
                 max_entries: int = 200_000) -> None:
        self._changes = changes
        self.check_s = check_s
        self.max_age_s = max_age_s if changes is not None else check_s
        self.on_check = on_check
        self.max_entries = max_entries
        self._d: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._mark: int | None = None
        self._seen: set[int] = set()  # seq values listed by the last check (a store may list them again)
        self._next_check = 0.0
        self._generation = 0  # bumped by every drop: see stamp()

    def _check(self, now: float) -> None:
        # One thread asks; the others keep reading what is cached (at most one check old).
        if not self._check_lock.acquire(blocking=False):
            return
        try:
            if now < self._next_check:
                return
            if self.on_check is not None:
                self.on_check()
            if self._changes is None:
                self._next_check = now + self.check_s
                return
            try:
                mark, entries = self._changes(self._mark)
            except Exception:  # noqa: BLE001 - a failed check must not serve a stale decision
                log.warning("could not read consent changes; dropping cached consents", exc_info=True)
                self.clear()
                self._mark = None
                self._seen = set()
                self._next_check = now + self.check_s
                return
            with self._lock:
                self._generation += 1
                if self._mark is None or entries is None:
                    self._d.clear()  # first check (nothing cached can be vouched for) or too many changes
                else:
                    for seq, u in entries:
                        if seq not in self._seen:
                            self._d.pop(u, None)
            self._seen = {seq for seq, _ in entries} if entries else set()
            self._mark = mark
            self._next_check = now + self.check_s
        finally:
            self._check_lock.release()

    def get(self, key: str) -> Any:
        now = time.monotonic()
        if now >= self._next_check:
            self._check(now)
        with self._lock:
            hit = self._d.get(key)
        if hit is None or hit[0] < now:
            return None
        return hit[1]

    def stamp(self) -> int:
        """Take before reading a ledger from the store; give to :meth:`put`."""
        now = time.monotonic()
        if now >= self._next_check:
            self._check(now)  # the read that follows is then newer than the mark
        with self._lock:
            return self._generation

    def put(self, key: str, value: Any, *, since: int) -> None:
        with self._lock:
            if since != self._generation:
                return  # something was dropped while the caller read: its copy may predate that
            if len(self._d) > self.max_entries:
                self._d.clear()
            self._d[key] = (time.monotonic() + self.max_age_s, value)

    def drop(self, *keys: str) -> None:
        with self._lock:
            self._generation += 1
            for k in keys:
                self._d.pop(k, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._d.clear()


class PrivacyService:
    """Consent, vault, monitor and DP for one process, over ``stores.privacy`` and ``stores.data_keys``."""

    def __init__(
        self,
        stores: Stores,
        *,
        secret_key: str,
        master_key: str,
        pseudonym_key: str,
        manifest: Manifest | None = None,
        notifier: Notifier | None = None,
        owners: Mapping[str, Owner] | None = None,
        config: PrivacyConfig | None = None,
        demo: bool = False,
    ) -> None:
        if stores.privacy is None:
            raise InvalidInput("these stores have no privacy role (stores.privacy); build them with build_stores")
        self.stores = stores
        self.store: PrivacyStore = stores.privacy
        self.manifest = manifest or default_manifest()
        self.config = config or PrivacyConfig()
        self.demo = demo
        self._secret = secret_key.encode()
        self.vault = Vault(MasterKeyring.parse(master_key), stores.data_keys or InMemoryDataKeyStore())
        self.pseudonymiser = Pseudonymiser(pseudonym_key)
        #: Shop ids → pseudonyms, cached: every store holds pseudonyms only (see fitloop.services.pseudonyms).
        self.ids = CachedPseudonyms(self.pseudonymiser)
        self.gate_logic = PrivacyGate(self.manifest)
        changes = getattr(stores.users, "consent_changes", None)
        self._consents = ConsentCache(changes, check_s=self.config.consent_cache_s, on_check=self._reload_erased)
        self._owners = dict(owners or {})
        rules = default_rules(self.manifest)
        rules = [PurposeWithoutConsent(min_events=self.config.purpose_without_consent_min_events)
                 if isinstance(r, PurposeWithoutConsent) else r for r in rules]
        self.monitor = ComplianceMonitor(rules, notifier or LogNotifier(), owner_for=self._owner_for,
                                         on_audit=self._persist_audit)
        self._erased: set[str] = set()
        self._erased_loaded = 0.0
        self._pauses_synced = 0.0
        self._sync_lock = threading.Lock()
        self.sync_pauses(force=True)

    # ------------------------------------------------------------------ helpers
    def subject_hash(self, user_id: str) -> str:
        """A keyed hash of a shopper id: lets the erasure record be found again without keeping the id."""
        return hmac.new(self._secret, b"fitloop-erasure|" + user_id.encode(), hashlib.sha256).hexdigest()

    def pseudonymise(self, user_id: str) -> str:
        """The L3 pseudonym of a shop's own customer id (``p1_…``); shop-facing boundaries always apply it."""
        return self.ids(user_id)

    def resolve_operator_input(self, value: str) -> str:
        """The stored id for what an operator pasted (console, CLI, admin API): a pseudonym is used as is,
        a customer id is pseudonymised (:func:`fitloop.services.pseudonyms.resolve_operator_input`)."""
        return resolve_operator_input(value, self.ids)

    def _owner_for(self, key: PauseKey) -> Owner:
        if key.purpose is not None:
            p = self.manifest.purposes.get(key.purpose)
            if p is not None:
                return self._owners.get(p.owner, Owner(p.owner))
        src = self.stores.sources.get(key.source) if self.stores.sources is not None else None
        if src is not None and src.owner:
            return self._owners.get(src.owner, Owner(src.owner, email=src.owner if "@" in src.owner else None))
        return self._owners.get("dpo", Owner("dpo"))

    # ------------------------------------------------------------------ consent
    def _entries(self, user_id: str) -> list[Consent]:
        hit = self._consents.get(user_id)
        if hit is None:
            stamp = self._consents.stamp()
            hit = self.stores.users.consents(user_id)
            self._consents.put(user_id, hit, since=stamp)
        return list(hit)

    def ledger(self, user_id: str, *also: str) -> ConsentLedger:
        """The stored ledger of ``user_id``; entries of ``also`` ids (e.g. the anonymous id) count for it too."""
        entries = self._entries(user_id)
        for other in also:
            if other and other != user_id:
                entries += [replace(e, user_id=user_id) for e in self._entries(other)]
        entries.sort(key=lambda e: e.ts)  # the latest decision wins, whichever id it was recorded under
        return ConsentLedger(self.manifest, entries, receipt_key=self._secret)

    def allowed_purposes(self, user_id: str, anonymous_id: str | None = None) -> frozenset[str]:
        ids = (anonymous_id,) if anonymous_id else ()
        return self.ledger(user_id, *ids).allowed_purposes(user_id)

    def invalidate(self, *user_ids: str) -> None:
        self._consents.drop(*user_ids)

    def record_consent(self, user_id: str, choices: Mapping[str, bool], *, source: str = "api", gpc: bool = False,
                       ts: datetime | None = None) -> dict[str, Any]:
        """Append the shopper's choices (and the withdrawals a ``Sec-GPC: 1`` implies) to the ledger.

        Purposes on another lawful basis cannot be chosen; sensitive ones refuse a bundled grant. Explicit
        choices are appended after the GPC withdrawals, so an explicit opt-in in the same request wins.
        """
        if not user_id or len(user_id) > 128:
            raise InvalidInput("user_id must be 1 to 128 characters", code="invalid_user_id")
        if not source or len(source) > 64:
            raise InvalidInput("source must be 1 to 64 characters", code="invalid_consent_source")
        ts = ts or datetime.now(UTC)
        ledger = self.ledger(user_id)
        new: list[Consent] = []
        if gpc:
            new += ledger.gpc_withdrawals(user_id, ts)
            ledger.extend(new)
        ignored: list[dict[str, str]] = []
        for purpose, granted in choices.items():
            p = self.manifest.purposes.get(purpose)
            # Reported, not refused: an SDK retries refused requests, and the other choices must still count.
            if p is None:
                ignored.append({"purpose": purpose, "reason": f"not a purpose of manifest {self.manifest.version}"})
                continue
            if not p.needs_consent:
                ignored.append({"purpose": purpose, "reason": f"rests on {p.lawful_basis}, not on consent"})
                continue
            entry = Consent(user_id=user_id, purpose=purpose, version=p.version, granted=bool(granted), ts=ts,
                            source=source)
            ledger.append(entry)  # validates: sensitive purposes refuse bundled grants
            new.append(entry)
        if new:
            self.stores.users.append_consents(new)
        self.invalidate(user_id)
        if new:
            try:
                self.stores.bus.publish("consent", {"user_id": user_id, "ts": ts.isoformat()})
            except Exception:  # noqa: BLE001 - the ledger is the record; the bus only speeds others up
                log.warning("could not publish a consent change", exc_info=True)
        return {"recorded": [_consent_dict(e) for e in new], "ignored": ignored, "consent": self.consent(user_id)}

    def apply_gpc(self, user_id: str) -> list[Consent]:
        """Record the withdrawals a Global Privacy Control signal implies (none when nothing is granted)."""
        new = self.ledger(user_id).gpc_withdrawals(user_id, datetime.now(UTC))
        if new:
            self.stores.users.append_consents(new)
            self.invalidate(user_id)
        return new

    def withdraw(self, user_id: str, purposes: Iterable[str] | None = None, *, source: str = "api") -> list[Consent]:
        """Withdraw ``purposes`` (default: every granted consent) in one call."""
        ledger = self.ledger(user_id)
        new = ledger.withdraw(user_id, purposes, ts=datetime.now(UTC), source=source)
        if new:
            self.stores.users.append_consents(new)
        self.invalidate(user_id)
        return new

    def consent(self, user_id: str) -> dict[str, dict[str, Any]]:
        """purpose → decision (with title, why, version, sensitive) for ``GET /v1/consent/{user}`` and the banner."""
        return self.ledger(user_id).snapshot(user_id)

    def receipts(self, user_id: str) -> list[dict[str, Any]]:
        return self.ledger(user_id).receipts(user_id)

    def verify_receipt(self, receipt: Mapping[str, Any]) -> bool:
        return ConsentLedger(self.manifest, receipt_key=self._secret).verify_receipt(receipt)

    # ------------------------------------------------------------------ erasure bookkeeping
    def _reload_erased(self) -> None:
        """Re-read the erasure records (other processes erase too); a new one forgets every cached ledger."""
        now = time.monotonic()
        if now - self._erased_loaded <= self.config.consent_cache_s:
            return
        erased = self.store.erased_hashes() | self._erased
        grew = len(erased) > len(self._erased)
        self._erased, self._erased_loaded = erased, now
        if grew:
            # The erasure deleted that shopper's ledger, which the store's change mark does not show.
            self._consents.clear()

    def is_erased(self, user_id: str) -> bool:
        self._reload_erased()
        return self.subject_hash(user_id) in self._erased

    def mark_erased(self, user_id: str) -> None:
        self._erased.add(self.subject_hash(user_id))
        self.invalidate(user_id)

    def personalised(self, user_id: str) -> bool:
        """Whether ``user_id`` may get personalised recommendations now.

        False after erasure (stale model factors must never serve) and whenever the ledger does not allow
        ``personalisation``. In demo mode a shopper with no ledger at all (the simulated shoppers, loaded
        without a consent banner) counts as consenting, so the demo still shows personalisation.
        """
        if self.is_erased(user_id):
            return False
        entries = self._entries(user_id)
        if not entries and self.demo:
            return True
        return "personalisation" in self.allowed_purposes(user_id)

    # ------------------------------------------------------------------ identity vault (L1)
    def store_identity(self, user_id: str, fields: Mapping[str, Any]) -> list[str]:
        """Encrypt L1 identity fields of ``user_id`` into the vault; returns the field names stored."""
        if not fields:
            raise InvalidInput("send at least one identity field", code="empty_identity")
        tiers = self.manifest.field_tiers
        bad = [f for f in fields if tier_of(f, tiers) is not Tier.L1 or f not in self.manifest.fields]
        if bad:
            raise InvalidInput(f"only identity (L1) fields of the manifest go to the vault; not: {', '.join(bad)}",
                               code="not_identity_field")
        out = {f: self.vault.encrypt(user_id, IDENTITY_TABLE, f, user_id, _text(v)) for f, v in fields.items()}
        self.store.put_identity(user_id, out, datetime.now(UTC))
        return sorted(out)

    def identity(self, user_id: str) -> dict[str, str]:
        """The decrypted identity fields (``{}`` when none or when the key was erased)."""
        out: dict[str, str] = {}
        for f, ct in self.store.identity(user_id).items():
            try:
                out[f] = self.vault.decrypt_str(user_id, IDENTITY_TABLE, f, user_id, ct)
            except DataKeyErased:
                return {}
        return out

    def customer_id(self, user_id: str) -> str | None:
        """The shop's own customer id behind the pseudonym ``user_id`` (L1: admins and the DPO only), if known.

        Known once an ``identify`` with a ``userId`` arrived (or an admin stored it); None after erasure.
        """
        ct = self.store.identity(user_id).get(CUSTOMER_ID_FIELD)
        if ct is None:
            return None
        try:
            return self.vault.decrypt_str(user_id, IDENTITY_TABLE, CUSTOMER_ID_FIELD, user_id, ct)
        except DataKeyErased:
            return None

    def quarantine_fields(self, source: str, event: Event, values: Mapping[str, Any]) -> list[StrippedField]:
        """Keep stripped fields encrypted under the person's data key (value None: only the name is known)."""
        now = datetime.now(UTC)
        rows = []
        for name, value in values.items():
            qid = uuid.uuid4().hex
            ct = None if value is None else self.vault.encrypt(event.user_id, STRIPPED_TABLE, name[:64], qid,
                                                                _text(value))
            rows.append(StrippedField(qid, event.user_id, source, event.event_id[:128], event.type.value, name[:64],
                                      ct, now))
        self.store.add_stripped(rows)
        return rows

    def stripped_values(self, user_id: str) -> list[dict[str, Any]]:
        """The person's stripped fields, decrypted (for export and review)."""
        out = []
        for r in self.store.stripped(person_id=user_id, limit=10_000):
            value: str | None = None
            if r.ciphertext is not None:
                try:
                    value = self.vault.decrypt_str(user_id, STRIPPED_TABLE, r.field, r.quarantine_id, r.ciphertext)
                except DataKeyErased:
                    value = None
            out.append({"quarantine_id": r.quarantine_id, "source": r.source, "event_id": r.event_id,
                        "event_type": r.event_type, "field": r.field, "value": value,
                        "received_at": r.received_at.isoformat(), "status": r.status})
        return out

    # ------------------------------------------------------------------ compliance monitor
    def _persist_audit(self, entry: AuditEntry) -> None:
        self.store.append_audit({"ts": entry.ts, "action": entry.action, "pause_key": entry.pause_key,
                                 "actor": entry.actor, "alert_id": entry.alert_id, "detail": dict(entry.detail)})

    def _save(self, alert: Alert) -> None:
        d = alert.to_dict()
        d["owner"] = alert.owner.name
        self.store.save_alert(d)

    def observe(self, obs: Observation) -> None:
        """Feed the monitor; new and repeated violations are persisted before this returns."""
        violations = self.monitor.observe(obs)
        seen: set[str] = set()
        for v in violations:
            if v.alert_id not in seen:
                seen.add(v.alert_id)
                self._save(self.monitor.alert(v.alert_id))

    def sync_pauses(self, *, force: bool = False) -> None:
        """Adopt pauses opened and resumptions made by other processes (at most every ``pause_sync_s``)."""
        now = time.monotonic()
        if not force and now - self._pauses_synced < self.config.pause_sync_s:
            return
        with self._sync_lock:
            self._pauses_synced = now
            stored = {d["alert_id"]: d for d in self.store.alerts(limit=10_000)}
            m = self.monitor
            with m._lock:  # noqa: SLF001 - the monitor keeps pauses in memory; this mirrors the shared store
                for alert_id, d in stored.items():
                    key = PauseKey.parse(d["pause_key"])
                    local = m._alerts.get(alert_id)  # noqa: SLF001
                    if d["status"] == "active" and key not in m._active:  # noqa: SLF001
                        a = local or Alert(alert_id, d["rule"], key, d["message"], self._owner_for(key),
                                           _dt(d["first_ts"]), _dt(d["last_ts"]), int(d.get("count", 1)),
                                           notified_at=_dt(d["notified_at"]) if d.get("notified_at") else None,
                                           details=dict(d.get("details") or {}))
                        a.status = "active"
                        m._alerts[alert_id] = a  # noqa: SLF001
                        m._active[key] = alert_id  # noqa: SLF001
                    elif d["status"] != "active" and m._active.get(key) == alert_id:  # noqa: SLF001
                        m._active.pop(key, None)  # noqa: SLF001
                        if local is not None:
                            local.status, local.resumed_by = d["status"], d.get("resumed_by")

    def notify_failed(self, alert: Alert, exc: Exception) -> None:
        """A background notification failed: audit it (the pause holds regardless)."""
        alert.notify_error = f"{type(exc).__name__}: {exc}"[:500]
        self._persist_audit(AuditEntry(datetime.now(UTC), "notify_failed", str(alert.pause_key), "monitor",
                                       alert.alert_id, {"error": alert.notify_error}))
        self._save(alert)

    def resume(self, key: str, by: str) -> dict[str, Any]:
        """Lift a pause (any process's); audited."""
        self.sync_pauses(force=True)
        alert = self.monitor.resume(key, by)
        self._save(alert)
        return alert.to_dict()

    def pause(self, key: str, *, by: str, reason: str) -> dict[str, Any]:
        alert = self.monitor.pause(key, by=by, reason=reason)
        self._save(alert)
        return alert.to_dict()

    def alerts(self, *, active_only: bool = False, limit: int = 200) -> list[dict[str, Any]]:
        return self.store.alerts(active_only=active_only, limit=limit)

    def audit(self, *, limit: int = 200) -> list[dict[str, Any]]:
        return self.store.audit(limit=limit)

    def is_paused(self, source: str, field: str | None = None, purpose: str | None = None) -> bool:
        self.sync_pauses()
        return self.monitor.is_paused(source, field, purpose)

    # ------------------------------------------------------------------ drop counters
    def count_drop(self, source: str, event_type: str, reason: str, n: int = 1) -> None:
        try:
            self.stores.cache.incr(f"privacy:dropped:{source}:{event_type}:{reason}", n)
        except Exception:  # noqa: BLE001 - a counter must never make the gate fail
            log.warning("could not count a privacy drop", exc_info=True)

    def drop_counts(self) -> list[dict[str, Any]]:
        out = []
        for key in self.stores.cache.scan_keys("privacy:dropped:"):
            parts = key.split(":")
            if len(parts) == 5:
                out.append({"source": parts[2], "type": parts[3], "reason": parts[4],
                            "count": int(self.stores.cache.get(key) or 0)})
        return out

    # ------------------------------------------------------------------ reports
    def ropa(self) -> dict[str, Any]:
        return json.loads(ropa_json(self.manifest))

    def dp_histogram(self, groups: Mapping[str, int], *, epsilon: float | None = None, period: str | None = None,
                     what: str = "segment_sizes") -> dict[str, Any]:
        """Noisy group sizes for release outside the shop; the period's budget is reserved in the store first,
        so concurrent processes can never overspend it, and a refused release spends nothing."""
        eps = self.config.dp_default_epsilon if epsilon is None else float(epsilon)
        if not 0 < eps <= self.config.dp_epsilon_total:
            raise InvalidInput(f"epsilon must be in (0, {self.config.dp_epsilon_total:g}]", code="invalid_epsilon")
        period = period or datetime.now(UTC).strftime("%Y-%m")
        remaining = self.store.reserve_budget(period, eps, self.config.dp_epsilon_total)
        if remaining is None:
            total, spent = self.store.budget(period) or (self.config.dp_epsilon_total, 0.0)
            raise PrivacyBudgetExceeded(
                f"privacy budget of {period} exhausted: {what} needs epsilon={eps:g} but only "
                f"{max(0.0, total - spent):g} of {total:g} is left; wait for the next period or release less",
                details={"period": period, "needed": eps, "remaining": max(0.0, total - spent), "total": total})
        agg = DPAggregator(eps * (1 + 1e-6), self.config.dp_min_group_size, default_epsilon=eps)
        hist = agg.histogram(dict(groups), epsilon=eps, what=what)
        return {**hist.to_dict(), "period": period, "budget_remaining": remaining,
                "min_group_size": self.config.dp_min_group_size}


# ---------------------------------------------------------------------------------------------- the gate
class PrivacyCollectionGate:
    """The ingest service's :class:`~fitloop.services.ingest.CollectionGate`, enforcing the manifest and consent.

    For each validated event: drop it (counted) when the whole source is paused or none of its purposes
    is allowed for the shopper; strip fields outside the manifest into the encrypted quarantine and report
    them (the monitor pauses source × field); drop fields whose purposes lack consent, paused fields and
    paused purposes; move identity (L1) fields into the vault; scrub free text; tag the event with its
    allowed purposes (``properties["_purposes"]``).

    Fields that the collector's schema declares but the manifest does not list are removed without a
    violation: the schema is fitloop's own, so it is not the source misbehaving (``withheld_schema``).
    """

    def __init__(self, privacy: PrivacyService, *, scrub: Callable[[str], str] | None = None) -> None:
        self.privacy = privacy
        self._scrub = scrub

    def _scrubber(self) -> Callable[[str], str]:
        if self._scrub is None:
            from fitloop.privacy.scrub import default_scrubber

            scrubber = default_scrubber()  # process-wide; the first build takes ≈10 s (Presidio import)
            self._scrub = lambda text: scrubber.scrub(text).text
        return self._scrub

    def warm(self) -> None:
        """Build the scrubber on a background thread, so the first free-text event does not wait for it."""
        threading.Thread(target=self._scrubber, name="scrubber-warmup", daemon=True).start()

    def check(self, source: Source, event: Event, undeclared_fields: tuple[str, ...] | Mapping[str, Any]) -> GateDecision:
        pv = self.privacy
        m = pv.manifest
        name = source.name
        et = event.type.value
        if pv.is_paused(name):
            pv.count_drop(name, et, "source_paused")
            return GateDecision(False, event)
        if et not in m.events:
            pv.count_drop(name, et, "not_in_manifest")
            return GateDecision(False, event, f"event type {et!r} is not in the privacy manifest (version "
                                f"{m.version}); add it there to collect it", "event_not_in_manifest")
        ctx = event.properties.get("context")
        if isinstance(ctx, Mapping) and ctx.get("gpc") is True:
            # The browser sent Global Privacy Control with the event: it withdraws sharing and marketing
            # on the server too, whatever the page's banner state says.
            pv.apply_gpc(event.user_id)
            if event.anonymous_id and event.anonymous_id != event.user_id:
                pv.apply_gpc(event.anonymous_id)
        allowed = pv.allowed_purposes(event.user_id, event.anonymous_id)
        allowed = frozenset(p for p in allowed if not pv.is_paused(name, purpose=p))
        props = {k: v for k, v in event.properties.items() if k not in SYSTEM_FIELDS}
        system = {k: v for k, v in event.properties.items() if k in SYSTEM_FIELDS}
        d = pv.gate_logic.check(et, props, allowed=allowed.__contains__)
        # Fields outside the manifest: the source sent them (undeclared anywhere) → quarantine + violation.
        undeclared = dict(undeclared_fields) if isinstance(undeclared_fields, Mapping) else \
            {f: None for f in undeclared_fields}
        schema_only = {k for k in d.stripped if k not in undeclared}
        outside = {**{k: v for k, v in d.stripped.items() if k not in schema_only}, **undeclared}
        if outside:
            pv.quarantine_fields(name, event, outside)
        pv.observe(Observation(name, event_type=et, purposes=d.purposes, outside_fields=tuple(sorted(outside)),
                               unconsented_purposes=() if d.admit else d.unconsented))
        if schema_only:
            pv.count_drop(name, et, "withheld_schema", len(schema_only))
        if not d.admit:
            pv.count_drop(name, et, "no_consent")
            return GateDecision(False, event)
        kept = {k: v for k, v in d.kept.items() if not pv.is_paused(name, field=k)}
        # Identity (L1) goes to the vault, never into the behaviour log.
        tiers = m.field_tiers
        identity = {k: v for k, v in kept.items() if tier_of(k, tiers) is Tier.L1}
        if identity:
            pv.store_identity(event.user_id, {k: v for k, v in identity.items() if k in m.fields})
            kept = {k: v for k, v in kept.items() if k not in identity}
        free = m.free_text_fields()
        for k in [k for k in kept if k in free and isinstance(kept[k], str)]:
            kept[k] = self._scrubber()(kept[k])
        props_out: dict[str, Any] = {**kept, **system, PURPOSES_FIELD: list(d.purposes)}
        lifted: dict[str, Any] = {}
        for attr in ("item_id", "size", "price"):
            if getattr(event, attr) is not None and attr in event.properties and attr not in kept:
                lifted[attr] = None
        if "quantity" in event.properties and "quantity" not in kept:
            lifted["quantity"] = 1
        return GateDecision(True, replace(event, properties=props_out, **lifted))


# ---------------------------------------------------------------------------------------------- helpers
def usable_for(event_type: str, properties: Mapping[str, Any], purpose: str, manifest: Manifest) -> bool:
    """Whether a stored event may be used for ``purpose``: its purpose tags say so, or (events stored before
    the gate, e.g. imports and the demo's simulated shoppers) its event type serves that purpose.

    >>> m = default_manifest()
    >>> usable_for("product_viewed", {"_purposes": ["analytics"]}, "personalisation", m)
    False
    >>> usable_for("product_viewed", {}, "personalisation", m)
    True
    """
    tags = properties.get(PURPOSES_FIELD)
    if isinstance(tags, list):
        return purpose in tags
    et = getattr(event_type, "value", event_type)
    return et in manifest.events and purpose in manifest.purposes_for(et)


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)


def _dt(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v
    dt = datetime.fromisoformat(str(v))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _consent_dict(e: Consent) -> dict[str, Any]:
    return {"user_id": e.user_id, "purpose": e.purpose, "version": e.version, "granted": e.granted,
            "ts": e.ts.isoformat(), "source": e.source}

