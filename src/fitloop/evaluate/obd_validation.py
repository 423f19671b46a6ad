"""Check the off-policy estimators on the real Open Bandit Dataset, the standard way.

ZOZOTOWN ran two policies side by side on the same traffic: a uniform-random one and Bernoulli
Thompson Sampling (BTS). The usual test of an estimator (Saito et al., 2021) is to estimate the BTS
policy's click rate from the *random* log and compare it with the click rate actually observed in
the *BTS* log: ``relative error = |estimate - observed| / observed``.

The estimators need the BTS policy's action distribution ``pi(item, position)``. The Open Bandit
Pipeline re-simulates BTS from ZOZOTOWN's production Beta priors; we do not ship those, so we derive
it from the BTS log itself, using only which items it showed where (never its clicks):

- ``"empirical"`` (default): the share of the BTS log's impressions at position ``k`` that showed
  item ``a``. BTS in this dataset is context-free, so this estimates its time-averaged marginal
  ``pi(a, k)`` without bias, and it is the same for every round.
- ``"posterior"``: Monte-Carlo Thompson sampling (top-``len_list`` of Beta draws) from per-item
  Beta(1 + clicks, 1 + non-clicks) posteriors fitted on the BTS log's own clicks. With a small log
  the posteriors are wide and this policy is close to uniform; it is a second opinion, not the
  production policy.

DM and DR use an empirical-Bayes (item, position) click model fitted on the random log with
two-fold cross-fitting, so no round is scored by a model that saw its own click.

As a sanity check the random policy's click rate is also estimated from the BTS log with the BTS
log's own propensities (the reverse direction) and compared with the random log's observed rate.

>>> from fitloop.evaluate.obd_validation import OBDValidationConfig
>>> OBDValidationConfig().method
'empirical'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from fitloop.errors import DatasetError, InvalidInput
from fitloop.evaluate.ope import Estimate, bootstrap_mean_ci, estimate_all
from fitloop.rerank.offpolicy import (
    ItemPositionCTR,
    ObdLog,
    OffPolicyConfig,
    OffPolicyLearner,
    split_by_time,
)

__all__ = [
    "OBDValidationConfig",
    "OBDValidation",
    "LearnedPolicyReport",
    "bts_action_dist",
    "validate_bts_from_random",
    "evaluate_offpolicy_learning",
    "RollingFold",
    "RollingOriginStudy",
    "rolling_origin_study",
    "DEFAULT_SHARES",
    "load_obd_item_context",
    "load_obd_logs",
    "run_obd_validation",
]


@dataclass(frozen=True)
class OBDValidationConfig:
    """How to run the validation: BTS action distribution method, bootstrap and reward-model settings."""

    method: Literal["empirical", "posterior"] = "empirical"
    n_bootstrap: int = 1000
    alpha: float = 0.05
    prior_strength: float = 500.0
    n_sim: int = 100_000
    rng: int = 0


def bts_action_dist(
    bts_log: ObdLog,
    *,
    n_actions: int,
    len_list: int,
    method: Literal["empirical", "posterior"] = "empirical",
    n_sim: int = 100_000,
    rng: int = 0,
) -> np.ndarray:
    """The BTS policy's ``pi[a, k]`` (shape ``(n_actions, len_list)``; every column sums to 1).

    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"item_id": [0, 0, 1, 2], "position": [1, 2, 1, 2], "click": 0})
    >>> bts_action_dist(ObdLog.from_frame(df), n_actions=3, len_list=2).tolist()
    [[0.5, 0.5], [0.5, 0.0], [0.0, 0.5]]
    """
    if method == "empirical":
        flat = bts_log.action * len_list + bts_log.position
        counts = np.bincount(flat, minlength=n_actions * len_list)[: n_actions * len_list].reshape(
            n_actions, len_list
        ).astype(float)
        totals = counts.sum(axis=0)
        if np.any(totals == 0):
            raise InvalidInput("the BTS log has no impression at some position; cannot derive its action distribution")
        return counts / totals
    if method == "posterior":
        if n_actions < len_list:
            raise InvalidInput("need at least as many items as positions")
        views = np.bincount(bts_log.action, minlength=n_actions)[:n_actions].astype(float)
        clicks = np.bincount(bts_log.action, weights=bts_log.reward, minlength=n_actions)[:n_actions]
        gen = np.random.default_rng(rng)
        counts = np.zeros((n_actions, len_list))
        batch = 10_000
        for start in range(0, n_sim, batch):
            m = min(batch, n_sim - start)
            theta = gen.beta(1.0 + clicks, 1.0 + views - clicks, size=(m, n_actions))
            top = np.argsort(-theta, axis=1)[:, :len_list]
            for k in range(len_list):
                counts[:, k] += np.bincount(top[:, k], minlength=n_actions)
        return counts / n_sim
    raise InvalidInput(f"unknown method {method!r}; use 'empirical' or 'posterior'")


def _cross_fitted_q(log: ObdLog, n_actions: int, len_list: int, prior_strength: float, rng: int) -> np.ndarray:
    """Per-round reward predictions ``q[i, a, k]`` from a model fitted on the other fold."""
    fold = np.random.default_rng(rng).integers(0, 2, len(log))
    q = np.empty((len(log), n_actions, len_list))
    for f in (0, 1):
        train = fold != f
        model = ItemPositionCTR.fit(
            log.action[train], log.position[train], log.reward[train], n_actions=n_actions, len_list=len_list,
            prior_strength=prior_strength,
        )
        q[fold == f] = model.table
    return q


@dataclass(frozen=True)
class OBDValidation:
    """Estimated vs observed BTS click rate, plus the reverse (random-policy) sanity check."""

    observed_bts: Estimate
    estimates: dict[str, Estimate]
    relative_error: dict[str, float]
    observed_random: Estimate
    random_from_bts: dict[str, Estimate]
    n_random: int
    n_bts: int
    clicks_random: int
    clicks_bts: int
    method: str
    config: OBDValidationConfig = field(default_factory=OBDValidationConfig)

    def to_dict(self) -> dict[str, object]:
        return {
            "observed_bts": asdict(self.observed_bts),
            "estimates": {k: asdict(v) for k, v in self.estimates.items()},
            "relative_error": dict(self.relative_error),
            "observed_random": asdict(self.observed_random),
            "random_from_bts": {k: asdict(v) for k, v in self.random_from_bts.items()},
            "n_random": self.n_random,
            "n_bts": self.n_bts,
            "clicks_random": self.clicks_random,
            "clicks_bts": self.clicks_bts,
            "method": self.method,
            "config": asdict(self.config),
        }

    def table(self) -> str:
        """A Markdown table of the figures (click rates in %)."""
        level = int(round(100 * (1 - self.config.alpha)))
        lines = [
            f"BTS click rate estimated from the random log ({self.n_random:,} rounds, {self.clicks_random} clicks) "
            f"vs observed in the BTS log ({self.n_bts:,} rounds, {self.clicks_bts} clicks); "
            f"BTS action distribution: {self.method}; {level} % bootstrap intervals.",
            "",
            "| quantity | estimator | CTR % | CI low % | CI high % | relative error |",
            "|---|---|---:|---:|---:|---:|",
            _row("BTS, observed in BTS log", "on-policy mean", self.observed_bts, None),
        ]
        for name, est in self.estimates.items():
            lines.append(_row("BTS, estimated from random log", name.upper(), est, self.relative_error[name]))
        lines.append(_row("random, observed in random log", "on-policy mean", self.observed_random, None))
        for name, est in self.random_from_bts.items():
            rel = abs(est.value - self.observed_random.value) / self.observed_random.value if (
                self.observed_random.value > 0
            ) else float("nan")
            lines.append(_row("random, estimated from BTS log", name.upper(), est, rel))
        return "\n".join(lines)


def _row(what: str, name: str, est: Estimate, rel: float | None, *, with_rel: bool = True) -> str:
    cells = [what, name, f"{100 * est.value:.3f}", f"{100 * est.ci_low:.3f}", f"{100 * est.ci_high:.3f}"]
    if with_rel:
        cells.append("" if rel is None else f"{rel:.3f}")
    return "| " + " | ".join(cells) + " |"


def validate_bts_from_random(
    random_log: ObdLog, bts_log: ObdLog, config: OBDValidationConfig | None = None
) -> OBDValidation:
    """Estimate the BTS policy's click rate from the random log and compare with the BTS log's."""
    cfg = config or OBDValidationConfig()
    if np.any(~np.isfinite(random_log.pscore)) or np.any(~np.isfinite(bts_log.pscore)):
        raise InvalidInput("both logs need a propensity_score column without gaps")
    n_actions = max(random_log.n_actions, bts_log.n_actions)
    len_list = max(random_log.len_list, bts_log.len_list)
    pi = bts_action_dist(bts_log, n_actions=n_actions, len_list=len_list, method=cfg.method, n_sim=cfg.n_sim,
                         rng=cfg.rng)
    n = len(random_log)
    dist = np.broadcast_to(pi[None, :, :], (n, n_actions, len_list))
    q = _cross_fitted_q(random_log, n_actions, len_list, cfg.prior_strength, cfg.rng)
    nb, alpha, seed = cfg.n_bootstrap, cfg.alpha, cfg.rng
    estimates = estimate_all(
        reward=random_log.reward, action=random_log.action, pscore=random_log.pscore, action_dist=dist,
        position=random_log.position, estimated_rewards=q, n_bootstrap=nb, alpha=alpha, rng=seed,
    )
    observed_bts = bootstrap_mean_ci(bts_log.reward, n_bootstrap=nb, alpha=alpha, rng=seed)
    truth = observed_bts.value
    rel = {k: (abs(v.value - truth) / truth if truth > 0 else float("nan")) for k, v in estimates.items()}
    # Reverse check: the uniform policy's value from the BTS log, weighted by BTS's own propensities.
    uniform = np.full((len(bts_log), n_actions, len_list), 1.0 / n_actions)
    random_from_bts = estimate_all(
        reward=bts_log.reward, action=bts_log.action, pscore=bts_log.pscore, action_dist=uniform,
        position=bts_log.position, n_bootstrap=nb, alpha=alpha, rng=seed,
    )
    return OBDValidation(
        observed_bts=observed_bts,
        estimates=estimates,
        relative_error=rel,
        observed_random=bootstrap_mean_ci(random_log.reward, n_bootstrap=nb, alpha=alpha, rng=seed),
        random_from_bts=random_from_bts,
        n_random=n,
        n_bts=len(bts_log),
        clicks_random=int(random_log.reward.sum()),
        clicks_bts=int(bts_log.reward.sum()),
        method=cfg.method,
        config=cfg,
    )


@dataclass(frozen=True)
class LearnedPolicyReport:
    """A policy learned on the early part of the random log, estimated on the later part."""

    estimates: dict[str, Estimate]
    observed_bts: Estimate
    observed_random_test: Estimate
    bts_estimated_on_test: dict[str, Estimate]
    n_train: int
    n_test: int
    clicks_train: int
    clicks_test: int
    train_fraction: float
    alpha: float
    learner_summary: dict[str, object]

    def beats_bts(self, estimator: str = "snips") -> bool:
        """True when the estimate is above the BTS log's observed rate."""
        return self.estimates[estimator].value > self.observed_bts.value

    def significant(self, estimator: str = "snips") -> bool:
        """True when the interval's lower end is above the BTS log's observed rate."""
        return self.estimates[estimator].ci_low > self.observed_bts.value

    def table(self) -> str:
        level = int(round(100 * (1 - self.alpha)))
        lines = [
            f"Learned on the first {self.train_fraction:.0%} of the random log by time ({self.n_train:,} rounds, "
            f"{self.clicks_train} clicks); estimated on the rest ({self.n_test:,} rounds, {self.clicks_test} clicks); "
            f"{level} % bootstrap intervals.",
            "",
            "| policy | estimator | CTR % | CI low % | CI high % |",
            "|---|---|---:|---:|---:|",
        ]
        for name, est in self.estimates.items():
            lines.append(_row("learned", name.upper(), est, None, with_rel=False))
        for name, est in self.bts_estimated_on_test.items():
            lines.append(_row("BTS (empirical action dist.)", name.upper(), est, None, with_rel=False))
        lines.append(_row("random, observed on test part", "on-policy mean", self.observed_random_test, None,
                          with_rel=False))
        lines.append(_row("BTS, observed in BTS log", "on-policy mean", self.observed_bts, None, with_rel=False))
        return "\n".join(lines)


