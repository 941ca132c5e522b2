"""Dependency graph between APIs: which output field of one API can fill which parameter of another."""

from goat_datasets.graph.build import GraphStats, build_graph
from goat_datasets.graph.candidates import CandidateStats, find_candidates
from goat_datasets.graph.model import (
    DependencyEdge,
    DependencyGraph,
    StageResult,
    load_graph,
    save_graph,
)
from goat_datasets.graph.verify import ExecutionCheckStats, schema_example, verify_by_execution

__all__ = [
    "CandidateStats",
    "DependencyEdge",
    "DependencyGraph",
    "ExecutionCheckStats",
    "GraphStats",
    "StageResult",
    "build_graph",
    "find_candidates",
    "load_graph",
    "save_graph",
    "schema_example",
    "verify_by_execution",
]
