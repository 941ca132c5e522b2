"""The LLM check of candidate edges (GOAT §1a step 3), as plain functions the distilabel Task adapts.

For an edge A.field -> B(param) the LLM sees both operations and answers ``{"connectable": bool, "reason": str}``:
true only if information in A's *output* is a valid value for B's parameter (not one of A's own inputs echoed back).
A passed edge keeps the reason (it guides argument filling later); a failed edge leaves the graph the way an
execution-check failure does (listed in the stats with its reason).

Small models answer untidily, so the answer is read leniently (`parse_verdict`): a JSON object anywhere in the text,
in a code fence, with Python literals, cut off at the token limit, or a bare yes/no when nothing contradicts it. An
answer still unreadable after ``attempts`` tries (each retry tells the model what was wrong) is recorded as
``skipped`` with code ``unparseable``, and an LLM that failed to answer as ``skipped``/``llm_failed``. Both are kept
as *unverified* edges (like an execution check that had no example value): an unreadable answer is no evidence
against the edge, and the execution check still judges it. ``keep_skipped=False`` drops them instead. Either way
they are counted in `LlmCheckStats`, never silently passed or dropped.

The prompt text is not built here (goat_datasets never imports the builders): callers pass ``build_messages(context,
error)``, which the builders implement with ``builders/prompts/check_edge.jinja``.
"""

from __future__ import annotations

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Generic, Literal, Mapping, Sequence, TypeVar

import networkx as nx
from pydantic import BaseModel, Field

from goat_datasets.graph.model import DependencyEdge, StageResult
from goat_datasets.graph.verify import DroppedEdge, apply_verdict
from goat_datasets.llm.generation import Generation
from goat_datasets.llm.parsing import ParseFailure, extract_json
from goat_datasets.sources.models import ApiSpec

log = logging.getLogger(__name__)

STAGE = "llm_check"
CHECK_MAX_NEW_TOKENS = 64  # {"connectable": ..., "reason": "<15 words>"} fits; the embedded model decodes ~4 tok/s
DEFAULT_ATTEMPTS = 2
CONNECTABLE, NOT_CONNECTABLE, UNPARSEABLE, LLM_FAILED = "connectable", "not_connectable", "unparseable", "llm_failed"

Messages = list[dict[str, Any]]
R = TypeVar("R")
T = TypeVar("T")
GenerateBatch = Callable[[list[Messages]], list[Generation]]
"""``[messages, ...] -> [Generation, ...]`` in the same order; a failed request is a Generation with ``error``."""


# --------------------------------------------------------------------------------------- asking until it parses


@dataclass
class Answer(Generic[T]):
    """One request's outcome: ``status`` ``ok`` (``value`` parsed), ``unparseable`` or ``llm_failed``."""

    status: Literal["ok", "unparseable", "llm_failed"]
    value: T | None = None
    reason: str = ""
    attempts: int = 0
    text: str = ""  # the last raw answer (kept, clipped, in the verdict of an unreadable edge)


