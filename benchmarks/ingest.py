"""Ingest throughput and latency against a real ``fitloop serve`` (uvicorn, one worker).

For each store (SQLite in WAL mode with synchronous=FULL, and PostgreSQL when
reachable) and each mode (batches of 50 events on ``/v1/batch``, single events
on ``/v1/track``) it runs a closed-loop load for ``--seconds`` after a warm-up,
with the load generator on the same machine, and prints sustained events/s
and p50/p99 request latency. Every request is acknowledged only after a
durable commit; at the end the script checks that the store holds exactly
the acknowledged events.

    python benchmarks/ingest.py                      # SQLite and PostgreSQL, 15 s per run
    python benchmarks/ingest.py --stores sqlite --seconds 5
    python benchmarks/ingest.py --stores sqlite --modes batch50 --batch-connections 4,8,16   # latency vs. load

The load is closed-loop: each connection sends its next request when the previous one is answered, so
the latency is roughly (connections x events per request) / throughput (Little's law). The p99 of a run
with 16 connections therefore says as much about the chosen concurrency as about the server; the
``--batch-connections`` sweep shows the latency at each concurrency, and the load average of each run
is printed with it (the machine may be shared).

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio
streams (TCP_NODELAY), so that it costs the server's two cores as little as
possible; it still shares them, so the figures are a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fitloop.config import Settings
from fitloop.services.ingest import hash_write_key
from fitloop.testing.server import free_port, start_serve
from fitloop.wiring import Container, build

PG_ADMIN = os.environ.get("FITLOOP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class Result:
    store: str
    mode: str
    connections: int
    seconds: float
    requests: int
    events: int
    p50_ms: float
    p99_ms: float
    errors: int
    stored_ok: bool
    server_cpu_us: float  # server process CPU (user+system) per acknowledged event, measured window only
    load_avg: float = 0.0  # 1-minute load average at the end of the run

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds


@contextmanager
def _container_for(env: dict[str, str]) -> Iterator[Container]:
    """A container on the server's store: ``env`` applied to this process while it is built and used."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        ctr = build(Settings())
        try:
            yield ctr
        finally:
            ctr.close()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_source(env: dict[str, str]) -> str:
    """Create a source in the target store (same settings as the server) and return its write key."""
    with _container_for(env) as ctr:
        assert ctr.ingest is not None
        _, key, _ = ctr.ingest.add_source(f"bench-{uuid.uuid4().hex[:6]}", "bench@example.com")
        return key


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc): independent of how busy the rest of the machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _msg(i: int) -> str:
    return (f'{{"type":"track","event":"product_viewed","messageId":"{uuid.uuid4().hex}","anonymousId":"anon-{i % 5000}",'
            f'"properties":{{"item_id":"sku-{i % 20000}","position":{i % 24},"list_id":"home"}}}}')


