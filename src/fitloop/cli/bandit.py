"""``fitloop bandit``: off-policy learning and evaluation on logs in the Open Bandit format.

- ``fitloop bandit train --log FILE --item-context FILE --out DIR`` learns a policy from a log.
- ``fitloop bandit score --model DIR --log FILE --out FILE.csv`` writes, for every row of a log in
  order, the probability that the learned policy shows the logged item at the logged position.
- ``fitloop bandit validate`` estimates the BTS policy's click rate from the random log of the real
  Open Bandit sample and compares it with the BTS log's observed rate (and, with ``--learned``,
  trains on the early random log and estimates the learned policy on the later part; with
  ``--rolling``, the default, it repeats that for several time origins and pools blocked folds).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console

from fitloop.errors import InvalidInput
from fitloop.evaluate.obd_validation import (
    DEFAULT_SHARES,
    OBDValidationConfig,
    evaluate_offpolicy_learning,
    load_obd_item_context,
    load_obd_logs,
    rolling_origin_study,
    validate_bts_from_random,
)
from fitloop.rerank.offpolicy import (
    OffPolicyConfig,
    OffPolicyLearner,
    iter_obd_log,
    read_item_context,
    read_obd_log,
)

__all__ = ["register", "bandit_app"]

bandit_app = typer.Typer(help="Off-policy learning and evaluation on Open Bandit format logs.", no_args_is_help=True)


def _position_base(value: str) -> int | None:
    if value not in ("auto", "0", "1"):
        raise InvalidInput("--position-base must be auto, 0 or 1")
    return None if value == "auto" else int(value)


_POSITION_HELP = "Positions in the file: 1 (1, 2, 3 as in the Open Bandit files), 0, or auto (0-based if any is 0)."


@bandit_app.command("train")
def train(
    log: Annotated[Path, typer.Option("--log", help="Log in the Open Bandit format (csv or csv.gz).")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the model into.")],
    item_context: Annotated[
        Path | None, typer.Option("--item-context", help="item_context_<campaign>.csv with item features.")
    ] = None,
    epsilon: Annotated[float, typer.Option(help="Share of uniformly random slates (0 < epsilon <= 1).")] = 0.05,
    prior_strength: Annotated[
        float | None, typer.Option(help="Pseudo-impressions shrinking click rates (default: chosen on the log).")
    ] = None,
    policy: Annotated[str, typer.Option(help="auto | greedy | topk (auto: chosen by inner time-ordered validation)")]
    = "auto",
    top_k: Annotated[int, typer.Option(help="Items the topk policy spreads over (0: twice the slate length).")] = 0,
    affinity: Annotated[str, typer.Option(help="User-item affinity lift: auto | none | lift")] = "auto",
    selection_z: Annotated[
        float, typer.Option(help="Standard errors a policy's inner-validation estimate is marked down by.")
    ] = 1.0,
    context_model: Annotated[str, typer.Option(help="auto | none | lightgbm")] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    position_base: Annotated[str, typer.Option(help=_POSITION_HELP)] = "auto",
) -> None:
    """Learn a policy from a log and save it as npz + JSON (+ LightGBM text)."""
    base = _position_base(position_base)
    config = OffPolicyConfig(
        epsilon=epsilon, prior_strength=prior_strength, context_model=context_model,  # type: ignore[arg-type]
        policy=policy, top_k=top_k, affinity=affinity, selection_z=selection_z, rng=seed,  # type: ignore[arg-type]
    )
    console = Console(stderr=True)
    with console.status(f"reading {log}"):
        data = read_obd_log(log, position_base=base)
        items = read_item_context(item_context) if item_context is not None else None
    learner = OffPolicyLearner(config)
    with console.status(f"training on {len(data):,} rounds"):
        learner.train(data, items)
    learner.save(out)
    summary = learner.train_summary
    typer.echo(
        f"trained on {summary['rounds']:,} rounds ({summary['clicks']} clicks), {summary['n_actions']} items, "
        f"{summary['len_list']} positions, policy: {summary['policy']}, context model: {summary['context_model']}, "
        f"prior strength: {summary['prior_strength']:g}; saved to {out}"
    )


@bandit_app.command("score")
def score(
    model: Annotated[Path, typer.Option("--model", help="Folder written by `fitloop bandit train`.")],
    log: Annotated[Path, typer.Option("--log", help="Log in the Open Bandit format (csv or csv.gz).")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: row, item_id, position, prob.")],
    chunk_size: Annotated[int, typer.Option(help="Rows read and scored at a time (bounds memory).")] = 100_000,
    position_base: Annotated[str, typer.Option(help=_POSITION_HELP)] = "auto",
) -> None:
    """Write the learned policy's probability of each row's (item, position), one row per log row.

    The log is read, scored and written chunk by chunk, so memory does not grow with the log (the
    12 M-row BTS log of the full Open Bandit Dataset scores in well under a gigabyte). The output
    goes to a temporary file renamed into place at the end: a failed run leaves no partial CSV.
    """
    if chunk_size < 1:
        raise InvalidInput("--chunk-size must be at least 1")
    base = _position_base(position_base)
    learner = OffPolicyLearner.load(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    rows, total = 0, 0.0
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            for part in iter_obd_log(log, chunksize=chunk_size, position_base=base, for_scoring=True):
                probs = learner.score(part)
                frame = pd.DataFrame({"row": np.arange(rows, rows + len(part)), "item_id": part.action,
                                      "position": part.position + 1, "prob": probs})
                frame.to_csv(fh, index=False, header=rows == 0, float_format="%.10g")
                rows += len(part)
                total += float(probs.sum())
        if rows == 0:
            raise InvalidInput(f"{log} has no rows to score")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    typer.echo(f"wrote {rows:,} rows to {out} (mean prob {total / rows:.5f})")


@bandit_app.command("validate")
def validate(
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding obd/ (default: ../shared/data).")] = None,
    method: Annotated[str, typer.Option(help="BTS action distribution: empirical | posterior")] = "empirical",
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    learned: Annotated[
        bool, typer.Option("--learned/--no-learned", help="Also train on the early random log, estimate on the rest.")
    ] = True,
    train_fraction: Annotated[float, typer.Option(help="Share of the random log (by time) to train on.")] = 0.7,
    rolling: Annotated[
        bool, typer.Option("--rolling/--no-rolling", help="Also run the rolling-origin study over --shares.")
    ] = True,
    shares: Annotated[str, typer.Option(help="Train shares of the rolling-origin study, comma-separated.")]
    = ",".join(str(s) for s in DEFAULT_SHARES),
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON.")] = None,
) -> None:
    """Check IPS/SNIPS/DM/DR on the real Open Bandit sample (BTS estimated from the random log)."""
    if method not in ("empirical", "posterior"):
        raise InvalidInput("--method must be 'empirical' or 'posterior'")
    try:
        share_list = tuple(float(s) for s in shares.split(",") if s.strip())
    except ValueError as exc:
        raise InvalidInput(f"--shares must be comma-separated fractions such as 0.4,0.6,0.8: {exc}") from exc
    config = OBDValidationConfig(method=method, n_bootstrap=n_bootstrap, rng=seed)  # type: ignore[arg-type]
    random_log, bts_log = load_obd_logs(data_dir)
    items = load_obd_item_context(data_dir)
    result = validate_bts_from_random(random_log, bts_log, config)
    typer.echo(result.table())
    payload: dict[str, object] = {"bts_from_random": result.to_dict()}
    if learned:
        report = evaluate_offpolicy_learning(
            random_log, bts_log, train_fraction=train_fraction, n_bootstrap=n_bootstrap, rng=seed,
            learner_config=OffPolicyConfig(rng=seed), item_context=items,
        )
        typer.echo("")
        typer.echo(report.table())
        verdict = "above" if report.beats_bts() else "not above"
        sig = "significantly" if report.significant() else "not significantly (the interval includes it)"
        typer.echo(f"\nSNIPS estimate of the learned policy is {verdict} the BTS observed rate, {sig}.")
        payload["learned"] = {
            "estimates": {k: asdict(v) for k, v in report.estimates.items()},
            "observed_bts": asdict(report.observed_bts),
            "n_train": report.n_train,
            "n_test": report.n_test,
            "clicks_train": report.clicks_train,
            "clicks_test": report.clicks_test,
            "learner": report.learner_summary,
        }
    if learned and rolling:
        study = rolling_origin_study(
            random_log, bts_log, shares=share_list, n_bootstrap=n_bootstrap, rng=seed,
            learner_config=OffPolicyConfig(rng=seed), item_context=items,
        )
        typer.echo("")
        typer.echo(study.table())
        payload["rolling"] = study.to_dict()
    if json_out is not None:
        json_out.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def register(app: typer.Typer) -> None:
    """Add the ``bandit`` command group to the main CLI."""
    app.add_typer(bandit_app, name="bandit")