def evaluate_offpolicy_learning(
    random_log: ObdLog,
    bts_log: ObdLog,
    *,
    learner_config: OffPolicyConfig | None = None,
    item_context: pd.DataFrame | None = None,
    train_fraction: float = 0.7,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    rng: int = 0,
) -> LearnedPolicyReport:
    """Train :class:`OffPolicyLearner` on the early random log, estimate it on the later part.

    DR uses the learner's own click model, fitted on the training part only.
    """
    train, test = split_by_time(random_log, train_fraction)
    learner = OffPolicyLearner(learner_config)
    learner.train(train, item_context)
    dist = learner.action_dist(test)
    q = learner.predict_rewards(test)

    def _estimates(action_dist: np.ndarray) -> dict[str, Estimate]:
        return estimate_all(
            reward=test.reward, action=test.action, pscore=test.pscore, position=test.position,
            action_dist=action_dist, estimated_rewards=q, n_bootstrap=n_bootstrap, alpha=alpha, rng=rng,
        )

    estimates = _estimates(dist)
    pi = bts_action_dist(bts_log, n_actions=dist.shape[1], len_list=dist.shape[2])
    bts_est = _estimates(np.broadcast_to(pi[None], dist.shape))
    return LearnedPolicyReport(
        estimates=estimates,
        observed_bts=bootstrap_mean_ci(bts_log.reward, n_bootstrap=n_bootstrap, alpha=alpha, rng=rng),
        observed_random_test=bootstrap_mean_ci(test.reward, n_bootstrap=n_bootstrap, alpha=alpha, rng=rng),
        bts_estimated_on_test=bts_est,
        n_train=len(train),
        n_test=len(test),
        clicks_train=int(train.reward.sum()),
        clicks_test=int(test.reward.sum()),
        train_fraction=train_fraction,
        alpha=alpha,
        learner_summary=dict(learner.train_summary),
    )


