"""Serving latency for k=12 on the full H&M catalog: in-process, and over HTTP with ``--http``.

In-process (default): trains the pipeline on the H&M sample (or loads a bundle with ``--bundle DIR``),
then times ``Recommender.recommend`` for a mix of known and unknown shoppers, with and without the
stock/exclude filters, and prints a table with the machine and data size.

Over HTTP (``--http``): prepares a FITLOOP_HOME (``--home DIR``, reused between runs) with the H&M
catalog and customers in SQLite and an active recommender trained on H&M transactions, starts a real
``fitloop serve`` process (uvicorn, 1 worker) with re-ranking off and then on, and drives
``GET /v1/recommendations`` with a keep-alive HTTP/1.1 client; reports p50/p90/p99/p99.9, requests/s,
the server's CPU time per request (from /proc) and the load average while measuring.

``--md FILE`` also writes the table as Markdown; each mode rewrites only its own section of the file.

    /work/venv/bin/python benchmarks/serve.py [--data-dir DIR] [--bundle models/] [--n 20000] [--md docs/benchmarks/serve.md]
    /work/venv/bin/python benchmarks/serve.py --http --home /tmp/fitloop-serve-home [--n 5000] [--concurrency 4] \\
        [--rerank both|off|on] [--md docs/benchmarks/serve.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from fitloop.data import Item
from fitloop.testing.server import free_port


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000.0, q))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--bundle", default=None, help="Serve this bundle root instead of training one.")
    ap.add_argument("--n", type=int, default=None, help="Timed calls per scenario (default 20000; --http: 5000).")
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--md", default=None, help="Also write the table as Markdown here.")
    ap.add_argument("--http", action="store_true", help="Measure GET /v1/recommendations from `fitloop serve`.")
    ap.add_argument("--home", default=None, help="HTTP mode: FITLOOP_HOME to prepare once and reuse.")
    ap.add_argument("--concurrency", type=int, default=1, help="HTTP mode: also measure with N client threads.")
    ap.add_argument("--warmup", type=int, default=500, help="HTTP mode: warm-up requests per row.")
    ap.add_argument("--rerank", choices=("both", "off", "on"), default="both",
                    help="HTTP mode: server configurations to measure.")
    args = ap.parse_args(argv)
    if args.http:
        args.n = args.n or 5000
        return main_http(args)
    args.n = args.n or 20000

    from fitloop.data import Context
    from fitloop.recommend import load_bundle, save_bundle, train_recommender
    from fitloop.recommend.frames import articles_frame, transactions_frame

    t0 = time.perf_counter()
    if args.bundle:
        root = Path(args.bundle)
        train_s = float("nan")
    else:
        from fitloop.datasets import hm

        tx = transactions_frame(hm.load_transactions(args.data_dir))
        items = articles_frame(hm.load_articles(args.data_dir))
        rec = train_recommender(tx, items)
        train_s = time.perf_counter() - t0
        root = Path(tempfile.mkdtemp(prefix="fitloop-bench-"))
        save_bundle(rec, root)
    t1 = time.perf_counter()
    rec = load_bundle(root)
    load_s = time.perf_counter() - t1

    rnd = random.Random(0)
    known = rec.user_ids
    users = [rnd.choice(known) if rnd.random() < 0.8 else f"new-{i}" for i in range(args.n)]
    out_of_stock = set(rnd.sample(rec.item_ids, len(rec.item_ids) // 10))
    exclude = set(rnd.sample(rec.item_ids, 50))
    ctx = Context(channel="web")
    scenarios = {
        "known 80% / unknown 20%, no filters": lambda u: rec.recommend(u, args.k),
        "same, with context, exclude (50) and in_stock (10% out)": lambda u: rec.recommend(
            u, args.k, context=ctx, exclude=exclude, in_stock=lambda i: i not in out_of_stock),
    }
    rows = []
    for name, fn in scenarios.items():
        for u in users[:1000]:  # warm-up
            fn(u)
        lat = []
        for u in users:
            s = time.perf_counter()
            fn(u)
            lat.append(time.perf_counter() - s)
        rows.append((name, _pct(lat, 50), _pct(lat, 99), _pct(lat, 99.9), float(np.mean(lat) * 1000)))

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    head = [
        "# Serving latency: `Recommender.recommend` in-process",
        "",
        f"Machine: {machine}. Catalog: {len(rec.item_ids):,} articles; {len(known):,} shoppers with a precomputed list; "
        f"k = {args.k}; {args.n:,} timed calls per scenario. Bundle load: {load_s:.2f} s"
        + (f"; training: {train_s:.0f} s" if np.isfinite(train_s) else "") + ".",
        f"Load average while measuring (other jobs on the machine): {os.getloadavg()[0]:.1f}.",
        "Command: `fitloop train --dataset hm --models-dir models && "
        "/work/venv/bin/python benchmarks/serve.py --bundle models --md docs/benchmarks/serve.md` "
        "(without `--bundle` it trains first). Known shoppers are served from their precomputed ranked list "
        "(the ranking itself runs at training time); unknown ones from the channel's popular list.",
        "",
        "| scenario | p50 ms | p99 ms | p99.9 ms | mean ms |",
        "|---|---|---|---|---|",
    ]
    table = [f"| {n} | {a:.3f} | {b:.3f} | {c:.3f} | {d:.3f} |" for n, a, b, c, d in rows]
    text = "\n".join(head + table) + "\n\nTarget: p99 under 10 ms for k = 12 on the 2-core machine.\n"
    print(text)
    if args.md:
        _write_md(Path(args.md), text, http=False)
    return 0


# ---------------------------------------------------------------------------------------------- HTTP mode
# The HTTP mode serves the same H&M catalog through a real ``fitloop serve`` process: a prepared
# FITLOOP_HOME (SQLite store with the catalog and shoppers, an active recommender bundle), one
# uvicorn worker, and a keep-alive HTTP/1.1 client on the same machine.

HOME_MARKER = "bench-home.json"
#: Raw ids (as the shop knows them) of the shoppers whose pseudonyms have a personal list in the bundle.
KNOWN_FILE = "bench-known-shoppers.txt"
HTTP_MARKER = "<!-- serve.py --http writes below this line -->"
#: Hand-written notes under this line (in the HTTP section) survive a rerun of ``--http --md``.
NOTES_MARKER = "<!-- notes: kept by serve.py -->"


def hm_catalog_items(articles: pd.DataFrame, transactions: pd.DataFrame) -> list[Item]:
    """H&M articles as catalog :class:`~fitloop.data.Item`s (no sizes; H&M publishes none).

    Price: the article's median transaction price ×1000 (the published prices are scaled), else the
    median over its product type, else over everything.

    >>> arts = pd.DataFrame({"article_id": ["0000000001", "0000000002"], "prod_name": ["Tee", "Tee 2"],
    ...     "product_group_name": ["Garment Upper body"] * 2, "product_type_name": ["T-shirt"] * 2,
    ...     "colour_group_name": ["Black", "White"], "graphical_appearance_name": ["Solid"] * 2,
    ...     "product_code": ["0000000", "0000000"], "detail_desc": ["Cotton", None]})
    >>> tx = pd.DataFrame({"article_id": ["0000000001"], "price": [0.0169]})
    >>> [(it.item_id, it.price, it.description) for it in hm_catalog_items(arts, tx)]
    [('0000000001', 16.9, 'Cotton'), ('0000000002', 16.9, '')]
    """
    med = transactions.groupby("article_id")["price"].median() * 1000.0
    price = articles["article_id"].map(med).astype(float)
    price = price.fillna(price.groupby(articles["product_type_name"]).transform("median"))
    overall = float(price.median()) if price.notna().any() else 20.0
    price = price.fillna(overall).round(2)

    def text(col: str) -> list[str]:
        return ["" if pd.isna(v) else str(v) for v in articles[col]] if col in articles else [""] * len(articles)

    cols = {c: text(c) for c in ("article_id", "prod_name", "product_group_name", "product_type_name",
                                 "colour_group_name", "graphical_appearance_name", "product_code", "detail_desc")}
    return [
        Item(item_id=cols["article_id"][i], title=cols["prod_name"][i], category=cols["product_group_name"][i],
             article_type=cols["product_type_name"][i], price=float(p), colour=cols["colour_group_name"][i],
             pattern=cols["graphical_appearance_name"][i], product_code=cols["product_code"][i],
             description=cols["detail_desc"][i])
        for i, p in enumerate(price.tolist())
    ]


def prepare_home(home: Path, articles: pd.DataFrame, transactions: pd.DataFrame,
                 customer_ids: list[str]) -> dict[str, Any]:
    """Fill ``home`` (a FITLOOP_HOME) with the catalog, the shoppers and an active trained recommender.

    Shoppers enter as an import would bring them: under the installation's pseudonyms (the server
    pseudonymises the ``user_id`` a request names, so a bundle trained on raw H&M ids would serve every
    shopper as a new one). The raw ids whose pseudonyms have a personal list go to ``KNOWN_FILE``: the
    benchmark's client names shoppers by them, like a shop does.

    Idempotent: a home that already holds ``bench-home.json`` is reused as it is (delete it to rebuild).
    Returns what the marker records: counts, the bundle version and how long each step took.
    """
    from fitloop.config import Settings
    from fitloop.data import User
    from fitloop.recommend import save_bundle, train_recommender
    from fitloop.recommend.frames import articles_frame, transactions_frame
    from fitloop.services.recommend import MODEL_NAME
    from fitloop.wiring import build_privacy, build_stores

    marker = home / HOME_MARKER
    if marker.exists():
        return json.loads(marker.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=home, demo=True, database_url="", redis_url=None).with_secrets()
    stores = build_stores(settings)
    try:
        pseudonym = build_privacy(settings, stores).pseudonymise
        t0 = time.perf_counter()
        items = hm_catalog_items(articles, transactions)
        stores.catalog.upsert_items(items)
        raw_users = sorted(set(customer_ids) | set(transactions["customer_id"].astype(str)))
        of = {u: pseudonym(u) for u in raw_users}
        stores.users.upsert_users([User(of[u]) for u in raw_users])
        tx = transactions.assign(customer_id=transactions["customer_id"].astype(str).map(of))
        t1 = time.perf_counter()
        rec = train_recommender(transactions_frame(tx), articles_frame(articles))
        t2 = time.perf_counter()
        root = home / "models" / MODEL_NAME
        version = save_bundle(rec, root)
        meta = {"n_items": len(items), "n_users": len(raw_users), "n_transactions": int(len(transactions)),
                "source": "benchmarks/serve.py --http", "pseudonymised": True}
        stores.models.register(MODEL_NAME, version, str(root / version), meta, activate=True)
        with_list = set(rec.user_ids)
        (home / KNOWN_FILE).write_text("\n".join(u for u in raw_users if of[u] in with_list) + "\n", encoding="utf-8")
    finally:
        stores.close()
    info = {**meta, "version": version, "load_s": round(t1 - t0, 1), "train_s": round(t2 - t1, 1)}
    marker.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return info


def fitloop_command() -> list[str]:
    """How to run the ``fitloop`` CLI of this interpreter's environment."""
    script = Path(sys.executable).with_name("fitloop")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from fitloop.cli import main; sys.argv[0] = 'fitloop'; main()"]


