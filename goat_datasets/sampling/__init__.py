"""Sampling call chains (connected, acyclic, topologically ordered) from the dependency graph."""

from goat_datasets.sampling.chains import Binding, Chain, ChainStep, SamplingStats, check_chain, sample_chains

__all__ = ["Binding", "Chain", "ChainStep", "SamplingStats", "check_chain", "sample_chains"]
