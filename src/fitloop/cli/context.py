"""``fitloop context``: weather, the fashion calendar and season suitability from the command line.

- ``fitloop context weather CITY [--day D] [--open-meteo-url URL] [--budget-ms 300]``
- ``fitloop context calendar [--day D] [--region CN] [--within 14]``
- ``fitloop context suitability TYPE --temp 28 [--colour C] [--material M] [--rain 0] [--city C]``
- ``fitloop context learn-suitability [--data-dir DIR] [--out FILE]`` relearns the model from the real data.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fitloop.catalog.season_suitability import (
    DEFAULT_MODEL_FILE,
    SuitabilityConfig,
    SuitabilityModel,
    learn_suitability,
)
from fitloop.context.season import FashionCalendar
from fitloop.context.weather import (
    ClimateNormalsProvider,
    FallbackWeather,
    OpenMeteoProvider,
    WeatherProvider,
    week_temperatures,
)
from fitloop.data import Item
from fitloop.errors import InvalidInput

__all__ = ["register", "context_app"]

context_app = typer.Typer(help="Weather, fashion calendar and season suitability.", no_args_is_help=True)


def _day(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--day must be a date like 2026-07-20, not {value!r}") from None


@context_app.command("weather")
def weather(
    city: Annotated[str, typer.Argument(help="City name, e.g. Shanghai.")],
    day: Annotated[str | None, typer.Option(help="Day (YYYY-MM-DD); today by default.")] = None,
    open_meteo_url: Annotated[str | None, typer.Option(help="Base URL of an Open-Meteo-format server.")] = None,
    budget_ms: Annotated[float, typer.Option(help="Time budget for the service before falling back.")] = 300.0,
) -> None:
    """Print the weather reading (JSON) the recommender would use, with its source and reason."""
    primary: WeatherProvider = (OpenMeteoProvider(open_meteo_url, timeout_s=budget_ms / 1000) if open_meteo_url
                                else ClimateNormalsProvider())
    fallback = ClimateNormalsProvider() if open_meteo_url else None
    r = FallbackWeather(primary, fallback, budget_ms).daily(city, _day(day))
    typer.echo(json.dumps(asdict(r) | {"day": r.day.isoformat()}, ensure_ascii=False))


@context_app.command("calendar")
def calendar(
    day: Annotated[str | None, typer.Option(help="Day (YYYY-MM-DD); today by default.")] = None,
    region: Annotated[str | None, typer.Option(help="ISO region code, e.g. CN, GB, US.")] = None,
    within: Annotated[int, typer.Option(help="Days ahead for upcoming events.")] = 14,
    file: Annotated[Path | None, typer.Option(help="Calendar JSON with the shop's own events.")] = None,
) -> None:
    """List the drops, sales and holidays running on a day, and those coming up."""
    cal = FashionCalendar.from_json(file) if file else FashionCalendar()
    d = _day(day)
    console = Console()
    for label, events in (("active", cal.active(d, region=region)), ("upcoming", cal.upcoming(d, within, region))):
        console.print(f"[bold]{label}[/] ({d.isoformat()}{', ' + region if region else ''}):")
        for e in events:
            console.print(f"  {e.start.isoformat()}..{e.end.isoformat()}  {e.kind:7} {e.name}"
                          + (f"  tags: {', '.join(e.tags)}" if e.tags else ""))
        if not events:
            console.print("  (none)")


@context_app.command("suitability")
def suitability(
    article_type: Annotated[str, typer.Argument(help="Article type, e.g. Dress, Coat, Shorts.")],
    temp: Annotated[float, typer.Option(help="Temperature in °C.")],
    colour: Annotated[str, typer.Option(help="Colour name.")] = "",
    material: Annotated[str, typer.Option(help="Material, e.g. linen, wool.")] = "",
    rain: Annotated[float | None, typer.Option(help="Rain in mm.")] = None,
    city: Annotated[str | None, typer.Option(help="City, for the reason.")] = None,
    model: Annotated[Path | None, typer.Option(help="Model JSON; the shipped one by default.")] = None,
) -> None:
    """Score how well an item suits the weather, with the reason shoppers would see."""
    m = SuitabilityModel.load(model) if model else SuitabilityModel.default()
    item = Item("cli", f"{material} {article_type}".strip(), "", article_type, 0.0, colour=colour, material=material)
    s = m.score(item, temp, rain, city=city)
    typer.echo(json.dumps({"score": round(s.score, 3), "reason": s.reason, "beta_per_c": round(s.beta, 4),
                           "known_type": s.known_type}, ensure_ascii=False))


@context_app.command("learn-suitability")
def learn(
    data_dir: Annotated[Path | None, typer.Option(help="Folder with myntra/ and hm/ (../shared/data by default).")] = None,
    out: Annotated[Path, typer.Option(help="Where to write the model JSON.")] = Path(DEFAULT_MODEL_FILE),
    week_city: Annotated[str, typer.Option(help="City whose weekly normals date H&M's sales.")] = "Stockholm",
) -> None:
    """Relearn the season-suitability model from Myntra styles and H&M sales."""
    from fitloop.datasets import hm, myntra

    console = Console(stderr=True)
    with console.status("reading Myntra styles and H&M sales"):
        styles = myntra.load_styles(data_dir)
        tx = hm.load_transactions(data_dir)
        arts = hm.load_articles(data_dir)
    with console.status("learning"):
        model = learn_suitability(styles, tx, arts, week_temperatures(week_city), SuitabilityConfig())
    model.save(out)
    console.print(f"wrote {out}: {len(model.types)} article types, {len(model.materials)} materials")


def register(app: typer.Typer) -> None:
    """Add ``fitloop context …`` to the main app."""
    app.add_typer(context_app, name="context")
