from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitloop.context.season import CalendarEvent, FashionCalendar, season_for
from fitloop.errors import InvalidInput


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_hemispheres_are_opposite(day: date) -> None:
    opposite = {"winter": "summer", "summer": "winter", "spring": "autumn", "autumn": "spring"}
    assert season_for(day, "south") == opposite[season_for(day, "north")]


def test_meteorological_boundaries() -> None:
    assert season_for(date(2026, 2, 28)) == "winter"
    assert season_for(date(2026, 3, 1)) == "spring"
    assert season_for(date(2026, 12, 1)) == "winter"
    with pytest.raises(InvalidInput):
        season_for(date(2026, 1, 1), "east")


def test_default_sales_and_holidays() -> None:
    cal = FashionCalendar()
    names = lambda d, r=None: {e.name for e in cal.active(d, region=r)}  # noqa: E731
    assert "Singles' Day" in names(date(2025, 11, 11), "CN")
    assert "Singles' Day" not in names(date(2025, 11, 11), "GB")
    assert "618" in names(date(2025, 6, 18), "CN")
    assert "Black Friday" in names(date(2025, 11, 28))
    assert "Lunar New Year" in names(date(2026, 2, 17), "CN")
    assert "Winter sale" in names(date(2026, 1, 10), "GB")
    assert [e.kind for e in cal.active(date(2026, 3, 1), kind="drop")] == ["drop"]
    up = cal.upcoming(date(2026, 11, 1), within_days=30, region="CN")
    assert [e.name for e in up][:1] == ["Singles' Day"]


def test_custom_events_and_json_round_trip(tmp_path) -> None:
    ev = CalendarEvent("Store anniversary", "sale", date(2026, 5, 20), date(2026, 5, 22), ("CN",), ("gift",), True)
    cal = FashionCalendar([ev], include_defaults=False)
    assert [e.name for e in cal.active(date(2026, 5, 21))] == ["Store anniversary"]
    assert cal.active(date(2026, 11, 11)) == []
    cal.to_json(tmp_path / "cal.json")
    back = FashionCalendar.from_json(tmp_path / "cal.json")
    assert back.active(date(2026, 5, 21)) == [ev]
    with pytest.raises(InvalidInput, match="kind"):
        FashionCalendar([CalendarEvent("x", "party", date(2026, 1, 1), date(2026, 1, 2))])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InvalidInput, match="not valid"):
        FashionCalendar.from_json(tmp_path / "bad.json")
