"""Catalog knowledge: item attribute vectors and season/weather suitability learned from real data."""

from fitloop.catalog.features import FeatureConfig, ItemFeatures
from fitloop.catalog.season_suitability import (
    MATERIALS,
    Suitability,
    SuitabilityConfig,
    SuitabilityModel,
    colour_class,
    learn_suitability,
    materials_of,
    type_key,
)

__all__ = [
    "MATERIALS",
    "FeatureConfig",
    "ItemFeatures",
    "Suitability",
    "SuitabilityConfig",
    "SuitabilityModel",
    "colour_class",
    "learn_suitability",
    "materials_of",
    "type_key",
]
