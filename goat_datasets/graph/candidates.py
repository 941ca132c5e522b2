"""Stage 1 of the graph: candidate edges (GOAT §1a step 2), under a named *preset*.

A candidate edge says "output field ``f`` of API A may be the value of parameter ``p`` of API B" (A != B). Three
presets, each a `CandidateConfig` (every knob can be overridden):

``paper``
    GOAT's released rule: one *API-level* description of A's output and one description per input parameter,
    compared by cosine (MiniLM); a pair is a candidate when the cosine is above 0.20. Every parameter is a target, no
    type filter, no top-k. The texts come from the document (operation summary + description; parameter name +
    description with the operation's summary for context) because the paper's LLM-written one-liners are a later
    stage here. The decision is made per (API, parameter); the edge then names A's output field that is most
    similar to the parameter (``$``, the whole response, when A declares no field), so the execution check and the
    sampler get a concrete path.
``similarity``
    Field-level texts (one per output field), the type filter, threshold and top-k: the rule of the first graph.
``default``
    Our rule: field-level, the type filter, and *evidence* besides the cosine (`_Evidence`):

    * **names**: a field named like the parameter (``season_number`` -> ``season_number``; one ordinary word like
      ``name`` or ``date`` counts less); an id whose owner is named (``production_companies[*].id``, ``credit_id``)
      -> a parameter about that entity (``company_id``, ``with_companies``); a bare id in a list (``results[*].id``)
      -> the entity the operation returns, read from its path (``/search/person``, ``/movie/popular``), else from its
      summary and description (weaker); an owner that names another entity vetoes (``networks[*].id`` is not a
      ``company_id``);
    * **structure**: REST documents describe each entity at ``GET .../{x_id}``; an object whose keys look most like
      that response (idf-weighted cosine of key sets, clearly ahead of every other entity) carries ``x`` ids, which
      finds ``cast[*].id`` -> ``person_id`` and ``parts[*].id`` -> ``movie_id`` with no shared name;
    * **echoes** are never sources: a sub-resource's top-level ``id`` (``/movie/{movie_id}/credits`` -> ``id``) or a
      top-level field named like one of A's own path parameters only repeats A's input (GOAT's LLM check rejects
      those), and result counters (``total_pages``) are not data;
    * fields found only in response examples are added (a schema with a broken property still has an example).

    Evidence of at least ``strong_evidence`` is kept; weaker evidence (>= ``threshold``) for the best
    ``weak_top_k`` fields per parameter. A required parameter with no evidence at all falls back to its best
    ``similarity_top_k`` type-compatible fields by cosine above ``similarity_floor`` (names that differ, like
    ``director_id`` -> ``person_id``, or free text like a search ``query``); ids only feed ids there. Its texts are
    ``plain``: the words of the field path or parameter name and the description, without the operation's name,
    which otherwise dominates the cosine.

    On RestBench TMDB (``benchmarks/graph_recall.py``) it keeps 14.8% of the ordered API pairs at recall 0.956 of
    the gold consecutive pairs; ``paper`` keeps 63% for 0.91.

Cosines are one dense product per block of target parameters (``block_size`` columns at a time: the FLOPs); every
decision after it touches only the pairs that can matter (above a cosine bar, or with evidence, which is looked up
per parameter, not per pair), and only kept pairs become `DependencyEdge` objects. Never a Python loop over pairs;
texts are embedded once, through the embedder's cache (by text hash). `explain_pair` says, for two APIs, why each
pair is kept or not, from the same decisions.

Not every parameter is a target (`target_exclusion`, off in ``paper``): enums and booleans are choices the user
states, not data an earlier call produces; pagination knobs (``page``, ``limit``, ``offset``...) are never worth a
dependency. ``no_cross_tool_id`` is the optional GOATBench heuristic: no edge between two different tools into a
parameter whose name or description mentions an id.
"""

from __future__ import annotations

import functools
import gc
import itertools
import logging
import re
import time
from dataclasses import dataclass, field as dc_field
from typing import Any, Iterator, Literal, Protocol, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from goat_datasets import jsonpath
from goat_datasets.graph.model import DependencyEdge, StageResult
from goat_datasets.sources.models import ApiSpec, OutputField, Param

log = logging.getLogger(__name__)

PAGINATION_PARAM_NAMES = frozenset(
    {
        "page", "pagenumber", "pageno", "pagenum", "pagesize", "perpage", "pagelimit", "resultsperpage",
        "limit", "offset", "skip", "top", "maxresults", "numresults",
    }
)  # fmt: skip
# response fields that count or page results: never the source of an edge (default preset)
PAGINATION_FIELD_NAMES = PAGINATION_PARAM_NAMES | frozenset(
    {"totalpages", "totalresults", "totalcount", "totalitems", "total", "count", "nextpage", "prevpage",
     "previouspage", "hasmore", "nextcursor", "cursor", "pagecount", "itemcount", "resultcount"}
)  # fmt: skip
SCALAR_TYPES = ("string", "integer", "number", "boolean")
_DIGITS = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")

PresetName = Literal["paper", "similarity", "default"]
PRESET_NAMES: tuple[str, ...] = ("paper", "similarity", "default")
_UNSET: Any = object()


class TextEmbedder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class CandidateConfig(BaseModel):
    """Every knob of the candidate rule. `preset_config` gives the named presets; fields override them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str = Field("custom", description="Name of the preset this configuration started from")
    output_texts: Literal["api", "field"] = Field(
        "field", description="'api': one description of A's whole output (GOAT); 'field': one per output field"
    )
    text_style: Literal["named", "plain"] = Field(
        "named",
        description="Field-level texts: 'named' prefixes the operation's name and keeps the raw JSON path; 'plain' "
        "is the path's words and the description only (what the value is, not where it comes from)",
    )
    threshold: float = Field(
        0.2,
        description="paper/similarity: minimum cosine (strictly above); default: minimum evidence score (0..1)",
    )
    top_k: int | None = Field(None, ge=1, description="At most this many candidates per target parameter")
    type_filter: bool = Field(True, description="The field's type must be able to fill the parameter's type")
    exclude_targets: bool = Field(True, description="Enums, booleans and pagination knobs are never targets")
    example_fields: bool = Field(False, description="Add output fields that only response examples show")
    evidence: bool = Field(False, description="Score by name and structure evidence (the default preset)")
    drop_echoes: bool = Field(False, description="Drop output fields that only repeat the API's own path input")
    strong_evidence: float = Field(
        0.7, description="default: evidence at least this strong is kept whatever the number of sources"
    )
    weak_top_k: int = Field(
        3, ge=0, description="default: at most this many weaker-evidence candidates (a one-word name, a mention "
        "in a description) per parameter, the best by evidence then cosine"
    )
    similarity_floor: float = Field(
        0.45, description="default: minimum cosine of a fallback candidate (a parameter with no evidence)"
    )
    similarity_top_k: int = Field(1, ge=0, description="default: fallback candidates per parameter with no evidence")
    similarity_required_only: bool = Field(
        True, description="default: only required parameters get fallback candidates (optional ones are choices)"
    )
    no_cross_tool_id: bool = Field(
        False, description="GOATBench heuristic: no inter-tool edge into a parameter that mentions an id"
    )


_PRESETS: dict[str, CandidateConfig] = {
    "paper": CandidateConfig(
        preset="paper", output_texts="api", threshold=0.2, top_k=None, type_filter=False, exclude_targets=False
    ),
    "similarity": CandidateConfig(preset="similarity", output_texts="field", threshold=0.2, top_k=None),
    "default": CandidateConfig(
        preset="default", output_texts="field", text_style="plain", threshold=0.5, top_k=None, example_fields=True,
        evidence=True, drop_echoes=True,
    ),
}  # fmt: skip


def preset_config(preset: str = "default", **overrides: Any) -> CandidateConfig:
    """The named preset with ``overrides`` applied (unknown names and fields are errors)."""
    if preset not in _PRESETS:
        raise ValueError(f"unknown candidate preset {preset!r} (known: {', '.join(PRESET_NAMES)})")
    base = _PRESETS[preset]
    return base.model_validate({**base.model_dump(), **overrides}) if overrides else base


class CandidateStats(BaseModel):
    preset: str = ""
    apis: int = 0
    output_fields: int = 0
    example_fields: int = Field(0, description="output fields found only in response examples")
    echo_fields: int = Field(
        0, description="output fields that are never a source: they repeat the API's own input, or count/page results"
    )
    params: int = 0
    target_params: int = 0
    excluded_params: dict[str, int] = Field(default_factory=dict, description="reason -> how many parameters")
    texts_embedded: int = 0
    pairs_considered: int = Field(0, description="(output of A, target parameter of B) pairs with A != B")
    kept_by_threshold: int = 0
    kept_by_type: int = 0
    kept_by_top_k: int = 0
    kept_by_evidence: int = Field(0, description="default: pairs kept on name/structure evidence")
    kept_by_similarity: int = Field(0, description="default: fallback pairs kept on cosine alone")
    dropped_cross_tool_id: int = 0
    threshold: float = 0.0
    top_k: int | None = None
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------------- targets, types


@functools.lru_cache(maxsize=1 << 16)
def _normalise_name(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def target_exclusion(param: Param) -> str | None:
    """Why ``param`` may not be the target of an edge, or None when it may."""
    schema = param.json_schema
    if "enum" in schema or "const" in schema:
        return "enum"
    if param.type == "boolean":
        return "boolean"
    if _normalise_name(param.name) in PAGINATION_PARAM_NAMES:
        return "pagination"
    return None


def param_kind(param: Param) -> str:
    """``string``/``integer``/``number``/``boolean``/``object``, or ``array:<item kind>`` for arrays."""
    kind = param.type
    if kind == "array":
        items = param.json_schema.get("items") or {}
        item_type = items.get("type", "string") if isinstance(items, dict) else "string"
        item_type = item_type if isinstance(item_type, str) else (item_type[0] if item_type else "string")
        return f"array:{item_type}"
    return kind if kind in SCALAR_TYPES or kind == "object" else "string"


def field_kind(api: ApiSpec, field: OutputField) -> str:
    """The field's declared type, refined to ``digit_string``/``decimal_string`` when a response example proves it."""
    kind = field.type if field.type in (*SCALAR_TYPES, "array", "object") else "other"
    if kind == "string":
        for example in api.response_examples:
            value = jsonpath.get_first(example, field.path)
            if isinstance(value, str):
                if _DIGITS.match(value):
                    return "digit_string"
                if _DECIMAL.match(value):
                    return "decimal_string"
                break
    return kind


