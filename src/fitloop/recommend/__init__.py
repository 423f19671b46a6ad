"""Recommendation: candidate sources (recall), a LambdaRank ranker, the served pipeline and its bundles.

>>> import pandas as pd
>>> from fitloop.data import make_interactions
>>> rec = train_recommender(make_interactions(["u1", "u2"], ["a", "b"], ["2024-01-01", "2024-01-02"]),
...                         pd.DataFrame({"item_id": ["a", "b", "c"]}), RecommenderConfig(als=None, content=None))
>>> [s.item_id for s in rec.recommend("u1", k=2)]
['a', 'b']
"""

from fitloop.recommend.bundle import BundleWatcher, current_version, load_bundle, save_bundle
from fitloop.recommend.candidates import (
    ALSCandidates,
    ALSConfig,
    BPRCandidates,
    BPRConfig,
    CandidateSource,
    ContentCandidates,
    ContentConfig,
    CoPurchaseCandidates,
    CoPurchaseConfig,
    CoViewCandidates,
    CoViewConfig,
    PopularCandidates,
    PopularConfig,
    RepeatCandidates,
    RepeatConfig,
    SameStyleCandidates,
    SameStyleConfig,
    SequenceCandidates,
    SequenceHookConfig,
    SequenceScorer,
)
from fitloop.recommend.explain import REASONS, reason_text
from fitloop.recommend.frames import TrainData, articles_frame, items_frame, transactions_frame
from fitloop.recommend.pipeline import Recommender, RecommenderConfig, train_recommender
from fitloop.recommend.ranker import LambdaRanker, RankerConfig

__all__ = [
    "Recommender",
    "RecommenderConfig",
    "train_recommender",
    "save_bundle",
    "load_bundle",
    "current_version",
    "BundleWatcher",
    "items_frame",
    "articles_frame",
    "transactions_frame",
    "TrainData",
    "REASONS",
    "reason_text",
    "LambdaRanker",
    "RankerConfig",
    "CandidateSource",
    "RepeatCandidates", "RepeatConfig",
    "CoPurchaseCandidates", "CoPurchaseConfig", "CoViewCandidates", "CoViewConfig",
    "ALSCandidates", "ALSConfig", "BPRCandidates", "BPRConfig",
    "ContentCandidates", "ContentConfig",
    "SameStyleCandidates", "SameStyleConfig",
    "PopularCandidates", "PopularConfig",
    "SequenceCandidates", "SequenceHookConfig", "SequenceScorer",
]
