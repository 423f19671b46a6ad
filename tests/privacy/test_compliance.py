from __future__ import annotations

import json
import random
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.errors import InvalidInput, NotFound
from fitloop.privacy.compliance import (
    Alert,
    ComplianceMonitor,
    FieldOutsideManifest,
    MultiNotifier,
    Observation,
    Owner,
    PastRetention,
    PauseKey,
    PlainHttpInProduction,
    PurposeWithoutConsent,
    RateAnomaly,
    SmtpNotifier,
    ThreadedNotifier,
    UnknownOrRevokedSource,
    WebhookNotifier,
    default_rules,
)
from fitloop.privacy.consent import ConsentLedger
from fitloop.privacy.gate import PrivacyGate
from fitloop.privacy.manifest import default_manifest
from fitloop.privacy.vault import InMemoryDataKeyStore, MasterKeyring, Vault

MANIFEST = default_manifest()
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = b"webhook-secret-webhook-secret-00"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    """A notifier that keeps what it was asked to send (used where the channel is not the point)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Alert, Owner]] = []

    def notify(self, alert: Alert, owner: Owner) -> None:
        self.sent.append((alert, owner))


# ------------------------------------------------------------------ real local webhook receiver and SMTP sink
@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[dict, bytes, str]]]]:
    received: list[tuple[dict, bytes, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((json.loads(body), body, self.headers.get("X-Fitloop-Signature", "")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, list[str]]]:
    """A minimal SMTP server: enough of RFC 5321 for smtplib.send_message."""
    messages: list[str] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 sink ready\r\n")
            while line := self.rfile.readline():
                cmd = line.decode().strip().upper()
                if cmd.startswith(("EHLO", "HELO")):
                    self.wfile.write(b"250 sink\r\n")
                elif cmd.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
                    self.wfile.write(b"250 ok\r\n")
                elif cmd == "DATA":
                    self.wfile.write(b"354 go on\r\n")
                    data = []
                    while (part := self.rfile.readline()) not in (b".\r\n", b""):
                        data.append(part.decode())
                    messages.append("".join(data))
                    self.wfile.write(b"250 queued\r\n")
                elif cmd == "QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"502 no\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1], messages
    server.shutdown()
    server.server_close()


# ------------------------------------------------------------------ the data path end to end (pure parts)
def test_out_of_scope_field_is_stripped_quarantined_paused_and_notified_once(webhook) -> None:
    url, received = webhook
    rng = random.Random(7)
    gate = PrivacyGate(MANIFEST)
    ledger = ConsentLedger(MANIFEST)
    vault = Vault(MasterKeyring({1: b"q" * 32}, current=1), InMemoryDataKeyStore())
    clock = Clock()
    monitor = ComplianceMonitor(default_rules(MANIFEST), WebhookNotifier(url, secret=SECRET), clock,
                                owner_for=lambda k: Owner("shop-web-team", email="web@shop.example"))
    for u in range(20):
        ledger.grant(f"u{u}", "analytics", T0)
    stored: list[dict] = []
    quarantine: list[bytes] = []
    injected = 0
    for i in range(300):
        clock.now = T0 + timedelta(milliseconds=100 * i)
        source = rng.choice(["web", "app"])
        fields = {"item_id": f"sku-{i}", "price": 9.9}
        if source == "web" and rng.random() < 0.4:
            fields["phone"] = f"1380013{i:04d}"
            injected += 1
        user = f"u{i % 20}"
        d = gate.check_for(ledger, user, "product_viewed", fields)
        assert d.admit and d.purposes == ("analytics",)
        for name, value in d.stripped.items():
            # under the shopper's own data key, so erasing the shopper also shreds their quarantine
            quarantine.append(vault.encrypt(user, "quarantine", name, f"evt-{i}", str(value)))
        monitor.observe(Observation(source, event_type="product_viewed", purposes=d.purposes,
                                    outside_fields=tuple(d.stripped)))
        stored.append(dict(d.kept))
    assert injected > 20
    assert not any("phone" in row for row in stored)  # stripped 100 %
    assert len(quarantine) == injected and all(b"13800" not in q for q in quarantine)
    assert monitor.pauses() == [PauseKey("web", field="phone")]  # exactly that source × field
    assert monitor.is_paused("web", field="phone")
    assert not monitor.is_paused("web", field="item_id") and not monitor.is_paused("app", field="phone")
    assert not monitor.is_paused("web", purpose="analytics")
    assert len(received) == 1  # notified once, not per event
    body, raw, sig = received[0]
    assert WebhookNotifier.verify(raw, sig, SECRET)
    assert body["alert"]["pause_key"] == "web|field:phone" and body["owner"] == "shop-web-team"
    (alert,) = monitor.alerts()
    assert alert.count == injected and alert.notified_at is not None
    assert [e.action for e in monitor.audit] == ["violation", "paused", "notified"]


def test_resume_lifts_the_pause_and_a_new_violation_notifies_again() -> None:
    rec = Recorder()
    audit: list = []
    mon = ComplianceMonitor([FieldOutsideManifest()], rec, Clock(), on_audit=audit.append)
    obs = Observation("web", event_type="search", outside_fields=("email",))
    first = mon.observe(obs)
    assert first[0].new and not mon.observe(obs)[0].new
    assert len(rec.sent) == 1
    with pytest.raises(InvalidInput):
        mon.resume(first[0].pause_key, by="")
    alert = mon.resume("web|field:email", by="alice")
    assert alert.status == "resolved" and alert.resumed_by == "alice"
    assert not mon.is_paused("web", field="email")
    with pytest.raises(NotFound):
        mon.resume("web|field:email", by="alice")
    assert mon.observe(obs)[0].new and len(rec.sent) == 2
    assert [e.action for e in audit] == ["violation", "paused", "notified", "resumed", "violation", "paused",
                                         "notified"]
    assert audit[3].actor == "alice"
    assert len(mon.alerts()) == 2 and len(mon.alerts(active_only=True)) == 1


def test_failed_notification_is_audited_and_the_pause_holds() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mon = ComplianceMonitor([UnknownOrRevokedSource()], WebhookNotifier(f"http://127.0.0.1:{port}/x", timeout=1))
    vs = mon.observe(Observation("rogue", source_status="unknown"))
    assert vs[0].pause_key == PauseKey("rogue") and mon.is_paused("rogue", field="anything")
    assert mon.audit[-1].action == "notify_failed"
    assert mon.alerts()[0].notify_error


def test_smtp_notifier_sends_one_mail(smtp_sink) -> None:
    port, messages = smtp_sink
    mon = ComplianceMonitor([PlainHttpInProduction()],
                            SmtpNotifier("127.0.0.1", port, "fitloop@shop.example", timeout=5),
                            owner_for=lambda k: Owner("ops", email="ops@shop.example"))
    for _ in range(5):
        mon.observe(Observation("pos-terminal", scheme="http", production=True))
    assert len(messages) == 1
    assert "To: ops@shop.example" in messages[0] and "pos-terminal|*" in messages[0]
    assert not mon.observe(Observation("pos-terminal2", scheme="http", production=False))
    assert not mon.observe(Observation("pos-terminal3", scheme="https", production=True))


def test_multi_and_threaded_notifiers(webhook, smtp_sink) -> None:
    url, received = webhook
    port, messages = smtp_sink
    threaded = ThreadedNotifier(MultiNotifier([WebhookNotifier(url), SmtpNotifier("127.0.0.1", port,
                                                                                  default_recipient="dpo@x.example")]))
    try:
        mon = ComplianceMonitor([FieldOutsideManifest()], threaded)
        mon.observe(Observation("web", outside_fields=("iban", "ssn")))
        threaded.flush()
    finally:
        threaded.close()
    assert len(received) == 2 and len(messages) == 2
    assert {r[0]["alert"]["field"] for r in received} == {"iban", "ssn"}


# ------------------------------------------------------------------ individual rules
def test_purpose_without_consent_needs_a_burst_not_one_race() -> None:
    clock = Clock()
    mon = ComplianceMonitor([PurposeWithoutConsent(min_events=5, window_s=60)], Recorder(), clock)
    obs = Observation("tag-manager", purposes=("marketing_email",), unconsented_purposes=("marketing_email",))
    for i in range(4):
        assert mon.observe(replace(obs, ts=T0 + timedelta(seconds=30 * i))) == []
    # four refusals spread over 90 s never reach five in a window
    burst = [mon.observe(replace(obs, ts=T0 + timedelta(seconds=200 + i))) for i in range(5)]
    assert burst[:4] == [[], [], [], []]
    assert burst[4][0].pause_key == PauseKey("tag-manager", purpose="marketing_email")
    assert mon.is_paused("tag-manager", purpose="marketing_email")
    assert not mon.is_paused("tag-manager", purpose="analytics")


def test_past_retention_pauses_source_and_purpose() -> None:
    mon = ComplianceMonitor([PastRetention(MANIFEST)], Recorder())
    old = Observation("events-table", ts=T0, purposes=("photo_analysis", "analytics"),
                      oldest_ts=T0 - timedelta(days=40))
    (v,) = mon.observe(old)
    assert v.pause_key == PauseKey("events-table", purpose="photo_analysis")
    assert "30-day retention" in v.message


def test_rate_anomaly_learns_normal_and_trips_on_a_burst() -> None:
    rule = RateAnomaly(factor=10, floor=50, bucket_s=10, warmup_buckets=6)
    mon = ComplianceMonitor([rule], Recorder())
    rng = random.Random(1)
    t = T0
    for bucket in range(20):  # normal: 5..15 events per 10 s
        for _ in range(rng.randint(5, 15)):
            t = T0 + timedelta(seconds=10 * bucket + rng.random() * 9.9)
            assert mon.observe(Observation("web", ts=t)) == []
    assert 5 <= (rule.baseline("web") or 0) <= 15
    start = T0 + timedelta(seconds=10 * 21)
    fired_at = None
    for i in range(400):  # a scraper: 40 events/s
        vs = mon.observe(Observation("web", ts=start + timedelta(milliseconds=25 * i)))
        if vs and vs[0].new:
            fired_at = i
    assert fired_at is not None and 50 <= fired_at <= 150  # within the first bucket, in well under a second
    assert mon.is_paused("web") and len(mon.alerts()) == 1
    assert not mon.observe(Observation("other", ts=start))  # a new source has no baseline: no alarm


def test_pause_key_text_form() -> None:
    for k in (PauseKey("a|b"), PauseKey("web", field="phone"), PauseKey("web", purpose="social")):
        assert PauseKey.parse(str(k)) == k
    for bad in ("web", "web|", "web|colour:red", "|*"):
        with pytest.raises(InvalidInput):
            PauseKey.parse(bad)
    with pytest.raises(InvalidInput):
        PauseKey("web", field="a", purpose="b")


def test_manual_pause_and_restore() -> None:
    rec = Recorder()
    mon = ComplianceMonitor(default_rules(MANIFEST), rec)
    mon.pause("web|purpose:social", by="dpo", reason="audit in progress")
    assert mon.is_paused("web", purpose="social") and rec.sent == []
    assert mon.paused_fields("web", ["a", "b"]) == set()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["web", "app", "pos"]),
                          st.lists(st.sampled_from(["phone", "iban", "ssn", "ip"]), max_size=3, unique=True)),
                max_size=60))
def test_owner_is_notified_exactly_once_per_pause(stream: list[tuple[str, list[str]]]) -> None:
    rec = Recorder()
    mon = ComplianceMonitor([FieldOutsideManifest()], rec, Clock())
    for source, fields in stream:
        mon.observe(Observation(source, event_type="page", outside_fields=tuple(fields)))
    expected = {PauseKey(src, field=f) for src, fields in stream for f in fields}
    assert set(mon.pauses()) == expected
    assert sorted(str(a.pause_key) for a, _ in rec.sent) == sorted(str(k) for k in expected)
    assert sum(a.count for a in mon.alerts()) == sum(len(f) for _, f in stream)