def ask_until_parsed(
    requests: Sequence[R],
    build_messages: Callable[[R, str], Messages],
    parse: Callable[[str, R], T],
    generate_batch: GenerateBatch,
    attempts: int = DEFAULT_ATTEMPTS,
) -> list[Answer[T]]:
    """Ask every request; re-ask (all still-unread ones in one batch) with the parse error until ``attempts``.

    ``build_messages(request, error)`` gets ``""`` first, then what was wrong with the previous answer: with a
    deterministic model and a generation cache, re-sending the same prompt would only return the same answer.
    ``parse(text, request)`` raises `ParseFailure`. A request whose LLM call failed is not re-asked here: the client
    already retried transient errors, and the failure is not stored in the cache, so the next run asks again.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    answers: list[Answer[T] | None] = [None] * len(requests)
    errors = [""] * len(requests)
    pending = list(range(len(requests)))
    for attempt in range(1, attempts + 1):
        if not pending:
            break
        gens = generate_batch([build_messages(requests[i], errors[i]) for i in pending])
        if len(gens) != len(pending):
            raise RuntimeError(f"generate_batch returned {len(gens)} generations for {len(pending)} requests")
        still: list[int] = []
        for i, gen in zip(pending, gens):
            if gen.error is not None:
                answers[i] = Answer("llm_failed", reason=f"the LLM call failed: {gen.error}", attempts=attempt)
                continue
            try:
                answers[i] = Answer("ok", parse(gen.text, requests[i]), attempts=attempt, text=gen.text)
            except ParseFailure as exc:
                errors[i] = exc.reason
                answers[i] = Answer("unparseable", reason=exc.reason, attempts=attempt, text=gen.text)
                still.append(i)
        pending = still
    return [a if a is not None else Answer("llm_failed", reason="not asked") for a in answers]


def generate_concurrently(
    llm: Any, batch: Sequence[Messages], max_new_tokens: int | None = None, concurrency: int = 4
) -> list[Generation]:
    """``llm.generate`` over ``batch`` with up to ``concurrency`` requests in flight, results in input order.

    Servers (vLLM, TGI) batch concurrent requests themselves; the embedded endpoint serves them one at a time, so
    there it only keeps the queue full. A client that raises fails its request alone.
    """

    def one(messages: Messages) -> Generation:
        try:
            gen = llm.generate(messages, max_new_tokens)
        except Exception as exc:  # noqa: BLE001 - one broken request must not lose the batch
            return Generation(error=f"{type(exc).__name__}: {exc}")
        return gen if isinstance(gen, Generation) else Generation.model_validate(gen, from_attributes=True)

    if len(batch) <= 1 or concurrency <= 1:
        return [one(m) for m in batch]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(batch))) as pool:
        return list(pool.map(one, batch))


# --------------------------------------------------------------------------------------------- the edge's context


def _clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def output_description(api: ApiSpec) -> str:
    """What A returns (GOAT's API-level output description): the operation's description, which the descriptions
    stage fills where the document has none (the summary is shown beside it anyway)."""
    return "" if api.description.strip() == api.summary.strip() else _clip(api.description, 240)


def edge_context(edge: DependencyEdge, apis: Mapping[str, ApiSpec]) -> dict[str, Any]:
    """Everything the prompt shows about one edge, as plain JSON (a distilabel row column, a template's input)."""
    for api_id in (edge.source_api, edge.target_api):
        if api_id not in apis:
            raise KeyError(f"edge {edge.describe()} names API {api_id!r}, which is not among the given apis")
    a, b = apis[edge.source_api], apis[edge.target_api]
    field = next((f for f in a.output_fields if f.path == edge.source_path), None)
    try:
        param = b.param(edge.target_param)
    except KeyError:
        raise KeyError(f"edge {edge.describe()}: {b.id} has no parameter {edge.target_param!r}") from None
    return {
        "edge": edge.describe(),
        "a": {
            "name": a.name,
            "tool": a.tool,
            "summary": _clip(a.summary, 160),
            "output": output_description(a),
            "inputs": [p.name for p in a.params],
            "field": {
                "path": edge.source_path,
                "type": field.type if field else edge.source_type,
                "description": _clip(field.description if field else "", 160),
            },
        },
        "b": {
            "name": b.name,
            "tool": b.tool,
            "summary": _clip(". ".join(t.strip().rstrip(".") for t in (b.summary, b.description) if t.strip()), 200),
            "param": {
                "name": param.name,
                "type": param.type,
                "required": param.required,
                "description": _clip(param.description, 160),
            },
        },
    }


# --------------------------------------------------------------------------------------------- reading the answer

_VERDICT_KEYS = ("connectable", "is_connectable", "connectible", "connected", "can_connect", "valid", "verdict",
                 "answer", "result", "decision")  # fmt: skip
_REASON_KEYS = ("reason", "reasoning", "explanation", "why", "rationale")
_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "connectable", "valid", "pass", "passed"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "not connectable", "not_connectable", "unconnectable", "invalid",
                          "fail", "failed"})  # fmt: skip