# parameter kind -> field kinds that can fill it. Arrays and objects never fill a scalar parameter.
_FITS: dict[str, frozenset[str]] = {
    "string": frozenset({"string", "digit_string", "decimal_string", "integer", "other"}),
    "integer": frozenset({"integer", "number", "digit_string"}),
    "number": frozenset({"integer", "number", "digit_string", "decimal_string"}),
    "boolean": frozenset({"boolean"}),
    "object": frozenset({"object"}),
}


def field_fits_param(field_kind_: str, param_kind_: str) -> bool:
    """Type compatibility table. An array parameter takes an array field or one element of its item kind."""
    if param_kind_.startswith("array:"):
        return field_kind_ == "array" or field_fits_param(field_kind_, param_kind_.split(":", 1)[1])
    return field_kind_ in _FITS.get(param_kind_, _FITS["string"])


# ----------------------------------------------------------------------------------------------------------- texts


def param_text(api: ApiSpec, param: Param) -> str:
    """Field-level presets: the text of a target parameter."""
    return f"{api.name}: {param.name}: {param.description}".strip().rstrip(":").strip()


def field_text(api: ApiSpec, field: OutputField) -> str:
    """Field-level presets: the text of one output field."""
    return f"{api.name} returns {field.path}: {field.description}".strip().rstrip(":").strip()


def plain_field_text(api: ApiSpec, field: OutputField) -> str:
    """``plain`` style: the words of the field's keys and its description (``release dates iso 3166 1``)."""
    keys = " ".join(words(" ".join(k for k in _parse_path(field.path) if isinstance(k, str))))
    return f"{keys}: {_squash(field.description)}".strip().rstrip(":").strip() or field.path


def plain_param_text(api: ApiSpec, param: Param) -> str:
    """``plain`` style: the words of the parameter's name and its description."""
    return f"{' '.join(words(param.name))}: {_squash(param.description)}".strip().rstrip(":").strip() or param.name


@functools.lru_cache(maxsize=1 << 16)  # output paths repeat across APIs (results[*].id)
def _parse_path(path: str) -> tuple[Any, ...]:
    return tuple(jsonpath.parse(path))


@functools.lru_cache(maxsize=1 << 16)
def _format_path(parts: tuple[Any, ...]) -> str:
    return jsonpath.format_path(list(parts))


def _squash(text: str) -> str:
    return " ".join(text.split())


def api_output_text(api: ApiSpec) -> str:
    """``paper``: the API-level description of A's output, from the document (operation summary + description)."""
    parts = [_squash(t).rstrip(".") for t in (api.summary, api.description) if t and t.strip()]
    return ". ".join(parts) or api.name


def api_param_text(api: ApiSpec, param: Param) -> str:
    """``paper``: the description of one input parameter, with its operation's summary for context."""
    return f"{_squash(api.summary) or api.name}: {param.name}: {_squash(param.description)}".strip().rstrip(":").strip()


# ------------------------------------------------------------------------------------------------- words and names

_ID_WORDS = frozenset({"id", "ids", "key", "uuid", "guid"})
_NUMBER_WORDS = frozenset({"number", "num", "no", "code"})  # season_number: an entity word for the vocabulary only
_GENERIC_KEYS = frozenset(
    {"result", "item", "data", "list", "record", "response", "value", "entry", "object", "content", "hit", "node",
     "element", "row", "payload", "body", "page"}
)  # fmt: skip
_FILTER_PREFIXES = frozenset({"with", "without", "by", "for", "filter", "include", "exclude", "only"})
_COMPARISONS = frozenset({"gte", "lte", "gt", "lt", "min", "max", "from", "to", "since", "until", "before", "after"})
_STOP_WORDS = frozenset(
    {"the", "a", "an", "of", "to", "for", "and", "or", "in", "on", "by", "with", "get", "is", "be", "this", "that",
     "from", "as", "at", "it", "all", "your", "you", "are", "can", "will", "which", "list", "detail", "information",
     "info", "more", "read", "about", "here", "use", "used", "these", "those", "their", "its", "has", "have", "we",
     "our", "per", "up", "new", "not", "no", "any", "each", "every", "also", "if", "may", "one", "two", "only"}
)  # fmt: skip
_VERBS = frozenset({"get", "list", "fetch", "search", "find", "retrieve", "show", "create", "update", "delete",
                    "query", "lookup", "read", "all", "by"})  # fmt: skip
_IRREGULAR = {"people": "person", "children": "child", "men": "man", "women": "woman", "movies": "movie",
              "series": "series", "species": "species", "cookies": "cookie", "media": "media", "data": "data",
              "indices": "index", "analyses": "analysis", "statuses": "status", "aliases": "alias"}  # fmt: skip
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_SPLIT = re.compile(r"[^a-z0-9]+")


