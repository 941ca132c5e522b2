"""Constrained synthesis of RL prompts over a response cache (REFERENCE §2b; the ``rl`` config).

    from goat_datasets.rl import ReverseIndex, load_templates, synthesize, make_query_writer
    index = ReverseIndex.from_cache(cache)
    result = synthesize(load_templates(path), index, apis, ReplayExecutor(cache_path=...), write_query, settings)

Modules: `templates` (workflow templates and their files), `reverse_index` (function -> parameter -> value ->
entries), `synthesis` (sampling, replay validation, rows; the unconstrained baseline), `query` (the query prompt's
data and its check), `distractors`, `growth` (growing the cache along templates, REFERENCE §2a), `chain` (a sampled
chain and its ``gold_steps``), `responses` (envelope and validity of recorded answers). Rows and their Features:
`goat_datasets.formats.rl`.
"""

from goat_datasets.rl.chain import Chain, ChainStep
from goat_datasets.rl.distractors import offered_tools, pick_distractors
from goat_datasets.rl.growth import GrowthReport, GrowthSettings, grow_cache
from goat_datasets.rl.query import QueryResult, make_query_writer, query_prompt_context, stated_values, write_query
from goat_datasets.rl.responses import payload, response_problem
from goat_datasets.rl.reverse_index import ReverseIndex
from goat_datasets.rl.synthesis import (
    RLSynthesisSettings,
    SamplingFailure,
    SynthesisResult,
    resolve_functions,
    sample_chain,
    sample_unconstrained,
    synthesize,
    validate_chain,
)
from goat_datasets.rl.templates import TemplateError, WorkflowTemplate, load_templates, templates_from_document

__all__ = [
    "Chain",
    "ChainStep",
    "offered_tools",
    "pick_distractors",
    "GrowthReport",
    "GrowthSettings",
    "grow_cache",
    "QueryResult",
    "make_query_writer",
    "query_prompt_context",
    "stated_values",
    "write_query",
    "payload",
    "response_problem",
    "ReverseIndex",
    "RLSynthesisSettings",
    "SamplingFailure",
    "SynthesisResult",
    "resolve_functions",
    "sample_chain",
    "sample_unconstrained",
    "synthesize",
    "validate_chain",
    "TemplateError",
    "WorkflowTemplate",
    "load_templates",
    "templates_from_document",
]
