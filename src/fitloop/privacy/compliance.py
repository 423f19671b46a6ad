"""The compliance monitor: rules over what collection looks like, alerts, pauses, owners notified once.

The ingest path reports one :class:`Observation` per event (or batch) after the
privacy gate has decided; :meth:`ComplianceMonitor.observe` runs every rule
synchronously (well under a millisecond), so a violation is known before the
request returns. A violation:

1. raises an :class:`Alert` (visible at ``GET /v1/compliance/alerts``);
2. pauses exactly that collection: source × field, source × purpose, or the
   whole source for source-level rules (unknown source, plain HTTP, rate);
3. notifies the owner once per pause (webhook and/or e-mail; log otherwise),
   however many events keep violating while it is paused;
4. is written to the audit trail, as are notifications and resumptions.

A pause holds until its owner calls :meth:`ComplianceMonitor.resume`.

>>> from datetime import datetime, timezone
>>> mon = ComplianceMonitor([FieldOutsideManifest()], notifier=None)
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> vs = mon.observe(Observation("web", ts=t, event_type="product_viewed", outside_fields=("phone",)))
>>> [str(v.pause_key) for v in vs], mon.is_paused("web", field="phone"), mon.is_paused("web", field="item_id")
(['web|field:phone'], True, False)
>>> _ = mon.resume(vs[0].pause_key, by="alice")
>>> mon.is_paused("web", field="phone")
False
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import math
import queue
import smtplib
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol, runtime_checkable

import httpx

from fitloop.errors import InvalidInput, NotFound
from fitloop.privacy.manifest import Manifest
from fitloop.privacy.retention import RetentionPolicy

__all__ = [
    "PauseKey",
    "Observation",
    "RuleHit",
    "Violation",
    "Alert",
    "AuditEntry",
    "Owner",
    "Rule",
    "FieldOutsideManifest",
    "PurposeWithoutConsent",
    "UnknownOrRevokedSource",
    "PlainHttpInProduction",
    "PastRetention",
    "RateAnomaly",
    "default_rules",
    "Notifier",
    "LogNotifier",
    "WebhookNotifier",
    "SmtpNotifier",
    "MultiNotifier",
    "ThreadedNotifier",
    "ComplianceMonitor",
]

log = logging.getLogger("fitloop.privacy.compliance")


def _utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------- values
@dataclass(frozen=True, slots=True)
class PauseKey:
    """What a violation pauses: a whole source, source × field, or source × purpose.

    The string form (``web|*``, ``web|field:phone``, ``web|purpose:analytics``) is
    what the API takes in ``POST /v1/compliance/pauses/{key}/resume`` (URL-encoded).

    >>> k = PauseKey("web", field="phone")
    >>> str(k), PauseKey.parse(str(k)) == k
    ('web|field:phone', True)
    """

    source: str
    field: str | None = None
    purpose: str | None = None

    def __post_init__(self) -> None:
        if self.field is not None and self.purpose is not None:
            raise InvalidInput("a pause key names a field or a purpose, not both", code="invalid_pause_key")

    def __str__(self) -> str:
        if self.field is not None:
            return f"{self.source}|field:{self.field}"
        if self.purpose is not None:
            return f"{self.source}|purpose:{self.purpose}"
        return f"{self.source}|*"

    @classmethod
    def parse(cls, text: str) -> PauseKey:
        source, sep, rest = text.rpartition("|")
        if not sep or not source:
            raise InvalidInput(f"pause key {text!r} must look like 'source|*', 'source|field:NAME' or "
                               "'source|purpose:NAME'", code="invalid_pause_key")
        if rest == "*":
            return cls(source)
        kind, _, name = rest.partition(":")
        if kind == "field" and name:
            return cls(source, field=name)
        if kind == "purpose" and name:
            return cls(source, purpose=name)
        raise InvalidInput(f"pause key {text!r}: after '|' put '*', 'field:NAME' or 'purpose:NAME'",
                           code="invalid_pause_key")


@dataclass(frozen=True, slots=True)
class Observation:
    """What the ingest path saw for one event (or a batch of ``count`` similar events) from ``source``.

    * ``purposes``: the event's purposes (from the manifest).
    * ``outside_fields``: fields stripped because the manifest does not allow them.
    * ``unconsented_purposes``: purposes of an event the gate refused for lack of consent.
    * ``source_status``: ``active``, ``unknown`` (write key not registered) or ``revoked``.
    * ``scheme`` / ``production``: how it was collected and where.
    * ``oldest_ts``: for retention sweeps, the oldest stored record of ``purposes``.
    """

    source: str
    ts: datetime | None = None
    event_type: str | None = None
    purposes: tuple[str, ...] = ()
    outside_fields: tuple[str, ...] = ()
    unconsented_purposes: tuple[str, ...] = ()
    source_status: str = "active"
    scheme: str = "https"
    production: bool = False
    count: int = 1
    oldest_ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule's finding before the monitor turns it into a :class:`Violation`."""

    pause_key: PauseKey
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule hit. ``new`` is True when it opened a pause (and notified the owner)."""

    rule: str
    pause_key: PauseKey
    message: str
    ts: datetime
    alert_id: str
    new: bool
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Owner:
    """Who is told about a pause and may resume it."""

    name: str
    email: str | None = None
    webhook_url: str | None = None


@dataclass(slots=True)
class Alert:
    """One pause and everything that happened to it. ``status`` is ``active`` or ``resolved``."""

    alert_id: str
    rule: str
    pause_key: PauseKey
    message: str
    owner: Owner
    first_ts: datetime
    last_ts: datetime
    count: int = 1
    status: str = "active"
    notified_at: datetime | None = None
    notify_error: str | None = None
    resumed_by: str | None = None
    resumed_at: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {"alert_id": self.alert_id, "rule": self.rule, "pause_key": str(self.pause_key),
                "source": self.pause_key.source, "field": self.pause_key.field, "purpose": self.pause_key.purpose,
                "message": self.message, "owner": self.owner.name, "first_ts": iso(self.first_ts),
                "last_ts": iso(self.last_ts), "count": self.count, "status": self.status,
                "notified_at": iso(self.notified_at), "notify_error": self.notify_error,
                "resumed_by": self.resumed_by, "resumed_at": iso(self.resumed_at), "details": dict(self.details)}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit trail. ``action``: violation, paused, notified, notify_failed, resumed."""

    ts: datetime
    action: str
    pause_key: str | None
    actor: str
    alert_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ts": self.ts.isoformat(), "action": self.action, "pause_key": self.pause_key, "actor": self.actor,
                "alert_id": self.alert_id, "detail": dict(self.detail)}


