"""The ToolRL correctness reward (Qian et al., 2025), the baseline the graduated reward is compared with.

``S = Jaccard(names) + sum over gold calls of [Jaccard(parameter keys) + number of exactly equal values]`` and
``R = 6 * S / S_max - 3`` with ``S_max = 1 + sum over gold calls of (1 + number of gold parameters)``, so R lies in
[-3, 3]. Jaccard counts multiplicity (two calls of one tool are two names). Each gold call takes the unused predicted
call of the same name with the best strictly positive score, gold calls in order. A predicted call whose JSON did not
parse counts as a call without a name (it lowers the name Jaccard) instead of failing the whole rollout.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from .gold import GoldPlan

__all__ = ["multiset_jaccard", "toolrl_score"]


def multiset_jaccard(first: Sequence[Any], second: Sequence[Any]) -> float:
    """|A ∩ B| / |A ∪ B| over multisets; 1.0 for two equal lists (two empty lists included), 0.0 if one is empty."""
    if list(first) == list(second):
        return 1.0
    if not first or not second:
        return 0.0
    count_first, count_second = Counter(first), Counter(second)
    common = sum(min(count_first[key], count_second[key]) for key in count_first.keys() & count_second.keys())
    union = len(first) + len(second) - common
    return common / union if union > 0 else 0.0


def toolrl_score(calls: Sequence, plan: GoldPlan) -> float:
    """ToolRL's R in [-3, 3] for parsed calls against a gold plan."""
    predicted_names = [call.name for call in calls]
    score = multiset_jaccard([step.name for step in plan.steps], predicted_names)
    best_possible = 1.0
    used: set[int] = set()
    for step in plan.steps:
        gold_arguments = step.arguments or {}
        best_possible += 1.0 + len(gold_arguments)
        best_score, best_index = 0.0, -1
        for index, call in enumerate(calls):
            if index in used or call.name != step.name:
                continue
            arguments = call.arguments
            keys = multiset_jaccard(list(gold_arguments), list(arguments))
            exact = sum(1.0 for key, value in gold_arguments.items() if key in arguments and arguments[key] == value)
            if keys + exact > best_score:
                best_score, best_index = keys + exact, index
        if best_index != -1:
            used.add(best_index)
            score += best_score
    return 6.0 * score / best_possible - 3.0
