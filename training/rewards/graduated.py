"""Graduated rewards for tool orchestration (arXiv 2603.24709, code horizon-rl/ToolOrchestrationReward, Apache-2.0).

Per model call, the atomic reward gives partial credit in three levels plus execution::

    name       0.33  the call names a gold step's function (otherwise the call scores 0 everywhere)
    structure  0.33 x (share of gold parameters present) x (share of those with the right type)
               (a gold step without parameters: 0.33 when the call has none)
    values     0.34  the arguments equal the gold values (normalised strings, no unexpected or missing parameter)
    execution  1     the paired tool response exists, is not an error and is not empty

    R_atomic = 1/2 (mean over calls of name+structure+values + mean over calls of execution); no calls -> 0
    R_orch   = share of gold steps k for which some call of step k's function comes after the calls matched to all
               of k's dependencies (which must be matched themselves)
    R        = w_atomic R_atomic + w_orch R_orch   (0.5 / 0.5; 1/0 and 0/1 are the paper's ablations)

``mode="paper"`` reproduces the released ``training/reward/complex_tool.py`` (``compute_score``) exactly:

* a call is scored against the *first* gold step with its function name, so with two gold steps of one function
  the second call is judged against the first step's arguments;
* calls whose ``<tool_call>`` JSON does not parse (or is ``null``) are dropped: they count neither as calls nor in
  the means (but they still consume the next tool response when calls and responses are paired);
* repeated correct calls are all scored in full; orchestration lets one call satisfy several gold steps;
* a JSON body that is not an object (number, string, list, bool) counts as a call worth 0;
* structure types: any two of ``int``/``float``/``bool`` are compatible (``isinstance``), else exact types;
* values: BFCL's checker on a description inferred from the gold values (see :mod:`.checkers`);
* execution: the paired response must decode as JSON; a JSON object fails with an ``"error"`` key, with
  ``status == False`` or when empty; any other JSON value passes (even ``[]`` or ``""``);
* means use Python's ``sum`` over per-call scores in call order, as the released code does, so the floats agree;
* the released code finds a call's response again by its ``(name, str(sorted(arguments.items())))`` signature; among
  identical calls that can hand the responses out in another order, which never changes the mean, so each call's
  own paired response is used;
* conversational (trl message) rollouts, which the released code never saw, are read as if rendered to text:
  structured ``tool_calls`` are parsed calls, a tool message's text must decode as JSON.

Checked by reading the released code (commit 99af0d3) and, mechanically, against the plain re-implementation in
``benchmarks/rewards.py`` on thousands of generated rollouts (``tests/test_rewards.py``).

Where the released code raises instead of scoring (``None`` gold arguments, a ``None`` gold value the model also
sends, a tool name that is a list, a non-object body in the orchestration check), paper mode scores a failure
(``None`` gold arguments count as ``{}``) so training never stops on one odd rollout.

``mode="default"`` fixes those defects: calls are matched one-to-one to gold steps of the same function (an optimal
assignment, maximising name+structure+values+execution), so a repeated or extra call is worth 0; unparseable calls,
non-object bodies and calls without a string name count as wrong calls (0, but in the mean); ``None`` means "not
given" for gold and model arguments alike; ``bool`` is not a number; orchestration matches each gold step to its own
call. Two further deliberate differences: responses that are not JSON (trl's ``str(dict)`` tool messages, responses
truncated by the trainer) are judged leniently (see :func:`.responses.default_response_ok`), and empty lists,
strings and ``null`` responses count as empty.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from .checkers import (
    default_same_kind,
    default_values_valid,
    paper_types_compatible,
    paper_values_valid,
)
from .gold import GoldPlan, GoldStep, as_plan
from .parsing import ParsedCall, parse_rollout
from .responses import default_response_ok, paper_response_ok
from .toolrl import toolrl_score

__all__ = [
    "GoldStep",
    "GoldPlan",
    "CallScore",
    "RewardBreakdown",
    "MODES",
    "atomic_reward",
    "orchestration_reward",
    "total_reward",
    "toolrl_reward",
    "reward_breakdown",
]

MODES = ("default", "paper")
NAME_CREDIT, STRUCTURE_CREDIT, VALUES_CREDIT = 0.33, 0.33, 0.34
_EPSILON = 1e-9


@dataclass(slots=True)
class CallScore:
    """How one call was scored (for logging and debugging)."""

    index: int
    name: str | None
    matched_step: int | None = None
    name_score: float = 0.0
    structure: float = 0.0
    values: float = 0.0
    execution: float = 0.0
    note: str = ""

    @property
    def atomic(self) -> float:
        return self.name_score + self.structure + self.values


@dataclass
class RewardBreakdown:
    """Every part of the graduated reward of one rollout. Means are over the calls that count in ``mode``."""

    mode: str
    n_calls: int
    name: float
    structure: float
    values: float
    execution: float
    atomic: float
    orchestration: float
    total: float
    w_atomic: float
    w_orch: float
    calls: list[CallScore] = field(default_factory=list)
    step_positions: list[int | None] = field(default_factory=list)  # call position matched by each gold step

    def as_dict(self) -> dict[str, float]:
        return {
            "name": self.name,
            "structure": self.structure,
            "values": self.values,
            "execution": self.execution,
            "atomic": self.atomic,
            "orchestration": self.orchestration,
            "total": self.total,
            "n_calls": float(self.n_calls),
        }


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        close = difflib.get_close_matches(str(mode), MODES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown reward mode {mode!r}{hint} (known: {', '.join(MODES)})")
    return mode


def _as_calls(calls: Any) -> list[ParsedCall]:
    if isinstance(calls, list) and (not calls or isinstance(calls[0], ParsedCall)):
        return calls
    if isinstance(calls, tuple) and all(isinstance(call, ParsedCall) for call in calls):
        return list(calls)
    return parse_rollout(calls)


# ------------------------------------------------------------------------------------------------ paper: atomic


def _paper_structure(arguments: dict, gold_arguments: dict) -> float:
    if len(gold_arguments) == 0:
        return STRUCTURE_CREDIT if len(arguments) == 0 else 0.0
    present = [key for key in gold_arguments if key in arguments]
    overlap = len(present) / len(gold_arguments)
    if present:
        matches = 0
        for key in present:
            if paper_types_compatible(arguments[key], gold_arguments[key]):
                matches += 1
        type_accuracy = matches / len(present)
    else:
        type_accuracy = 0.0
    return STRUCTURE_CREDIT * overlap * type_accuracy


def _paper_atomic(calls: list[ParsedCall], plan: GoldPlan, details: list[CallScore] | None) -> tuple:
    """(R_atomic, mean name, mean structure, mean values, mean execution, calls counted); the means only with
    ``details`` (the training path needs R_atomic alone)."""
    ast_scores: list[float] = []
    semantic_scores: list[float] = []
    indices_by_name = plan.indices_by_name
    steps = plan.steps
    for call in calls:
        if call.parse_error is not None:
            if details is not None:
                details.append(CallScore(call.index, None, note=f"dropped (paper mode): {call.parse_error}"))
            continue
        name = call.name
        indices = indices_by_name.get(name) if name is not None else None
        if not indices:
            ast_scores.append(0.0)
            semantic_scores.append(0.0)
            if details is not None:
                note = "not a JSON object with a string name" if name is None else f"no gold step calls {name!r}"
                details.append(CallScore(call.index, name, note=note))
            continue
        step = steps[indices[0]]
        arguments = call.arguments
        structure = _paper_structure(arguments, step.arguments or {})
        values = VALUES_CREDIT if paper_values_valid(arguments, step) else 0.0
        semantic = 1.0 if paper_response_ok(call.response) else 0.0
        ast_scores.append(NAME_CREDIT + structure + values)
        semantic_scores.append(semantic)
        if details is not None:
            details.append(CallScore(call.index, name, indices[0], NAME_CREDIT, structure, values, semantic))
    total = len(ast_scores)
    if total == 0:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0
    # sum() over the per-call lists, as the released code does (Python 3.12 made float sums compensated; calling the
    # same builtin keeps the floats identical on every version)
    avg_ast = sum(ast_scores) / total
    avg_semantic = sum(semantic_scores) / total
    atomic = (avg_ast + avg_semantic) / 2
    if details is None:
        return atomic, 0.0, 0.0, 0.0, avg_semantic, total
    scored = [d for d in details if not d.note.startswith("dropped")]
    return (
        atomic,
        sum(d.name_score for d in scored) / total,
        sum(d.structure for d in scored) / total,
        sum(d.values for d in scored) / total,
        avg_semantic,
        total,
    )


# ----------------------------------------------------------------------------------------- paper: orchestration


def _positions_by_name(calls: list[ParsedCall]) -> dict[str, list[int]]:
    """Positions of the parsed calls by tool name, in call order (positions in the full call list keep the order of
    the released code's list of parsed calls)."""
    positions: dict[str, list[int]] = {}
    for position, call in enumerate(calls):
        if call.name is not None and call.parse_error is None:
            positions.setdefault(call.name, []).append(position)
    return positions


def _after_dependencies(depends_on, matched: dict[int, int]) -> int | None:
    """The position a step's call must come after (its latest matched dependency; -1 with none), or None when a
    dependency was never matched (the step cannot be credited)."""
    threshold = -1
    for dep in depends_on:
        if dep not in matched:
            return None
        threshold = max(threshold, matched[dep])
    return threshold


def _paper_orchestration(calls: list[ParsedCall], plan: GoldPlan) -> tuple[float, list[int | None]]:
    steps = plan.steps
    if not steps:
        return 0.0, []
    positions_by_name = _positions_by_name(calls)
    matched: dict[int, int] = {}
    rewards = []
    for index, step in enumerate(steps):
        reward = 0.0
        candidates = positions_by_name.get(step.name)
        if candidates:
            threshold = _after_dependencies(step.depends_on, matched)
            if threshold is not None:
                for candidate in candidates:  # the same call may serve several steps
                    if candidate > threshold:
                        matched[index] = candidate
                        reward = 1.0
                        break
        rewards.append(reward)
    weights = [1.0] * len(rewards)
    score = sum(r * w for r, w in zip(rewards, weights)) / sum(weights)
    return score, [matched.get(index) for index in range(len(steps))]


# ---------------------------------------------------------------------------------------------- default: atomic


def _given(arguments: dict) -> dict:
    for value in arguments.values():
        if value is None:
            return {key: value for key, value in arguments.items() if value is not None}
    return arguments


def _default_parts(call: ParsedCall, given: dict, step: GoldStep) -> tuple[float, float]:
    """(structure, values) of a well-formed call against one gold step."""
    if call.arguments_error is not None:
        return 0.0, 0.0
    gold = step.given_arguments
    if not gold:
        structure = STRUCTURE_CREDIT if not given else 0.0
    else:
        present = 0
        right_type = 0
        for key, gold_value in gold.items():
            if key in given:
                present += 1
                if default_same_kind(given[key], gold_value):
                    right_type += 1
        structure = STRUCTURE_CREDIT * (present / len(gold)) * (right_type / present) if present else 0.0
    values = VALUES_CREDIT if default_values_valid(given, gold) else 0.0
    return structure, values


def _assign(weights: list[list[float]]) -> list[int | None]:
    """Column chosen for each row in a maximum-weight one-to-one matching (ties: earlier rows, earlier columns)."""
    rows, cols = len(weights), len(weights[0])
    if cols == 1:
        best = max(range(rows), key=lambda r: (weights[r][0], -r))
        return [0 if r == best else None for r in range(rows)]
    if rows == 1:
        best = max(range(cols), key=lambda c: (weights[0][c], -c))
        return [best]
    if cols > 12:  # never seen in practice; greedy keeps the cost bounded
        taken: set[int] = set()
        result: list[int | None] = []
        for row in weights:
            options = [c for c in range(cols) if c not in taken]
            if not options:
                result.append(None)
                continue
            best = max(options, key=lambda c: (row[c], -c))
            taken.add(best)
            result.append(best)
        return result
    memo: dict[tuple[int, int], tuple[float, int | None]] = {}

    def best_from(row: int, used: int) -> float:
        if row == rows:
            return 0.0
        key = (row, used)
        if key in memo:
            return memo[key][0]
        best_value, best_choice = best_from(row + 1, used), None
        for col in range(cols):
            if not used >> col & 1:
                value = weights[row][col] + best_from(row + 1, used | 1 << col)
                if value > best_value + _EPSILON or (best_choice is None and value >= best_value - _EPSILON):
                    best_value, best_choice = value, col
        memo[key] = (best_value, best_choice)
        return best_value

    best_from(0, 0)
    result = []
    used = 0
    for row in range(rows):
        choice = memo[(row, used)][1]
        result.append(choice)
        if choice is not None:
            used |= 1 << choice
    return result


def _default_atomic(calls: list[ParsedCall], plan: GoldPlan, details: list[CallScore] | None) -> tuple:
    """(R_atomic, mean name, mean structure, mean values, mean execution, calls counted)."""
    n = len(calls)
    if n == 0:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0
    indices_by_name = plan.indices_by_name
    steps = plan.steps
    by_name: dict[str, list[int]] = {}
    for position, call in enumerate(calls):
        name = call.name
        if name is not None and call.parse_error is None and name in indices_by_name:
            by_name.setdefault(name, []).append(position)
    # position -> (gold step, structure, values, execution) for the calls the matching keeps
    matched: dict[int, tuple[int, float, float, float]] = {}
    for name, positions in by_name.items():
        gold_indices = indices_by_name[name]
        if len(positions) == 1 and len(gold_indices) == 1:  # the common case: nothing to choose
            call = calls[positions[0]]
            structure, values = _default_parts(call, _given(call.arguments), steps[gold_indices[0]])
            executed = 1.0 if default_response_ok(call.response) else 0.0
            matched[positions[0]] = (gold_indices[0], structure, values, executed)
            continue
        parts, weights, executions = [], [], []
        for position in positions:
            call = calls[position]
            given = _given(call.arguments)
            executed = 1.0 if default_response_ok(call.response) else 0.0
            row = [_default_parts(call, given, steps[g]) for g in gold_indices]
            parts.append(row)
            executions.append(executed)
            weights.append([NAME_CREDIT + s + v + executed for s, v in row])
        for row_number, column in enumerate(_assign(weights)):
            if column is not None:
                structure, values = parts[row_number][column]
                matched[positions[row_number]] = (gold_indices[column], structure, values, executions[row_number])
    call_scores = [0.0] * n
    execution_scores = [0.0] * n
    for position, (_, structure, values, executed) in matched.items():
        call_scores[position] = NAME_CREDIT + structure + values
        execution_scores[position] = executed
    execution = sum(execution_scores) / n
    atomic = (sum(call_scores) / n + execution) / 2
    if details is None:
        return atomic, 0.0, 0.0, 0.0, execution, n
    scores = []
    for position, call in enumerate(calls):
        score = CallScore(call.index, call.name)
        if position in matched:
            step_index, score.structure, score.values, score.execution = matched[position]
            score.matched_step, score.name_score = step_index, NAME_CREDIT
            score.note = call.arguments_error or ""
        elif call.parse_error is not None:
            score.note = f"unparseable: {call.parse_error}"
        elif call.name is None:
            score.note = "not a JSON object with a string name"
        elif call.name not in indices_by_name:
            score.note = f"no gold step calls {call.name!r}"
        else:
            score.note = f"extra call: every gold step calling {call.name!r} is matched to another call"
        scores.append(score)
    details.extend(scores)
    return (
        atomic,
        sum(s.name_score for s in scores) / n,
        sum(s.structure for s in scores) / n,
        sum(s.values for s in scores) / n,
        execution,
        n,
    )


# --------------------------------------------------------------------------------------- default: orchestration


def _default_orchestration(calls: list[ParsedCall], plan: GoldPlan) -> tuple[float, list[int | None]]:
    steps = plan.steps
    if not steps:
        return 0.0, []
    positions_by_name = _positions_by_name(calls)
    matched: dict[int, int] = {}
    used: set[int] = set()
    for index, step in enumerate(steps):
        candidates = positions_by_name.get(step.name)
        if not candidates:
            continue
        threshold = _after_dependencies(step.depends_on, matched)
        if threshold is None:
            continue
        for candidate in candidates:  # earliest unused call after every dependency
            if candidate > threshold and candidate not in used:
                matched[index] = candidate
                used.add(candidate)
                break
    return len(matched) / len(steps), [matched.get(index) for index in range(len(steps))]


# ---------------------------------------------------------------------------------------------------- public API


def _atomic_parts(calls, plan, mode, details=None):
    return _paper_atomic(calls, plan, details) if mode == "paper" else _default_atomic(calls, plan, details)


def _orchestration(calls, plan, mode):
    return _paper_orchestration(calls, plan) if mode == "paper" else _default_orchestration(calls, plan)


def atomic_reward(calls: Any, gold: Any, mode: str = "default") -> float:
    """R_atomic in [0, 1] of parsed calls (or a raw rollout) against gold steps."""
    _check_mode(mode)
    return _atomic_parts(_as_calls(calls), as_plan(gold), mode)[0]


def orchestration_reward(calls: Any, gold: Any, mode: str = "default") -> float:
    """R_orch in [0, 1]: share of gold steps called after all their dependencies."""
    _check_mode(mode)
    return _orchestration(_as_calls(calls), as_plan(gold), mode)[0]


def total_reward(calls: Any, gold: Any, w_atomic: float = 0.5, w_orch: float = 0.5, mode: str = "default") -> float:
    """``w_atomic * R_atomic + w_orch * R_orch``; a zero weight skips that part."""
    _check_mode(mode)
    calls, plan = _as_calls(calls), as_plan(gold)
    atomic = _atomic_parts(calls, plan, mode)[0] if w_atomic else 0.0
    orchestration = _orchestration(calls, plan, mode)[0] if w_orch else 0.0
    return w_atomic * atomic + w_orch * orchestration


def toolrl_reward(calls: Any, gold: Any) -> float:
    """The ToolRL correctness reward in [-3, 3] (see :mod:`.toolrl`)."""
    return toolrl_score(_as_calls(calls), as_plan(gold))


def reward_breakdown(
    calls: Any, gold: Any, mode: str = "default", w_atomic: float = 0.5, w_orch: float = 0.5
) -> RewardBreakdown:
    """Everything behind :func:`total_reward`, call by call."""
    _check_mode(mode)
    calls, plan = _as_calls(calls), as_plan(gold)
    details: list[CallScore] = []
    atomic, name, structure, values, execution, counted = _atomic_parts(calls, plan, mode, details)
    orchestration, positions = _orchestration(calls, plan, mode)
    return RewardBreakdown(
        mode=mode,
        n_calls=counted,
        name=name,
        structure=structure,
        values=values,
        execution=execution,
        atomic=atomic,
        orchestration=orchestration,
        total=w_atomic * atomic + w_orch * orchestration,
        w_atomic=w_atomic,
        w_orch=w_orch,
        calls=details,
        step_positions=positions,
    )
