"""Graduated rewards for RL on tool orchestration, and the project's canonical cache key.

Plain Python (standard library, plus orjson when installed): importing this package pulls in neither trl, torch nor
distilabel, so rewards can run in any worker.

    from goat_train.rewards import parse_rollout, total_reward, make_reward_func, canonical_key
    calls = parse_rollout(completion)            # text with <tool_call> tags, or trl chat messages
    total_reward(calls, gold_steps)              # mode="default" | "paper"
    trainer = GRPOTrainer(..., reward_funcs=[make_reward_func("total")])   # reads the gold_steps column
"""

from .canonical import canonical_arguments, canonical_key, is_number_like
from .gold import GoldPlan, GoldStep, GoldStepsError, parse_gold_steps
from .graduated import (
    MODES,
    CallScore,
    RewardBreakdown,
    atomic_reward,
    orchestration_reward,
    reward_breakdown,
    toolrl_reward,
    total_reward,
)
from .parsing import ParsedCall, ToolResponse, make_call, parse_rollout
from .trl import KINDS, make_reward_func

__all__ = [
    "canonical_key",
    "canonical_arguments",
    "is_number_like",
    "GoldStep",
    "GoldPlan",
    "GoldStepsError",
    "parse_gold_steps",
    "ParsedCall",
    "ToolResponse",
    "make_call",
    "parse_rollout",
    "MODES",
    "KINDS",
    "CallScore",
    "RewardBreakdown",
    "atomic_reward",
    "orchestration_reward",
    "total_reward",
    "toolrl_reward",
    "reward_breakdown",
    "make_reward_func",
]