_KEY_VALUE_RE = re.compile(
    r"[\"']?(?:is_)?connect[ai]ble[\"']?\s*[:=]\s*[\"']?(true|false|yes|no)\b", re.IGNORECASE
)
_REASON_RE = re.compile(r"[\"']?reason[\"']?\s*[:=]\s*[\"']?([^\"'}\n]*)", re.IGNORECASE)
_THINK_RE = re.compile(r"<think>.*?</think>", re.DOTALL)
_YES_RE = re.compile(r"\b(yes|true)\b", re.IGNORECASE)
_NO_RE = re.compile(r"\b(no|false)\b", re.IGNORECASE)
_NOT_CONNECTABLE_RE = re.compile(r"\b(not|cannot|can't|isn't|aren't|never)\s+(be\s+)?connect", re.IGNORECASE)
_CONNECTABLE_RE = re.compile(r"\bconnectable\b", re.IGNORECASE)
REASON_CHARS = 300
_NO_JSON = object()


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = " ".join(value.strip().strip(".!").lower().split())
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def _from_object(value: Any) -> tuple[bool, str] | None:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        return None
    lowered = {str(k).strip().lower(): v for k, v in value.items()}
    verdict = None
    for key in _VERDICT_KEYS:
        if key in lowered:
            verdict = _as_bool(lowered[key])
            if verdict is None and isinstance(lowered[key], dict):  # {"answer": {"connectable": true, ...}}
                return _from_object(lowered[key])
            break
    if verdict is None:
        return None
    reason = next((lowered[k] for k in _REASON_KEYS if isinstance(lowered.get(k), str)), "")
    return verdict, _clip(reason, REASON_CHARS)


def _from_words(text: str) -> bool | None:
    """A bare yes/no (or "connectable" / "not connectable") when exactly one polarity is present."""
    negative = bool(_NOT_CONNECTABLE_RE.search(text)) or bool(_NO_RE.search(text))
    positive = bool(_YES_RE.search(text)) or bool(_CONNECTABLE_RE.search(_NOT_CONNECTABLE_RE.sub(" ", text)))
    if positive != negative:
        return positive
    return None


def parse_verdict(text: str, request: Any = None) -> tuple[bool, str]:
    """``(connectable, reason)`` from a model's answer; raises `ParseFailure` saying what was wrong.

    In order: a JSON (or Python-literal) object with a ``connectable``-like key anywhere in the text; a
    ``connectable: true`` pair outside valid JSON (an answer cut off at the token limit); a yes/no answer with no
    word of the other polarity. ``request`` is unused (the signature `ask_until_parsed` expects).
    """
    if not isinstance(text, str) or not text.strip():
        raise ParseFailure("the answer is empty")
    cleaned = _THINK_RE.sub("", text).strip()
    try:
        value: Any = extract_json(cleaned)
    except ParseFailure:
        value = _NO_JSON
    if isinstance(value, bool):  # a bare true / false
        return value, ""
    if isinstance(value, (dict, list)):  # an object without a readable verdict is not rescued by the words in it
        found = _from_object(value)
        if found is None:
            raise ParseFailure(
                'the JSON has no "connectable": true or false (got ' + _clip(json.dumps(value), 160) + ")"
            )
        return found
    match = _KEY_VALUE_RE.search(cleaned)
    if match:
        reason = _REASON_RE.search(cleaned[match.end() :]) or _REASON_RE.search(cleaned)
        return match.group(1).lower() in ("true", "yes"), _clip(reason.group(1) if reason else "", REASON_CHARS)
    verdict = _from_words(cleaned)
    if verdict is not None:
        return verdict, _clip(cleaned, REASON_CHARS)
    raise ParseFailure(
        'expected a JSON object {"connectable": true or false, "reason": "..."}, got: ' + _clip(cleaned, 200)
    )


