"""``fitloop segments`` and ``fitloop interests``: discovered segments and sequence interests on files.

- ``fitloop segments build [--data-dir DIR | --transactions F --articles F] --out MODEL.json``
  clusters H&M-format purchases into labelled segments and writes the model (atomically:
  a crash never leaves a half-written file).
- ``fitloop segments list MODEL.json``: id, label, size, share, growth per segment.
- ``fitloop segments show MODEL.json SEGMENT_ID``: one segment with its typical items.
- ``fitloop segments explain MODEL.json USER_ID``: why a shopper is in their segment.
- ``fitloop interests evaluate [--data-dir DIR] [--epochs N]``: sequence model vs static
  profile vs popularity on the H&M sample (HR@12, NDCG@12).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fitloop.cli._common import console
from fitloop.errors import InvalidInput, NotFound
from fitloop.profile.segments import SegmentConfig, SegmentModel

__all__ = ["register", "segments_app", "interests_app"]

segments_app = typer.Typer(help="Segments found in purchase data, labelled in plain words.", no_args_is_help=True)
interests_app = typer.Typer(help="Sequence interests: the next-item model over recent events.", no_args_is_help=True)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_model(path: Path) -> SegmentModel:
    if not path.is_file():
        raise NotFound(f"segment model file {path} does not exist; build one with `fitloop segments build`")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path} is not a JSON segment model: {exc}") from exc
    return SegmentModel.from_dict(doc)


def _growth(g: float | None) -> str:
    return "n/a" if g is None else f"{g * 100:+.0f} %"


@segments_app.command("build")
def build_cmd(
    out: Annotated[Path, typer.Option("--out", help="Where to write the model (JSON).")],
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Folder with hm/*.csv.gz.")] = None,
    transactions: Annotated[Path | None, typer.Option("--transactions", help="H&M transactions file.")] = None,
    articles: Annotated[Path | None, typer.Option("--articles", help="H&M articles file.")] = None,
    k_min: Annotated[int, typer.Option(help="Fewest segments to try.")] = 2,
    k_max: Annotated[int, typer.Option(help="Most segments to try.")] = 16,
    selection: Annotated[str, typer.Option(help="How the data picks k: silhouette or bic.")] = "silhouette",
    style_weight: Annotated[float, typer.Option(help="Weight of the style attribute (1 = like the others).")] = 1.0,
    stability_runs: Annotated[int, typer.Option(help="Reruns for the stability (ARI) figures.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Cluster H&M-format purchases into labelled segments and write the model."""
    from fitloop.datasets import hm
    from fitloop.profile.segments_eval import HM_SEGMENT_COLUMNS, evaluate_segments

    cfg = SegmentConfig(
        tag_columns=tuple(HM_SEGMENT_COLUMNS), k_min=k_min, k_max=k_max, selection=selection,
        column_weights={"style": style_weight}, stability_runs=stability_runs, rng=seed,
    )
    tx = hm.load_transactions(data_dir, path=transactions) if transactions else hm.load_transactions(data_dir)
    ar = hm.load_articles(data_dir, path=articles) if articles else hm.load_articles(data_dir)
    with console.status("building segments…"):
        model, report = evaluate_segments(config=cfg, transactions=tx, articles=ar)
    _write_atomic(out, json.dumps(model.to_dict()))
    console.print(
        f"{report['k']} segments for {report['n_shoppers']} shoppers; stability ARI "
        f"seeds {report['stability']['seed_ari']}, subsamples {report['stability']['subsample_ari']}; wrote {out}"
    )
    _print_table(model)


def _print_table(model: SegmentModel) -> None:
    table = Table("id", "label", "shoppers", "share", "growth")
    for s in model.segments:
        table.add_row(s.segment_id, s.label, str(s.size), f"{s.share * 100:.1f} %", _growth(s.growth))
    console.print(table)


@segments_app.command("list")
def list_cmd(model_file: Annotated[Path, typer.Argument(help="A model written by `segments build`.")]) -> None:
    """One line per segment: id, label, size, share, growth."""
    _print_table(_read_model(model_file))


@segments_app.command("show")
def show_cmd(
    model_file: Annotated[Path, typer.Argument(help="A model written by `segments build`.")],
    segment_id: Annotated[str, typer.Argument(help="Segment id, e.g. seg-1.")],
) -> None:
    """One segment: label, size, growth and typical items."""
    s = _read_model(model_file).segment(segment_id)
    console.print(f"{s.segment_id}: {s.label}")
    console.print(f"shoppers: {s.size} ({s.share * 100:.1f} %)")
    console.print(f"new in the last period: {s.new_last_period}, in the one before: {s.new_previous_period} "
                  f"(growth {_growth(s.growth)})")
    console.print("typical items: " + (", ".join(s.typical_items) or "none"))


@segments_app.command("explain")
def explain_cmd(
    model_file: Annotated[Path, typer.Argument(help="A model written by `segments build`.")],
    user_id: Annotated[str, typer.Argument(help="The shopper's id.")],
) -> None:
    """Why a shopper is in their segment."""
    for line in _read_model(model_file).explain(user_id):
        console.print(line)


@interests_app.command("evaluate")
def evaluate_cmd(
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Folder with hm/*.csv.gz.")] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs of the sequence model.")] = 20,
    max_users: Annotated[int | None, typer.Option(help="Evaluate a random subset of test customers.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """HR@12 and NDCG@12 of the sequence model, the static profile and popularity (H&M sample)."""
    from fitloop.profile.sequence import SequenceConfig
    from fitloop.profile.sequence_eval import evaluate_sequence

    cfg = SequenceConfig(embedding_size=64, max_len=20, epochs=epochs, dropout=0.3, rng=seed)
    with console.status("training the sequence model…"):
        r = evaluate_sequence(data_dir, config=cfg, max_users=max_users, rng=seed)
    table = Table("model", "HR@12", "NDCG@12")
    for name, m in r["metrics"].items():
        table.add_row(name, f"{m['hr@12']:.4f}", f"{m['ndcg@12']:.4f}")
    console.print(f"{r['protocol']}: {r['n_test_users']} customers, {r['n_items']} candidate articles, "
                  f"training {r['train_seconds']} s")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``segments`` and ``interests`` to the main app."""
    from fitloop.cli.profiles import register_segment_commands

    register_segment_commands(segments_app)  # rebuild / export on this installation's store
    app.add_typer(segments_app, name="segments")
    app.add_typer(interests_app, name="interests")