# ---------------------------------------------------------------------------------------------- rules
@runtime_checkable
class Rule(Protocol):
    """A compliance rule: pure except for its own sliding-window state."""

    name: str

    def check(self, obs: Observation, now: datetime) -> list[RuleHit]: ...


class FieldOutsideManifest:
    """Any field outside the manifest pauses source × field at once."""

    name = "field_outside_manifest"

    def check(self, obs: Observation, now: datetime) -> list[RuleHit]:
        return [RuleHit(PauseKey(obs.source, field=f),
                        f"source {obs.source!r} sent field {f!r} on {obs.event_type or 'an event'!r}, which the "
                        "privacy manifest does not allow; it was stripped and quarantined",
                        {"event_type": obs.event_type, "field": f}) for f in obs.outside_fields]


class PurposeWithoutConsent:
    """A source keeps sending events for a purpose the shopper did not consent to.

    A correct SDK sends only consented events, so a handful refused in a short
    window (``min_events`` in ``window_s``) means the source ignores consent;
    source × purpose is paused. A single refusal (a withdrawal racing an event in
    flight) does not trip it unless ``min_events=1``.
    """

    name = "purpose_without_consent"

    def __init__(self, *, min_events: int = 5, window_s: float = 60.0) -> None:
        if min_events < 1 or window_s <= 0:
            raise InvalidInput("min_events must be >= 1 and window_s > 0", code="invalid_rule")
        self.min_events = min_events
        self.window = timedelta(seconds=window_s)
        self._seen: dict[tuple[str, str], deque[tuple[datetime, int]]] = {}
        self._totals: dict[tuple[str, str], int] = {}

    def check(self, obs: Observation, now: datetime) -> list[RuleHit]:
        hits: list[RuleHit] = []
        for p in obs.unconsented_purposes:
            key = (obs.source, p)
            q = self._seen.setdefault(key, deque())
            q.append((now, obs.count))
            self._totals[key] = self._totals.get(key, 0) + obs.count
            while q and q[0][0] < now - self.window:
                self._totals[key] -= q.popleft()[1]
            n = self._totals[key]
            if n >= self.min_events:
                hits.append(RuleHit(PauseKey(obs.source, purpose=p),
                                    f"source {obs.source!r} sent {n} event(s) for purpose {p!r} without the shopper's "
                                    f"consent within {self.window.total_seconds():.0f} s; the source ignores consent",
                                    {"purpose": p, "events": n, "event_type": obs.event_type}))
        return hits


