"""``fitloop train``, ``fitloop evaluate`` and ``fitloop recommend-batch``: the recommender on real data.

- ``fitloop train --dataset hm [--data-dir DIR] [--as-of YYYY-MM-DD] [--models-dir models]`` trains the
  whole pipeline and saves a versioned bundle (the API hot-reloads it).
- ``fitloop evaluate --dataset hm [--data-dir DIR] [--weeks 16] [--out reports/recommend]`` runs the rolling
  weekly backtest with the baselines and writes a table, PNG plots and an HTML report.
- ``fitloop recommend-batch --dataset hm --data-dir DIR --as-of YYYY-MM-DD --customers FILE --k 12
  --out FILE.csv`` trains on transactions up to and including the as-of date and writes
  ``customer_id,prediction`` (Kaggle submission format) for every listed customer.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console

from fitloop.datasets import hm
from fitloop.errors import InvalidInput
from fitloop.recommend.bundle import save_bundle
from fitloop.recommend.frames import articles_frame, transactions_frame
from fitloop.recommend.pipeline import Recommender, RecommenderConfig, train_recommender

__all__ = ["register", "read_customers", "write_predictions", "batch_predictions"]

_DATASETS = ("hm",)


def _date(value: str | None, option: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(pd.to_datetime(value, format="%Y-%m-%d"))
    except (ValueError, TypeError) as e:
        raise InvalidInput(f"{option} must be a date as YYYY-MM-DD, got {value!r}") from e


def _check_dataset(dataset: str) -> None:
    if dataset not in _DATASETS:
        raise InvalidInput(f"--dataset must be one of {list(_DATASETS)} (purchases with a catalog), got {dataset!r}")


def _config(path: Path | None) -> RecommenderConfig:
    if path is None:
        return RecommenderConfig()
    try:
        return RecommenderConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as e:
        raise InvalidInput(f"--config {path} is not a readable JSON recommender config: {e}") from e


def _load_hm(data_dir: Path | None, transactions: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    tx = hm.load_transactions(data_dir, path=transactions) if transactions is not None else hm.load_transactions(data_dir)
    return transactions_frame(tx), articles_frame(hm.load_articles(data_dir))


def read_customers(path: Path) -> list[str]:
    """Customer ids from a CSV with a ``customer_id`` column, or a headerless one-id-per-line file (order kept, duplicates dropped)."""
    if not path.is_file():
        raise InvalidInput(f"--customers file {path} does not exist")
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if not rows:
        raise InvalidInput(f"--customers file {path} lists no customers")
    header = [c.strip() for c in rows[0]]
    if "customer_id" in header:
        col = header.index("customer_id")
        ids = [r[col].strip() for r in rows[1:] if len(r) > col and r[col].strip()]
    else:
        if len(header) != 1:
            raise InvalidInput(f"--customers file {path} needs a 'customer_id' column or one id per line; "
                               f"its first line has {len(header)} fields and no customer_id header")
        ids = [r[0].strip() for r in rows if r[0].strip()]
    if not ids:
        raise InvalidInput(f"--customers file {path} lists no customers")
    return list(dict.fromkeys(ids))


def batch_predictions(rec: Recommender, customers: list[str], k: int) -> dict[str, list[str]]:
    """Exactly ``k`` item ids per customer: the personal list, popularity, then the catalog in order."""
    out = {}
    pad = rec.item_ids[: k * 4]
    for c in customers:
        ids = [s.item_id for s in rec.recommend(c, k)]
        if len(ids) < k:  # a tiny shop: fewer sold items than k
            ids += [i for i in dict.fromkeys(pad) if i not in ids][: k - len(ids)]
            if len(ids) < k:
                ids += [i for i in rec.item_ids if i not in ids][: k - len(ids)]
        out[c] = ids[:k]
    return out


def write_predictions(predictions: dict[str, list[str]], out: Path) -> None:
    """Write the Kaggle submission format: ``customer_id,prediction`` with space-separated ids."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["customer_id", "prediction"])
        for c, ids in predictions.items():
            w.writerow([c, " ".join(ids)])
    os.replace(tmp, out)


def train_cmd(
    dataset: Annotated[str, typer.Option(help="What to train on: 'store' (the shop's own events in "
                                              "FITLOOP_DATABASE_URL; the new bundle serves at once) or 'hm'.")] = "store",
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding hm/ (default: $FITLOOP_DATA_DIR or ../shared/data).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Train on behaviour up to and including this day (YYYY-MM-DD).")] = None,
    models_dir: Annotated[Path, typer.Option(help="Bundle root; a new version folder is added and CURRENT points at it.")] = Path("models"),
    config: Annotated[Path | None, typer.Option(help="JSON file with a RecommenderConfig (default settings otherwise).")] = None,
) -> None:
    """Train the recommender (candidate sources + LambdaRank) and save a versioned model bundle."""
    if dataset == "store":
        _train_store(config)
        return
    _check_dataset(dataset)
    cut = _date(as_of, "--as-of")
    console = Console(stderr=True)
    with console.status("reading H&M transactions and articles") as status:
        tx, items = _load_hm(data_dir)
        rec = train_recommender(tx, items, _config(config), as_of=cut, progress=lambda m: status.update(m))
    version = save_bundle(rec, models_dir)
    typer.echo(f"saved model bundle {version} under {models_dir} (trained until {rec.trained_until}, "
               f"{rec.info.get('n_users', 0):,} shoppers, {len(rec.item_ids):,} items)")
    top = list(rec.feature_importance.items())[:10]
    if top:
        typer.echo("top ranker features (gain): " + ", ".join(f"{k} {v:.0f}" for k, v in top))


