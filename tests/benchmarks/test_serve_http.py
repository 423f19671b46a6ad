"""Functional checks of the helpers behind ``benchmarks/serve.py --http`` on a tiny synthetic H&M home.

No timing is asserted here: speed is what the benchmark script reports, not what a test checks.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "serve.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fitloop_bench_serve", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclass/typing machinery looks the module up by name
    spec.loader.exec_module(mod)
    return mod


def _tiny_hm(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    rng = np.random.default_rng(seed)
    n_items, n_users, n_tx = 60, 40, 900
    types = ["Trousers", "Sweater", "T-shirt", "Dress"]
    articles = pd.DataFrame({
        "article_id": [f"{i:010d}" for i in range(1, n_items + 1)],
        "product_code": [f"{i // 2:07d}" for i in range(1, n_items + 1)],
        "prod_name": [f"Article {i}" for i in range(n_items)],
        "product_type_name": [types[i % 4] for i in range(n_items)],
        "product_group_name": ["Garment Upper body" if i % 4 in (1, 2) else "Garment Lower body"
                               for i in range(n_items)],
        "colour_group_name": [["Black", "White", "Blue"][i % 3] for i in range(n_items)],
        "graphical_appearance_name": ["Solid"] * n_items,
        "detail_desc": [None if i % 5 == 0 else f"Soft cotton {i}" for i in range(n_items)],
        "department_name": ["Dept"] * n_items,
        "section_name": ["Section"] * n_items,
        "garment_group_name": ["Jersey"] * n_items,
        "index_name": ["Ladieswear"] * n_items,
        "perceived_colour_master_name": ["Black"] * n_items,
    })
    users = [f"raw-shopper-{u:03d}" for u in range(n_users)]  # cannot occur by chance in hex pseudonyms
    sold = rng.integers(0, n_items - 10, n_tx)  # the last 10 articles never sell: they get a type median price
    tx = pd.DataFrame({
        "t_dat": pd.Timestamp("2020-03-01") + pd.to_timedelta(rng.integers(0, 90, n_tx), unit="D"),
        "customer_id": [users[u] for u in rng.integers(0, n_users - 5, n_tx)],
        "article_id": articles["article_id"].to_numpy()[sold],
        "price": rng.uniform(0.01, 0.05, n_tx).round(4),
        "sales_channel_id": rng.integers(1, 3, n_tx),
    })
    return articles, tx, users


def test_catalog_items_keep_every_article_with_a_price(bench: ModuleType) -> None:
    articles, tx, _ = _tiny_hm()
    items = bench.hm_catalog_items(articles, tx)
    assert [it.item_id for it in items] == articles["article_id"].tolist()
    by_id = {it.item_id: it for it in items}
    sold = tx.groupby("article_id")["price"].median() * 1000
    for aid, p in sold.items():
        assert by_id[aid].price == pytest.approx(round(p, 2))
    unsold = [it for it in items if it.item_id not in sold.index]
    assert unsold and all(it.price > 0 and it.variants == () for it in unsold)
    assert by_id["0000000001"].description == ""  # a missing detail_desc is empty text, not "nan"
    assert by_id["0000000002"].article_type == "Sweater" and by_id["0000000002"].product_code == "0000001"


def test_markdown_sections_are_rewritten_independently(bench: ModuleType, tmp_path: Path) -> None:
    md = tmp_path / "serve.md"
    bench._write_md(md, "# in-process v1\n", http=False)
    bench._write_md(md, "# http v1\n", http=True)
    bench._write_md(md, "# in-process v2\n", http=False)
    text = md.read_text()
    assert "in-process v2" in text and "http v1" in text and "v1\n" not in text.split(bench.HTTP_MARKER)[0]
    bench._write_md(md, "# http v2\n", http=True)
    text = md.read_text()
    assert "in-process v2" in text and "http v2" in text and "http v1" not in text
    assert text.count(bench.HTTP_MARKER) == 1
    md.write_text(text + bench.NOTES_MARKER + "\nnotes by hand\n")
    bench._write_md(md, "# http v3\n", http=True)
    text = md.read_text()
    assert "http v3" in text and "http v2" not in text and text.endswith(bench.NOTES_MARKER + "\nnotes by hand\n")


def test_request_targets_mix_known_and_unknown_shoppers(bench: ModuleType) -> None:
    targets = bench.request_targets(["a b", "c"], 1000, 12, known_share=0.8, seed=5)
    assert len(targets) == 1000 and all(t.endswith("&k=12") for t in targets)
    known = sum(("user_id=a%20b&" in t) or ("user_id=c&" in t) for t in targets)
    assert 700 < known < 900
    assert bench.request_targets(["x"], 50, 12, seed=1) == bench.request_targets(["x"], 50, 12, seed=1)


def test_prepared_home_serves_over_http_with_and_without_reranking(bench: ModuleType, tmp_path: Path) -> None:
    articles, tx, users = _tiny_hm()
    home = tmp_path / "home"
    info = bench.prepare_home(home, articles, tx, users)
    assert info["n_items"] == 60 and info["n_users"] == 40
    assert json.loads((home / bench.HOME_MARKER).read_text())["version"] == info["version"]
    assert bench.prepare_home(home, pd.DataFrame(), pd.DataFrame(), []) == info  # reused, not rebuilt
    # The client names shoppers by the shop's ids; the home holds only their pseudonyms.
    known = (home / bench.KNOWN_FILE).read_text().split()
    assert known and set(known) <= set(users)
    db = (home / "fitloop.db").read_bytes()
    assert not any(u.encode() in db for u in users)

    for rerank in (False, True):
        with bench.Server(home, rerank=rerank, ready_timeout_s=120) as srv:
            cpu0, rss = bench.proc_stats(srv.pid)
            assert rss > 0
            targets = bench.request_targets(users, 40, 12, seed=2)
            lat, wall, bad = bench.drive(srv.port, targets, concurrency=2)
            assert bad == 0 and len(lat) == 40 and wall > 0
            with bench.HttpClient("127.0.0.1", srv.port) as client:
                status, body = client.get(targets[0])
            payload = json.loads(body)
            assert status == 200 and len(payload["items"]) == 12
            assert {it["item_id"] for it in payload["items"]} <= set(articles["article_id"])
            assert ("+bandit" in payload["policy_version"]) is rerank
            with bench.HttpClient("127.0.0.1", srv.port) as client:
                status, body = client.get(bench.request_targets(known, 1, 12, known_share=1.0)[0])
            assert status == 200 and json.loads(body)["cold_start"] is False  # a personal list, not the popular one
            assert bench.proc_stats(srv.pid)[0] >= cpu0
        assert srv.proc is not None and srv.proc.returncode is not None  # stopped on leaving the block
