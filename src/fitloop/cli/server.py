"""``fitloop serve`` and ``fitloop demo``."""

from __future__ import annotations

import gc
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from fitloop.api.app import create_app
from fitloop.cli._common import console, make_settings
from fitloop.config import Settings
from fitloop.wiring import Container, build


def _run_server(settings: Settings, host: str, port: int, container: Container | None = None) -> None:
    app = create_app(settings, container=container)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, server_header=False,
                            timeout_graceful_shutdown=5)
    # Ctrl-C (or SIGTERM) drains requests, runs the lifespan shutdown (flushing queued writes) and
    # returns here; a second Ctrl-C forces the exit.
    _QuietServer(config).run()


#: Collector thresholds while serving (CPython's defaults are 700, 10, 10).
SERVING_GC_THRESHOLDS = (20_000, 10, 100)
#: How long a thread may hold the GIL while another waits for it (CPython's default is 5 ms).
SERVING_SWITCH_INTERVAL_S = 0.0005


def tune_interpreter_for_serving() -> None:
    """Once the app has started: settings of the Python runtime that keep request latency low.

    * **Freeze the start-up heap.** Everything allocated so far (catalog, models, pydantic schemas, routes:
      a few hundred thousand objects) is moved out of the garbage collector's sight, and young
      collections run less often. A full collection walks every tracked object: with the start-up heap
      included it took 0.1-0.3 s here, during which no request is answered, which was the largest part
      of the ingest p99. Nearly all of these objects live as long as the process; one that dies later
      (a replaced model bundle) is still freed by reference counting, only a reference cycle among such
      objects would stay. Cyclic garbage made after start-up is collected as before.
    * **A shorter GIL switch interval.** The group committer (one thread) releases the GIL around every
      SQLite call (statements, the fsync of the commit) and must win it back from the event loop
      afterwards; with the default 5 ms it waited up to 5 ms about ten times per group commit, which
      doubled the commit time under load and, since every request waits for its commit, the latency.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)
    sys.setswitchinterval(SERVING_SWITCH_INTERVAL_S)


class _QuietServer(uvicorn.Server):
    """uvicorn re-raises the captured signal after a graceful shutdown, which prints a traceback on
    Ctrl-C; a shop's operator should see a clean stop instead."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        tune_interpreter_for_serving()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        def handle(sig: int, _frame: object) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    database_url: Annotated[str | None, typer.Option(help="Overrides FITLOOP_DATABASE_URL.")] = None,
) -> None:
    """Serve the API and pages; the store is chosen by FITLOOP_DATABASE_URL (and FITLOOP_REDIS_URL)."""
    settings = make_settings(database_url=database_url)
    console.print(f"fitloop serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs) — Ctrl-C stops")
    _run_server(settings, host, port)


