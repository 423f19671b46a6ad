"""Seasons and the fashion calendar: collection drops, sales and holidays.

>>> from datetime import date
>>> season_for(date(2026, 7, 1)), season_for(date(2026, 7, 1), "south")
('summer', 'winter')
>>> cal = FashionCalendar()
>>> [e.name for e in cal.active(date(2026, 11, 11), region="CN")]
["Singles' Day"]
>>> cal.active(date(2026, 11, 27))[0].name  # fourth Friday of November 2026
'Black Friday'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

from fitloop.errors import InvalidInput

__all__ = [
    "SEASONS",
    "season_for",
    "CalendarEvent",
    "FashionCalendar",
    "default_events",
]

SEASONS: tuple[str, ...] = ("winter", "spring", "summer", "autumn")
_NORTH = ("winter", "winter", "spring", "spring", "spring", "summer",
          "summer", "summer", "autumn", "autumn", "autumn", "winter")
_FLIP = {"winter": "summer", "summer": "winter", "spring": "autumn", "autumn": "spring"}


def season_for(day: date, hemisphere: str = "north") -> str:
    """Meteorological season of ``day`` (Dec–Feb winter in the north, summer in the south)."""
    if hemisphere not in ("north", "south"):
        raise InvalidInput(f"hemisphere must be 'north' or 'south', not {hemisphere!r}")
    s = _NORTH[day.month - 1]
    return _FLIP[s] if hemisphere == "south" else s


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """A dated moment that changes what shoppers look for.

    ``kind`` is ``drop`` (new collection), ``sale`` or ``holiday``; ``regions`` empty means
    everywhere (ISO country codes otherwise, e.g. ``("CN",)``); ``tags`` are catalog tags the
    moment favours (``"gift"``, ``"red"``, ``"outerwear"``).
    """

    name: str
    kind: str
    start: date
    end: date
    regions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    discount_expected: bool = False

    def covers(self, day: date, region: str | None = None) -> bool:
        if not (self.start <= day <= self.end):
            return False
        return not self.regions or region is None or region in self.regions


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    d = date(year, month, 1)
    d += timedelta(days=(weekday - d.weekday()) % 7)
    return d + timedelta(weeks=n - 1)


# Lunar New Year (first day) by year; it moves with the lunar calendar so it is tabulated.
_LUNAR_NEW_YEAR = {
    2018: date(2018, 2, 16), 2019: date(2019, 2, 5), 2020: date(2020, 1, 25), 2021: date(2021, 2, 12),
    2022: date(2022, 2, 1), 2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29),
    2026: date(2026, 2, 17), 2027: date(2027, 2, 6), 2028: date(2028, 1, 26), 2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}


def default_events(year: int) -> list[CalendarEvent]:
    """The built-in calendar of one year: the big sales, holidays and the two collection drops."""
    ev: list[CalendarEvent] = []
    E = CalendarEvent
    ev.append(E("Winter sale", "sale", date(year, 1, 2), date(year, 1, 31), ("EU", "GB", "US"),
                ("outerwear", "knitwear"), True))
    ev.append(E("Valentine's Day", "holiday", date(year, 2, 7), date(year, 2, 14), (), ("gift", "red", "party")))
    ev.append(E("Spring/Summer drop", "drop", date(year, 2, 15), date(year, 3, 15), (), ("new", "light")))
    ev.append(E("618", "sale", date(year, 6, 1), date(year, 6, 18), ("CN",), (), True))
    ev.append(E("Summer sale", "sale", date(year, 6, 24), date(year, 7, 31), ("EU", "GB", "US"),
                ("swimwear", "summer"), True))
    ev.append(E("Autumn/Winter drop", "drop", date(year, 8, 15), date(year, 9, 15), (), ("new", "outerwear")))
    ev.append(E("Golden Week", "holiday", date(year, 10, 1), date(year, 10, 7), ("CN",), ("travel",)))
    ev.append(E("Singles' Day", "sale", date(year, 11, 11), date(year, 11, 11), ("CN",), (), True))
    bf = _nth_weekday(year, 11, 4, 4)  # fourth Friday of November
    ev.append(E("Black Friday", "sale", bf, bf, (), (), True))
    ev.append(E("Cyber Monday", "sale", bf + timedelta(days=3), bf + timedelta(days=3), (), (), True))
    ev.append(E("Christmas", "holiday", date(year, 12, 1), date(year, 12, 24), (), ("gift", "party", "red")))
    ev.append(E("New Year's Eve", "holiday", date(year, 12, 26), date(year, 12, 31), (), ("party", "sequins")))
    lny = _LUNAR_NEW_YEAR.get(year)
    if lny is not None:
        ev.append(E("Lunar New Year", "holiday", lny - timedelta(days=14), lny + timedelta(days=6),
                    ("CN", "HK", "SG", "TW"), ("red", "gift", "new")))
    return ev


class FashionCalendar:
    """Dated drops, sales and holidays; the built-in ones plus any the shop adds.

    ``events`` are added to (or, with ``include_defaults=False``, replace) the defaults,
    which are generated for every year asked about.
    """

    def __init__(self, events: Iterable[CalendarEvent] = (), *, include_defaults: bool = True) -> None:
        self._custom = list(events)
        for e in self._custom:
            if e.kind not in ("drop", "sale", "holiday"):
                raise InvalidInput(f"calendar event {e.name!r} has kind {e.kind!r}; use drop, sale or holiday")
            if e.end < e.start:
                raise InvalidInput(f"calendar event {e.name!r} ends before it starts")
        self.include_defaults = include_defaults

    def add(self, event: CalendarEvent) -> None:
        self._custom.append(event)

    def events_in(self, year: int) -> list[CalendarEvent]:
        base = default_events(year) if self.include_defaults else []
        return base + [e for e in self._custom if e.start.year <= year <= e.end.year]

    def active(self, day: date, region: str | None = None, kind: str | None = None) -> list[CalendarEvent]:
        """Events running on ``day`` (in ``region`` when given, of ``kind`` when given)."""
        years = {day.year - 1, day.year}
        out = [e for y in sorted(years) for e in self.events_in(y) if e.covers(day, region)]
        seen: set[tuple[str, date]] = set()
        uniq = []
        for e in out:
            if (e.name, e.start) not in seen and (kind is None or e.kind == kind):
                seen.add((e.name, e.start))
                uniq.append(e)
        return uniq

    def upcoming(self, day: date, within_days: int = 14, region: str | None = None) -> list[CalendarEvent]:
        """Events starting after ``day`` and within ``within_days``, soonest first."""
        end = day + timedelta(days=within_days)
        evs = [e for y in {day.year, end.year} for e in self.events_in(y)
               if day < e.start <= end and e.covers(e.start, region)]
        return sorted(evs, key=lambda e: e.start)

    def to_json(self, path: str | Path) -> None:
        rows = [asdict(e) | {"start": e.start.isoformat(), "end": e.end.isoformat()} for e in self._custom]
        Path(path).write_text(json.dumps({"include_defaults": self.include_defaults, "events": rows}, indent=1))

    @classmethod
    def from_json(cls, path: str | Path) -> FashionCalendar:
        """Read a calendar written by :meth:`to_json` (or by hand: name, kind, start, end, ...)."""
        try:
            raw = json.loads(Path(path).read_text())
            events: Sequence[CalendarEvent] = [
                CalendarEvent(r["name"], r["kind"], date.fromisoformat(r["start"]), date.fromisoformat(r["end"]),
                              tuple(r.get("regions", ())), tuple(r.get("tags", ())),
                              bool(r.get("discount_expected", False)))
                for r in raw["events"]
            ]
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"calendar file {path} is not valid: {exc}; expected "
                               '{"events": [{"name", "kind", "start", "end"}]}') from exc
        return cls(events, include_defaults=bool(raw.get("include_defaults", True)))
