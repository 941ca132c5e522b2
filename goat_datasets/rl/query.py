"""Writing the user query of an ``rl`` row: the prompt's data, the LLM call, and the check that the query states every
value the user must give (REFERENCE §2b: "an LLM writes a query that states the exact independent values").

The prompt text itself is a builder's Jinja template (``builders/prompts/rl_query.jinja``, rendered with
``goat_builders.prompting.render``): `query_prompt_context` returns the template's variables and the caller passes
the rendered text to `write_query`. Why not render here: the core library never imports builders (DESIGN.md,
layers), and prompt templates belong to the builders, whose step signatures hash them; the check of the answer is
plain logic and stays here, where the benchmark and the tests use it without distilabel.

The values a query must state are the arguments no parent response supplied (leaves of lists and objects included;
booleans and nulls left out: no sentence states ``true`` verbatim). A value is stated when its normalised text occurs
in the normalised query: lower-cased, with spaces and ``,./-_*^`` removed, the normalisation BFCL's checker (and so the
reward's value check) applies to strings. A query that misses one is a rejection with the missing values named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

from goat_datasets.rl.chain import Chain
from goat_datasets.sources.models import ApiSpec

__all__ = [
    "TextLLM",
    "StatedValue",
    "QueryResult",
    "stated_values",
    "normalise",
    "missing_values",
    "query_prompt_context",
    "write_query",
    "make_query_writer",
    "MAX_QUERY_CHARS",
]

MAX_QUERY_CHARS = 800
DESCRIPTION_CHARS = 240
_REMOVE = str.maketrans("", "", " ,./-_*^")


class TextLLM(Protocol):
    def generate(self, messages: list[dict[str, Any]], max_new_tokens: int | None = None) -> Any: ...


@dataclass(frozen=True)
class StatedValue:
    step: int
    param: str  # ``legs[0].date`` for a leaf inside a structured argument
    text: str


@dataclass
class QueryResult:
    query: str | None
    reason: str = ""
    llm_calls: int = 0
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.query is not None


def normalise(text: str) -> str:
    return text.translate(_REMOVE).lower()


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, f"{path}[{i}]")]
    return [(path, value)]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def stated_values(chain: Chain) -> list[StatedValue]:
    """The values the user must give: every argument leaf that no parent response supplied (see module docstring)."""
    out: list[StatedValue] = []
    for step in chain.steps:
        for param, value in step.arguments.items():
            if param in step.dependency_args:
                continue
            for path, leaf in _leaves(value, param):
                if leaf is None or isinstance(leaf, bool):
                    continue
                text = _text(leaf).strip()
                if normalise(text):
                    out.append(StatedValue(step.index, path, text))
    return out


def _unique_texts(values: Sequence[StatedValue]) -> list[str]:
    return list({normalise(v.text): v.text for v in values}.values())


def missing_values(query: str, values: Sequence[StatedValue]) -> list[StatedValue]:
    """The values whose normalised text is not in the normalised query (each distinct text once)."""
    haystack = normalise(query)
    missing: dict[str, StatedValue] = {}
    for value in values:
        key = normalise(value.text)
        if key not in haystack:
            missing.setdefault(key, value)
    return list(missing.values())


def _description(api: ApiSpec | None, fallback: str) -> str:
    text = " ".join(((api.summary or api.description) if api else "").split()) or fallback
    marker = "Tool description:"  # Booking.com schemas open with a paragraph about the whole API
    if marker in text:
        text = text.split(marker, 1)[1].split(" EndPoint:", 1)[0].strip()
    return text if len(text) <= DESCRIPTION_CHARS else text[: DESCRIPTION_CHARS - 1].rstrip() + "…"


def query_prompt_context(chain: Chain, apis: Mapping[str, ApiSpec]) -> dict[str, Any]:
    """Variables of ``rl_query.jinja``: ``steps`` (number, name, description, given values, derived arguments),
    ``values`` (the texts the query must contain) and ``last`` (the final step's name). ``apis`` maps API ids."""
    values = stated_values(chain)
    steps = []
    for step in chain.steps:
        given = [f"{v.param} = {v.text}" for v in values if v.step == step.index]
        derived = [
            f"{arg} from the result of step {dep['from_step'] + 1} ({chain.steps[dep['from_step']].name})"
            for arg, dep in step.dependency_args.items()
        ]
        steps.append({"number": step.index + 1, "name": step.name,
                      "description": _description(apis.get(step.api_id), step.name),
                      "given": given, "derived": derived})  # fmt: skip
    return {"steps": steps, "values": _unique_texts(values), "last": chain.steps[-1].name}


def write_query(
    llm: TextLLM,
    prompt: str,
    values: Sequence[StatedValue],
    *,
    attempts: int = 1,
    clean: Callable[[str], str] = str.strip,
    max_chars: int = MAX_QUERY_CHARS,
    max_new_tokens: int | None = None,
) -> QueryResult:
    """Ask ``llm`` for the query up to ``attempts`` times; the first answer that states every value wins.

    ``clean`` tidies the raw text (builders pass ``goat_builders.traces.clean_text``, which strips quotes and
    "User request:" prefixes). Returns the query, or None with the last reason and the values it missed.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    result = QueryResult(None)
    for _ in range(attempts):
        generation = llm.generate([{"role": "user", "content": prompt}], max_new_tokens)
        result.llm_calls += 1
        error = getattr(generation, "error", None)
        if error:
            result.reason = f"LLM call failed: {error}"
            continue
        query = clean(getattr(generation, "text", "") or "")
        if not query:
            result.reason = "the LLM wrote an empty query"
            continue
        if len(query) > max_chars:
            result.reason = f"query too long ({len(query)} characters, at most {max_chars})"
            continue
        missing = missing_values(query, values)
        if missing:
            result.missing = [f"{v.param}={v.text}" for v in missing]
            result.reason = f"the query does not state {', '.join(result.missing)}"
            continue
        result.query, result.reason, result.missing = query, "", []
        return result
    return result


def make_query_writer(
    llm: TextLLM,
    render_prompt: Callable[[Mapping[str, Any]], str],
    apis: Mapping[str, ApiSpec],
    *,
    attempts: int = 1,
    clean: Callable[[str], str] = str.strip,
    max_new_tokens: int | None = None,
) -> Callable[[Chain], QueryResult]:
    """``write(chain) -> QueryResult`` for `goat_datasets.rl.synthesis.synthesize`. ``render_prompt(context)`` turns
    `query_prompt_context` into the prompt text, e.g. ``lambda c: render("rl_query", **c)`` with
    ``goat_builders.prompting.render``; ``apis`` maps API ids to their specs (for the step descriptions)."""

    def write(chain: Chain) -> QueryResult:
        prompt = render_prompt(query_prompt_context(chain, apis))
        return write_query(llm, prompt, stated_values(chain), attempts=attempts, clean=clean,
                           max_new_tokens=max_new_tokens)  # fmt: skip

    return write
