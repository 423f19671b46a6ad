from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from fitloop.cli.context import register

app = typer.Typer()
register(app)
runner = CliRunner()


def test_weather_falls_back_for_an_unknown_city() -> None:
    r = runner.invoke(app, ["context", "weather", "Atlantis", "--day", "2026-01-10"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["source"] == "season_default" and "unknown city" in body["reason"]
    r = runner.invoke(app, ["context", "weather", "Shanghai", "--day", "2026-07-20"])
    assert json.loads(r.output)["temperature_c"] > 27


def test_bad_day_is_a_clear_error() -> None:
    r = runner.invoke(app, ["context", "weather", "Shanghai", "--day", "July"])
    assert r.exit_code != 0 and "--day must be a date" in str(r.exception)


def test_calendar_and_suitability() -> None:
    r = runner.invoke(app, ["context", "calendar", "--day", "2026-11-11", "--region", "CN"])
    assert r.exit_code == 0 and "Singles' Day" in r.output
    r = runner.invoke(app, ["context", "suitability", "Coat", "--temp", "28", "--material", "wool", "--city", "Shanghai"])
    body = json.loads(r.output)
    assert body["score"] < 0 and body["reason"] == "wool coat is too warm for 28 °C in Shanghai"
