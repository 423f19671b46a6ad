"""Understanding each shopper: profile features, sequence interests, segments and their labels.

PyTorch (for :class:`SequenceModel`) is an optional extra and is imported only
when a sequence model is trained or loaded.
"""

from fitloop.profile.features import ATTRIBUTES, Profile, ProfileBuilder, ProfileConfig, category_medians
from fitloop.profile.lifecycle import LifecycleConfig, LifecycleStage, lifecycle_stage
from fitloop.profile.rule_segments import OPERATORS, Rule, RuleSegment, consented_members, profile_features
from fitloop.profile.segment_labels import join_tags, label_clusters, tag_words
from fitloop.profile.segments import (
    Segment,
    SegmentConfig,
    SegmentModel,
    UserFeatures,
    build_segments,
    build_segments_from_features,
    clustering_stability,
    items_frame,
    user_features,
)
from fitloop.profile.sequence import TORCH_HINT, SequenceConfig, SequenceModel
from fitloop.profile.size_fit import SizeFitConfig, SizeFitModel
from fitloop.profile.size_profile import SizeProfile

# Evaluation helpers stay in their modules (fitloop.profile.sequence_eval, segments_eval, size_fit_eval)
# because they read the real public datasets.

__all__ = [
    "ATTRIBUTES",
    "LifecycleConfig",
    "LifecycleStage",
    "Profile",
    "ProfileBuilder",
    "ProfileConfig",
    "SizeFitConfig",
    "SizeFitModel",
    "SizeProfile",
    "category_medians",
    "lifecycle_stage",
    "OPERATORS",
    "TORCH_HINT",
    "Rule",
    "RuleSegment",
    "Segment",
    "SegmentConfig",
    "SegmentModel",
    "SequenceConfig",
    "SequenceModel",
    "UserFeatures",
    "build_segments",
    "build_segments_from_features",
    "clustering_stability",
    "consented_members",
    "items_frame",
    "join_tags",
    "label_clusters",
    "profile_features",
    "tag_words",
    "user_features",
]
