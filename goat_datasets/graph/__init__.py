"""Dependency graph between APIs: which output field of one API can fill which parameter of another."""

from goat_datasets.graph.build import GraphStats, build_graph
from goat_datasets.graph.candidates import (
    PRESET_NAMES,
    CandidateConfig,
    CandidateStats,
    PairExplanation,
    api_pair_scores,
    explain_pair,
    find_candidates,
    preset_config,
)
from goat_datasets.graph.model import (
    DependencyEdge,
    DependencyGraph,
    StageResult,
    load_graph,
    save_graph,
)
from goat_datasets.graph.verify import ExecutionCheckStats, schema_example, verify_by_execution

__all__ = [
    "PRESET_NAMES",
    "CandidateConfig",
    "CandidateStats",
    "PairExplanation",
    "DependencyEdge",
    "DependencyGraph",
    "ExecutionCheckStats",
    "GraphStats",
    "StageResult",
    "api_pair_scores",
    "explain_pair",
    "build_graph",
    "find_candidates",
    "load_graph",
    "preset_config",
    "save_graph",
    "schema_example",
    "verify_by_execution",
]
