"""Marketing: audiences and campaigns, experiments with sound statistics, uplift targeting, KPIs, slow stock."""

from fitloop.marketing.campaigns import (
    CHANNEL_PURPOSE,
    Audience,
    CampaignOutcome,
    CampaignSpec,
    attribute_outcomes,
    build_audience,
    export_csv,
    personalise,
)
from fitloop.marketing.experiments import (
    ComparisonResult,
    SequentialTest,
    guardrail_return_rate,
    revenue_test,
    sample_size_two_proportions,
    two_proportion_test,
)
from fitloop.marketing.kpis import KpiReport, compute_kpis
from fitloop.marketing.stock import SlowMover, best_shoppers_for, slow_movers
from fitloop.marketing.uplift import UpliftConfig, UpliftModel, qini_coefficient, qini_curve, uplift_at_k

__all__ = [
    "CHANNEL_PURPOSE",
    "Audience",
    "CampaignOutcome",
    "CampaignSpec",
    "KpiReport",
    "SequentialTest",
    "SlowMover",
    "ComparisonResult",
    "UpliftConfig",
    "UpliftModel",
    "attribute_outcomes",
    "best_shoppers_for",
    "build_audience",
    "compute_kpis",
    "export_csv",
    "guardrail_return_rate",
    "personalise",
    "qini_coefficient",
    "qini_curve",
    "revenue_test",
    "sample_size_two_proportions",
    "slow_movers",
    "two_proportion_test",
    "uplift_at_k",
]
