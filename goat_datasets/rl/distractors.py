"""Distractor tools: functions that are offered to the model but are not part of the gold chain.

The number of distractors is a complexity knob of the ``rl`` config (REFERENCE §2b): a model that calls every tool it
sees, or picks tools by name overlap, is penalised by the rewards only when wrong tools are on offer. They are drawn
from the same function pool as the chain (seeded), and the offered list is shuffled so the gold tools are not
recognisable by position.
"""

from __future__ import annotations

import random
from typing import Any, Collection, Sequence

from goat_datasets.sources.models import ApiSpec

__all__ = ["pick_distractors", "offered_tools"]


def pick_distractors(chain_api_ids: Collection[str], pool: Sequence[ApiSpec], k: int,
                     rng: random.Random) -> list[ApiSpec]:  # fmt: skip
    """``k`` APIs of ``pool`` that the chain does not call (all of them when fewer are left), in a seeded draw."""
    if k < 0:
        raise ValueError(f"the number of distractors must be >= 0, got {k}")
    used = set(chain_api_ids)
    candidates = sorted({api.id: api for api in pool if api.id not in used}.values(), key=lambda api: api.id)
    return rng.sample(candidates, min(k, len(candidates)))


def offered_tools(gold: Sequence[ApiSpec], distractors: Sequence[ApiSpec], rng: random.Random) -> list[dict[str, Any]]:
    """Tool schemas of the gold APIs (each once) and the distractors, in a seeded shuffled order."""
    apis = list({api.id: api for api in [*gold, *distractors]}.values())
    rng.shuffle(apis)
    return [api.tool_schema() for api in apis]