class Server:
    """A ``fitloop serve`` subprocess on ``home``; ``with Server(...) as s`` waits for /readyz 200."""

    def __init__(self, home: Path, *, rerank: bool, port: int | None = None, extra_env: dict[str, str] | None = None,
                 ready_timeout_s: float = 600.0) -> None:
        self.home, self.rerank = home, rerank
        self.port = port or free_port()
        self.ready_timeout_s = ready_timeout_s
        env = {k: v for k, v in os.environ.items() if k not in ("FITLOOP_DATABASE_URL", "FITLOOP_REDIS_URL")}
        env.update({"FITLOOP_HOME": str(home), "FITLOOP_DEMO": "1", "FITLOOP_RERANK": "1" if rerank else "0"})
        env.update(extra_env or {})
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s = float("nan")
        self.log_path = home / f"serve-{'rerank' if rerank else 'plain'}.log"

    def __enter__(self) -> Server:
        t0 = time.perf_counter()
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen([*fitloop_command(), "serve", "--port", str(self.port)], env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            if self.proc.poll() is not None:
                self._log.close()
                raise RuntimeError(f"fitloop serve exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with HttpClient("127.0.0.1", self.port, timeout_s=5) as probe:
                    status, _ = probe.get("/readyz")
                # Ready means the stores answer; the model (and re-ranking chain) load in the lifespan
                # start, before uvicorn accepts connections, so the first answer is a served one.
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"fitloop serve not ready after {self.ready_timeout_s:.0f} s; see {self.log_path}")
            time.sleep(0.2)
        self.startup_s = time.perf_counter() - t0
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # graceful: flushes queued impression writes
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def proc_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds user+system, resident set size in bytes) of ``pid`` from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14, 15 of stat(5))
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