def _train_store(config: Path | None) -> None:
    """Train on the installation's own store and activate the bundle (running servers hot-reload it)."""
    from fitloop.config import Settings
    from fitloop.services.training import train_from_stores
    from fitloop.wiring import build

    container = build(Settings())
    try:
        console = Console(stderr=True)
        with console.status("training on the store's events") as status:
            report = train_from_stores(container.stores, container.settings.model_path(), config=_config(config),
                                       on_step=lambda m: status.update(m))
    finally:
        container.close()
    typer.echo(f"trained and activated bundle {report.record.version} on {report.n_interactions:,} interactions "
               f"and {report.n_items:,} items in {report.seconds:.0f}s; servers pick it up within seconds")


def evaluate_cmd(
    dataset: Annotated[str, typer.Option(help="Data set to evaluate on (hm).")] = "hm",
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding hm/ (default: $FITLOOP_DATA_DIR or ../shared/data).")] = None,
    weeks: Annotated[int, typer.Option(help="Number of test weeks, ending at the last day of data.")] = 16,
    k: Annotated[int, typer.Option(help="List length (12 as in the Kaggle competition).")] = 12,
    out: Annotated[Path, typer.Option(help="Folder for report.html, PNG plots, per_week.csv and results.json.")] = Path("reports/recommend"),
    docs: Annotated[Path | None, typer.Option(help="Also write the Markdown summary here (e.g. docs/evaluation/recommend.md).")] = None,
    config: Annotated[Path | None, typer.Option(help="JSON file with a RecommenderConfig.")] = None,
    ablation: Annotated[bool, typer.Option(help="Also run the pipeline without the learned ranker (rank fusion).")] = True,
) -> None:
    """Rolling weekly backtest of the recommender and three popularity baselines, with a report."""
    from fitloop.evaluate.backtest import BacktestConfig, run_backtest
    from fitloop.evaluate.report import write_markdown, write_report

    _check_dataset(dataset)
    if not 1 <= weeks <= 52:
        raise InvalidInput(f"--weeks must be between 1 and 52, got {weeks}")
    if not 1 <= k <= 100:
        raise InvalidInput(f"--k must be between 1 and 100, got {k}")
    console = Console(stderr=True)
    cfg = _config(config)
    variants = {"fitloop": cfg}
    if ablation:
        from dataclasses import replace

        variants["fitloop_fusion"] = replace(cfg, ranker=replace(cfg.ranker, enabled=False))
    with console.status("reading H&M transactions and articles") as status:
        tx, items = _load_hm(data_dir)
        result = run_backtest(tx, items, BacktestConfig(weeks=weeks, k=k), variants, progress=lambda m: status.update(m))
    html = write_report(result, out)
    typer.echo(result.summary().to_string(float_format=lambda v: f"{v:.4f}"))
    cmp = result.comparison("fitloop")
    typer.echo(f"\nfitloop vs {cmp['strongest_baseline']}: MAP@{k} difference {cmp['map_diff']:+.4f} "
               f"({cmp['ci_level']:.0%} CI {cmp['ci_low']:+.4f} .. {cmp['ci_high']:+.4f}), "
               f"ratio {cmp['ratio_vs_strongest']:.2f}x; report: {html}")
    if docs is not None:
        write_markdown(result, docs, html)
        typer.echo(f"summary written to {docs}")


def recommend_batch_cmd(
    as_of: Annotated[str, typer.Option("--as-of", help="Train on transactions up to and including this day (YYYY-MM-DD).")],
    customers: Annotated[Path, typer.Option(help="CSV with a customer_id column, or one id per line.")],
    out: Annotated[Path, typer.Option(help="CSV to write: customer_id,prediction (k space-separated article ids).")],
    dataset: Annotated[str, typer.Option(help="Data set (hm).")] = "hm",
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding hm/ (default: $FITLOOP_DATA_DIR or ../shared/data).")] = None,
    transactions: Annotated[Path | None, typer.Option(help="Read transactions from this file instead of DATA_DIR/hm.")] = None,
    k: Annotated[int, typer.Option(help="Items per customer.")] = 12,
    config: Annotated[Path | None, typer.Option(help="JSON file with a RecommenderConfig.")] = None,
    models_dir: Annotated[Path | None, typer.Option(help="Also save the trained bundle here.")] = None,
) -> None:
    """Kaggle-format predictions for every listed customer from a model trained up to --as-of."""
    _check_dataset(dataset)
    cut = _date(as_of, "--as-of")
    if not 1 <= k <= 100:
        raise InvalidInput(f"--k must be between 1 and 100, got {k}")
    ids = read_customers(customers)
    console = Console(stderr=True)
    with console.status("reading H&M transactions and articles") as status:
        tx, items = _load_hm(data_dir, transactions)
        before = tx.loc[tx["ts"] < cut + pd.Timedelta(days=1)]
        if before.empty:
            raise InvalidInput(f"no transactions on or before {as_of}; pick a later --as-of")
        rec = train_recommender(before, items, _config(config), as_of=cut, users=ids, progress=lambda m: status.update(m))
        preds = batch_predictions(rec, ids, k)
    write_predictions(preds, out)
    if models_dir is not None:
        save_bundle(rec, models_dir)
    known = sum(rec.is_known(c) for c in ids)
    typer.echo(f"wrote {len(preds):,} customers x {k} items to {out} (trained until {rec.trained_until}; "
               f"{known:,} known shoppers, {len(ids) - known:,} cold-start)")


def register(app: typer.Typer) -> None:
    """Add ``train``, ``evaluate`` and ``recommend-batch`` as top-level commands."""
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.command("recommend-batch")(recommend_batch_cmd)