DEFAULT_SHARES: tuple[float, ...] = (0.4, 0.5, 0.6, 0.7, 0.8)


@dataclass(frozen=True)
class RollingFold:
    """One origin of the rolling study: trained on the first ``train_fraction``, estimated on the rest."""

    train_fraction: float
    n_train: int
    n_test: int
    clicks_train: int
    clicks_test: int
    policy: str
    estimates: dict[str, Estimate]
    bts_on_test: Estimate
    random_on_test: Estimate

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["estimates"] = {k: asdict(v) for k, v in self.estimates.items()}
        return out


@dataclass(frozen=True)
class RollingOriginStudy:
    """The learned policy against BTS across several time origins, so no single split decides.

    ``folds``: expanding windows (train on the first share, estimate on everything after it; the test
    parts overlap). ``pooled``: blocked folds without overlap: the random log from the first origin on
    is cut at the origins into consecutive blocks, each block is estimated with the policy trained on
    everything before it, and the blocks are pooled into one estimate (every round counted once).
    """

    folds: list[RollingFold]
    pooled: dict[str, Estimate]
    pooled_bts: Estimate
    pooled_random: Estimate
    pooled_rounds: int
    pooled_clicks: int
    observed_bts: Estimate
    alpha: float

    def folds_above_bts(self, estimator: str = "snips") -> int:
        """How many expanding folds put the learned policy above the BTS log's observed rate."""
        return sum(f.estimates[estimator].value > self.observed_bts.value for f in self.folds)

    def to_dict(self) -> dict[str, object]:
        return {
            "folds": [f.to_dict() for f in self.folds],
            "pooled": {k: asdict(v) for k, v in self.pooled.items()},
            "pooled_bts": asdict(self.pooled_bts),
            "pooled_random": asdict(self.pooled_random),
            "pooled_rounds": self.pooled_rounds,
            "pooled_clicks": self.pooled_clicks,
            "observed_bts": asdict(self.observed_bts),
            "folds_above_bts_snips": self.folds_above_bts("snips"),
        }

    def table(self) -> str:
        """Markdown: one row per origin, then the pooled blocked estimate (click rates in %)."""
        level = int(round(100 * (1 - self.alpha)))

        def pct(e: Estimate) -> str:
            return f"{100 * e.value:.3f} ({100 * e.ci_low:.3f} – {100 * e.ci_high:.3f})"

        lines = [
            f"Rolling origin: learned on the first share of the random log by time, estimated on the rest; "
            f"{level} % bootstrap intervals; BTS observed in the BTS log: {100 * self.observed_bts.value:.3f} %.",
            "",
            "| train share | train clicks | test clicks | policy | learned IPS % | learned SNIPS % (CI) | learned DR % "
            "| BTS SNIPS on test % | random observed on test % |",
            "|---:|---:|---:|---|---:|---|---:|---:|---:|",
        ]
        for f in self.folds:
            lines.append(
                f"| {f.train_fraction:.2f} | {f.clicks_train} | {f.clicks_test} | {f.policy} | "
                f"{100 * f.estimates['ips'].value:.3f} | {pct(f.estimates['snips'])} | "
                f"{100 * f.estimates['dr'].value:.3f} | {100 * f.bts_on_test.value:.3f} | "
                f"{100 * f.random_on_test.value:.3f} |"
            )
        lines += [
            "",
            f"Blocked folds pooled ({self.pooled_rounds:,} rounds, {self.pooled_clicks} clicks, each block estimated "
            "with the policy trained on everything before it):",
            "",
            "| policy | estimator | CTR % | CI low % | CI high % |",
            "|---|---|---:|---:|---:|",
        ]
        for name, est in self.pooled.items():
            lines.append(_row("learned (pooled blocks)", name.upper(), est, None, with_rel=False))
        lines.append(_row("BTS (empirical action dist.), same blocks", "SNIPS", self.pooled_bts, None, with_rel=False))
        lines.append(_row("random, observed on same blocks", "on-policy mean", self.pooled_random, None,
                          with_rel=False))
        lines.append(_row("BTS, observed in BTS log", "on-policy mean", self.observed_bts, None, with_rel=False))
        above = self.folds_above_bts("snips")
        lines.append("")
        lines.append(f"Learned SNIPS above the BTS observed rate in {above} of {len(self.folds)} origins; pooled SNIPS "
                     f"{'above' if self.pooled['snips'].value > self.observed_bts.value else 'not above'} it"
                     f"{', significantly' if self.pooled['snips'].ci_low > self.observed_bts.value else ''}.")
        return "\n".join(lines)


