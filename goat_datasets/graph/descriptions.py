"""Semantic descriptions of inputs and outputs (GOAT §1a step 1), written by an LLM where the document is silent.

The candidate rule embeds one text per input parameter and per output: the whole response (GOAT's API-level output
description) and, our addition, each output field. Those texts come from the document when it has them (a
parameter's or field's ``description``, the operation's summary and description). ``mode`` says when the LLM writes
them instead:

``document``  never (the default: the stage costs nothing);
``fill``      only the texts the document lacks;
``llm``       all of them, as the paper does (the document's own text is shown to the LLM as a hint).

One request per API asks for all its texts at once (an API with more than ``max_items`` is split into several) and
the answer is a JSON object read leniently; an item the answer does not give keeps the document's text (possibly
empty) and is counted in `DescriptionStats.fallback`. The result is copies of the `ApiSpec`s with the texts in the
fields the candidate rule already reads (``Param.description``, ``OutputField.description``; the API-level output
text goes to ``ApiSpec.description``, which ``api_output_text`` joins to the summary), so no other code changes.

The prompt text is built by the caller (``build_messages(request, error)``: ``builders/prompts/describe_api.jinja``).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Literal, Sequence

from pydantic import BaseModel, Field

from goat_datasets.graph.llm_check import DEFAULT_ATTEMPTS, Answer, GenerateBatch, Messages, ask_until_parsed
from goat_datasets.llm.parsing import ParseFailure, extract_json_object
from goat_datasets.sources.models import ApiSpec

log = logging.getLogger(__name__)

DescriptionMode = Literal["document", "fill", "llm"]
DESCRIPTION_MODES: tuple[str, ...] = ("document", "fill", "llm")
RESPONSE_KEY = "response"  # the API-level output description in the answer
MAX_ITEMS_PER_REQUEST = 30
TOKENS_PER_ITEM = 20  # "key": "a meaning of at most 12 words",
DESCRIPTION_CHARS = 200


def description_max_new_tokens(max_items: int = MAX_ITEMS_PER_REQUEST) -> int:
    """The token cap of one request: enough for ``max_items`` one-line meanings (generation stops at the end)."""
    return 32 + TOKENS_PER_ITEM * (max_items + 1)


class DescriptionStats(BaseModel):
    mode: str = "document"
    apis: int = 0
    apis_asked: int = Field(0, description="APIs with at least one text asked of the LLM")
    requests: int = Field(0, description="LLM requests (one per API unless it has more than max_items texts)")
    items: int = Field(0, description="texts in all: parameters + output fields + one API-level output per API")
    from_document: int = Field(0, description="texts taken from the document and not asked")
    asked: int = 0
    written: int = Field(0, description="asked texts the LLM gave")
    fallback: int = Field(0, description="asked texts it did not give: the document's text (maybe empty) is kept")
    unparseable: int = Field(0, description="requests without a readable answer after every attempt")
    llm_failures: int = Field(0, description="requests whose LLM call failed")
    seconds: float = 0.0


def _clean(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    text = " ".join((text or "").split()).strip().strip("\"'").strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _has_text(text: str) -> bool:
    return bool((text or "").strip())


def plan_requests(
    apis: Sequence[ApiSpec], mode: str, *, max_items: int = MAX_ITEMS_PER_REQUEST
) -> tuple[list[dict[str, Any]], DescriptionStats]:
    """The LLM requests ``mode`` needs (plain JSON, one distilabel row each) and the stats counted so far."""
    if mode not in DESCRIPTION_MODES:
        raise ValueError(f"unknown description mode {mode!r} (known: {', '.join(DESCRIPTION_MODES)})")
    if max_items < 1:
        raise ValueError(f"max_items must be >= 1, got {max_items}")
    stats = DescriptionStats(mode=mode, apis=len(apis))
    requests: list[dict[str, Any]] = []
    for api in apis:
        documented_output = ". ".join(_clean(t).rstrip(".") for t in (api.summary, api.description) if _has_text(t))
        items: list[tuple[str, dict[str, Any]]] = []  # (section, item)
        for p in api.params:
            if mode == "llm" or not _has_text(p.description):
                items.append(("inputs", {"name": p.name, "type": p.type, "document": _clean(p.description)}))
        for f in api.output_fields:
            if mode == "llm" or not _has_text(f.description):
                items.append(("outputs", {"name": f.path, "type": f.type, "document": _clean(f.description)}))
        wants_response = mode == "llm" or not _has_text(documented_output)
        stats.items += len(api.params) + len(api.output_fields) + 1
        if mode == "document":
            continue
        stats.asked += len(items) + wants_response
        if not items and not wants_response:
            continue
        stats.apis_asked += 1
        chunks = [items[i : i + max_items] for i in range(0, len(items), max_items)] or [[]]
        for n, chunk in enumerate(chunks):
            requests.append(
                {
                    "api_id": api.id,
                    "part": n,
                    "name": api.name,
                    "tool": api.tool,
                    "method": api.method.upper(),
                    "path": api.path,
                    "summary": _clean(api.summary),
                    "description": _clean(api.description, 400),
                    "inputs": [item for section, item in chunk if section == "inputs"],
                    "outputs": [item for section, item in chunk if section == "outputs"],
                    "response": wants_response and n == 0,
                    "response_document": _clean(documented_output, 400),
                }
            )
    stats.from_document = stats.items - stats.asked
    return requests, stats


def expected_keys(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON shape the answer should have (shown in the prompt, and what `parse_descriptions` looks for)."""
    shape: dict[str, Any] = {}
    if request["inputs"]:
        shape["inputs"] = {i["name"]: "..." for i in request["inputs"]}
    if request["outputs"]:
        shape["outputs"] = {i["name"]: "..." for i in request["outputs"]}
    if request["response"]:
        shape[RESPONSE_KEY] = "..."
    return shape


