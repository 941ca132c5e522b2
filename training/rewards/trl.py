"""The graduated rewards as trl reward functions: ``f(prompts, completions, **columns) -> list[float]``.

trl's GRPOTrainer calls a reward function with the prompts, the completions (strings, or lists of chat messages in
the conversational form), ``completion_ids`` and every other dataset column as a keyword argument. These functions
read the reference chain from the ``gold_steps`` column (JSON text or a list of ``{name, arguments, depends_on}``)
and ignore the rest. When trl passes ``log_metric``, the mean of each reward part is logged under
``<function name>/<part>``. Importing this module does not import trl, torch or distilabel.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from .gold import GoldStepsError, parse_gold_steps
from .graduated import _atomic_parts, _check_mode, _orchestration, reward_breakdown
from .parsing import parse_rollout
from .toolrl import toolrl_score

__all__ = ["make_reward_func", "KINDS"]

KINDS = ("total", "atomic", "orchestration", "toolrl")
_WEIGHT_NAMES = ("w_atomic", "w_orch")
# keyword arguments trl adds next to the dataset columns (trl 1.16 GRPOTrainer._calculate_rewards)
_TRL_KEYWORDS = frozenset(("completion_ids", "trainer_state", "log_extra", "log_metric", "environments"))


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown reward kind {kind!r}{hint} (known: {', '.join(KINDS)})")
    return kind


def make_reward_func(
    kind: str = "total",
    mode: str = "default",
    *,
    gold_column: str = "gold_steps",
    log_parts: bool = True,
    **weights: float,
) -> Callable[..., list[float]]:
    """A trl-compatible reward function.

    ``kind``: ``total`` (``w_atomic * R_atomic + w_orch * R_orch``, weights 0.5/0.5 unless given), ``atomic``,
    ``orchestration`` or ``toolrl``. ``mode``: ``default`` or ``paper`` (see :mod:`.graduated`). The function's
    ``__name__`` (what trl logs) is ``graduated_<kind>[_paper]`` or ``toolrl``.
    """
    _check_kind(kind)
    _check_mode(mode)
    unknown = sorted(set(weights) - set(_WEIGHT_NAMES))
    if unknown:
        raise TypeError(f"make_reward_func: unknown keyword(s) {unknown}; weights are {', '.join(_WEIGHT_NAMES)}")
    if weights and kind != "total":
        raise TypeError(f"make_reward_func: weights only apply to kind='total', not {kind!r}")
    w_atomic = float(weights.get("w_atomic", 0.5))
    w_orch = float(weights.get("w_orch", 0.5))
    name = "toolrl" if kind == "toolrl" else f"graduated_{kind}" + ("_paper" if mode == "paper" else "")

    def score(calls, plan) -> float:
        if kind == "total":
            atomic = _atomic_parts(calls, plan, mode)[0] if w_atomic else 0.0
            orchestration = _orchestration(calls, plan, mode)[0] if w_orch else 0.0
            return w_atomic * atomic + w_orch * orchestration
        if kind == "atomic":
            return _atomic_parts(calls, plan, mode)[0]
        if kind == "orchestration":
            return _orchestration(calls, plan, mode)[0]
        return toolrl_score(calls, plan)

    def reward_func(prompts: list | None = None, completions: list | None = None, **columns: Any) -> list[float]:
        if completions is None:
            raise TypeError(f"{name}: called without completions")
        gold_cells = columns.get(gold_column)
        if gold_cells is None:
            passed = sorted(k for k in columns if k not in _TRL_KEYWORDS)
            raise ValueError(
                f"{name}: the dataset has no {gold_column!r} column (columns passed to the reward: {passed or 'none'})"
            )
        if len(gold_cells) != len(completions):
            raise ValueError(f"{name}: {len(completions)} completions but {len(gold_cells)} {gold_column!r} values")
        log_metric = columns.get("log_metric") if log_parts and kind != "toolrl" else None
        rewards: list[float] = []
        parts: dict[str, float] = {}
        for row, (completion, cell) in enumerate(zip(completions, gold_cells)):
            try:
                plan = parse_gold_steps(cell)
            except GoldStepsError as exc:
                raise GoldStepsError(f"{name}: row {row} of {gold_column!r}: {exc}") from None
            calls = parse_rollout(completion)
            if callable(log_metric):
                breakdown = reward_breakdown(calls, plan, mode, w_atomic, w_orch)
                for part, value in breakdown.as_dict().items():
                    parts[part] = parts.get(part, 0.0) + value
                if kind == "total":
                    rewards.append(breakdown.total)
                    continue
            rewards.append(score(calls, plan))
        if callable(log_metric) and rewards:
            for part, value in parts.items():
                log_metric(f"{name}/{part}", value / len(rewards))
        return rewards

    reward_func.__name__ = name
    reward_func.__qualname__ = name
    reward_func.__doc__ = f"{name}: graduated tool-orchestration reward ({kind}, mode={mode}) for trl."
    return reward_func
