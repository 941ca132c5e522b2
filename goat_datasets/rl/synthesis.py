"""Constrained chain synthesis over a response cache (REFERENCE §2b): the rows of the ``rl`` config.

For each drawn workflow template (uniform or frequency-weighted, ``queries_per_template`` chains each):

1. **sample** (`sample_chain`): an independent step takes a random usable cache entry of its function; a dependent
   step reads each dependent argument from its parent's chosen response (``from_field``) and takes a random entry
   among those whose arguments equal all of those values (`ReverseIndex.matching`, the intersection). A pass that
   meets a step without candidates starts again from scratch, up to ``max_retries`` passes. Every gold call is then
   a recorded call, so a guaranteed cache hit, and the values truly flow from parent responses to child arguments.
2. **validate** (`validate_chain`): every step is replayed through an executor (the ``replay`` executor in builds)
   and must come back ok, without an error object and with non-empty data.
3. **query**: an LLM writes the user's request, which must state every value no parent supplied
   (`goat_datasets.rl.query`); otherwise the chain is rejected with the values it missed.
4. **row**: the query as a chat prompt, the gold steps, and the gold tools plus ``distractors`` other functions of
   the same pool, shuffled (`goat_datasets.formats.rl.rl_row`).

Every chain that does not become a row is a rejection with its stage (``sampling``, ``duplicate``, ``validation``,
``query``) and reason. Randomness is seeded per attempt (seed, draw, template, query number), so one template's
outcome does not depend on how the others went.

`sample_unconstrained` is the baseline the yield benchmark compares against (``benchmarks/rl_yield.py``): no index;
a dependent step's other arguments come from a filler (an LLM in the paper's setting; here, by default, the
arguments of a random recorded call of the function, which is generous to the baseline), the dependent ones from the
parent, and the call counts only if that exact key is in the cache.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence


from goat_datasets import jsonpath
from goat_datasets.cache.store import CacheEntry
from goat_datasets.execution.base import Executor
from goat_datasets.formats.rl import DEFAULT_RL_SYSTEM_PROMPT, rl_row
from goat_datasets.rl.chain import Chain, ChainStep
from goat_datasets.rl.distractors import offered_tools, pick_distractors
from goat_datasets.rl.query import QueryResult
from goat_datasets.rl.responses import payload, response_problem
from goat_datasets.rl.reverse_index import ReverseIndex
from goat_datasets.recipe.schema import RlSynthesisKnobs
from goat_datasets.rl.templates import WorkflowTemplate
from goat_datasets.sources.models import ApiSpec
from goat_datasets.sources.openapi import sanitise_name

__all__ = [
    "RLSynthesisSettings",
    "SamplingFailure",
    "SynthesisResult",
    "resolve_functions",
    "draw_templates",
    "sample_chain",
    "sample_unconstrained",
    "UnconstrainedOutcome",
    "recorded_arguments_filler",
    "validate_chain",
    "synthesize",
]


class RLSynthesisSettings(RlSynthesisKnobs):
    """The knobs of constrained synthesis (the recipe's, `RlSynthesisKnobs`) and the prompts' system message."""

    system_prompt: str | None = DEFAULT_RL_SYSTEM_PROMPT


@dataclass(frozen=True)
class SamplingFailure:
    template_id: str
    reason: str  # the most frequent reason over the passes
    tries: int
    reasons: Counter = field(default_factory=Counter, compare=False)


@dataclass
class SynthesisResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # REJECTED_FEATURES rows
    counts: Counter = field(default_factory=Counter)


# ---------------------------------------------------------------------------------------------------- preparation


def resolve_functions(
    templates: Iterable[WorkflowTemplate], apis: Sequence[ApiSpec]
) -> tuple[dict[str, ApiSpec], dict[str, str]]:
    """``(function -> ApiSpec, template id -> problem)``. A template function matches the API whose name is the
    function's name, as is or sanitised the way source parsers name operations (``Get_Hotel_Reviews_Tips__Sort_
    Option`` is ``Get_Hotel_Reviews_Tips_Sort_Option``); a template with an unknown or ambiguous function is unusable.
    """
    by_name: dict[str, list[ApiSpec]] = {}
    for api in apis:
        by_name.setdefault(api.name, []).append(api)
    resolved: dict[str, ApiSpec] = {}
    problems: dict[str, str] = {}
    for template in templates:
        for index, function in enumerate(template.pattern):
            found = by_name.get(function) or by_name.get(sanitise_name(function)) or []
            if len(found) == 1:
                resolved[function] = found[0]
                continue
            if not found:
                problem = f"step {index}: function {function!r} is not among the {len(apis)} APIs given"
            else:
                problem = f"step {index}: function {function!r} is ambiguous ({', '.join(a.id for a in found)})"
            problems.setdefault(template.id, problem)
    return resolved, problems


def draw_templates(templates: Sequence[WorkflowTemplate], settings: RLSynthesisSettings) -> list[WorkflowTemplate]:
    """The templates to sample from, in order: ``uniform`` repeats seeded shuffles of the whole list (every template
    equally often, the last round partial); ``frequency`` draws with weights ``frequency`` (all 0: uniform)."""
    rng = random.Random(f"{settings.seed}:draw")
    count = settings.draws or len(templates)
    if not templates:
        return []
    if settings.template_choice == "frequency":
        weights = [t.frequency for t in templates]
        return rng.choices(list(templates), weights=weights if any(weights) else None, k=count)
    drawn: list[WorkflowTemplate] = []
    while len(drawn) < count:
        round_ = list(templates)
        rng.shuffle(round_)
        drawn.extend(round_[: count - len(drawn)])
    return drawn


# ---------------------------------------------------------------------------------------------------- sampling


def _step(
    template: WorkflowTemplate, index: int, api: ApiSpec, entry: CacheEntry, derived: dict[str, Any]
) -> ChainStep:
    step = template.steps[index]
    return ChainStep(
        index=index,
        function=step.function,
        name=api.name,
        api_id=api.id,
        key=entry.key,
        arguments=dict(entry.arguments),
        depends_on=tuple(step.depends_on),
        dependency_args={arg: dep.model_dump() for arg, dep in step.dependency_args.items()},
        derived=derived,
        response=entry.response,
        provenance=entry.provenance,
    )


def _derived_values(template: WorkflowTemplate, index: int, chosen: Sequence[ChainStep]) -> tuple[dict[str, Any], str]:
    """The dependent arguments of step ``index`` read from the chosen parents' responses, or a reason."""
    step = template.steps[index]
    values: dict[str, Any] = {}
    for arg, dep in step.dependency_args.items():
        value = jsonpath.get_first(payload(chosen[dep.from_step].response), dep.from_field)
        if value is jsonpath.MISSING or value is None:
            return {}, f"step {index} ({step.function}): the response of step {dep.from_step} has no {dep.from_field}"
        values[arg] = value
    return values, ""