def _text_for(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    text = _clean(value)
    return "" if text.strip(". ") == "" else text


def parse_descriptions(text: str, request: dict[str, Any]) -> dict[str, str]:
    """``{"in:<param>" | "out:<field path>" | "response": text}`` for the items the answer gives.

    Accepts the asked shape (``{"inputs": {...}, "outputs": {...}, "response": "..."}``) and a flat object naming the
    items directly. Raises `ParseFailure` when there is no JSON object or it names none of the items.
    """
    value = extract_json_object(text, "of descriptions")
    inputs = value.get("inputs") if isinstance(value.get("inputs"), dict) else {}
    outputs = value.get("outputs") if isinstance(value.get("outputs"), dict) else {}
    found: dict[str, str] = {}
    for item in request["inputs"]:
        t = _text_for(inputs.get(item["name"], value.get(item["name"])))
        if t:
            found[f"in:{item['name']}"] = t
    for item in request["outputs"]:
        t = _text_for(outputs.get(item["name"], value.get(item["name"])))
        if t:
            found[f"out:{item['name']}"] = t
    if request["response"]:
        t = _text_for(value.get(RESPONSE_KEY, value.get("output")))
        if t:
            found[RESPONSE_KEY] = t
    if not found:
        keys = ", ".join(expected_keys(request))
        raise ParseFailure(f"the JSON object gives none of the texts asked for (expected the keys {keys})")
    return found


def apply_descriptions(api: ApiSpec, texts: dict[str, str]) -> ApiSpec:
    """A copy of ``api`` with the written texts in place (keys as `parse_descriptions` returns them)."""
    if not texts:
        return api
    params = tuple(
        p.model_copy(update={"description": texts[f"in:{p.name}"]}) if f"in:{p.name}" in texts else p
        for p in api.params
    )
    fields = tuple(
        f.model_copy(update={"description": texts[f"out:{f.path}"]}) if f"out:{f.path}" in texts else f
        for f in api.output_fields
    )
    update: dict[str, Any] = {"params": params, "output_fields": fields}
    if RESPONSE_KEY in texts:
        update["description"] = texts[RESPONSE_KEY]
    return api.model_copy(update=update)


def apply_answers(
    apis: Sequence[ApiSpec],
    requests: Sequence[dict[str, Any]],
    answers: Sequence[Answer[dict[str, str]]],
    stats: DescriptionStats,
) -> tuple[list[ApiSpec], dict[str, dict[str, str]]]:
    """(the described copies of ``apis``, the texts written per API id); counts into ``stats`` (in place)."""
    if len(answers) != len(requests):
        raise ValueError(f"{len(answers)} answers for {len(requests)} description requests")
    written: dict[str, dict[str, str]] = {}
    for request, answer in zip(requests, answers):
        stats.requests += 1
        n_asked = len(request["inputs"]) + len(request["outputs"]) + int(request["response"])
        texts = answer.value if answer.status == "ok" and answer.value else {}
        if answer.status == "unparseable":
            stats.unparseable += 1
        elif answer.status == "llm_failed":
            stats.llm_failures += 1
        stats.written += len(texts)
        stats.fallback += n_asked - len(texts)
        written.setdefault(request["api_id"], {}).update(texts)
    out = [apply_descriptions(a, written.get(a.id, {})) for a in apis]
    return out, written


def describe_with(
    apis: Sequence[ApiSpec],
    mode: str,
    generate_batch: GenerateBatch,
    build_messages: Callable[[dict[str, Any], str], Messages],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    max_items: int = MAX_ITEMS_PER_REQUEST,
) -> tuple[list[ApiSpec], DescriptionStats]:
    """The whole stage without a pipeline: described copies of ``apis`` and the counts."""
    started = time.perf_counter()
    requests, stats = plan_requests(apis, mode, max_items=max_items)
    answers = ask_until_parsed(requests, build_messages, parse_descriptions, generate_batch, attempts)
    out, _ = apply_answers(apis, requests, answers, stats)
    stats.seconds = time.perf_counter() - started
    log.info(
        "descriptions (%s): %d of %d texts asked, %d written, %d fell back to the document",
        mode, stats.asked, stats.items, stats.written, stats.fallback,
    )  # fmt: skip
    return out, stats