def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Where the demo's SQLite file and models live.")] = Path("fitloop-data"),
    items: Annotated[int, typer.Option(min=50, max=200_000, help="Items in the simulated catalog.")] = 5000,
    shoppers: Annotated[int, typer.Option(min=20, max=200_000, help="Simulated shoppers.")] = 2000,
    events: Annotated[int, typer.Option(min=1000, max=10_000_000, help="Approximate number of events.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same shop.")] = 7,
    fresh: Annotated[bool, typer.Option(help="Delete the demo store and start over.")] = False,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve after loading (default) or exit.")] = True,
) -> None:
    """Generate a simulated fashion shop, load it into SQLite, train a first recommender and serve it."""
    from fitloop.evaluate.simulator import ShopConfig, SimulatedShop
    from fitloop.services.console_demo import DEMO_PASSWORD, prepare_console_demo
    from fitloop.services.profiles import OFFSET_DOC
    from fitloop.services.shop_loader import load_shop, simulated_sample
    from fitloop.services.training import train_from_stores

    t0 = time.perf_counter()
    if fresh and data_dir.exists():
        for name in ("fitloop.db", "fitloop.db-wal", "fitloop.db-shm"):
            (data_dir / name).unlink(missing_ok=True)
    # The demo is always the embedded SQLite store, whatever FITLOOP_DATABASE_URL says.
    settings = make_settings(data_dir=data_dir, database_url=f"sqlite:///{(data_dir / 'fitloop.db').as_posix()}",
                             demo=True, redis_url="")
    settings = settings.model_copy(update={"redis_url": None})
    container = build(settings)
    stores = container.stores
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console)
    with progress:
        if stores.catalog.count_items() == 0:
            task = progress.add_task("generating the simulated shop", total=None)
            shop = SimulatedShop.generate(ShopConfig(n_items=items, n_shoppers=shoppers, n_events=events, seed=seed))
            progress.update(task, total=1, completed=1,
                            description=f"generated {len(shop.items):,} items, {len(shop.shoppers):,} shoppers, "
                                        f"{len(shop.events):,} events")
            task = progress.add_task("loading into SQLite", total=len(shop.events))
            # An import is a boundary: the simulated shoppers' ids are stored as pseudonyms, like the API's.
            load_shop(stores, shop.items, shop.shoppers, shop.events.to_events(),
                      on_events=lambda n: progress.advance(task, n),
                      pseudonymise=container.privacy.pseudonymise if container.privacy is not None else None)
            # A randomised coupon campaign on the simulated shop, its true uplift kept: coupon targeting's trial.
            from fitloop.services.coupon_targeting import record_simulated_trial

            record_simulated_trial(stores, shop, seed=seed, pseudonymise=container.privacy.pseudonymise
                                   if container.privacy is not None else None)
        else:
            progress.add_task(f"reusing the shop in {data_dir} (--fresh starts over)", total=1, completed=1)
        if stores.models.active("recommender") is None:
            task = progress.add_task("training the first recommender", total=None)
            report = train_from_stores(stores, settings.model_path(),
                                       on_step=lambda msg: progress.update(task, description=f"training: {msg}"))
            progress.update(task, total=1, completed=1,
                            description=f"trained recommender {report.record.version} in {report.seconds:.1f}s")
        task = progress.add_task("preparing the console (demo logins, simulated consents)", total=None)
        demo_users = prepare_console_demo(stores, seed=seed)
        if not stores.profiles.get(OFFSET_DOC) and container.profiles is not None:
            progress.update(task, description="building shopper profiles")
            container.profiles.rebuild()
        if container.segments is not None and container.segments.current() is None:
            progress.update(task, description="finding segments")
            container.segments.build()
        progress.update(task, total=1, completed=1, description="console ready: profiles, segments, demo logins")
    if container.ingest is not None:
        container.ingest.demo_write_key()  # creates the "demo-shop" source whose public key the shop embeds
    # Show a shopper who consented to personalisation (some simulated shoppers opted out), by the shop's own
    # id: the recommendations endpoint pseudonymises what it is sent.
    personal = container.recommendations.personalised
    sample = None
    if container.privacy is not None:
        found = simulated_sample(stores, container.privacy.pseudonymise, 1, keep=personal)
        sample = found[0] if found else None
    console.print(f"\n[bold]Ready in {time.perf_counter() - t0:.0f}s.[/]")
    base = f"http://{host}:{port}"
    console.print(f"  landing page     {base}/")
    console.print(f"  demo shop        {base}/shop  (click around; events arrive live)")
    console.print(f"  API docs         {base}/docs")
    console.print(f"  console          {base}/console/  logins: {', '.join(sorted(demo_users))}"
                  f"  password: {DEMO_PASSWORD}")
    if sample:
        console.print(f"  recommendations  {base}/v1/recommendations?user_id={sample}&k=12")
    if not serve_api:
        container.close()
        return
    console.print("Ctrl-C stops the server.\n")
    try:
        _run_server(settings, host, port, container)
    finally:
        container.close()


def worker(
    database_url: Annotated[str | None, typer.Option(help="Overrides FITLOOP_DATABASE_URL.")] = None,
) -> None:
    """Keep shopper profiles current from the event log, in a process of its own.

    Run it next to `fitloop serve` started with FITLOOP_PROFILE_UPDATES=0 so the API processes spend
    their CPU on requests; a lease in the shared cache keeps a single updater active.
    """
    settings = make_settings(database_url=database_url)
    container = build(settings)
    if container.profiles is None:
        raise typer.Exit(1)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    container.profiles.start()
    console.print("fitloop worker: updating shopper profiles from the event log — Ctrl-C stops")
    try:
        stop.wait()
    finally:
        container.profiles.stop()
        container.close()


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)
    root.command("demo")(demo)
    root.command("worker")(worker)