class UnknownOrRevokedSource:
    """Events from an unregistered or revoked source pause that source."""

    name = "unknown_or_revoked_source"

    def check(self, obs: Observation, now: datetime) -> list[RuleHit]:
        if obs.source_status in ("unknown", "revoked"):
            return [RuleHit(PauseKey(obs.source), f"source {obs.source!r} is {obs.source_status}; its events are refused",
                            {"status": obs.source_status})]
        return []


class PlainHttpInProduction:
    """Collection over plain HTTP in production pauses the source."""

    name = "plain_http_in_production"

    def check(self, obs: Observation, now: datetime) -> list[RuleHit]:
        if obs.production and obs.scheme.lower() == "http":
            return [RuleHit(PauseKey(obs.source),
                            f"source {obs.source!r} sends personal data over plain HTTP in production; use HTTPS",
                            {"scheme": obs.scheme})]
        return []


class PastRetention:
    """Data kept past its purpose's retention (reported by the retention sweep) pauses source × purpose."""

    name = "past_retention"

    def __init__(self, manifest: Manifest) -> None:
        self.policy = RetentionPolicy(manifest)

    def check(self, obs: Observation, now: datetime) -> list[RuleHit]:
        if obs.oldest_ts is None:
            return []
        hits = []
        for p in obs.purposes:
            if p in self.policy.manifest.purposes and self.policy.expired(p, obs.oldest_ts, now):
                days = self.policy.manifest.purposes[p].retention_days
                hits.append(RuleHit(PauseKey(obs.source, purpose=p),
                                    f"{obs.source!r} holds {p!r} data from {obs.oldest_ts.date()}, past its "
                                    f"{days}-day retention; run the retention job",
                                    {"purpose": p, "oldest_ts": obs.oldest_ts.isoformat(), "retention_days": days}))
        return hits


@dataclass(slots=True)
class _RateState:
    bucket: int
    count: int = 0
    ewma: float | None = None
    learned: int = 0
    fired_bucket: int | None = None


class RateAnomaly:
    """A source's collection rate far above its normal pauses the source.

    Counts fall in buckets of ``bucket_s`` seconds; the baseline is an
    exponentially weighted moving average of closed buckets (an anomalous bucket
    is capped before it is learned, so an attack does not become the new normal).
    After ``warmup_buckets`` closed buckets, a bucket whose count exceeds both
    ``factor`` × baseline and ``floor`` trips the rule (once per bucket). The
    check runs on every observation, so the alert comes as soon as the count
    crosses the line, not when the bucket closes.
    """

    name = "rate_anomaly"

    def __init__(self, *, factor: float = 10.0, floor: int = 100, bucket_s: float = 10.0, alpha: float = 0.2,
                 warmup_buckets: int = 6) -> None:
        if factor <= 1 or floor < 1 or bucket_s <= 0 or not 0 < alpha <= 1 or warmup_buckets < 1:
            raise InvalidInput("RateAnomaly needs factor > 1, floor >= 1, bucket_s > 0, 0 < alpha <= 1, "
                               "warmup_buckets >= 1", code="invalid_rule")
        self.factor, self.floor, self.bucket_s, self.alpha, self.warmup = factor, floor, bucket_s, alpha, warmup_buckets
        self._state: dict[str, _RateState] = {}

    def _learn(self, st: _RateState, count: int) -> None:
        if st.ewma is not None:
            count = min(count, max(self.floor, int(self.factor * st.ewma)))
            st.ewma = self.alpha * count + (1 - self.alpha) * st.ewma
        else:
            st.ewma = float(count)
        st.learned += 1

    def baseline(self, source: str) -> float | None:
        st = self._state.get(source)
        return None if st is None else st.ewma

    def check(self, obs: Observation, now: datetime) -> list[RuleHit]:
        if obs.source_status != "active":
            # Unknown/revoked sources are refused by their own rule; tracking them would let anyone
            # grow this table by inventing source names.
            return []
        b = math.floor(now.timestamp() / self.bucket_s)
        st = self._state.get(obs.source)
        if st is None:
            st = self._state[obs.source] = _RateState(bucket=b)
        if b > st.bucket:
            self._learn(st, st.count)
            # Empty buckets in between are normal quiet time; cap the loop for long gaps.
            for _ in range(min(b - st.bucket - 1, 10 * self.warmup)):
                self._learn(st, 0)
            st.bucket, st.count = b, 0
        st.count += obs.count
        if st.learned < self.warmup or st.ewma is None or st.fired_bucket == st.bucket:
            return []
        limit = max(float(self.floor), self.factor * st.ewma)
        if st.count > limit:
            st.fired_bucket = st.bucket
            rate, normal = st.count / self.bucket_s, st.ewma / self.bucket_s
            return [RuleHit(PauseKey(obs.source),
                            f"source {obs.source!r} sends {rate:.1f} events/s, more than {self.factor:g}x its "
                            f"normal {normal:.1f}/s", {"rate_per_s": rate, "baseline_per_s": normal})]
        return []