def verdict_result(answer: Answer[tuple[bool, str]]) -> StageResult:
    """The ``llm_check`` StageResult of one answer."""
    details: dict[str, Any] = {"attempts": answer.attempts}
    if answer.status == "ok" and answer.value is not None:
        connectable, reason = answer.value
        return StageResult(
            status="passed" if connectable else "failed",
            code=CONNECTABLE if connectable else NOT_CONNECTABLE,
            reason=reason or ("the LLM judged the edge connectable" if connectable else "the LLM judged it not"),
            details=details,
        )
    if answer.status == "unparseable":
        details["answer"] = _clip(answer.text, 200)
        return StageResult(
            status="skipped", code=UNPARSEABLE, reason=f"unreadable answer, kept unverified: {answer.reason}",
            details=details,
        )  # fmt: skip
    return StageResult(status="skipped", code=LLM_FAILED, reason=answer.reason, details=details)


def check_edges_with(
    edges: Sequence[DependencyEdge],
    apis: Mapping[str, ApiSpec],
    generate_batch: GenerateBatch,
    build_messages: Callable[[dict[str, Any], str], Messages],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
) -> list[StageResult]:
    """The whole check without a pipeline: one verdict per edge, in order."""
    contexts = [edge_context(e, apis) for e in edges]
    answers = ask_until_parsed(contexts, build_messages, parse_verdict, generate_batch, attempts)
    return [verdict_result(a) for a in answers]


# --------------------------------------------------------------------------------------------- recording verdicts


class LlmCheckStats(BaseModel):
    asked: int = Field(0, description="edges the LLM was asked about")
    connectable: int = 0
    not_connectable: int = Field(0, description="failed: removed from the graph (listed in dropped)")
    unparseable: int = Field(0, description="no readable answer after every attempt: kept unverified unless "
                             "keep_skipped is off")  # fmt: skip
    llm_failures: int = Field(0, description="the LLM call failed: kept unverified unless keep_skipped is off")
    retried: int = Field(0, description="edges that needed more than one attempt")
    kept_skipped: bool = True
    dropped: list[DroppedEdge] = Field(default_factory=list)
    seconds: float = 0.0


def count_verdicts(results: Sequence[StageResult]) -> LlmCheckStats:
    """The counts of a list of verdicts (``dropped`` stays empty: dropping is `apply_llm_check`'s)."""
    stats = LlmCheckStats()
    for verdict in results:
        stats.asked += 1
        stats.retried += int(verdict.details.get("attempts", 1)) > 1
        if verdict.status == "passed":
            stats.connectable += 1
        elif verdict.status == "failed":
            stats.not_connectable += 1
        elif verdict.code == UNPARSEABLE:
            stats.unparseable += 1
        else:
            stats.llm_failures += 1
    return stats


def apply_llm_check(
    graph: nx.MultiDiGraph,
    edges: Sequence[DependencyEdge],
    results: Sequence[StageResult],
    *,
    keep_skipped: bool = True,
) -> LlmCheckStats:
    """Write each verdict on its edge (in place): a passed edge gets the LLM's reason as its ``reason``; a failed one
    is removed (as the execution check removes its failures), a skipped one kept unless ``keep_skipped`` is off."""
    if len(results) != len(edges):
        raise ValueError(f"the LLM check returned {len(results)} verdicts for {len(edges)} edges")
    stats = count_verdicts(results)
    stats.kept_skipped = keep_skipped
    for edge, verdict in zip(edges, results):
        if verdict.status == "passed":
            edge = edge.model_copy(update={"reason": verdict.reason})
        apply_verdict(graph, edge, STAGE, verdict, stats.dropped, keep_skipped=keep_skipped)
    log.info(
        "LLM check: %d edges, %d connectable, %d not, %d unparseable, %d LLM failures",
        stats.asked, stats.connectable, stats.not_connectable, stats.unparseable, stats.llm_failures,
    )  # fmt: skip
    return stats