class HttpClient:
    """A minimal keep-alive HTTP/1.1 GET client over one TCP connection (TCP_NODELAY).

    Minimal on purpose: the client shares the machine's two cores with the server, so it should
    cost as little CPU as possible. It understands Content-Length bodies (what the API sends).
    """

    def __init__(self, host: str, port: int, timeout_s: float = 30.0) -> None:
        self.host = host
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def get(self, target: str) -> tuple[int, bytes]:
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\nAccept: application/json\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
        if "content-length" not in headers:
            raise ConnectionError(f"response without Content-Length: {lines[0]}")
        n = int(headers["content-length"])
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body


def request_targets(known: list[str], n: int, k: int, *, known_share: float = 0.8, seed: int = 0) -> list[str]:
    """``n`` request paths for GET /v1/recommendations: ``known_share`` known shoppers, the rest new ids.

    >>> request_targets(["a"], 3, 12, known_share=1.0)
    ['/v1/recommendations?user_id=a&k=12', '/v1/recommendations?user_id=a&k=12', '/v1/recommendations?user_id=a&k=12']
    """
    rnd = random.Random(seed)
    users = [rnd.choice(known) if known and rnd.random() < known_share else f"new-{seed}-{i}" for i in range(n)]
    return [f"/v1/recommendations?user_id={quote(u)}&k={k}" for u in users]