def _singular(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-case singular words of an identifier or a sentence: ``production_companies`` -> production, company."""
    return list(_words(text))


@functools.lru_cache(maxsize=1 << 16)  # field and parameter names repeat across thousands of APIs
def _words(text: str) -> tuple[str, ...]:
    text = _CAMEL.sub(r"\1 \2", _ACRONYM.sub(r"\1 \2", text))
    return tuple(_singular(w) for w in _SPLIT.split(text.lower()) if w)


def _param_entity(api: ApiSpec, param: Param) -> tuple[str | None, bool]:
    """(the entity word a parameter refers to, whether the parameter is an id of it)."""
    toks = [w for w in words(param.name) if w not in _FILTER_PREFIXES] or words(param.name)
    while len(toks) > 1 and toks[-1] in _COMPARISONS:  # vote_count.gte, year_from: the entity is before
        toks = toks[:-1]
    if not toks:
        return None, False
    if toks[-1] in _ID_WORDS:
        rest = toks[:-1]
        if rest:
            return rest[-1], True
        # a bare "id": the resource in front of its placeholder (/users/{id}), else the operation's name
        segments = [s for s in api.path.split("/") if s]
        placeholder = "{" + param.name + "}"
        if placeholder in segments:
            before = segments[: segments.index(placeholder)]
            literal = [s for s in before if not s.startswith("{")]
            if literal and words(literal[-1]):
                return words(literal[-1])[-1], True
        name_words = [w for w in words(api.name) if w not in _VERBS and w not in _ID_WORDS]
        return (name_words[-1] if name_words else None), True
    has_prefix = words(param.name)[0] in _FILTER_PREFIXES  # with_genres, without_keywords: ids of an entity
    return (toks[-1] if has_prefix and len(toks) < len(words(param.name)) else None), False


# ------------------------------------------------------------------------------------------------------ the fields


@dataclass
class _Field:
    api: int
    field: OutputField
    kind: str
    parts: list[Any]
    from_example: bool = False
    keys: list[str] = dc_field(default_factory=list)  # the str parts (object keys), outermost first
    echo: bool = False  # only repeats the API's own path input: never the source of an edge

    @property
    def leaf(self) -> str:
        return self.keys[-1] if self.keys else ""

    @property
    def parent(self) -> str:
        """The JSON path of the object whose key is the leaf: ``$`` at the top, ``results[*]`` for ``results[*].x[*]``."""
        last_key = max((i for i, p in enumerate(self.parts) if isinstance(p, str)), default=0)
        return _format_path(tuple(self.parts[:last_key])) if last_key else "$"


def _value_kind(value: Any) -> str:
    """`jsonpath.json_type`, with strings told apart by whether they hold an integer or a decimal number."""
    kind = jsonpath.json_type(value)
    if kind == "string":
        return "digit_string" if _DIGITS.match(value) else "decimal_string" if _DECIMAL.match(value) else "string"
    return kind if kind in _JSON_KINDS else "other"


_JSON_KINDS = frozenset({"boolean", "integer", "number", "array", "object"})


def _example_leaves(value: Any, parts: tuple[Any, ...], out: dict[str, tuple[list[Any], str]], depth: int) -> None:
    if depth > 8 or len(out) > 2000:
        return
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            if isinstance(key, str) and key:
                _example_leaves(sub, (*parts, key), out, depth + 1)
    elif isinstance(value, list) and value:
        for sub in value[:3]:
            _example_leaves(sub, (*parts, jsonpath.WILDCARD), out, depth + 1)
    elif parts and value is not None:
        out.setdefault(jsonpath.format_path(list(parts)), (list(parts), _value_kind(value)))


def _collect_fields(apis: Sequence[ApiSpec], cfg: CandidateConfig, stats: CandidateStats) -> list[_Field]:
    fields: list[_Field] = []
    for ai, api in enumerate(apis):
        seen: set[str] = set()
        own: list[_Field] = []
        for f in api.output_fields:
            if f.path in seen:
                continue
            seen.add(f.path)
            parts = list(_parse_path(f.path))
            own.append(_Field(ai, f, field_kind(api, f), parts, keys=[p for p in parts if isinstance(p, str)]))
        if cfg.example_fields and api.response_examples:
            # example paths that no schema path covers (not equal, not below a schema leaf, not above one)
            found: dict[str, tuple[list[Any], str]] = {}
            for example in api.response_examples:
                _example_leaves(example, (), found, 0)
            schema_prefixes = {_format_path(tuple(x.parts[:i])) for x in own for i in range(len(x.parts) + 1)}
            for path, (parts, kind) in found.items():
                above_a_schema_path = path in schema_prefixes
                below_a_schema_leaf = any(jsonpath.format_path(parts[:i]) in seen for i in range(1, len(parts)))
                if path in seen or above_a_schema_path or below_a_schema_leaf:
                    continue
                seen.add(path)
                fld = OutputField(path=path, type=_json_type(kind), description="")
                own.append(_Field(ai, fld, kind, parts, True, [p for p in parts if isinstance(p, str)]))
                stats.example_fields += 1
        if cfg.drop_echoes:  # kept in the list (they describe the object's shape), never a source
            echoes = _echo_fields(api, own)
            for x in own:
                x.echo = x.field.path in echoes or _normalise_name(x.leaf) in PAGINATION_FIELD_NAMES
                stats.echo_fields += x.echo
        fields.extend(own)
    return fields


def _json_type(kind: str) -> str:
    return {"digit_string": "string", "decimal_string": "string", "other": "string"}.get(kind, kind)


def _echo_fields(api: ApiSpec, fields: list[_Field]) -> set[str]:
    """Top-level fields that only repeat this API's own path input."""
    placeholders = re.findall(r"{([^{}]+)}", api.path)
    if not placeholders:
        return set()
    own_inputs = {_normalise_name(p) for p in placeholders}
    sub_resource = not api.path.rstrip("/").endswith("}")  # /movie/{movie_id}/credits: its top-level id is the movie's
    out = set()
    for f in fields:
        if len(f.parts) != 1 or not f.keys:
            continue
        name = _normalise_name(f.leaf)
        if name in own_inputs or (sub_resource and name in _ID_WORDS):
            out.add(f.field.path)
    return out


# -------------------------------------------------------------------------------------------------------- evidence

NAME_EXACT = 1.0  # field named like the parameter (several words, or an id: season_number, showtime_id)
NAME_WORD = 0.6  # ... one ordinary word (name, date, city): common, so weaker
NAME_OWNER = 0.9  # an id whose owner is named like the parameter's entity
NAME_RESOURCE = 0.8  # a bare id in a list; the operation's path names the entity
NAME_SUMMARY = 0.6  # ... no path segment does, the summary mentions it
NAME_DESCRIPTION = 0.5  # ... only the description mentions it
REQUIRED_BONUS = 0.15  # ranking only: at equal evidence, an edge into a required parameter comes first
STRUCTURE = 0.8  # the object holding the id looks like the entity's own response
STRUCTURE_MIN_COSINE = 0.1
_EVIDENCE_KINDS = {
    NAME_EXACT: "named like the parameter",
    NAME_OWNER: "its owner names the parameter's entity",
    NAME_RESOURCE: "the operation's path or the object's keys say whose id it is",
    NAME_SUMMARY: "a one-word name, or the summary names the entity",
    NAME_DESCRIPTION: "the description names the entity",
}
STRUCTURE_MARGIN = 1.2  # the best entity must beat the second best by this factor


class _Evidence:
    """Name and structure evidence for (field, target parameter) pairs, handed out as dense column blocks.

    Everything per pair is a gather or a comparison of integer codes over whole columns; the Python loops here run
    over fields, objects, parameters and entities, never over their pairs.
    """

    def __init__(self, apis: Sequence[ApiSpec], fields: list[_Field], targets: list[tuple[int, Param, str]]):
        self.n_fields = len(fields)
        param_info = [_param_entity(apis[bi], p) for bi, p, _ in targets]
        strong = {e for e, is_id in param_info if e and is_id}  # entities something is identified by
        vocabulary = set(strong) | {e for e, _ in param_info if e}
        for api in apis:  # season_number, isbn_code...: entity words too, so /season/... resolves to "season"
            for p in api.params:
                toks = words(p.name)
                if len(toks) > 1 and toks[-1] in _NUMBER_WORDS:
                    vocabulary.add(toks[-2])
        self._codes: dict[str, int] = {}  # entity words and leaf names -> small integers
        self._by_leaf: dict[int, np.ndarray] = {}
        self._columns: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}

        # field side: key -> {field index: strength}
        index: dict[tuple[str, str], dict[int, float]] = {}

        def add(key: tuple[str, str], fi: int, strength: float) -> None:
            slot = index.setdefault(key, {})
            slot[fi] = max(slot.get(fi, 0.0), strength)

        self.veto = np.full(len(fields), -1, dtype=np.int64)  # code of a strong entity the field's owner names
        context_cache: dict[int, list[tuple[str, float]]] = {}
        for fi, f in enumerate(fields):
            if not f.keys:
                continue
            leaf_words = words(f.leaf)
            specific = len(leaf_words) > 1 or bool(leaf_words and leaf_words[-1] in _ID_WORDS)
            add(("name", _normalise_name(f.leaf)), fi, NAME_EXACT if specific else NAME_WORD)
            if not leaf_words or leaf_words[-1] not in _ID_WORDS:
                continue
            owner = leaf_words[:-1]  # credit_id -> credit
            if not owner:  # a bare id: its nearest non-generic container (production_companies[*].id -> company)
                for key in reversed(f.keys[:-1]):
                    kw = [w for w in words(key) if w not in _STOP_WORDS]
                    if kw and kw[-1] not in _GENERIC_KEYS:
                        owner = kw
                        break
            if owner:
                add(("entity", owner[-1]), fi, NAME_OWNER)
                if owner[-1] in strong:
                    self.veto[fi] = self._code(owner[-1])
                continue
            if f.api not in context_cache:  # results[*].id, or a top-level id: what the operation returns
                context_cache[f.api] = _api_context(apis[f.api], vocabulary)
            for word, strength in context_cache[f.api]:
                add(("entity", word), fi, strength)
                if strength == NAME_RESOURCE and word in strong:
                    self.veto[fi] = self._code(word)
        self.index = {k: (np.fromiter(v.keys(), dtype=np.int64), np.fromiter(v.values(), dtype=np.float32))
                      for k, v in index.items()}  # fmt: skip

        # parameter side: the keys each target looks up, and the entity code that owners must not contradict
        self.param_keys: list[list[tuple[str, str]]] = []
        self.param_entity = np.full(len(targets), -1, dtype=np.int64)
        for tj, ((bi, p, _), (entity, is_id)) in enumerate(zip(targets, param_info)):
            keys = [("name", _normalise_name(p.name))]
            if entity:
                keys.append(("entity", entity))
            self.param_keys.append(keys)
            if entity and is_id:
                self.param_entity[tj] = self._code(entity)

        self._structure(apis, fields, targets, param_info)
        # the entity each field's value belongs to, when anything says so (owner, resource or structure): -1 if none
        self.claim = np.where(self.veto >= 0, self.veto, self.struct_claim)

    def _code(self, word: str) -> int:
        return self._codes.setdefault(word, len(self._codes))

    def _structure(
        self,
        apis: Sequence[ApiSpec],
        fields: list[_Field],
        targets: list[tuple[int, Param, str]],
        param_info: list[tuple[str | None, bool]],
    ) -> None:
        """Entity classification: ``obj_ok[o, e]`` when object o (an API's response object) holds ids of entity e.

        Entity e is described by a details endpoint, the operation at ``.../{x_id}`` (the prefix of a path parameter's
        path); its top-level keys are the entity's attributes and its field that repeats ``x_id`` (``id``, or a field
        named like the parameter) is where the value lives. An object holds e's ids when its keys are most like e's
        (idf-weighted cosine of key sets), clearly ahead of any other entity.
        """
        objects: dict[tuple[int, str], set[str]] = {}  # (api, parent path) -> keys, over every field (echoes too)
        for f in fields:
            for depth, part in enumerate(f.parts):
                if isinstance(part, str):
                    parent = _format_path(tuple(f.parts[:depth])) if depth else "$"
                    objects.setdefault((f.api, parent), set()).add(part)
        by_path: dict[str, int] = {}
        for ai, api in enumerate(apis):
            by_path.setdefault(api.path.rstrip("/"), ai)
        entity_index: dict[int, int] = {}  # details API -> entity index
        entity_api: list[int] = []
        echo_leaf: list[int] = []
        explicit: list[str] = []  # the normalised parameter name: an object with that key is not this entity
        by_name: dict[str, int] = {}  # normalised path-parameter name -> entity, for query parameters of that name
        self.entity_of = np.full(len(targets), -1, dtype=np.int64)
        for tj, (bi, p, _) in enumerate(targets):
            if p.location != "path":  # every described entity competes in the classification, ids or not
                continue
            path = apis[bi].path
            placeholder = "{" + p.name + "}"
            at = path.find(placeholder)
            details = by_path.get(path[: at + len(placeholder)]) if at >= 0 else None
            if details is None:
                continue
            if details not in entity_index:
                top = objects.get((details, "$"), set())
                leaf = next((k for k in sorted(top) if _normalise_name(k) == _normalise_name(p.name)), None)
                leaf = leaf or next((k for k in sorted(top) if _normalise_name(k) in _ID_WORDS), None)
                if leaf is None:
                    continue
                entity_index[details] = len(entity_api)
                entity_api.append(details)
                echo_leaf.append(self._code("leaf:" + leaf))
                explicit.append(_normalise_name(p.name))
            self.entity_of[tj] = entity_index[details]
            by_name.setdefault(_normalise_name(p.name), entity_index[details])
        for tj, (bi, p, _) in enumerate(targets):  # ?person_id=... is the same entity as /person/{person_id}
            if self.entity_of[tj] < 0 and param_info[tj][1]:
                self.entity_of[tj] = by_name.get(_normalise_name(p.name), -1)
        self.echo_leaf = np.array(echo_leaf, dtype=np.int64)
        self.field_leaf = np.array([self._codes.get("leaf:" + f.leaf, -2) for f in fields], dtype=np.int64)
        self.field_object = np.full(len(fields), -1, dtype=np.int64)
        self.obj_ok = np.zeros((len(objects), len(entity_api)), dtype=bool)
        self.struct_claim = np.full(len(fields), -1, dtype=np.int64)
        if not entity_api:
            return
        object_ids = {key: i for i, key in enumerate(objects)}
        for fi, f in enumerate(fields):
            if f.keys:
                self.field_object[fi] = object_ids[(f.api, f.parent)]

        vocab = {k: i for i, k in enumerate(sorted({k for keys in objects.values() for k in keys}))}
        object_keys = [np.array([vocab[k] for k in keys], dtype=np.int64) for keys in objects.values()]
        df = np.bincount(np.concatenate(object_keys), minlength=len(vocab)).astype(np.float64)
        idf = np.log((1 + len(objects)) / (1 + df)).astype(np.float32)
        emat = np.zeros((len(entity_api), len(vocab)), dtype=np.float32)
        for e, api_index in enumerate(entity_api):
            cols = object_keys[object_ids[(api_index, "$")]]
            emat[e, cols] = idf[cols]
        emat = _unit_rows(emat)
        # objects that name an entity's id key explicitly (crew[*].credit_id): their bare "id" is not that entity
        named = np.zeros((len(objects), len(entity_api)), dtype=bool)
        holders: dict[str, list[int]] = {}
        for o, keys in enumerate(objects.values()):
            for k in keys:
                holders.setdefault(_normalise_name(k), []).append(o)
        for e, name in enumerate(explicit):
            named[holders.get(name, []), e] = True
        for start in range(0, len(object_keys), 2048):  # blocks of objects: (block x vocab) @ (vocab x entities)
            block = object_keys[start : start + 2048]
            omat = np.zeros((len(block), len(vocab)), dtype=np.float32)
            for r, cols in enumerate(block):
                omat[r, cols] = idf[cols]
            sims = np.where(named[start : start + len(block)], 0.0, _unit_rows(omat) @ emat.T)
            ordered = np.sort(sims, axis=1)
            best = ordered[:, -1]
            second = ordered[:, -2] if sims.shape[1] > 1 else np.zeros_like(best)
            clear = (best >= STRUCTURE_MIN_COSINE) & (best >= STRUCTURE_MARGIN * second)
            self.obj_ok[start : start + len(block)] = (sims == best[:, None]) & clear[:, None] & (sims > 0)
        # a field that holds an entity's ids by structure belongs to that entity (its word's code)
        entity_word = np.full(len(entity_api), -1, dtype=np.int64)
        for tj in range(len(targets)):
            if self.entity_of[tj] >= 0 and self.param_entity[tj] >= 0:
                entity_word[self.entity_of[tj]] = self.param_entity[tj]
        for leaf in np.unique(self.echo_leaf).tolist():  # only entities whose echo field has the field's name match
            rows = self._leaf_rows(leaf)
            entities = np.flatnonzero(self.echo_leaf == leaf)
            match = self.obj_ok[np.ix_(self.field_object[rows], entities)]
            found = match.any(axis=1)
            self.struct_claim[rows[found]] = entity_word[entities[match[found].argmax(axis=1)]]

    def _leaf_rows(self, leaf: int) -> np.ndarray:
        """Fields (inside an object) whose leaf has the code ``leaf``."""
        rows = self._by_leaf.get(leaf)
        if rows is None:
            rows = self._by_leaf[leaf] = np.flatnonzero((self.field_object >= 0) & (self.field_leaf == leaf))
        return rows

    def pairs(self, cols: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(field rows, positions in ``cols``, evidence) of every pair with evidence, by position then row.

        Sparse: a target's evidence is a short list of fields (those sharing its name, entity or structure), so the
        cost follows the pairs with evidence, not fields x targets.
        """
        rows, positions, strengths = [], [], []
        for c, tj in enumerate(cols):
            r, strength = self._column(int(tj))
            rows.append(r)
            strengths.append(strength)
            positions.append(np.full(len(r), c, dtype=np.int64))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(rows), np.concatenate(positions), np.concatenate(strengths)

    def _column(self, tj: int) -> tuple[np.ndarray, np.ndarray]:
        """Target ``tj``'s evidence (rows ascending, strengths): one computation per distinct (keys, entity)."""
        signature = (tuple(self.param_keys[tj]), int(self.param_entity[tj]), int(self.entity_of[tj]))
        found = self._columns.get(signature)
        if found is None:
            found = self._columns[signature] = self._evidence_of(*signature)
        return found

    def _evidence_of(self, keys: tuple[tuple[str, str], ...], entity: int, e: int) -> tuple[np.ndarray, np.ndarray]:
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for key in keys:
            hit = self.index.get(key)
            if hit is not None:
                idx, strength = hit
                if entity >= 0:  # an owner naming another entity vetoes both kinds
                    allowed = (self.veto[idx] < 0) | (self.veto[idx] == entity)
                    idx, strength = idx[allowed], strength[allowed]
                parts.append((idx, strength))
        if e >= 0:  # the object holding the field looks like entity e's own response
            idx = self._leaf_rows(int(self.echo_leaf[e]))
            idx = idx[self.obj_ok[self.field_object[idx], e]]
            idx = idx[(self.veto[idx] < 0) | (self.veto[idx] == entity)]
            parts.append((idx, np.full(len(idx), STRUCTURE, dtype=np.float32)))
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows = np.concatenate([r for r, _ in parts])
        strength = np.concatenate([x for _, x in parts])
        order = np.lexsort((-strength, rows))  # by row, the strongest first: keep the first of each row
        rows, strength = rows[order], strength[order]
        first = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, dtype=bool)
        return rows[first], strength[first]


