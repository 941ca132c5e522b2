"""Sampling connected, acyclic subgraphs of the dependency graph, each run as call chains in topological order."""

from goat_datasets.sampling.chains import SHAPES, Binding, Chain, ChainStep, Shape, check_chain, classify_shape
from goat_datasets.sampling.subgraphs import (
    DEFAULT_SHAPE_WEIGHTS,
    CoverageStats,
    SamplingStats,
    sample_chains,
    sample_subgraphs,
)

__all__ = [
    "DEFAULT_SHAPE_WEIGHTS",
    "SHAPES",
    "Binding",
    "Chain",
    "ChainStep",
    "CoverageStats",
    "SamplingStats",
    "Shape",
    "check_chain",
    "classify_shape",
    "sample_chains",
    "sample_subgraphs",
]
