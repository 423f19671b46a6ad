"""Candidate sources (recall): each a component with its frozen config twin.

>>> sorted(SOURCE_PRIORITY)[:2]
['als', 'bpr']
"""

from fitloop.recommend.candidates.base import CANDIDATE_COLUMNS, CandidateSource
from fitloop.recommend.candidates.content import ContentCandidates, ContentConfig
from fitloop.recommend.candidates.copurchase import (
    CoPurchaseCandidates,
    CoPurchaseConfig,
    CoViewCandidates,
    CoViewConfig,
)
from fitloop.recommend.candidates.history import RepeatCandidates, RepeatConfig
from fitloop.recommend.candidates.mf import ALSCandidates, ALSConfig, BPRCandidates, BPRConfig
from fitloop.recommend.candidates.popular import PopularCandidates, PopularConfig
from fitloop.recommend.candidates.sequence import SequenceCandidates, SequenceHookConfig, SequenceScorer
from fitloop.recommend.candidates.style import SameStyleCandidates, SameStyleConfig

#: When several sources propose one item, the reason comes from the first of these that did.
SOURCE_PRIORITY: tuple[str, ...] = ("repeat", "style", "copurchase", "coview", "sequence", "content", "als", "bpr", "popular")

__all__ = [
    "CANDIDATE_COLUMNS",
    "SOURCE_PRIORITY",
    "CandidateSource",
    "RepeatCandidates", "RepeatConfig",
    "CoPurchaseCandidates", "CoPurchaseConfig", "CoViewCandidates", "CoViewConfig",
    "ALSCandidates", "ALSConfig", "BPRCandidates", "BPRConfig",
    "ContentCandidates", "ContentConfig",
    "SameStyleCandidates", "SameStyleConfig",
    "PopularCandidates", "PopularConfig",
    "SequenceCandidates", "SequenceHookConfig", "SequenceScorer",
]