def _api_context(api: ApiSpec, vocabulary: set[str]) -> list[tuple[str, float]]:
    """Entity words for a bare id in this API's output, with their strength.

    The last path segment that names a known entity is the resource (``/movie/popular`` -> movie, ``/search/person``
    -> person, ``/tv/{tv_id}/keywords`` -> keyword); with none, every entity the summary or description mentions
    (``/trending/...``: "movies, TV shows and people").
    """
    literal = [s for s in api.path.split("/") if s and not s.startswith("{")]
    for segment in reversed(literal):
        hits = [w for w in words(segment) if w in vocabulary]
        if hits:
            return [(hits[-1], NAME_RESOURCE)]
    out: dict[str, float] = {}
    for text, strength in ((api.summary, NAME_SUMMARY), (api.description, NAME_DESCRIPTION)):
        for w in words(text or ""):
            if w in vocabulary and w not in _STOP_WORDS:
                out[w] = max(out.get(w, 0.0), strength)
    return sorted(out.items())


# ------------------------------------------------------------------------------------------------------- the search


def _collect_targets(
    apis: Sequence[ApiSpec], cfg: CandidateConfig, stats: CandidateStats
) -> list[tuple[int, Param, str]]:
    targets: list[tuple[int, Param, str]] = []
    for bi, api in enumerate(apis):
        for p in api.params:
            stats.params += 1
            why = target_exclusion(p) if cfg.exclude_targets else None
            if why:
                stats.excluded_params[why] = stats.excluded_params.get(why, 0) + 1
            else:
                targets.append((bi, p, param_kind(p)))
    return targets


def _is_id_name(name: str) -> bool:
    toks = words(name)
    return bool(toks) and toks[-1] in _ID_WORDS


def _mentions_id(param: Param) -> bool:
    return bool({"id", "ids", "identifier"} & set(words(f"{param.name} {param.description}")))


