"""Re-ranking policies: context boost, diversity, exposure and exploration, outfits, click-no-buy
diagnosis, and the contextual bandit. Every policy has ``rerank(ctx, candidates, n)`` and
``learn_one(feedback)``; :class:`Chain` composes them.

The off-policy learner on Open Bandit logs lives in :mod:`fitloop.rerank.offpolicy` (imported on
demand: it pulls in LightGBM).
"""

from fitloop.rerank.bandit import (
    BanditConfig,
    Feedback,
    GuardedPolicy,
    LinUCBBandit,
    PlainPolicy,
    RerankPolicy,
    RewardWeights,
    context_features,
    decision_rng,
    load_policy_or_plain,
)
from fitloop.rerank.context_boost import ContextBoost, ContextBoostConfig, item_tags
from fitloop.rerank.diagnosis import CAUSES, ClickNoBuyDiagnoser, Diagnosis, DiagnosisConfig, style_of
from fitloop.rerank.diversity import DPPDiversifier, MMRConfig, MMRDiversifier, intra_list_similarity
from fitloop.rerank.exposure import (
    ExplorationBudget,
    ExplorationConfig,
    ExposureConfig,
    ExposureMemory,
    is_engagement,
)
from fitloop.rerank.outfits import SLOTS, OutfitCompleter, OutfitConfig, slot_of
from fitloop.rerank.policy import Chain, InStockFilter, Policy, add_reason, eligible, shopper_sizes, user_of

__all__ = [
    "CAUSES",
    "SLOTS",
    "BanditConfig",
    "Chain",
    "ClickNoBuyDiagnoser",
    "ContextBoost",
    "ContextBoostConfig",
    "DPPDiversifier",
    "Diagnosis",
    "DiagnosisConfig",
    "ExplorationBudget",
    "ExplorationConfig",
    "ExposureConfig",
    "ExposureMemory",
    "Feedback",
    "GuardedPolicy",
    "InStockFilter",
    "LinUCBBandit",
    "MMRConfig",
    "MMRDiversifier",
    "OutfitCompleter",
    "OutfitConfig",
    "PlainPolicy",
    "Policy",
    "RerankPolicy",
    "RewardWeights",
    "add_reason",
    "context_features",
    "decision_rng",
    "eligible",
    "intra_list_similarity",
    "is_engagement",
    "item_tags",
    "load_policy_or_plain",
    "shopper_sizes",
    "slot_of",
    "style_of",
    "user_of",
]