def _empty_functions(template: WorkflowTemplate, index: ReverseIndex, api_for: Mapping[str, ApiSpec]) -> str:
    for i, step in enumerate(template.steps):
        if not index.entries(api_for[step.function].id):
            return f"step {i} ({step.function}): no usable cache entry for {api_for[step.function].id}"
    return ""


def sample_chain(
    template: WorkflowTemplate,
    index: ReverseIndex,
    api_for: Mapping[str, ApiSpec],
    rng: random.Random,
    max_retries: int = 50,
) -> Chain | SamplingFailure:
    """One constrained chain of ``template`` (see the module docstring), or why none was found."""
    empty = _empty_functions(template, index, api_for)
    if empty:
        return SamplingFailure(template.id, empty, 1, Counter({empty: 1}))
    reasons: Counter = Counter()
    for attempt in range(1, max_retries + 1):
        chosen: list[ChainStep] = []
        for i, step in enumerate(template.steps):
            api = api_for[step.function]
            derived, reason = _derived_values(template, i, chosen)
            if reason:
                break
            candidates = index.matching(api.id, derived)
            if not candidates:
                reason = f"step {i} ({step.function}): no cache entry with the parent's {', '.join(sorted(derived))}"
                break
            chosen.append(_step(template, i, api, rng.choice(candidates), derived))
        else:
            return Chain(template.id, tuple(chosen), tries=attempt)
        reasons[reason] += 1
    return SamplingFailure(template.id, reasons.most_common(1)[0][0], max_retries, reasons)


ArgumentFiller = Callable[[ApiSpec, Mapping[str, Any], random.Random], dict[str, Any]]