@dataclass
class _Prepared:
    """Everything the block scorer needs, computed once per call."""

    apis: Sequence[ApiSpec]
    cfg: CandidateConfig
    fields: list[_Field]
    targets: list[tuple[int, Param, str]]
    rows_vecs: np.ndarray  # API-level output vectors or field vectors: the rows of every score block
    field_vecs: np.ndarray
    param_vecs: np.ndarray
    source_api: np.ndarray  # API index of each row
    row_ok: np.ndarray  # rows that may be a source at all (echo fields may not)
    param_api: np.ndarray
    fits_table: np.ndarray
    fk_index: np.ndarray
    pk_index: np.ndarray
    cross_tool_id: np.ndarray
    api_tool: np.ndarray  # tool code of each API
    row_order: np.ndarray  # position of each row in (API id, field path) order: ties never depend on input order
    evidence: _Evidence | None
    field_is_id: np.ndarray  # the field's name ends in id/key/uuid
    param_is_id: np.ndarray
    param_required: np.ndarray
    row_tool: np.ndarray = dc_field(init=False)  # tool code of each row's API
    row_start: np.ndarray = dc_field(init=False)  # rows of API a: row_start[a] to row_start[a + 1]
    bad_rows: np.ndarray = dc_field(init=False)  # rows that may never be a source
    ok_rows: int = dc_field(init=False)
    ok_rows_of_api: np.ndarray = dc_field(init=False)
    ok_rows_of_tool: np.ndarray = dc_field(init=False)
    target_order: np.ndarray = dc_field(init=False)  # position of each target in (API id, parameter name) order

    def __post_init__(self) -> None:
        n_apis = len(self.apis)
        assert not np.any(np.diff(self.source_api) < 0), "rows come grouped by API (_collect_fields: API by API)"
        self.row_tool = self.api_tool[self.source_api]
        self.row_start = np.searchsorted(self.source_api, np.arange(n_apis + 1))
        self.bad_rows = np.flatnonzero(~self.row_ok)
        self.ok_rows = int(self.row_ok.sum())
        self.ok_rows_of_api = np.bincount(self.source_api[self.row_ok], minlength=n_apis)
        self.ok_rows_of_tool = np.bincount(self.row_tool[self.row_ok], minlength=int(self.api_tool.max()) + 1)
        keys = [(self.apis[bi].id, p.name) for bi, p, _ in self.targets]
        position = {key: i for i, key in enumerate(sorted(set(keys)))}
        self.target_order = np.array([position[key] for key in keys], dtype=np.int64)

    @property
    def api_level(self) -> bool:
        return self.cfg.output_texts == "api"


@dataclass
class _Block:
    """The rule's verdict on some target columns: the kept pairs (before top-k) as arrays, and the dense cosine."""

    cols: np.ndarray  # target indices of this block
    cosine_matrix: np.ndarray  # (rows, block): the cosine of every row with every column
    rows: np.ndarray  # the pairs the rule keeps, before top-k: row ...
    cidx: np.ndarray  # ... and position in cols
    cosine: np.ndarray  # per kept pair
    evidence: np.ndarray  # per kept pair: default's name/structure evidence (0 where none)
    how: np.ndarray  # per kept pair: 1 = evidence, 2 = cosine fallback, 0 = plain cosine rule
    rank: np.ndarray  # per kept pair: the rule's ranking score (what top-k compares)
    col_evidence: np.ndarray  # per column: some valid, type-compatible field has evidence (no cosine fallback then)


def _resolve(
    preset: str, config: CandidateConfig | None, threshold: float | None, top_k: Any, overrides: dict[str, Any]
) -> CandidateConfig:
    if config is not None:
        return config
    if threshold is not None:
        overrides["threshold"] = threshold
    if top_k is not _UNSET:
        overrides["top_k"] = top_k
    if overrides.get("top_k") is not None and overrides["top_k"] < 1:
        raise ValueError(f"top_k must be a positive integer or None, got {overrides['top_k']}")
    return preset_config(preset, **overrides)


def _prepare(
    apis: Sequence[ApiSpec], embedder: TextEmbedder, cfg: CandidateConfig, stats: CandidateStats
) -> _Prepared | None:
    fields = _collect_fields(apis, cfg, stats)
    targets = _collect_targets(apis, cfg, stats)
    stats.output_fields, stats.target_params = len(fields), len(targets)
    api_level = cfg.output_texts == "api"
    if (not fields and not api_level) or not targets:
        return None
    plain = cfg.text_style == "plain" and not api_level
    if api_level:
        p_texts = [api_param_text(apis[bi], p) for bi, p, _ in targets]
        o_texts = [api_output_text(a) for a in apis]
    else:
        p_texts = [(plain_param_text if plain else param_text)(apis[bi], p) for bi, p, _ in targets]
        o_texts = []
    f_texts = [(plain_field_text if plain else field_text)(apis[f.api], f.field) for f in fields]
    texts = o_texts + f_texts + p_texts  # one call, so the cache sees every text at once
    vectors = _unit_rows(np.asarray(embedder.encode(texts), dtype=np.float32))
    stats.texts_embedded = len(texts)
    out_vecs = vectors[: len(o_texts)]
    field_vecs = vectors[len(o_texts) : len(o_texts) + len(f_texts)]
    param_vecs = vectors[len(o_texts) + len(f_texts) :]
    field_api = np.array([f.api for f in fields], dtype=np.int64)
    field_kinds = sorted({f.kind for f in fields})
    param_kinds = sorted({k for _, _, k in targets})
    return _Prepared(
        apis=apis, cfg=cfg, fields=fields, targets=targets,
        rows_vecs=out_vecs if api_level else field_vecs, field_vecs=field_vecs, param_vecs=param_vecs,
        source_api=np.arange(len(apis), dtype=np.int64) if api_level else field_api,
        row_ok=np.ones(len(apis), dtype=bool) if api_level else np.array([not f.echo for f in fields], dtype=bool),
        param_api=np.array([bi for bi, _, _ in targets], dtype=np.int64),
        fits_table=np.array([[field_fits_param(fk, pk) for pk in param_kinds] for fk in field_kinds], dtype=bool),
        fk_index=np.array([field_kinds.index(f.kind) for f in fields], dtype=np.int64),
        pk_index=np.array([param_kinds.index(k) for _, _, k in targets], dtype=np.int64),
        cross_tool_id=np.array([cfg.no_cross_tool_id and _mentions_id(p) for _, p, _ in targets], dtype=bool),
        api_tool=np.unique(np.array([a.tool for a in apis], dtype=str), return_inverse=True)[1].astype(np.int64),
        row_order=_row_order(apis, fields, api_level),
        evidence=_Evidence(apis, fields, targets) if cfg.evidence else None,
        field_is_id=np.array([_is_id_name(f.leaf) for f in fields], dtype=bool),
        param_is_id=np.array([_param_entity(apis[bi], p)[1] for bi, p, _ in targets], dtype=bool),
        param_required=np.array([p.required or p.location == "path" for _, p, _ in targets], dtype=bool),
    )  # fmt: skip