def rolling_origin_study(
    random_log: ObdLog,
    bts_log: ObdLog,
    *,
    shares: tuple[float, ...] = DEFAULT_SHARES,
    learner_config: OffPolicyConfig | None = None,
    item_context: pd.DataFrame | None = None,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    rng: int = 0,
) -> RollingOriginStudy:
    """Train on the first ``share`` of the random log for each share, estimate on the later rounds.

    DR uses each fold's own click model (fitted on its training part). The BTS policy's empirical
    action distribution is estimated on the same rounds, as a like-for-like reference.
    """
    shares = tuple(sorted(set(float(s) for s in shares)))
    if not shares or any(not 0 < s < 1 for s in shares):
        raise InvalidInput("shares must be fractions in (0, 1), e.g. 0.4,0.5,0.6,0.7,0.8")
    order = np.argsort(random_log.timestamp, kind="stable")
    ordered = random_log.subset(order)
    n = len(ordered)
    cuts = [int(round(s * n)) for s in shares] + [n]
    if any(b <= a for a, b in zip(cuts[:-1], cuts[1:], strict=True)) or cuts[0] == 0:
        raise InvalidInput("the log is too short for these shares: every train and test part needs rounds")
    n_actions = max(random_log.n_actions, bts_log.n_actions)
    len_list = max(random_log.len_list, bts_log.len_list)
    if item_context is not None and len(item_context):
        n_actions = max(n_actions, int(item_context["item_id"].max()) + 1)
    pi = bts_action_dist(bts_log, n_actions=n_actions, len_list=len_list)
    folds: list[RollingFold] = []
    block_parts: list[tuple[ObdLog, np.ndarray, np.ndarray]] = []
    for j, share in enumerate(shares):
        train, test = ordered.subset(np.arange(cuts[j])), ordered.subset(np.arange(cuts[j], n))
        learner = OffPolicyLearner(learner_config)
        learner.train(train, item_context)
        dist, q = _padded(learner.action_dist(test), learner.predict_rewards(test), n_actions, len_list)
        estimates = estimate_all(
            reward=test.reward, action=test.action, pscore=test.pscore, position=test.position, action_dist=dist,
            estimated_rewards=q, n_bootstrap=n_bootstrap, alpha=alpha, rng=rng,
        )
        bts = estimate_all(
            reward=test.reward, action=test.action, pscore=test.pscore, position=test.position,
            action_dist=np.broadcast_to(pi[None], dist.shape), n_bootstrap=n_bootstrap, alpha=alpha, rng=rng,
        )["snips"]
        folds.append(RollingFold(
            train_fraction=share, n_train=len(train), n_test=len(test), clicks_train=int(train.reward.sum()),
            clicks_test=int(test.reward.sum()), policy=learner.policy_name, estimates=estimates, bts_on_test=bts,
            random_on_test=bootstrap_mean_ci(test.reward, n_bootstrap=n_bootstrap, alpha=alpha, rng=rng),
        ))
        block = np.arange(cuts[j + 1] - cuts[j])  # the rounds up to the next origin
        block_parts.append((test.subset(block), dist[block], q[block]))
    pooled_log = ordered.subset(np.arange(cuts[0], n))
    pooled_dist = np.concatenate([d for _, d, _ in block_parts])
    pooled_q = np.concatenate([q for _, _, q in block_parts])
    common = dict(reward=pooled_log.reward, action=pooled_log.action, pscore=pooled_log.pscore,
                  position=pooled_log.position, n_bootstrap=n_bootstrap, alpha=alpha, rng=rng)
    pooled = estimate_all(action_dist=pooled_dist, estimated_rewards=pooled_q, **common)  # type: ignore[arg-type]
    pooled_bts = estimate_all(action_dist=np.broadcast_to(pi[None], pooled_dist.shape), **common)["snips"]  # type: ignore[arg-type]
    return RollingOriginStudy(
        folds=folds, pooled=pooled, pooled_bts=pooled_bts,
        pooled_random=bootstrap_mean_ci(pooled_log.reward, n_bootstrap=n_bootstrap, alpha=alpha, rng=rng),
        pooled_rounds=len(pooled_log), pooled_clicks=int(pooled_log.reward.sum()),
        observed_bts=bootstrap_mean_ci(bts_log.reward, n_bootstrap=n_bootstrap, alpha=alpha, rng=rng), alpha=alpha,
    )


