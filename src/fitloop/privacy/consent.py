"""Consent per shopper, per purpose and per purpose version, over an append-only ledger.

Rules (all enforced by :meth:`ConsentLedger.state`):

* Default deny: no entry means no consent. Nothing is pre-ticked.
* Purposes with another lawful basis (contract, legal obligation) need no consent.
* The latest entry for (shopper, purpose) wins; a withdrawal is just a newer entry.
* A grant covers the purpose only while its version is at least the purpose's
  ``reconsent_from`` (a materially changed purpose asks everyone again).
* Sensitive purposes need their own explicit grant: a grant recorded as part of
  a bundle ("accept all", ``source`` starting with ``"bundle"``) never covers them.
* ``Sec-GPC: 1`` withdraws the sharing and marketing purposes (``gpc = true``).

Every entry can be turned into a receipt signed with HMAC-SHA256, which the
shopper can keep and the shop can verify later.

>>> from datetime import datetime, timezone
>>> from fitloop.privacy.manifest import default_manifest
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> ledger = ConsentLedger(default_manifest(), receipt_key=b"k" * 32)
>>> ledger.state("u1", "personalisation").reason
'no_consent'
>>> entry = ledger.grant("u1", "personalisation", t)
>>> ledger.allowed("u1", "personalisation"), ledger.allowed("u1", "order_fulfilment")
(True, True)
>>> _ = ledger.withdraw("u1", ts=t)
>>> ledger.state("u1", "personalisation").reason
'withdrawn'
>>> ledger.verify_receipt(ledger.receipt(entry))
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fitloop.data import Consent
from fitloop.errors import ConfigError, InvalidInput
from fitloop.privacy.manifest import Manifest

__all__ = ["ConsentDecision", "ConsentLedger", "BUNDLE_SOURCE", "GPC_SOURCE", "sign_receipt", "verify_receipt"]

#: ``Consent.source`` prefix for grants given in one go for several purposes ("accept all").
BUNDLE_SOURCE = "bundle"
#: ``Consent.source`` of withdrawals caused by a ``Sec-GPC: 1`` header.
GPC_SOURCE = "gpc"
_RECEIPT_VERSION = 1


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    """Whether ``purpose`` may be used for ``user_id`` now, and why.

    ``reason`` is one of ``lawful_basis:<basis>``, ``granted``, ``no_consent``,
    ``withdrawn``, ``stale_version``, ``not_separate``. Truthiness is ``allowed``.
    """

    user_id: str
    purpose: str
    allowed: bool
    reason: str
    version: int | None = None
    since: datetime | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "purpose": self.purpose, "allowed": self.allowed, "reason": self.reason,
                "version": self.version, "since": self.since.isoformat() if self.since else None}


def _canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _key_bytes(key: bytes | str) -> bytes:
    return key.encode() if isinstance(key, str) else bytes(key)


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"fitloop-receipt-key|" + key).hexdigest()[:8]


def sign_receipt(body: Mapping[str, Any], key: bytes | str) -> dict[str, Any]:
    """``body`` plus ``key_id`` and an HMAC-SHA256 ``signature`` over its canonical JSON."""
    k = _key_bytes(key)
    unsigned = {k_: v for k_, v in body.items() if k_ != "signature"}
    unsigned["key_id"] = _key_id(k)
    sig = hmac.new(k, _canonical(unsigned), hashlib.sha256).digest()
    return {**unsigned, "signature": base64.urlsafe_b64encode(sig).decode().rstrip("=")}


def verify_receipt(receipt: Mapping[str, Any], key: bytes | str) -> bool:
    """True when ``receipt`` was signed with ``key`` and not altered since."""
    k = _key_bytes(key)
    sig = receipt.get("signature")
    if not isinstance(sig, str) or receipt.get("key_id") != _key_id(k):
        return False
    unsigned = {k_: v for k_, v in receipt.items() if k_ != "signature"}
    expected = base64.urlsafe_b64encode(hmac.new(k, _canonical(unsigned), hashlib.sha256).digest()).decode().rstrip("=")
    return hmac.compare_digest(expected, sig)


class ConsentLedger:
    """Consent decisions over an append-only list of :class:`fitloop.data.Consent` entries.

    The ledger keeps entries in append order and never edits or removes one;
    load the stored ledger with ``ConsentLedger(manifest, store.consents(user))``
    and persist what :meth:`grant`, :meth:`withdraw` and :meth:`append` add.
    Thread-safe for one process.
    """

    def __init__(self, manifest: Manifest, entries: Iterable[Consent] = (), *, receipt_key: bytes | str | None = None,
                 validate_loaded: bool = False) -> None:
        self.manifest = manifest
        self._receipt_key = _key_bytes(receipt_key) if receipt_key else None
        self._entries: list[Consent] = []
        self._by_key: dict[tuple[str, str], list[int]] = {}
        self._lock = threading.RLock()
        for e in entries:
            # Stored history is taken as it is (it may name retired purposes); new entries are validated.
            self.append(e) if validate_loaded else self._add(e)

    # ------------------------------------------------------------------ writing
    def _add(self, entry: Consent) -> None:
        with self._lock:
            self._by_key.setdefault((entry.user_id, entry.purpose), []).append(len(self._entries))
            self._entries.append(entry)

    def validate(self, entry: Consent) -> None:
        """Raise :class:`InvalidInput` unless ``entry`` may be appended."""
        p = self.manifest.purpose(entry.purpose)
        if not entry.user_id:
            raise InvalidInput("consent needs a user_id", code="invalid_consent")
        if entry.ts.tzinfo is None:
            raise InvalidInput("consent ts must be timezone-aware (UTC)", code="invalid_consent")
        if not 1 <= entry.version <= p.version:
            raise InvalidInput(f"purpose {p.name!r} has versions 1..{p.version}; got {entry.version}",
                               code="invalid_consent_version")
        if entry.granted and p.sensitive and entry.source.startswith(BUNDLE_SOURCE):
            raise InvalidInput(f"purpose {p.name!r} is sensitive and needs its own explicit consent, not part of "
                               "a bundle; ask for it separately", code="separate_consent_required")

    def append(self, entry: Consent) -> None:
        """Validate and append one entry."""
        self.validate(entry)
        self._add(entry)

    def extend(self, entries: Iterable[Consent]) -> None:
        for e in entries:
            self.append(e)

    def grant(self, user_id: str, purpose: str, ts: datetime, *, version: int | None = None,
              source: str = "api") -> Consent:
        """Record an explicit grant (of the current purpose version unless ``version`` is given)."""
        v = version if version is not None else self.manifest.purpose(purpose).version
        entry = Consent(user_id=user_id, purpose=purpose, version=v, granted=True, ts=ts, source=source)
        self.append(entry)
        return entry

    def withdraw(self, user_id: str, purposes: Iterable[str] | None = None, *, ts: datetime,
                 source: str = "api") -> list[Consent]:
        """Withdraw ``purposes`` (default: every purpose currently granted by consent) in one call.

        Returns the appended entries; a purpose not currently granted gets no new entry.
        """
        with self._lock:
            names = list(purposes) if purposes is not None else [
                p.name for p in self.manifest.purposes.values() if p.needs_consent]
            out: list[Consent] = []
            for name in names:
                p = self.manifest.purpose(name)
                if not p.needs_consent or not self._latest_granted(user_id, name, None):
                    continue
                entry = Consent(user_id=user_id, purpose=name, version=p.version, granted=False, ts=ts, source=source)
                self.append(entry)
                out.append(entry)
            return out

    # ------------------------------------------------------------------ reading
    def entries(self, user_id: str | None = None) -> list[Consent]:
        """All entries (or one shopper's) in append order."""
        with self._lock:
            if user_id is None:
                return list(self._entries)
            return [e for e in self._entries if e.user_id == user_id]

    def _latest(self, user_id: str, purpose: str, at: datetime | None) -> Consent | None:
        best: tuple[datetime, int] | None = None
        found: Consent | None = None
        for i in self._by_key.get((user_id, purpose), ()):
            e = self._entries[i]
            if at is not None and e.ts > at:
                continue
            # Latest timestamp wins; on a tie the later append wins.
            if best is None or (e.ts, i) >= best:
                best, found = (e.ts, i), e
        return found

    def _latest_granted(self, user_id: str, purpose: str, at: datetime | None) -> bool:
        e = self._latest(user_id, purpose, at)
        return bool(e and e.granted)

    def state(self, user_id: str, purpose: str, at: datetime | None = None) -> ConsentDecision:
        """The decision for ``purpose`` now (or as of ``at``)."""
        p = self.manifest.purpose(purpose)
        if not p.needs_consent:
            return ConsentDecision(user_id, purpose, True, f"lawful_basis:{p.lawful_basis}")
        with self._lock:
            e = self._latest(user_id, purpose, at)
        if e is None:
            return ConsentDecision(user_id, purpose, False, "no_consent")
        if not e.granted:
            return ConsentDecision(user_id, purpose, False, "withdrawn", e.version, e.ts)
        if e.version < p.reconsent_from:
            return ConsentDecision(user_id, purpose, False, "stale_version", e.version, e.ts)
        if p.sensitive and e.source.startswith(BUNDLE_SOURCE):
            return ConsentDecision(user_id, purpose, False, "not_separate", e.version, e.ts)
        return ConsentDecision(user_id, purpose, True, "granted", e.version, e.ts)

    def allowed(self, user_id: str, purpose: str, at: datetime | None = None) -> bool:
        return self.state(user_id, purpose, at).allowed

    def allowed_purposes(self, user_id: str, at: datetime | None = None) -> frozenset[str]:
        """Every purpose that may be used for ``user_id`` (consented or on another lawful basis)."""
        return frozenset(p for p in self.manifest.purposes if self.state(user_id, p, at).allowed)

    def snapshot(self, user_id: str, at: datetime | None = None) -> dict[str, dict[str, Any]]:
        """purpose → decision dict, for ``GET /v1/consent/{user}`` and the banner."""
        out: dict[str, dict[str, Any]] = {}
        for name, p in self.manifest.purposes.items():
            d = self.state(user_id, name, at).to_dict()
            d.update(title=p.title, why=p.why, current_version=p.version, sensitive=p.sensitive,
                     needs_consent=p.needs_consent)
            out[name] = d
        return out

    def gpc_withdrawals(self, user_id: str, ts: datetime) -> list[Consent]:
        """Withdrawals a ``Sec-GPC: 1`` request implies: one per currently granted sharing/marketing purpose.

        Nothing is appended; append the result (``ledger.extend(...)``) and store it.
        """
        with self._lock:
            return [Consent(user_id=user_id, purpose=name, version=self.manifest.purposes[name].version,
                            granted=False, ts=ts, source=GPC_SOURCE)
                    for name in self.manifest.gpc_purposes() if self._latest_granted(user_id, name, ts)]

    # ------------------------------------------------------------------ receipts
    def _require_key(self) -> bytes:
        if not self._receipt_key:
            raise ConfigError("consent receipts need a signing key: ConsentLedger(..., receipt_key=settings.secret_key)",
                              code="receipt_key_missing")
        return self._receipt_key

    def receipt(self, entry: Consent) -> dict[str, Any]:
        """A signed, JSON-ready receipt for ``entry`` that the shopper can keep as proof."""
        key = self._require_key()
        p = self.manifest.purposes.get(entry.purpose)
        same_text = p is not None and p.version == entry.version
        body = {
            "receipt_version": _RECEIPT_VERSION,
            "user_id": entry.user_id,
            "purpose": entry.purpose,
            "purpose_version": entry.version,
            "purpose_title": p.title if p and same_text else None,
            "purpose_text_hash": p.text_hash if p and same_text else None,
            "granted": entry.granted,
            "ts": entry.ts.isoformat(),
            "source": entry.source,
            "controller": self.manifest.controller,
            "manifest_version": self.manifest.version,
        }
        return sign_receipt(body, key)

    def receipts(self, user_id: str) -> list[dict[str, Any]]:
        """Every entry of ``user_id`` as a signed receipt (consent export)."""
        return [self.receipt(e) for e in self.entries(user_id)]

    def verify_receipt(self, receipt: Mapping[str, Any]) -> bool:
        return verify_receipt(receipt, self._require_key())