def default_rules(manifest: Manifest) -> list[Rule]:
    """All six rules with their default thresholds."""
    return [FieldOutsideManifest(), PurposeWithoutConsent(), UnknownOrRevokedSource(), PlainHttpInProduction(),
            PastRetention(manifest), RateAnomaly()]


# ---------------------------------------------------------------------------------------------- notifiers
@runtime_checkable
class Notifier(Protocol):
    """Tells an owner about a new pause. Raising means the notification failed (it is audited)."""

    def notify(self, alert: Alert, owner: Owner) -> None: ...


def _alert_text(alert: Alert) -> str:
    return (f"fitloop compliance alert {alert.alert_id}\n\n{alert.message}\n\nRule: {alert.rule}\n"
            f"Paused: {alert.pause_key}\nSince: {alert.first_ts.isoformat()}\n\n"
            f"The collection stays paused until you resume it: POST /v1/compliance/pauses/{alert.pause_key}/resume\n")


class LogNotifier:
    """Writes the alert to the log (the fallback when no webhook or SMTP is configured)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or log

    def notify(self, alert: Alert, owner: Owner) -> None:
        self.logger.warning("compliance alert for %s: %s [paused %s]", owner.name, alert.message, alert.pause_key)


class WebhookNotifier:
    """POSTs the alert as JSON; ``X-Fitloop-Signature: sha256=<hex HMAC of the body>`` when a secret is set.

    ``url`` defaults to the owner's ``webhook_url``. Non-2xx answers raise.
    """

    def __init__(self, url: str | None = None, *, secret: bytes | str | None = None, timeout: float = 5.0,
                 client: httpx.Client | None = None) -> None:
        self.url = url
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.timeout = timeout
        self._client = client

    def notify(self, alert: Alert, owner: Owner) -> None:
        url = self.url or owner.webhook_url
        if not url:
            raise InvalidInput(f"no webhook URL for owner {owner.name!r}", code="webhook_missing")
        body = json.dumps({"type": "compliance.alert", "owner": owner.name, "alert": alert.to_dict()},
                          sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "fitloop-compliance"}
        if self.secret:
            headers["X-Fitloop-Signature"] = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if self._client is not None:
            resp = self._client.post(url, content=body, headers=headers, timeout=self.timeout)
        else:
            with httpx.Client(timeout=self.timeout) as client:
                resp = client.post(url, content=body, headers=headers)
        resp.raise_for_status()

    @staticmethod
    def verify(body: bytes, signature: str, secret: bytes | str) -> bool:
        """For receivers: check ``X-Fitloop-Signature`` against the raw body."""
        s = secret.encode() if isinstance(secret, str) else secret
        expected = "sha256=" + hmac.new(s, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)


class SmtpNotifier:
    """Sends the alert by e-mail through an SMTP server (``smtplib``).

    The recipient is the owner's e-mail, else ``default_recipient``.
    ``starttls`` upgrades a plain connection; ``use_ssl`` connects with TLS (port 465).
    """

    def __init__(self, host: str, port: int = 25, sender: str = "fitloop@localhost", *, username: str | None = None,
                 password: str | None = None, starttls: bool = False, use_ssl: bool = False,
                 default_recipient: str | None = None, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.use_ssl = starttls, use_ssl
        self.default_recipient = default_recipient
        self.timeout = timeout

    def build_message(self, alert: Alert, owner: Owner) -> EmailMessage:
        to = owner.email or self.default_recipient
        if not to:
            raise InvalidInput(f"no e-mail address for owner {owner.name!r}", code="email_missing")
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = f"[fitloop] collection paused: {alert.pause_key} ({alert.rule})"
        msg.set_content(_alert_text(alert))
        return msg

    def notify(self, alert: Alert, owner: Owner) -> None:
        msg = self.build_message(alert, owner)
        ctx = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ctx)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls and not self.use_ssl:
                smtp.starttls(context=ctx)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)


class MultiNotifier:
    """Tries every notifier (webhook and e-mail); raises the first error after trying all."""

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self.notifiers = list(notifiers)

    def notify(self, alert: Alert, owner: Owner) -> None:
        errors: list[Exception] = []
        for n in self.notifiers:
            try:
                n.notify(alert, owner)
            except Exception as exc:  # noqa: BLE001 - one channel failing must not stop the others
                errors.append(exc)
        if errors:
            raise errors[0]


class ThreadedNotifier:
    """Runs another notifier on a background thread so ingest never waits for SMTP or a webhook.

    Failures are logged (the monitor records the hand-off; see ``on_error`` to audit them).
    """

    def __init__(self, inner: Notifier, *, on_error: Callable[[Alert, Exception], None] | None = None) -> None:
        self.inner = inner
        self.on_error = on_error
        self._q: queue.Queue[tuple[Alert, Owner] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="fitloop-notifier", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            try:
                if item is None:
                    return
                alert, owner = item
                try:
                    self.inner.notify(alert, owner)
                except Exception as exc:  # noqa: BLE001
                    log.error("notifying %s about %s failed: %s", owner.name, alert.alert_id, exc)
                    if self.on_error:
                        self.on_error(alert, exc)
            finally:
                self._q.task_done()

    def notify(self, alert: Alert, owner: Owner) -> None:
        self._q.put((alert, owner))

    def flush(self) -> None:
        """Wait until every queued notification was attempted."""
        self._q.join()

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=10)


# ---------------------------------------------------------------------------------------------- monitor
class ComplianceMonitor:
    """Runs rules on observations, keeps pauses and alerts, notifies owners once, keeps an audit trail.

    ``owner_for(pause_key)`` names the owner (default: ``Owner("dpo")``);
    ``on_audit`` receives every :class:`AuditEntry` (persist it); ``notifier``
    None means :class:`LogNotifier`. Thread-safe.
    """

    def __init__(self, rules: Iterable[Rule], notifier: Notifier | None = None,
                 clock: Callable[[], datetime] = _utcnow, *, owner_for: Callable[[PauseKey], Owner] | None = None,
                 on_audit: Callable[[AuditEntry], None] | None = None) -> None:
        self.rules = list(rules)
        self.notifier: Notifier = notifier if notifier is not None else LogNotifier()
        self.clock = clock
        self.owner_for = owner_for or (lambda key: Owner("dpo"))
        self.on_audit = on_audit
        self.audit: list[AuditEntry] = []
        self._alerts: dict[str, Alert] = {}
        self._active: dict[PauseKey, str] = {}  # pause key → alert id
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ audit
    def _audit(self, action: str, key: PauseKey | None, actor: str, alert_id: str | None,
               detail: Mapping[str, Any] | None = None) -> None:
        entry = AuditEntry(self.clock(), action, str(key) if key else None, actor, alert_id, dict(detail or {}))
        self.audit.append(entry)
        if self.on_audit is not None:
            try:
                self.on_audit(entry)
            except Exception as exc:  # noqa: BLE001 - losing an audit sink must not stop enforcement
                log.error("audit sink failed: %s", exc)

    def _new_id(self, now: datetime) -> str:
        return f"alert-{now.strftime('%Y%m%d%H%M%S')}-{next(self._ids)}"

    # ------------------------------------------------------------------ observing
    def observe(self, obs: Observation) -> list[Violation]:
        """Run every rule on ``obs``; open pauses, notify owners of new ones; return the violations."""
        now = obs.ts or self.clock()
        out: list[Violation] = []
        to_notify: list[Alert] = []
        with self._lock:
            for rule in self.rules:
                for hit in rule.check(obs, now):
                    alert_id = self._active.get(hit.pause_key)
                    if alert_id is not None:
                        a = self._alerts[alert_id]
                        a.count += 1
                        a.last_ts = now
                        out.append(Violation(rule.name, hit.pause_key, hit.message, now, alert_id, False, hit.details))
                        continue
                    alert_id = self._new_id(now)
                    a = Alert(alert_id, rule.name, hit.pause_key, hit.message, self.owner_for(hit.pause_key), now, now,
                              details=dict(hit.details))
                    self._alerts[alert_id] = a
                    self._active[hit.pause_key] = alert_id
                    self._audit("violation", hit.pause_key, "monitor", alert_id, {"rule": rule.name,
                                                                                   "message": hit.message})
                    self._audit("paused", hit.pause_key, "monitor", alert_id)
                    to_notify.append(a)
                    out.append(Violation(rule.name, hit.pause_key, hit.message, now, alert_id, True, hit.details))
        for a in to_notify:  # outside the lock: a slow notifier must not block other observers
            self._notify(a)
        return out

    def _notify(self, alert: Alert) -> None:
        try:
            self.notifier.notify(alert, alert.owner)
        except Exception as exc:  # noqa: BLE001 - the pause holds even when nobody could be told
            alert.notify_error = f"{type(exc).__name__}: {exc}"
            log.error("could not notify %s about %s: %s", alert.owner.name, alert.alert_id, exc)
            self._audit("notify_failed", alert.pause_key, "monitor", alert.alert_id, {"error": alert.notify_error})
            return
        alert.notified_at = self.clock()
        self._audit("notified", alert.pause_key, "monitor", alert.alert_id, {"owner": alert.owner.name,
                                                                             "via": type(self.notifier).__name__})

    # ------------------------------------------------------------------ pauses
    def is_paused(self, source: str, field: str | None = None, purpose: str | None = None) -> bool:
        """True if the whole source, or source × ``field``, or source × ``purpose`` is paused."""
        active = self._active
        if PauseKey(source) in active:
            return True
        if field is not None and PauseKey(source, field=field) in active:
            return True
        return purpose is not None and PauseKey(source, purpose=purpose) in active

    def paused_fields(self, source: str, fields: Iterable[str]) -> set[str]:
        """The subset of ``fields`` paused for ``source`` (drop them before storing)."""
        return {f for f in fields if PauseKey(source, field=f) in self._active}

    def pauses(self) -> list[PauseKey]:
        with self._lock:
            return list(self._active)

    def pause(self, key: PauseKey | str, *, by: str, reason: str) -> Alert:
        """Pause by hand (or restore a stored pause after a restart); no notification is sent."""
        k = PauseKey.parse(key) if isinstance(key, str) else key
        now = self.clock()
        with self._lock:
            if k in self._active:
                return self._alerts[self._active[k]]
            alert_id = self._new_id(now)
            a = Alert(alert_id, "manual", k, reason, self.owner_for(k), now, now)
            self._alerts[alert_id] = a
            self._active[k] = alert_id
            self._audit("paused", k, by, alert_id, {"reason": reason})
            return a

    def resume(self, key: PauseKey | str, by: str) -> Alert:
        """Lift a pause (the owner has fixed the source); raises :class:`NotFound` if it is not paused."""
        k = PauseKey.parse(key) if isinstance(key, str) else key
        if not by:
            raise InvalidInput("resume needs the name of who resumes (by=...)", code="resume_actor_missing")
        with self._lock:
            alert_id = self._active.pop(k, None)
            if alert_id is None:
                raise NotFound(f"{k} is not paused", code="pause_not_found")
            a = self._alerts[alert_id]
            a.status, a.resumed_by, a.resumed_at = "resolved", by, self.clock()
            self._audit("resumed", k, by, alert_id)
            return a

    # ------------------------------------------------------------------ reading
    def alerts(self, *, active_only: bool = False) -> list[Alert]:
        """Alerts, newest first."""
        with self._lock:
            items = [a for a in self._alerts.values() if not active_only or a.status == "active"]
        return sorted(items, key=lambda a: a.first_ts, reverse=True)

    def alert(self, alert_id: str) -> Alert:
        try:
            return self._alerts[alert_id]
        except KeyError:
            raise NotFound(f"no alert {alert_id!r}", code="alert_not_found") from None
