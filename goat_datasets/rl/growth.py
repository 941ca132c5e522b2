"""Growing a response cache along workflow templates (REFERENCE §2a), so constrained synthesis has more to pick from.

Per template, step by step: an independent step asks the proposer (an LLM in builds) for ``independent_sets``
argument sets and calls each; a dependent step takes combinations of its parents' successful results (one result
per parent step, at most ``max_combinations``, seeded), reads the dependent arguments from them (``from_field`` in
the parent's response data), asks the proposer for the other arguments, and calls. Every call goes through a
`CachingExecutor`, which records it in the cache (answers already cached are free); the number of live calls is
bounded by ``call_budget``. A step without any successful call ends its template (nothing can depend on it).

The proposer is ``propose(api, fixed, n) -> list of argument dicts``: ``fixed`` holds the arguments already decided
(the dependent ones); its answers are merged under them, so a proposer cannot overwrite a propagated value. Each
proposer call counts as one LLM call in the report.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from goat_datasets import jsonpath
from goat_datasets.execution.base import CallResult
from goat_datasets.execution.replay import CachingExecutor
from goat_datasets.rl.responses import payload, response_problem
from goat_datasets.rl.synthesis import resolve_functions
from goat_datasets.rl.templates import WorkflowTemplate
from goat_datasets.sources.models import ApiSpec

__all__ = ["GrowthSettings", "GrowthReport", "ArgumentProposer", "grow_cache"]

ArgumentProposer = Callable[[ApiSpec, Mapping[str, Any], int], list[dict[str, Any]]]


class GrowthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    independent_sets: int = Field(3, ge=1, description="argument sets asked for each independent step (N)")
    max_combinations: int = Field(10, ge=1, description="parent-result combinations tried per dependent step")
    call_budget: int = Field(100, ge=1, description="live calls at most (answers already in the cache are free)")


@dataclass
class GrowthReport:
    calls: int = 0  # calls through the executor (cached or live)
    live: int = 0  # calls the cache could not answer
    ok: int = 0  # calls with a usable answer (ok, no error object, non-empty)
    llm_calls: int = 0  # proposer calls
    budget_exhausted: bool = False
    templates: dict[str, list[int]] = field(default_factory=dict)  # template id -> usable results per step
    stopped: dict[str, str] = field(default_factory=dict)  # template id -> why it stopped early
    failures: Counter = field(default_factory=Counter)  # reason -> count (unusable answers, missing fields)


def _usable(result: CallResult) -> bool:
    return response_problem(result.ok, result.response, result.error) is None


def grow_cache(
    templates: Sequence[WorkflowTemplate],
    apis: Sequence[ApiSpec],
    executor: CachingExecutor,
    propose: ArgumentProposer,
    settings: GrowthSettings | None = None,
) -> GrowthReport:
    """Call the templates' functions with proposed and propagated arguments, recording every answer (see above)."""
    settings = settings or GrowthSettings()
    report = GrowthReport()
    api_for, unusable = resolve_functions(templates, apis)
    live_before = executor.counts["live"]

    def call(api: ApiSpec, arguments: dict[str, Any]) -> CallResult | None:
        if executor.counts["live"] - live_before >= settings.call_budget:
            report.budget_exhausted = True
            return None
        result = executor.call(api, arguments)
        report.calls += 1
        report.live = executor.counts["live"] - live_before
        if _usable(result):
            report.ok += 1
        else:
            report.failures[f"{api.name}: {response_problem(result.ok, result.response, result.error)}"] += 1
        return result

    for template in templates:
        if template.id in unusable:
            report.stopped[template.id] = unusable[template.id]
            continue
        rng = random.Random(f"{settings.seed}:grow:{template.id}")
        results: list[list[CallResult]] = []
        for index, step in enumerate(template.steps):
            api = api_for[step.function]
            found: list[CallResult] = []
            if not step.dependency_args:
                report.llm_calls += 1
                for proposal in propose(api, {}, settings.independent_sets)[: settings.independent_sets]:
                    result = call(api, dict(proposal))
                    if result is None:
                        break
                    if _usable(result):
                        found.append(result)
            else:
                parents = sorted({dep.from_step for dep in step.dependency_args.values()})
                pools = [rng.sample(results[p], len(results[p])) for p in parents]
                for combination in itertools.islice(itertools.product(*pools), settings.max_combinations):
                    chosen = dict(zip(parents, combination))
                    fixed: dict[str, Any] = {}
                    for arg, dep in step.dependency_args.items():
                        value = jsonpath.get_first(payload(chosen[dep.from_step].response), dep.from_field)
                        if value is jsonpath.MISSING or value is None:
                            missing = f"{step.function}: parent step {dep.from_step} has no {dep.from_field}"
                            report.failures[missing] += 1
                            break
                        fixed[arg] = value
                    else:
                        report.llm_calls += 1
                        proposals = propose(api, dict(fixed), 1)
                        result = call(api, {**(proposals[0] if proposals else {}), **fixed})
                        if result is None:
                            break
                        if _usable(result):
                            found.append(result)
            results.append(found)
            if report.budget_exhausted:
                report.stopped[template.id] = f"call budget of {settings.call_budget} live calls reached"
                break
            if not found:
                report.stopped[template.id] = f"step {index} ({step.function}): no usable answer"
                break
        report.templates[template.id] = [len(r) for r in results]
        if report.budget_exhausted:
            break
    return report