def _row_order(apis: Sequence[ApiSpec], fields: list[_Field], api_level: bool) -> np.ndarray:
    keys = [(a.id, "") for a in apis] if api_level else [(apis[f.api].id, f.field.path) for f in fields]
    order = np.empty(len(keys), dtype=np.int64)
    order[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
    return order


def _blocks(prep: _Prepared, block_size: int | None, stats: CandidateStats | None = None) -> Iterator[_Block]:
    """Score the targets ``block_size`` columns at a time: one (rows x block) product each, never a loop over pairs."""
    for cols in _block_columns(prep, block_size):
        yield _score_block(prep, cols, stats)


def _block_columns(prep: _Prepared, block_size: int | None) -> Iterator[np.ndarray]:
    """The target columns of each block (by default about 2**24 cosines a block)."""
    n_targets = len(prep.targets)
    if block_size is None:
        block_size = max(1, min(n_targets, (1 << 24) // max(1, len(prep.rows_vecs))))
    for start in range(0, n_targets, block_size):
        yield np.arange(start, min(start + block_size, n_targets))


def _valid(prep: _Prepared, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A != B, the row may be a source, and no heuristic drops the pair (broadcasts: pairs or a row x column grid)."""
    ok = prep.row_ok[rows] & (prep.source_api[rows] != prep.param_api[cols])
    if prep.cfg.no_cross_tool_id:
        ok &= ~(prep.cross_tool_id[cols] & (prep.row_tool[rows] != prep.api_tool[prep.param_api[cols]]))
    return ok


def _fits(prep: _Prepared, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The type filter on pairs (broadcasts like `_valid`); API-level rows have no type."""
    if not prep.cfg.type_filter or prep.api_level:
        return np.ones(np.broadcast_shapes(np.shape(rows), np.shape(cols)), dtype=bool)
    return prep.fits_table[prep.fk_index[rows], prep.pk_index[cols]]


def _score_block(prep: _Prepared, cols: np.ndarray, stats: CandidateStats | None = None) -> _Block:
    """The rule on target columns ``cols`` against every row. Every decision is per column, so any split agrees.

    The product is dense (it is the FLOPs); everything after it touches only the pairs that can matter: those above
    a cosine bar (one comparison pass) or with evidence (`_Evidence.pairs`), filtered with gathers.
    """
    cfg = prep.cfg
    cosine = prep.rows_vecs @ prep.param_vecs[cols].T
    if stats is not None:
        _count_pairs(prep, cols, stats)
    if prep.evidence is None:
        rows, cidx = np.nonzero(cosine > cfg.threshold)
        valid = _valid(prep, rows, cols[cidx])
        rows, cidx = rows[valid], cidx[valid]
        if stats is not None:
            stats.kept_by_threshold += len(rows)
        keep = _fits(prep, rows, cols[cidx])
        rows, cidx = rows[keep], cidx[keep]
        cos = cosine[rows, cidx]
        block = _Block(cols=cols, cosine_matrix=cosine, rows=rows, cidx=cidx, cosine=cos,
                       evidence=np.zeros(len(rows), dtype=np.float32), how=np.zeros(len(rows), dtype=np.int8),
                       rank=cos, col_evidence=np.zeros(len(cols), dtype=bool))  # fmt: skip
    else:
        block = _score_evidence_block(prep, cols, cosine, stats)
    if stats is not None:
        stats.kept_by_type += len(block.rows)
    return block


def _score_evidence_block(
    prep: _Prepared, cols: np.ndarray, cosine: np.ndarray, stats: CandidateStats | None
) -> _Block:
    """The default rule: evidence decides; a required parameter with none falls back to its best fields by cosine."""
    cfg, evidence = prep.cfg, prep.evidence
    assert evidence is not None
    er, ec, ev = evidence.pairs(cols)
    valid = _valid(prep, er, cols[ec])
    usable = valid & _fits(prep, er, cols[ec])
    ecos = cosine[er, ec]
    cos01 = np.clip(ecos, 0.0, 1.0)
    any_evidence = usable & (ev >= cfg.threshold)
    col_evidence = np.zeros(len(cols), dtype=bool)
    col_evidence[ec[any_evidence]] = True
    strong = any_evidence & (ev >= cfg.strong_evidence)
    weak = np.flatnonzero(any_evidence & ~strong)  # a one-word name, a mention in a description: the best few only
    weak_rank = ev[weak] + 0.05 * cos01[weak]
    by_evidence = strong
    by_evidence[weak[_top_k_pairs(ec[weak], er[weak], weak_rank, cfg.weak_top_k, prep.row_order)]] = True
    # parameters with no evidence at all fall back to their best few fields by cosine; ids only feed ids
    above = cosine >= cfg.similarity_floor
    no_evidence = ~col_evidence
    if cfg.similarity_required_only:
        no_evidence &= prep.param_required[cols]
    fallback = np.flatnonzero(no_evidence)
    fr = fc = np.zeros(0, dtype=np.int64)
    if len(fallback) and cfg.similarity_top_k > 0:
        fr, fpos = np.nonzero(above[:, fallback])
        fc = fallback[fpos]
        pc = cols[fc]
        claim = evidence.claim[fr]  # a value known to be another entity's id fills nothing else
        ok = _valid(prep, fr, pc) & _fits(prep, fr, pc) & (prep.field_is_id[fr] == prep.param_is_id[pc])
        ok &= (claim < 0) | (claim == evidence.param_entity[pc])
        fr, fc = fr[ok], fc[ok]
        chosen = _top_k_pairs(fc, fr, cosine[fr, fc], cfg.similarity_top_k, prep.row_order)
        fr, fc = fr[chosen], fc[chosen]
    if stats is not None:  # pairs with evidence or a cosine above the fallback bar, A != B
        stats.kept_by_threshold += _count_valid(prep, above, cols)
        stats.kept_by_threshold += int(np.count_nonzero(valid & (ev >= cfg.threshold) & ~above[er, ec]))
        stats.kept_by_evidence += int(np.count_nonzero(by_evidence))
        stats.kept_by_similarity += len(fr)
    # the evidence of fallback pairs (below the threshold, maybe not 0): look it up among the evidence pairs
    n_rows = cosine.shape[0]
    keys = ec * n_rows + er  # ascending: pairs come by position, then row
    at = np.searchsorted(keys, fc * n_rows + fr)
    at_ok = at < len(keys)
    f_ev = np.zeros(len(fr), dtype=np.float32)
    hit = at_ok & (keys[np.where(at_ok, at, 0)] == fc * n_rows + fr) if len(keys) else np.zeros(len(fr), dtype=bool)
    f_ev[hit] = ev[at[hit]]
    rows = np.concatenate([er[by_evidence], fr])
    cidx = np.concatenate([ec[by_evidence], fc])
    pair_ev = np.concatenate([ev[by_evidence], f_ev])
    cos = cosine[rows, cidx]
    how = np.concatenate([np.ones(int(by_evidence.sum()), dtype=np.int8), np.full(len(fr), 2, dtype=np.int8)])
    return _Block(cols=cols, cosine_matrix=cosine, rows=rows, cidx=cidx, cosine=cos, evidence=pair_ev, how=how,
                  rank=_evidence_rank(prep, cols[cidx], pair_ev, cos), col_evidence=col_evidence)  # fmt: skip


def _evidence_rank(prep: _Prepared, cols: np.ndarray, ev: np.ndarray, cos: np.ndarray) -> np.ndarray:
    """The default rule's ranking (broadcasts): evidence decides (the cosine orders fields inside one evidence
    level), cosine alone ranks the rest, and a required input (you cannot call B without it) outranks an optional
    filter at equal evidence."""
    cos01 = np.clip(cos, 0.0, 1.0)
    need = np.where(prep.param_required[cols], REQUIRED_BONUS, 0.0)
    return np.where(ev > 0, 1.0 + ev + need + 0.05 * cos01, cos01)


def _count_pairs(prep: _Prepared, cols: np.ndarray, stats: CandidateStats) -> None:
    """``pairs_considered`` and ``dropped_cross_tool_id`` for these columns, counted from row totals (no pairs)."""
    b = prep.param_api[cols]
    possible = prep.ok_rows - prep.ok_rows_of_api[b]  # rows that may be a source, less B's own
    if prep.cfg.no_cross_tool_id:
        tool = prep.api_tool[b]
        dropped = np.where(prep.cross_tool_id[cols], prep.ok_rows - prep.ok_rows_of_tool[tool], 0)
        stats.dropped_cross_tool_id += int(dropped.sum())
        possible = possible - dropped
    stats.pairs_considered += int(possible.sum())


def _count_valid(prep: _Prepared, mask: np.ndarray, cols: np.ndarray) -> int:
    """``(mask & valid).sum()`` for a (rows x cols) mask, without a dense valid matrix: all, less the invalid rows."""
    total = int(np.count_nonzero(mask)) - int(np.count_nonzero(mask[prep.bad_rows]))
    b = prep.param_api[cols]
    lo, hi = prep.row_start[b], prep.row_start[b + 1]  # B's own rows (rows come grouped by API)
    lengths = hi - lo
    own = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(lo, lengths)
    at = np.repeat(np.arange(len(cols)), lengths)
    total -= int(np.count_nonzero(mask[own, at] & prep.row_ok[own]))
    if prep.cfg.no_cross_tool_id:
        dropped = np.flatnonzero(prep.cross_tool_id[cols])
        if len(dropped):
            other = (prep.row_tool[:, None] != prep.api_tool[b[dropped]][None, :]) & prep.row_ok[:, None]
            total -= int(np.count_nonzero(mask[:, dropped] & other))
    return total


def _top_k_pairs(cols: np.ndarray, rows: np.ndarray, scores: np.ndarray, k: int, row_order: np.ndarray) -> np.ndarray:
    """Per column, True for the ``k`` best-scored of the given pairs; ties go to the row first in ``row_order``.

    One lexsort by (column, score, row order) over the pairs, so the cost follows the pairs, not rows x columns.
    """
    chosen = np.zeros(len(cols), dtype=bool)
    if k <= 0 or not len(cols):
        return chosen
    order = np.lexsort((row_order[rows], -scores, cols))
    sorted_cols = cols[order]
    starts = np.flatnonzero(np.r_[True, sorted_cols[1:] != sorted_cols[:-1]])  # first entry of each column's run
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    chosen[order[rank < k]] = True
    return chosen


def find_candidates(
    apis: Sequence[ApiSpec],
    embedder: TextEmbedder,
    *,
    threshold: float | None = None,
    top_k: int | None = _UNSET,
    preset: str = "default",
    config: CandidateConfig | None = None,
    block_size: int | None = None,
    **overrides: Any,
) -> tuple[list[DependencyEdge], CandidateStats]:
    """Candidate edges, sorted by (target API, parameter, -score), with per-filter counts.

    ``preset`` names the rule (`preset_config`); ``threshold``, ``top_k`` (None keeps all) and any other
    `CandidateConfig` field given as a keyword override it; ``config`` replaces it whole. Kept pairs stay arrays
    until the end; only they become `DependencyEdge` objects.
    """
    cfg = _resolve(preset, config, threshold, top_k, overrides)
    started = time.perf_counter()
    stats = CandidateStats(preset=cfg.preset, apis=len(apis), threshold=cfg.threshold, top_k=cfg.top_k)
    prep = _prepare(apis, embedder, cfg, stats)
    if prep is None:
        stats.seconds = time.perf_counter() - started
        return [], stats
    parts = []
    for block in _blocks(prep, block_size, stats):
        kept = _kept(prep, block)
        parts.append((block.rows[kept], block.cols[block.cidx[kept]], block.evidence[kept], block.cosine[kept],
                      block.how[kept]))  # fmt: skip
    edges = _make_edges(prep, *(np.concatenate([p[i] for p in parts]) for i in range(5)))
    stats.kept_by_top_k = len(edges)
    stats.seconds = time.perf_counter() - started
    log.info(
        "candidates (%s): %d pairs, %d above threshold %.2f, %d type-compatible, %d after top-k (%.2fs)",
        cfg.preset, stats.pairs_considered, stats.kept_by_threshold, cfg.threshold, stats.kept_by_type,
        stats.kept_by_top_k, stats.seconds,
    )  # fmt: skip
    return edges, stats


def api_pair_scores(
    apis: Sequence[ApiSpec],
    embedder: TextEmbedder,
    *,
    preset: str = "default",
    config: CandidateConfig | None = None,
    block_size: int | None = None,
    **overrides: Any,
) -> np.ndarray:
    """``scores[a, b]``: how strongly the rule ranks "B takes something from A" (its best pair), -inf for never.

    The ranking behind the rule's decisions with every cut removed, so rules can be compared at equal budget
    (keep the best x% of API pairs). Same blocked products as `find_candidates`, ranked densely (for documents of
    hundreds of APIs: the benchmarks that compare rules).
    """
    cfg = _resolve(preset, config, None, _UNSET, overrides)
    n = len(apis)
    out = np.full((n, n), -np.inf, dtype=np.float64)
    prep = _prepare(apis, embedder, cfg, CandidateStats())
    if prep is None:
        return out
    for block in _blocks(prep, block_size):
        cols, cosine = block.cols, block.cosine_matrix
        grid = (np.arange(cosine.shape[0])[:, None], cols[None, :])
        usable = _valid(prep, *grid) & _fits(prep, *grid)
        if prep.evidence is None:
            rank = np.where(usable, cosine, -np.inf)
        else:
            ev = np.zeros(cosine.shape, dtype=np.float32)
            er, ec, strength = prep.evidence.pairs(cols)
            ev[er, ec] = strength
            rank = np.where(usable, _evidence_rank(prep, cols[None, :], ev, cosine), -np.inf)
        # best row per (source API, target column), then per (source API, target API)
        per_api = np.full((n, len(cols)), -np.inf)
        np.maximum.at(per_api, prep.source_api, rank)
        target_api = prep.param_api[cols]
        for b in np.unique(target_api):
            out[:, b] = np.maximum(out[:, b], per_api[:, target_api == b].max(axis=1))
    np.fill_diagonal(out, -np.inf)
    return out


def _kept(prep: _Prepared, block: _Block) -> np.ndarray:
    """Indices of the block's kept pairs that survive the ``top_k`` cap (by the rule's rank)."""
    if prep.cfg.top_k is None:
        return np.arange(len(block.rows))
    return np.flatnonzero(_top_k_pairs(block.cidx, block.rows, block.rank, prep.cfg.top_k, prep.row_order))


class PairExplanation(BaseModel):
    """The rule's verdict on one (output field of A, parameter of B) pair, with the deciding reason in words.

    One per pair the rule considered, plus one per parameter of B that is not a target at all (``source_path`` None,
    ``excluded`` set, ``cosine`` 0: never compared). ``kept`` is True exactly for the pairs `find_candidates` returns.
    ``paper`` compares A's whole output (one row per API): ``source_path`` is the field an edge would bind.
    """

    model_config = ConfigDict(frozen=True)

    source_api: str
    target_api: str
    source_path: str | None = Field(description="A's output field; None for a parameter of B that is not a target")
    target_param: str
    target_location: str
    field_kind: str | None = Field(description="The field's kind (`field_kind`); None when there is no field")
    param_kind: str = Field(description="`param_kind` of the parameter")
    excluded: str | None = Field(None, description="Why the parameter is never a target (`target_exclusion`)")
    type_fits: bool = Field(description="The field's kind can fill the parameter's (`field_fits_param`)")
    cosine: float = Field(description="Cosine of the two texts the preset compares (0: never compared)")
    evidence: float = Field(0.0, description="default: name/structure evidence, 0 if none")
    rule: str = Field(
        description="The route the pair is judged by: 'evidence' (strong), 'weak evidence', 'similarity fallback' "
        "(default, no evidence), 'similarity' (the cosine threshold of paper/similarity), or where it stopped: "
        "'not a target', 'not a source', 'cross-tool id', 'type filter'"
    )
    score: float = Field(description="The score that route compares (the edge's score when kept)")
    threshold: float = Field(description="The bar that route sets (strong evidence, threshold or cosine floor)")
    kept: bool
    why: str = Field(description="The deciding reason, one sentence")


def explain_pair(
    apis: Sequence[ApiSpec],
    embedder: TextEmbedder,
    source_api: str,
    target_api: str,
    *,
    preset: str = "default",
    threshold: float | None = None,
    top_k: int | None = None,
    no_cross_tool_id: bool = False,
    **overrides: Any,
) -> list[PairExplanation]:
    """Why `find_candidates` keeps or drops each (field of ``source_api``, parameter of ``target_api``) pair.

    Runs the same rule on the whole API set (IDF, structure evidence, top-k and fallbacks are decided against every
    other API), then reads off the two APIs' pairs: for debugging a missing or surprising edge. Same arguments as
    `find_candidates` (``top_k`` None keeps all, as `build_graph`).
    """
    index = {a.id: i for i, a in enumerate(apis)}
    for role, api_id in (("source_api", source_api), ("target_api", target_api)):
        if api_id not in index:
            near = sorted(i for i in index if api_id.lower() in i.lower())[:5]
            hint = f" (similar ids: {', '.join(near)})" if near else ""
            raise ValueError(f"explain_pair: {role} {api_id!r} is not among the {len(apis)} APIs given{hint}")
    if source_api == target_api:
        raise ValueError(f"explain_pair: source_api and target_api are both {source_api!r}; edges join two APIs")
    ai, bi = index[source_api], index[target_api]
    overrides = {**overrides, "no_cross_tool_id": no_cross_tool_id} if no_cross_tool_id else overrides
    cfg = _resolve(preset, None, threshold, top_k, dict(overrides))
    prep = _prepare(apis, embedder, cfg, CandidateStats())
    b_api = apis[bi]
    out: list[PairExplanation] = []
    cols = np.flatnonzero(prep.param_api == bi) if prep is not None else np.zeros(0, dtype=np.int64)
    targeted = {id(prep.targets[c][1]) for c in cols.tolist()} if prep is not None else set()
    for p in b_api.params:  # parameters that are never a target: one line each
        if id(p) in targeted:
            continue
        why = target_exclusion(p) if cfg.exclude_targets else None
        reason = {"enum": "an enum is a choice the user states", "boolean": "a boolean is a choice the user states",
                  "pagination": "a pagination knob is never worth a dependency"}.get(why or "", "it is not a target")
        out.append(PairExplanation(
            source_api=source_api, target_api=target_api, source_path=None, target_param=p.name,
            target_location=p.location, field_kind=None, param_kind=param_kind(p), excluded=why or "not a target",
            type_fits=False, cosine=0.0, rule="not a target", score=0.0, threshold=cfg.threshold, kept=False,
            why=f"not kept: {p.name} is never the target of an edge ({reason})",
        ))  # fmt: skip
    if prep is None or not len(cols):
        return out
    own_fields = [fi for fi, f in enumerate(prep.fields) if f.api == ai]
    wanted = set(cols.tolist())
    for block_cols in _block_columns(prep, None):  # the very blocks find_candidates scores: the same cosines
        if not wanted.intersection(block_cols.tolist()):
            continue
        block = _score_block(prep, block_cols)
        pairs = list(zip(block.rows.tolist(), block.cidx.tolist()))
        rule_keeps = set(pairs)
        kept = {pairs[i] for i in _kept(prep, block).tolist()}
        evidence: dict[tuple[int, int], float] = {}
        if prep.evidence is not None:
            er, ec, strength = prep.evidence.pairs(block_cols)
            evidence = dict(zip(zip(er.tolist(), ec.tolist()), strength.tolist()))
        for ci, c in enumerate(block_cols.tolist()):
            if c in wanted:
                out.extend(_explain_one(prep, block, r, ci, c, (r, ci) in kept, (r, ci) in rule_keeps,
                                        evidence.get((r, ci), 0.0), own_fields)
                           for r in range(prep.row_start[ai], prep.row_start[ai + 1]))  # fmt: skip
    return out


def _explain_one(
    prep: _Prepared, block: _Block, r: int, ci: int, c: int, kept: bool, rule_keeps: bool, ev: float,
    own_fields: list[int],
) -> PairExplanation:
    cfg, (bi, param, pkind) = prep.cfg, prep.targets[c]
    ai = int(prep.source_api[r])
    if prep.api_level:
        path, fkind = _bound_field(prep, own_fields, c)
    else:
        path, fkind = prep.fields[r].field.path, prep.fields[r].kind
    cos = float(block.cosine_matrix[r, ci])
    fits = field_fits_param(fkind, pkind)
    other_tool = prep.api_tool[ai] != prep.api_tool[bi]
    evidence_route = prep.evidence is not None and ev >= cfg.threshold
    cos01 = max(0.0, min(1.0, cos))
    if evidence_route:
        strong = ev >= cfg.strong_evidence
        rule, bar = ("evidence", cfg.strong_evidence) if strong else ("weak evidence", cfg.threshold)
        score = ev + 0.05 * cos01
    elif prep.evidence is not None:
        rule, score, bar = "similarity fallback", cos, cfg.similarity_floor
    else:
        rule, score, bar = "similarity", cos, cfg.threshold
    top_k_note = f"below the top-{cfg.top_k} for this parameter"
    if not prep.row_ok[r]:
        counter = _normalise_name(prep.fields[r].leaf) in PAGINATION_FIELD_NAMES
        what = "counts or pages results" if counter else f"only repeats {prep.apis[ai].id}'s own path input"
        rule, why = "not a source", f"not kept: {path} {what}, so it is never a source"
    elif cfg.no_cross_tool_id and other_tool and prep.cross_tool_id[c]:
        rule = "cross-tool id"
        why = f"not kept: {param.name} mentions an id and the APIs are different tools (no_cross_tool_id)"
    elif cfg.type_filter and not prep.api_level and not fits:
        rule, why = "type filter", f"not kept: {_a(fkind)} field cannot fill {_a(pkind)} parameter"
    elif kept:
        if rule == "evidence":
            why = f"kept: strong name/structure evidence {ev:.2f} >= {cfg.strong_evidence}"
        elif rule == "weak evidence":
            why = f"kept: weak evidence {ev:.2f} >= {cfg.threshold}, among the best {cfg.weak_top_k} for this parameter"
        elif rule == "similarity fallback":
            why = (f"kept: no field has name/structure evidence for {param.name}; cosine {cos:.3f} >= "
                   f"{cfg.similarity_floor}, among the best {cfg.similarity_top_k}")  # fmt: skip
        else:
            why = f"kept: cosine {cos:.3f} > {cfg.threshold}"
    elif rule_keeps:
        why = f"not kept: {top_k_note}"
    elif rule == "similarity":
        why = f"not kept: cosine {cos:.3f} <= {cfg.threshold}"
    elif rule == "evidence":  # strong evidence is always kept unless top_k cut it
        why = f"not kept: {top_k_note}"
    elif rule == "weak evidence":
        why = f"not kept: weak evidence {ev:.2f}, below the best {cfg.weak_top_k} for this parameter"
    else:
        ev_text = f"evidence {ev:.2f} < {cfg.threshold}" if ev > 0 else "no name/structure evidence"
        claim = int(prep.evidence.claim[r])
        if block.col_evidence[ci]:
            why = f"not kept: {ev_text}, and other fields have evidence for {param.name} (so no cosine fallback)"
        elif cfg.similarity_required_only and not prep.param_required[c]:
            why = f"not kept: {ev_text}, and an optional parameter gets no cosine fallback"
        elif cos < cfg.similarity_floor:
            why = f"not kept: cosine {cos:.3f} < {cfg.similarity_floor} and {ev_text}"
        elif prep.field_is_id[r] != prep.param_is_id[c]:
            why = f"not kept: {ev_text}, and the cosine fallback only lets ids feed ids (and non-ids non-ids)"
        elif claim >= 0 and claim != prep.evidence.param_entity[c]:
            why = f"not kept: {ev_text}, and the field is known to hold ids of another entity"
        else:
            why = f"not kept: {ev_text}; cosine {cos:.3f} is below the best {cfg.similarity_top_k} for this parameter"
    return PairExplanation(
        source_api=prep.apis[ai].id, target_api=prep.apis[bi].id, source_path=path, target_param=param.name,
        target_location=param.location, field_kind=fkind, param_kind=pkind, excluded=None, type_fits=fits,
        cosine=round(cos, 6), evidence=round(ev, 6), rule=rule, score=round(float(score), 6), threshold=bar,
        kept=kept, why=why,
    )  # fmt: skip


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _make_edges(
    prep: _Prepared, rows: np.ndarray, cols: np.ndarray, evidence: np.ndarray, cosines: np.ndarray, hows: np.ndarray
) -> list[DependencyEdge]:
    """`DependencyEdge` objects for the kept pairs, in the output order, built without per-edge validation.

    The order and scores are computed on arrays first. The one loop left builds each object the way
    `BaseModel.model_construct` does (values already of the declared types, every field present), inlined: at
    millions of edges, validation or model_construct's own per-call work is most of the stage. The fields-set is
    shared (pydantic copies it whenever a copy could change it), and so are the frozen not-run verdicts. The cyclic
    GC is paused meanwhile: millions of new containers otherwise trigger full collections that cost more than the
    objects.
    """
    apis, fields, targets, cfg = prep.apis, prep.fields, prep.targets, prep.cfg
    cos64 = cosines.astype(np.float64)
    if prep.api_level:
        score = cos64
    else:
        score = np.where(hows == 1, evidence.astype(np.float64) + 0.05 * np.clip(cos64, 0.0, 1.0), cos64)
    scores = _round6(score)
    order = np.lexsort((cols, rows, prep.row_order[rows], -scores, prep.target_order[cols]))
    api_ids = [a.id for a in apis]
    target_info = [(api_ids[bi], p.name, p.location, kind) for bi, p, kind in targets]
    suffixes: dict[tuple[str, str, bool], str] = {}
    evidence_texts: dict[float, str] = {}
    not_run = StageResult()  # frozen, so every edge can share the not-yet-run verdicts
    verdicts: dict[str, StageResult] = {}  # candidate verdicts by reason (the reason names the code)
    edge_set, stage_set = _EDGE_FIELDS_SET, _STAGE_FIELDS_SET
    new, set_attr = object.__new__, object.__setattr__
    edge_cls, stage_cls = DependencyEdge, StageResult
    if prep.api_level:
        field_slices: dict[int, list[int]] = {}  # the fields of each API, to name the one an API-level edge binds
        for fi, f in enumerate(fields):
            field_slices.setdefault(f.api, []).append(fi)
    else:
        row_info = [(f.api, f.field.path, f.kind, f.from_example) for f in fields]
    api_level = prep.api_level
    edges: list[DependencyEdge] = []
    append = edges.append
    chunks = (order[start : start + 65536] for start in range(0, len(order), 65536))  # bounded Python lists
    values = ((rows[i].tolist(), cols[i].tolist(), cosines[i].tolist(), hows[i].tolist(), evidence[i].tolist(),
               scores[i].tolist()) for i in chunks)  # fmt: skip
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r, c, cos, how, ev, sc in itertools.chain.from_iterable(zip(*chunk) for chunk in values):
            target_api, param_name, location, pkind = target_info[c]
            if api_level:
                ai = r
                source_path, fkind = _bound_field(prep, field_slices.get(ai, []), c)
                code, reason = "similar", f"API-level cosine {cos:.3f} > {cfg.threshold}; binds {source_path}"
            else:
                ai, source_path, fkind, from_example = row_info[r]
                if how == 1:
                    head = evidence_texts.get(ev)
                    if head is None:
                        kind = _EVIDENCE_KINDS.get(round(ev, 2), "names")
                        head = evidence_texts[ev] = f"evidence {ev:.2f} ({kind}); cosine "
                    code, reason = "evidence", f"{head}{cos:.3f}"
                elif how == 2:
                    code = "similar"
                    reason = f"no evidence for any field; cosine {cos:.3f} >= {cfg.similarity_floor}, among the best"
                else:
                    code, reason = "similar", f"cosine {cos:.3f} > {cfg.threshold}"
                suffix = suffixes.get((fkind, pkind, from_example))
                if suffix is None:
                    suffix = suffixes[(fkind, pkind, from_example)] = f"; {fkind} field fits {pkind} parameter" + (
                        " (field seen only in a response example)" if from_example else "")  # fmt: skip
                reason = reason + suffix
            candidate = verdicts.get(reason)  # frozen and equal for equal reasons (a cosine has 3 decimals): shared
            if candidate is None:
                candidate = verdicts[reason] = new(stage_cls)
                set_attr(candidate, "__dict__", {"status": "passed", "code": code, "reason": reason, "details": {}})
                set_attr(candidate, "__pydantic_fields_set__", stage_set)
                set_attr(candidate, "__pydantic_extra__", None)
                set_attr(candidate, "__pydantic_private__", None)
            edge = new(edge_cls)
            set_attr(edge, "__dict__", {
                "source_api": api_ids[ai], "source_path": source_path, "target_api": target_api,
                "target_param": param_name, "target_location": location, "score": sc, "source_type": fkind,
                "target_type": pkind, "reason": "", "candidate": candidate, "llm_check": not_run,
                "execution_check": not_run,
            })  # fmt: skip
            set_attr(edge, "__pydantic_fields_set__", edge_set)
            set_attr(edge, "__pydantic_extra__", None)
            set_attr(edge, "__pydantic_private__", None)
            append(edge)
    finally:
        if gc_was_enabled:
            gc.enable()
    return edges


def _round6(values: np.ndarray) -> np.ndarray:
    """``[round(x, 6) for x in values]`` (Python's correctly rounded decimal rounding), vectorised.

    ``np.round`` scales by 10**6 first, which can land on the wrong side of a half; those few values (the scaled
    value within a hair of ``.5``) are rounded by Python instead, so every result is exactly Python's.
    """
    out = np.round(values, 6)
    scaled = values * 1e6
    doubtful = np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6)
    out[doubtful] = [round(x, 6) for x in values[doubtful].tolist()]
    return out


# the fields a validated construction marks as set (the others keep their defaults)
_EDGE_FIELDS_SET = {"source_api", "source_path", "target_api", "target_param", "target_location", "score",
                    "source_type", "target_type", "candidate"}  # fmt: skip
_STAGE_FIELDS_SET = {"status", "code", "reason"}


def _bound_field(prep: _Prepared, own: list[int], c: int) -> tuple[str, str]:
    """API-level rows: (path, kind) of the field of A that an edge into target ``c`` binds (``own``: A's fields)."""
    if not own:
        return "$", "object"
    sims = prep.field_vecs[own] @ prep.param_vecs[c]
    fits = prep.fits_table[prep.fk_index[own], prep.pk_index[c]]
    best = own[int(np.argmax(np.where(fits, sims, sims - 2.0)))]  # a type-compatible field first
    return prep.fields[best].field.path, prep.fields[best].kind


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Normalise again: a custom embedder need not return unit vectors, and cosine needs them."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def describe_texts(apis: Sequence[ApiSpec]) -> dict[str, Any]:
    """The exact texts that get embedded, for debugging a missing edge."""
    return {
        api.id: {
            "output": api_output_text(api),
            "params": {p.name: {"named": param_text(api, p), "plain": plain_param_text(api, p),
                                "api_level": api_param_text(api, p)} for p in api.params},
            "fields": {f.path: {"named": field_text(api, f), "plain": plain_field_text(api, f)}
                       for f in api.output_fields},
        }
        for api in apis
    }