async def _client(port: int, path: str, auth: str, per_request: int, stop_at: float, warm_until: float,
                  lat: list[float], counts: list[int], acked: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    i = 0
    while time.monotonic() < stop_at:
        if per_request == 1:
            body = _msg(i).encode()
        else:
            body = ('{"batch":[' + ",".join(_msg(i + k) for k in range(per_request)) + "]}").encode()
        i += per_request
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        t0 = time.monotonic()
        writer.write(head + body)
        await writer.drain()
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        t1 = time.monotonic()
        ok = status_line.split(b" ")[1] == b"200"
        acked[0] += per_request if ok else 0
        if t0 >= warm_until:
            lat.append(t1 - t0)
            counts[0] += per_request if ok else 0
            counts[1] += 0 if ok else 1
    writer.close()


async def _load(port: int, path: str, auth: str, per_request: int, connections: int, seconds: float,
                warmup: float, pid: int) -> tuple[list[float], int, int, int, float]:
    lat: list[float] = []
    counts = [0, 0]
    acked = [0]
    start = time.monotonic()
    cpu: list[float] = []

    async def probe() -> None:
        await asyncio.sleep(warmup)
        cpu.append(cpu_seconds(pid))
        await asyncio.sleep(seconds)
        cpu.append(cpu_seconds(pid))

    await asyncio.gather(probe(), *(_client(port, path, auth, per_request, start + warmup + seconds, start + warmup, lat,
                                            counts, acked) for _ in range(connections)))
    return lat, counts[0], counts[1], acked[0], cpu[1] - cpu[0]


def run_one(store: str, env: dict[str, str], mode: str, connections: int, seconds: float, warmup: float) -> Result:
    key = make_source(env)
    port = free_port()
    proc = start_serve(env, port)
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    per_request, path = (50, "/v1/batch") if mode == "batch50" else (1, "/v1/track")
    try:
        lat, events, errors, acked, cpu = asyncio.run(_load(port, path, auth, per_request, connections, seconds, warmup,
                                                            proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    stored = stored_count(env, key)
    arr = np.array(lat) * 1000
    return Result(store, mode, connections, seconds, len(lat), events, float(np.percentile(arr, 50)),
                  float(np.percentile(arr, 99)), errors, stored == acked, cpu / max(events, 1) * 1e6,
                  os.getloadavg()[0])


def stored_count(env: dict[str, str], key: str) -> int:
    with _container_for(env) as ctr:
        assert ctr.stores.sources is not None
        src = ctr.stores.sources.by_key_hash(hash_write_key(key))
        assert src is not None
        return ctr.stores.events.count(source=src.name)


def pg_database() -> tuple[str, str] | None:
    from sqlalchemy import create_engine, text

    name = f"fitloop_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL not reachable ({type(exc).__name__}); skipping it")
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, name


def drop_pg(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _connection_counts(text: str) -> list[int]:
    """``"4,8,16"`` → ``[4, 8, 16]``; a clear message for anything else.

    >>> _connection_counts("4, 8,16")
    [4, 8, 16]
    """
    try:
        counts = [int(x) for x in text.split(",")]
    except ValueError:
        raise SystemExit(f"connection counts are whole numbers separated by commas, e.g. 4,8,16; got {text!r}") from None
    if not counts or min(counts) < 1:
        raise SystemExit(f"connection counts must be at least 1; got {text!r}")
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stores", default="sqlite,postgresql")
    ap.add_argument("--modes", default="batch50,single")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--batch-connections", default="16",
                    help="Concurrent connections for batches; a comma-separated list runs each (e.g. 4,8,16).")
    ap.add_argument("--single-connections", default="64", help="Concurrent connections for single events (list too).")
    ap.add_argument("--privacy-gate", action="store_true",
                    help="Run with the privacy gate on (events of shoppers without consent are then withheld, "
                         "so 'stored = acknowledged' no longer holds); default: the collector alone.")
    args = ap.parse_args()
    results: list[Result] = []
    tmp = Path(tempfile.mkdtemp(prefix="fitloop-bench-"))
    base_env = {"FITLOOP_DEMO": "1", "FITLOOP_HOME": str(tmp), "FITLOOP_LOG_LEVEL": "WARNING", "FITLOOP_REDIS_URL": "",
                "FITLOOP_PRIVACY_GATE": "1" if args.privacy_gate else "0"}
    try:
        for store in args.stores.split(","):
            pg = None
            if store == "sqlite":
                env = {**base_env, "FITLOOP_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}"}
            else:
                pg = pg_database()
                if pg is None:
                    continue
                env = {**base_env, "FITLOOP_DATABASE_URL": pg[0]}
            try:
                for mode in args.modes.split(","):
                    counts = args.batch_connections if mode == "batch50" else args.single_connections
                    for conns in _connection_counts(counts):
                        r = run_one(store, env, mode, conns, args.seconds, args.warmup)
                        results.append(r)
                        print(f"{store:10s} {mode:8s} {conns:3d} conns {r.events_per_s:10,.0f} events/s  "
                              f"p50 {r.p50_ms:6.1f} ms  p99 {r.p99_ms:6.1f} ms  errors {r.errors}  "
                              f"stored==acked {r.stored_ok}  server CPU {r.server_cpu_us:.0f} us/event  "
                              f"load {r.load_avg:.1f}", flush=True)
            finally:
                if pg is not None:
                    drop_pg(pg[1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load generator on the same machine; {args.seconds:.0f} s per run after {args.warmup:.0f} s warm-up")
    print()
    print(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    print()
    print("| store | mode | connections | events/s | requests/s | p50 ms | p99 ms | errors | stored = acknowledged "
          "| server CPU µs/event | events/s per busy core | load avg (1 min) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in results:
        print(f"| {r.store} | {r.mode} | {r.connections} | {r.events_per_s:,.0f} | {r.requests / r.seconds:,.0f} | "
              f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors} | {'yes' if r.stored_ok else 'NO'} | "
              f"{r.server_cpu_us:.0f} | {1e6 / max(r.server_cpu_us, 1e-9):,.0f} | {r.load_avg:.1f} |")


if __name__ == "__main__":
    main()