def recorded_arguments_filler(index: ReverseIndex) -> ArgumentFiller:
    """The baseline's stand-in for an LLM filling a dependent step's other arguments: the arguments of a random
    recorded call of the function (real, plausible values; the dependent ones are then overwritten)."""

    def fill(api: ApiSpec, derived: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        entries = index.entries(api.id)
        return dict(rng.choice(entries).arguments) if entries else {}

    return fill


@dataclass(frozen=True)
class UnconstrainedOutcome:
    chain: Chain | None
    reason: str
    llm_calls: int  # argument-filling calls made on the way
    permanent: bool = False  # a function of the template has no usable entry: retrying cannot help


def sample_unconstrained(
    template: WorkflowTemplate,
    index: ReverseIndex,
    api_for: Mapping[str, ApiSpec],
    rng: random.Random,
    fill: ArgumentFiller | None = None,
) -> UnconstrainedOutcome:
    """One pass without the reverse index: independent steps take a random entry; a dependent step's arguments are
    the filler's (one LLM call) with the dependent ones read from the parent, and must be an exact cache hit."""
    fill = fill or recorded_arguments_filler(index)
    empty = _empty_functions(template, index, api_for)
    if empty:  # no pass can ever succeed: the same early stop as constrained sampling
        return UnconstrainedOutcome(None, empty, 0, permanent=True)
    chosen: list[ChainStep] = []
    calls = 0
    for i, step in enumerate(template.steps):
        api = api_for[step.function]
        if not step.dependency_args:
            chosen.append(_step(template, i, api, rng.choice(index.entries(api.id)), {}))
            continue
        derived, reason = _derived_values(template, i, chosen)
        if reason:
            return UnconstrainedOutcome(None, reason, calls)
        arguments = fill(api, derived, rng)
        calls += 1
        arguments.update(derived)
        entry = index.get(api.id, arguments)
        if entry is None:
            return UnconstrainedOutcome(None, f"step {i} ({step.function}): cache miss", calls)
        chosen.append(_step(template, i, api, entry, derived))
    return UnconstrainedOutcome(Chain(template.id, tuple(chosen)), "", calls)


def validate_chain(chain: Chain, executor: Executor, apis_by_id: Mapping[str, ApiSpec]) -> list[str]:
    """Replays every step through ``executor``; each problem names the step (empty: the chain is valid)."""
    problems = []
    for step in chain.steps:
        api = apis_by_id[step.api_id]
        result = executor.call(api, dict(step.arguments))
        problem = response_problem(result.ok, result.response, result.error)
        if problem is not None:
            problems.append(f"step {step.index} ({step.name}): {problem}")
    return problems


# ---------------------------------------------------------------------------------------------------- the driver


def _rejection(chain_id: str, stage: str, reason: str, api_ids: Sequence[str], detail: str,
               fingerprint: str) -> dict[str, Any]:  # fmt: skip
    return {"id": f"{stage}:{chain_id}", "chain_id": chain_id, "stage": stage, "reason": reason,
            "api_ids": list(api_ids), "detail": detail, "recipe_fingerprint": fingerprint}  # fmt: skip


def synthesize(
    templates: Sequence[WorkflowTemplate],
    index: ReverseIndex,
    apis: Sequence[ApiSpec],
    executor: Executor,
    write_query: Callable[[Chain], QueryResult],
    settings: RLSynthesisSettings | None = None,
    *,
    fingerprint: str = "",
    generator_model: str = "",
) -> SynthesisResult:
    """``rl`` rows (`goat_datasets.formats.rl.RL_FEATURES`) and rejections (``REJECTED_FEATURES``).

    ``apis`` is the function pool: the template functions resolve against it (`resolve_functions`) and distractors
    are drawn from it. ``write_query(chain)`` is usually `goat_datasets.rl.query.make_query_writer`'s.
    ``counts``: draws, attempts, sampling_tries, sampled, duplicates, validated, rows, llm_calls, and
    ``rejected_<stage>``.
    """
    settings = settings or RLSynthesisSettings()
    result = SynthesisResult()
    counts = result.counts
    api_for, unusable = resolve_functions(templates, apis)
    apis_by_id = {api.id: api for api in apis}
    seen: set[tuple] = set()

    def reject(chain_id: str, stage: str, reason: str, api_ids: Sequence[str], detail: str = "") -> None:
        counts[f"rejected_{stage}"] += 1
        result.rejected.append(_rejection(chain_id, stage, reason, api_ids, detail, fingerprint))

    drawn = draw_templates(templates, settings)
    counts["draws"] = len(drawn)
    for draw, template in enumerate(drawn):
        for query_number in range(settings.queries_per_template):
            counts["attempts"] += 1
            attempt_id = f"{template.id}-draw{draw}-q{query_number}"
            if template.id in unusable:
                reject(attempt_id, "sampling", unusable[template.id], [])
                continue
            rng = random.Random(f"{settings.seed}:{draw}:{template.id}:{query_number}")
            outcome = sample_chain(template, index, api_for, rng, settings.max_retries)
            counts["sampling_tries"] += outcome.tries
            gold_api_ids = [api_for[f].id for f in template.pattern]
            if isinstance(outcome, SamplingFailure):
                detail = "; ".join(f"{n}x {r}" for r, n in outcome.reasons.most_common(3))
                reject(attempt_id, "sampling", outcome.reason, gold_api_ids, f"{outcome.tries} passes: {detail}")
                continue
            chain = outcome
            counts["sampled"] += 1
            if chain.signature in seen:
                counts["duplicates"] += 1
                reject(chain.chain_id, "duplicate", "the same chain was already sampled", chain.api_ids)
                continue
            seen.add(chain.signature)
            problems = validate_chain(chain, executor, apis_by_id)
            if problems:
                reject(chain.chain_id, "validation", problems[0], chain.api_ids, "; ".join(problems))
                continue
            counts["validated"] += 1
            query = write_query(chain)
            counts["llm_calls"] += query.llm_calls
            if not query.ok:
                reject(chain.chain_id, "query", query.reason, chain.api_ids, ", ".join(query.missing))
                continue
            row_rng = random.Random(f"{settings.seed}:{chain.chain_id}")
            gold_apis = [apis_by_id[api_id] for api_id in chain.api_ids]
            distractors = pick_distractors(chain.api_ids, apis, settings.distractors, row_rng)
            result.rows.append(
                rl_row(
                    id=chain.chain_id,
                    query=query.query,
                    tools=offered_tools(gold_apis, distractors, row_rng),
                    gold_steps=chain.gold_steps(),
                    template_id=template.id,
                    api_ids=chain.api_ids,
                    provenance=chain.provenance,
                    system_prompt=settings.system_prompt,
                    recipe_fingerprint=fingerprint,
                    generator_model=generator_model,
                )
            )
            counts["rows"] += 1
    return result