def _padded(dist: np.ndarray, q: np.ndarray, n_actions: int, len_list: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad a policy's (rounds, items, positions) arrays to the comparison's item and position counts.

    Items the learner never saw get probability 0 (a BTS log may know more items than the training part).
    """
    if dist.shape[1:] == (n_actions, len_list):
        return dist, q
    if dist.shape[1] > n_actions or dist.shape[2] > len_list:
        raise InvalidInput("the learned policy knows more items or positions than the logs")
    out_d = np.zeros((dist.shape[0], n_actions, len_list))
    out_q = np.zeros_like(out_d)
    out_d[:, : dist.shape[1], : dist.shape[2]] = dist
    out_q[:, : q.shape[1], : q.shape[2]] = q
    # A position the learner never saw has no distribution: show the uniform one there.
    if dist.shape[2] < len_list:
        out_d[:, :, dist.shape[2]:] = 1.0 / n_actions
    return out_d, out_q


def load_obd_logs(data_dir: str | Path | None = None) -> tuple[ObdLog, ObdLog]:
    """The random and BTS logs of campaign "all" from the shared data folder."""
    from fitloop.datasets import obd

    return (
        ObdLog.from_frame(obd.load_log("random", data_dir=data_dir)),
        ObdLog.from_frame(obd.load_log("bts", data_dir=data_dir)),
    )


def load_obd_item_context(data_dir: str | Path | None = None) -> pd.DataFrame | None:
    """``item_context_all.csv`` from the shared data folder, or ``None`` when it is not there."""
    from fitloop.datasets import obd

    try:
        return obd.load_item_context(data_dir=data_dir)
    except DatasetError:
        return None


def run_obd_validation(
    data_dir: str | Path | None = None, config: OBDValidationConfig | None = None
) -> OBDValidation:
    """:func:`validate_bts_from_random` on the real Open Bandit sample."""
    random_log, bts_log = load_obd_logs(data_dir)
    return validate_bts_from_random(random_log, bts_log, config)
