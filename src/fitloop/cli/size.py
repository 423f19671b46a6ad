"""``fitloop size``: the size & fit model on RentTheRunway-style rentals.

- ``fitloop size evaluate [--data-dir DIR] [--cut YYYY-MM-DD]`` trains on reviews before the cut and
  prints macro-F1, per-class F1 and AUCs of the model next to the majority-class and
  per-user-size baselines (and the latent model alone).
- ``fitloop size predict --dataset rtr --data-dir DIR --as-of YYYY-MM-DD --in FILE.csv --out FILE.csv``
  trains only on rentals reviewed *before* the as-of date and writes ``p_small,p_fit,p_large`` for
  every row of the input, in the same order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console

from fitloop.datasets import rtr
from fitloop.errors import DatasetError, InvalidInput
from fitloop.profile.size_fit import SizeFitConfig, SizeFitModel, prepare_rentals
from fitloop.profile.size_fit_eval import evaluate_size_fit, format_report

__all__ = ["register", "size_app"]

_DEFAULTS = SizeFitConfig()

size_app = typer.Typer(help="Size & fit: will this size be too small, right or too large?", no_args_is_help=True)


def _date(value: str, option: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(pd.to_datetime(value, format="%Y-%m-%d"))
    except (ValueError, TypeError) as e:
        raise InvalidInput(f"{option} must be a date as YYYY-MM-DD, got {value!r}") from e


def _config(epochs: int, n_trees: int, seed: int) -> SizeFitConfig:
    return SizeFitConfig(epochs=epochs, n_trees=n_trees, rng=seed)


def _read_query(path: Path, console: Console) -> pd.DataFrame:
    """The rentals to score: strict loader first; if only optional cells are malformed, score anyway.

    Every input row must get a prediction, so a bad date or a non-numeric measurement in one row
    is treated as missing (with a note) rather than refusing the whole file. Missing required
    columns (user_id, item_id, size) are still an error.
    """
    try:
        return rtr.load_rentals(path=path, require_fit=False)
    except DatasetError as e:
        if not path.is_file():
            raise
        console.print(f"[yellow]note:[/] {e.message} -- such cells are treated as missing")
        raw = pd.read_csv(path, dtype={"user_id": str, "item_id": str}, low_memory=False)
        missing = [c for c in ("user_id", "item_id", "size") if c not in raw.columns]
        if missing:
            raise InvalidInput(f"{path} lacks the columns {missing}; the input needs user_id, item_id and size") from e
        return raw


@size_app.command("evaluate")
def evaluate(
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding rtr/ (default: ../shared/data).")] = None,
    cut: Annotated[str, typer.Option(help="Train on reviews before this date, test on the rest.")] = "2016-01-01",
    epochs: Annotated[int, typer.Option(help="L-BFGS iterations of the latent model.")] = _DEFAULTS.epochs,
    n_trees: Annotated[int, typer.Option(help="LightGBM trees of stage 2 (0: latent model alone).")] = _DEFAULTS.n_trees,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON.")] = None,
) -> None:
    """Compare the size & fit model with the majority class and the per-user-size baseline."""
    _date(cut, "--cut")
    console = Console(stderr=True)
    with console.status("reading RentTheRunway rentals"):
        df = rtr.load_rentals(data_dir)
    with console.status(f"training and scoring 4 methods on {len(df):,} rentals (train < {cut})"):
        rep = evaluate_size_fit(df, cut=cut, config=_config(epochs, n_trees, seed))
    typer.echo(format_report(rep))
    if json_out is not None:
        json_out.write_text(json.dumps(rep, indent=2), encoding="utf-8")


@size_app.command("predict")
def predict(
    in_path: Annotated[Path, typer.Option("--in", help="Rentals to score (RentTheRunway columns, no `fit`).")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: p_small,p_fit,p_large, one row per input row.")],
    as_of: Annotated[str, typer.Option("--as-of", help="Train only on rentals reviewed before this date.")],
    dataset: Annotated[str, typer.Option(help="Training data set (only `rtr`).")] = "rtr",
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding rtr/ (default: ../shared/data).")] = None,
    epochs: Annotated[int, typer.Option(help="L-BFGS iterations of the latent model.")] = _DEFAULTS.epochs,
    n_trees: Annotated[int, typer.Option(help="LightGBM trees of stage 2 (0: latent model alone).")] = _DEFAULTS.n_trees,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    save_model: Annotated[Path | None, typer.Option(help="Also save the trained model bundle here.")] = None,
) -> None:
    """Train on rentals reviewed before --as-of and write fit probabilities for every input row, in order."""
    if dataset != "rtr":
        raise InvalidInput(f"--dataset must be 'rtr' (the only size & fit data set), got {dataset!r}")
    cutoff = _date(as_of, "--as-of")
    console = Console(stderr=True)
    with console.status("reading rentals"):
        train = rtr.load_rentals(data_dir)
        query = _read_query(in_path, console)
    train = train[train["review_date"] < cutoff]
    if len(train) < 50:
        raise InvalidInput(f"only {len(train)} rentals were reviewed before {as_of}; pick a later --as-of")
    model = SizeFitModel(_config(epochs, n_trees, seed))
    with console.status(f"training on {len(train):,} rentals reviewed before {as_of}"):
        model.train(train)
    if save_model is not None:
        model.save(save_model)
    q = prepare_rentals(query.drop(columns=["fit"], errors="ignore"))
    probs = model.predict_proba(q)
    if len(probs) != len(query) or not np.allclose(probs.sum(axis=1), 1.0):
        raise InvalidInput("internal check failed: predictions do not match the input rows")  # pragma: no cover
    out.parent.mkdir(parents=True, exist_ok=True)
    probs.to_csv(out, index=False, float_format="%.8f")
    typer.echo(f"wrote {len(probs):,} rows to {out} (trained on {len(train):,} rentals before {as_of})")


def register(app: typer.Typer) -> None:
    """Add the ``size`` command group to the main CLI."""
    app.add_typer(size_app, name="size")


if __name__ == "__main__":  # `python -m fitloop.cli.size evaluate` before the main CLI wires it in
    size_app()
