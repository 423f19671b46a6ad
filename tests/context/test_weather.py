"""Weather providers against a real local HTTP server speaking the Open-Meteo format."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from fitloop.context.weather import (
    CITIES,
    ClimateNormalsProvider,
    FallbackWeather,
    OpenMeteoProvider,
    SeasonDefaultProvider,
    WeatherUnavailable,
    lookup_city,
)
from fitloop.errors import NotFound


def _open_meteo_body(q: dict[str, list[str]]) -> dict[str, object]:
    # Shape of a real /v1/forecast answer with daily=temperature_2m_max,temperature_2m_min,precipitation_sum.
    day = q["start_date"][0]
    return {
        "latitude": float(q["latitude"][0]), "longitude": float(q["longitude"][0]),
        "generationtime_ms": 0.05, "utc_offset_seconds": 28800, "timezone": q["timezone"][0],
        "timezone_abbreviation": "GMT+8", "elevation": 4.0,
        "daily_units": {"time": "iso8601", "temperature_2m_max": "°C", "temperature_2m_min": "°C",
                        "precipitation_sum": "mm"},
        "daily": {"time": [day], "temperature_2m_max": [31.2], "temperature_2m_min": [24.8],
                  "precipitation_sum": [12.5]},
    }


class _Handler(BaseHTTPRequestHandler):
    delay_s = 0.0
    requests: list[dict[str, list[str]]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        url = urlparse(self.path)
        q = parse_qs(url.query)
        type(self).requests.append(q)
        if self.delay_s:
            time.sleep(self.delay_s)
        if url.path != "/v1/forecast":
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(_open_meteo_body(q)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


def _serve(delay_s: float) -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("H", (_Handler,), {"delay_s": delay_s, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def stub() -> Iterator[tuple[str, type[_Handler]]]:
    yield from _serve(0.0)


@pytest.fixture()
def slow_stub() -> Iterator[tuple[str, type[_Handler]]]:
    yield from _serve(1.5)


def test_open_meteo_reads_the_day_and_sends_the_documented_query(stub: tuple[str, type[_Handler]]) -> None:
    url, handler = stub
    p = OpenMeteoProvider(url, timeout_s=2.0)
    r = p.daily("Shanghai", date(2026, 7, 20))
    assert (r.temp_max_c, r.temp_min_c, r.rain_mm, r.temperature_c) == (31.2, 24.8, 12.5, 28.0)
    assert r.source == "open_meteo" and "Shanghai" in r.reason
    q = handler.requests[0]
    assert q["daily"] == ["temperature_2m_max,temperature_2m_min,precipitation_sum"]
    assert q["timezone"] == ["Asia/Shanghai"]
    assert abs(float(q["latitude"][0]) - 31.23) < 0.01
    # The second call is served from the cache, not the server.
    p.daily("shanghai", date(2026, 7, 20))
    assert len(handler.requests) == 1
    p.close()


def test_open_meteo_unknown_city_raises_without_a_request(stub: tuple[str, type[_Handler]]) -> None:
    url, handler = stub
    with pytest.raises(NotFound, match="unknown city"):
        OpenMeteoProvider(url).daily("Atlantis", date(2026, 7, 20))
    assert handler.requests == []


def test_open_meteo_http_error_is_weather_unavailable(stub: tuple[str, type[_Handler]]) -> None:
    url, _ = stub
    with pytest.raises(WeatherUnavailable):
        OpenMeteoProvider(url + "/wrong-prefix").daily("Berlin", date(2026, 1, 5))


def test_open_meteo_rejects_an_answer_without_the_day() -> None:
    p = OpenMeteoProvider("http://127.0.0.1:9")
    with pytest.raises(WeatherUnavailable, match="2026-01-05"):
        p.parse({"daily": {"time": ["2026-01-04"], "temperature_2m_max": [1], "temperature_2m_min": [0]}},
                "Berlin", date(2026, 1, 5))


def test_slow_service_falls_back_within_budget_with_reason(slow_stub: tuple[str, type[_Handler]]) -> None:
    url, _ = slow_stub
    w = FallbackWeather(OpenMeteoProvider(url, timeout_s=1.0), ClimateNormalsProvider(), budget_ms=200)
    t0 = time.monotonic()
    r = w.daily("Shanghai", date(2026, 7, 20))
    elapsed = time.monotonic() - t0
    assert elapsed < 0.6  # budget 0.2 s plus scheduling slack; the server sleeps 1.5 s
    assert r.source == "climate_normals"
    assert "did not answer within 200 ms" in r.reason and "Shanghai" in r.reason
    assert 27 < r.temperature_c < 30


def test_unknown_city_falls_back_to_season_default_with_reason(stub: tuple[str, type[_Handler]]) -> None:
    url, _ = stub
    w = FallbackWeather(OpenMeteoProvider(url), ClimateNormalsProvider(), budget_ms=500)
    r = w.daily("Atlantis", date(2026, 1, 10))
    assert r.source == "season_default"
    assert "unknown city 'Atlantis'" in r.reason and "winter" in r.reason
    assert r.temperature_c == 3.0


def test_dead_service_falls_back() -> None:
    # Port 9 (discard) is closed on 127.0.0.1: connection refused, quickly.
    w = FallbackWeather(OpenMeteoProvider("http://127.0.0.1:9", timeout_s=0.5), ClimateNormalsProvider())
    r = w.daily("Berlin", date(2026, 1, 15))
    assert r.source == "climate_normals" and "failed" in r.reason
    assert r.temperature_c < 3


def test_climate_normals_cover_the_named_cities_and_hemispheres() -> None:
    for name in ("Shanghai", "Beijing", "Guangzhou", "Shenzhen", "Hong Kong", "Tokyo", "Seoul", "Singapore",
                 "London", "Paris", "Berlin", "Madrid", "Rome", "Stockholm", "New York", "Los Angeles",
                 "Chicago", "Sydney", "São Paulo", "Dubai"):
        info = CITIES[name]
        assert len(info.temp_c) == 12 and len(info.precip_mm) == 12
    p = ClimateNormalsProvider()
    assert p.daily("Sydney", date(2026, 1, 15)).temperature_c > p.daily("Sydney", date(2026, 7, 15)).temperature_c
    assert p.daily("Beijing", date(2026, 1, 15)).temperature_c < 0 < p.daily("Beijing", date(2026, 7, 1)).temperature_c
    # Interpolation: no jump at a month boundary.
    a, b = p.daily("Berlin", date(2026, 5, 31)), p.daily("Berlin", date(2026, 6, 1))
    assert abs(a.temperature_c - b.temperature_c) < 0.5
    assert lookup_city("  new york ").name == "New York" and lookup_city("香港").name == "Hong Kong"


def test_season_default_uses_the_city_hemisphere() -> None:
    r = SeasonDefaultProvider().daily("Sydney", date(2026, 1, 10))
    assert r.temperature_c == 25.0 and "summer" in r.reason


def test_timeout_without_a_fallback_uses_season_defaults_within_budget(slow_stub: tuple[str, type[_Handler]]) -> None:
    url, _ = slow_stub
    w = FallbackWeather(OpenMeteoProvider(url, timeout_s=1.0), budget_ms=150)
    t0 = time.monotonic()
    r = w.daily("Sydney", date(2026, 7, 1))
    assert time.monotonic() - t0 < 0.6
    assert r.source == "season_default" and r.temperature_c == 3.0  # July is winter in Sydney
    assert r.reason == "weather service did not answer within 150 ms; southern-hemisphere winter default (3 °C)"