def drive(port: int, targets: list[str], *, concurrency: int = 1) -> tuple[list[float], float, int]:
    """Send ``targets`` over ``concurrency`` keep-alive connections; (latencies s, wall s, non-200 count)."""
    parts = [targets[i::concurrency] for i in range(concurrency)]
    lat: list[list[float]] = [[] for _ in parts]
    bad = [0] * concurrency

    def worker(j: int) -> None:
        with HttpClient("127.0.0.1", port) as client:
            for t in parts[j]:
                s = time.perf_counter()
                status, _ = client.get(t)
                lat[j].append(time.perf_counter() - s)
                bad[j] += status != 200

    t0 = time.perf_counter()
    if concurrency == 1:
        worker(0)
    else:
        threads = [threading.Thread(target=worker, args=(j,)) for j in range(concurrency)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    return [x for xs in lat for x in xs], time.perf_counter() - t0, sum(bad)


def _write_md(path: Path, text: str, *, http: bool) -> None:
    """Write one section of the Markdown file, keeping the other (in-process above the marker, HTTP below).

    In the HTTP section, hand-written notes after :data:`NOTES_MARKER` are kept as they are.
    """
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    top, _, bottom = old.partition(HTTP_MARKER)
    if http:
        _, marked, notes = bottom.partition(NOTES_MARKER)
        out = top.rstrip() + "\n\n" + HTTP_MARKER + "\n\n" + text + (marked + notes if marked else "")
    else:
        out = text + ("\n" + HTTP_MARKER + bottom if bottom else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out, encoding="utf-8")


def main_http(args: argparse.Namespace) -> int:
    from fitloop.datasets import hm

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="fitloop-serve-home-"))
    t0 = time.perf_counter()
    if not (home / HOME_MARKER).exists():
        print(f"preparing {home} (catalog, shoppers, recommender)…", flush=True)
        tx = hm.load_transactions(args.data_dir)
        info = prepare_home(home, hm.load_articles(args.data_dir), tx,
                            hm.load_customers(args.data_dir)["customer_id"].astype(str).tolist())
        print(f"prepared in {time.perf_counter() - t0:.0f} s: {info}", flush=True)
    info = json.loads((home / HOME_MARKER).read_text(encoding="utf-8"))
    if not info.get("pseudonymised") or not (home / KNOWN_FILE).exists():
        raise SystemExit(f"{home} was prepared before shoppers were pseudonymised (every request would be a new "
                         "shopper to the model): delete it and rerun to prepare it again")
    known = (home / KNOWN_FILE).read_text(encoding="utf-8").split()
    configs = {"off": [False], "on": [True], "both": [False, True]}[args.rerank]
    rows = []
    notes = []
    for rerank in configs:
        name = "re-ranking on" if rerank else "re-ranking off"
        with Server(home, rerank=rerank) as srv:
            cpu0, rss0 = proc_stats(srv.pid)
            print(f"{name}: ready in {srv.startup_s:.1f} s (server CPU {cpu0:.1f} s, RSS {rss0 / 2**20:.0f} MiB)",
                  flush=True)
            for conc in sorted({1, args.concurrency}):
                warm = request_targets(known, args.warmup, args.k, seed=1000 + conc)
                drive(srv.port, warm, concurrency=conc)
                targets = request_targets(known, args.n, args.k, seed=conc)
                load0 = os.getloadavg()[0]
                c0, _ = proc_stats(srv.pid)
                lat, wall, bad = drive(srv.port, targets, concurrency=conc)
                c1, rss = proc_stats(srv.pid)
                load1 = os.getloadavg()[0]
                row = (name, conc, _pct(lat, 50), _pct(lat, 90), _pct(lat, 99), _pct(lat, 99.9), max(lat) * 1000.0,
                       len(lat) / wall, (c1 - c0) / len(lat) * 1000.0, max(load0, load1), bad)
                rows.append(row)
                print("  concurrency {1}: p50 {2:.2f} p90 {3:.2f} p99 {4:.2f} p99.9 {5:.2f} max {6:.1f} ms, "
                      "{7:.0f} req/s, server CPU {8:.2f} ms/req, load {9:.1f}, non-200: {10}".format(*row), flush=True)
            notes.append(f"{name}: ready {srv.startup_s:.1f} s after start (server CPU then {cpu0:.1f} s, "
                         f"RSS {rss0 / 2**20:.0f} MiB; RSS after measuring {rss / 2**20:.0f} MiB)")

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    head = [
        "# Serving latency over HTTP: `GET /v1/recommendations` from `fitloop serve`",
        "",
        f"Machine: {machine}; client and server on the same machine. Catalog: {info['n_items']:,} H&M articles in "
        f"SQLite; {info['n_users']:,} shoppers; {len(known):,} with a precomputed list; k = {args.k}; "
        f"{args.n:,} timed requests per row after {args.warmup:,} warm-up requests; 80 % known shoppers, "
        "20 % unknown ids.",
        "Command: `/work/venv/bin/python benchmarks/serve.py --http --home /tmp/fitloop-serve-home "
        f"--n {args.n} --concurrency {args.concurrency} --warmup {args.warmup} --md docs/benchmarks/serve.md` "
        "(the first run prepares the home: catalog, shoppers, a recommender trained on H&M transactions; "
        "later runs reuse it).",
        "Server: one `fitloop serve` process (uvicorn, 1 worker), FITLOOP_DEMO=1, SQLite store; "
        "re-ranking off = recommender + stock filter + merchandising rules + consent check; "
        "on = also context boost, exposure memory, MMR diversity and the LinUCB bandit (FITLOOP_RERANK=1). "
        "Client: keep-alive HTTP/1.1 over a raw socket with TCP_NODELAY; concurrency N = N threads, "
        "one connection each.",
        "",
        "| server | concurrency | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | requests/s "
        "| server CPU ms/request | load avg (1 min) | non-200 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    table = ["| {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.1f} | {:.0f} | {:.2f} | {:.1f} | {} |".format(*r)
             for r in rows]
    tail = ["", "Startup: " + "; ".join(notes) + ".",
            "", "Target: p99 under 30 ms over HTTP for k = 12 on the 2-core machine.", ""]
    text = "\n".join(head + table + tail)
    print(text)
    if args.md:
        _write_md(Path(args.md), text, http=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
