"""``fitloop sources`` and ``fitloop events`` on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fitloop.cli import events, sources
from fitloop.config import Settings
from fitloop.services.ingest import hash_write_key
from fitloop.wiring import build


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    sources.register(root)
    events.register(root)
    return root


def test_sources_add_list_revoke(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"FITLOOP_DEMO": "1"}
    r = runner.invoke(app, ["sources", "add", "web", "--owner", "ops@shop.example", "--data-dir", str(tmp_path)], env=env)
    assert r.exit_code == 0, r.output
    key = [line for line in r.output.splitlines() if line.startswith("fl_")][0]
    ctr = build(Settings(data_dir=tmp_path, demo=True))
    assert ctr.stores.sources is not None and ctr.stores.sources.by_key_hash(hash_write_key(key)) is not None
    ctr.close()
    r = runner.invoke(app, ["sources", "add", "orders", "--owner", "ops@shop.example", "--hmac", "--data-dir", str(tmp_path)],
                      env=env)
    assert "HMAC secret" in r.output
    r = runner.invoke(app, ["sources", "list", "--data-dir", str(tmp_path)], env=env)
    assert "web" in r.output and "orders" in r.output and key not in r.output
    r = runner.invoke(app, ["sources", "revoke", "web", "--data-dir", str(tmp_path)], env=env)
    assert r.exit_code == 0 and "revoked" in r.output


def test_events_stats_and_quarantine_replay(app: typer.Typer, tmp_path: Path) -> None:
    ctr = build(Settings(data_dir=tmp_path, demo=True, privacy_gate=False))  # the collector's own gate
    assert ctr.ingest is not None
    ctr.ingest.start()
    src, _, _ = ctr.ingest.add_source("web", "ops@shop.example")
    rep = ctr.ingest.ingest(src, {"batch": [
        {"type": "track", "event": "Product Viewed", "messageId": "m1", "anonymousId": "a", "properties": {"item_id": "s"}},
        {"type": "track", "event": "Product Viewed", "messageId": "m1", "anonymousId": "a", "properties": {"item_id": "s"}},
        {"type": "track", "event": "Search", "messageId": "m2", "anonymousId": "a", "properties": {"query": ""}}]})
    qid = rep.errors[0]["quarantine_id"]
    ctr.close()
    runner = CliRunner()
    env = {"FITLOOP_DEMO": "1", "COLUMNS": "200"}
    r = runner.invoke(app, ["events", "stats", "--data-dir", str(tmp_path)], env=env)
    assert r.exit_code == 0, r.output
    row = [line for line in r.output.splitlines() if "product_viewed" in line][0]
    assert [c.strip() for c in row.split("│")[1:6]] == ["web", "product_viewed", "1", "1", "0"]
    row = [line for line in r.output.splitlines() if "Search" in line][0]
    assert [c.strip() for c in row.split("│")[1:6]] == ["web", "Search", "0", "0", "1"]
    r = runner.invoke(app, ["events", "quarantine", "list", "--data-dir", str(tmp_path)], env=env)
    assert qid in r.output and "invalid_properties" in r.output
    r = runner.invoke(app, ["events", "quarantine", "show", qid, "--data-dir", str(tmp_path)], env=env)
    assert '"query": ""' in r.output
    r = runner.invoke(app, ["events", "quarantine", "replay", qid, "--data-dir", str(tmp_path)], env=env)
    assert r.exit_code == 0 and "still open" in r.output and "replayed 0 of 1" in r.output
    r = runner.invoke(app, ["events", "quarantine", "replay", "--all", "--data-dir", str(tmp_path)], env=env)
    assert "replayed 0 of 1" in r.output
    r = runner.invoke(app, ["events", "admin-token", "--data-dir", str(tmp_path)], env=env)
    assert r.output.strip().startswith("fla_")
