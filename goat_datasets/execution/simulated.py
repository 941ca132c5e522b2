"""The ``simulated`` executor: answers calls from an operation's response schema, for documents without a live server.

Third-party documents (TMDB, API-Bank, ToolBench) still need executed calls so that graph edges can be checked and
traces built. This executor behaves like a well-mannered server that knows every entity:

* **validation** as a server would do it: unknown or missing required parameters and values that break the
  parameter's JSON Schema (type, enum, bounds, pattern) give ``ok=False, status_code=422``;
* **determinism**: the response is a pure function of (api id, canonical JSON of the non-null arguments, seed); no
  clock, no salted ``hash()``, so the same call gives byte-identical JSON in every process and run;
* **schema first, examples preferred**: the response follows ``api.response_schema`` (objects, arrays of 1-5 items,
  enums, formats, bounds, patterns, ``oneOf``/``anyOf``; recursion was already cut by the parser and depth is bounded
  here), and a leaf takes a value from the schema's ``example(s)`` or from the document's response examples under the
  same key whenever one fits the field's schema;
* **echo**: an argument whose name is a response field comes back in it (``page``, ``season_number``, a
  ``media_type``...), and a ``<x>_id`` argument that names the operation's resource (the last path placeholder, or
  the only id argument) is the ``id`` of the root object, so an id passed from A to B comes back in B's response;
* **consistent entities**: an object with an ``id`` is an entity of a *family* (from the enclosing key, or the
  operation's resource noun for the root and generic ``results``-like lists). Its ids come from a small pool per
  family, and its name/title is derived from (family, id) only, so movie 550 has the same title in every response;
  its other fields are seeded by (family, id, field) and agree across operations whose value sources agree.
  Searches rank the family's pool by the words of the query, so searching for a name the simulator returned
  finds that entity; a query naming nothing in the pool still gets results (never an empty list), just not named
  after the query, because an integer id cannot carry a query-derived name to a later details call;
* **no response schema**: the document's response example when it has one, else ``{**arguments, "result":
  "success", "simulated": true}``.

Every result, failed or not, has ``provenance="simulated"``. Any well-typed id is accepted (the simulator never 404s),
so the execution check of the graph cannot refute a type-compatible edge on its own; that is the LLM judge's job.
"""

from __future__ import annotations

import copy
import re
import time
from collections import defaultdict
from typing import Any, Mapping

from jsonschema import Draft202012Validator

from goat_datasets.execution.base import CallResult, call_result
from goat_datasets.execution.validate import received_arguments, validate_arguments
from goat_datasets.execution.fake_values import (
    NOUNS,
    QUERY_KEYS,
    digest,
    documented_value,
    entity_name,
    family_name,
    fake_scalar,
    id_family,
    id_pool,
    is_id_key,
    is_ids_key,
    is_name_key,
    json_type,
    key_words,
    rng_for,
)
from goat_datasets.jsonpath import MISSING
from goat_datasets.registry import executors
from goat_datasets.sources.models import ApiSpec, Param

OK_STATUS = 200
INVALID_STATUS = 422
FAILED_STATUS = 500
MAX_ITEMS = 5
MAX_DEPTH = 8  # nested values below this keep only required properties and minItems items
MAX_NODES = 5_000  # generated values per response; past it arrays shrink to minItems
MAX_EXAMPLES_PER_KEY = 50
# Keys of lists whose items are the operation's own resource (their family is the operation's, not the key's).
GENERIC_CONTAINERS = frozenset({"", "results", "result", "items", "data", "list", "entries", "records", "hits",
                                "values", "docs", "objects", "rows", "response", "payload", "body", "elements",
                                "nodes"})  # fmt: skip
# Path segments and name words that are not the resource an operation is about.
NON_NOUNS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "search", "find", "list", "fetch",
                       "discover", "query", "lookup", "retrieve", "trending", "create", "update", "remove", "all",
                       "by", "api", "rest", "public", "v", "for", "the", "a"})  # fmt: skip
_PLACEHOLDER = re.compile(r"{([^{}]+)}")
_FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER


class SimulatedExecutor:
    """Deterministic schema-driven responses; takes the http executor's keywords (and ignores the network ones)."""

    def __init__(
        self,
        base_url: str = "",
        *,
        allowed_hosts: list[str] | None = None,
        timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        seed: int = 0,
    ):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.base_url = base_url or ""
        self.seed = seed

    def call(self, api: ApiSpec, arguments: dict[str, Any]) -> CallResult:
        started = time.perf_counter()
        try:
            problem = argument_problem(api, arguments)
            if problem:
                return self._result(api, arguments, started, ok=False, status_code=INVALID_STATUS, error=problem)
            given = received_arguments(api, arguments)  # "550" in a path means 550, as for a real server
            response = _Simulation(api, given, self.seed).response()
        except Exception as exc:  # the protocol forbids raising: a simulator bug is a failed call with a reason
            error = f"simulator failed: {type(exc).__name__}: {exc}"
            return self._result(api, arguments, started, ok=False, status_code=FAILED_STATUS, error=error)
        return self._result(api, arguments, started, ok=True, status_code=OK_STATUS, response=response)

    def close(self) -> None:
        pass

    def __enter__(self) -> "SimulatedExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _result(api: ApiSpec, arguments: Any, started: float, *, ok: bool, **fields: Any) -> CallResult:
        return call_result(api, arguments, started, ok=ok, provenance="simulated", **fields)


executors.register("simulated")(SimulatedExecutor)


# --------------------------------------------------------------------------------------------------------------------
# Arguments


def argument_problem(api: ApiSpec, arguments: Any) -> str | None:
    """Why a server would refuse these arguments (422), or None: the same rules as `validate.validate_arguments`."""
    problems = validate_arguments(api, arguments)
    return f"invalid argument(s) for {api.id}: {'; '.join(problems)}" if problems else None


def api_noun(api: ApiSpec) -> str:
    """The resource an operation is about: ``/search/movie`` -> ``movie``, ``GET_person_person_id`` -> ``person``."""
    segments = [s for s in (api.path or "").split("/") if s and "{" not in s]
    words = ["_".join(key_words(s)) for s in segments] if segments else key_words(api.name)
    for word in words:
        if word and word not in NON_NOUNS and not re.fullmatch(r"v\d+(_\d+)*|\d+", word):
            return family_name(word)
    return "item"


def simulated_argument(api: ApiSpec, param: Param, *, seed: int = 0) -> Any:
    """An `ArgumentSource` for the graph's execution check that always has a value.

    The schema's documented value when there is one; else an id from the family's pool for id parameters, the
    name of the first pooled entity for query parameters (so a search finds something), a realistic value otherwise.
    """
    found, value = documented_value(param.json_schema)
    if found:
        return value
    noun = api_noun(api)
    if param.name in QUERY_KEYS and json_type(param.json_schema) == "string":
        return entity_name(noun, id_pool(noun, {"type": "integer"}, seed)[0], seed)
    r = rng_for("argument", seed, api.id, param.name)
    return _Simulation(api, {}, seed).value(param.json_schema, param.name, noun, r, 1, from_examples=False)


# --------------------------------------------------------------------------------------------------------------------
# Responses


def _root_id_argument(api: ApiSpec, arguments: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The ``<x>_id`` argument naming the operation's resource: the last path placeholder, or the only id argument."""
    ids = [k for k, v in arguments.items() if k != "id" and is_id_key(k) and isinstance(v, (int, float, str))
           and not isinstance(v, bool)]  # fmt: skip
    placeholders = _PLACEHOLDER.findall(api.path or "")
    if placeholders:
        return (placeholders[-1], arguments[placeholders[-1]]) if placeholders[-1] in ids else None
    return (ids[0], arguments[ids[0]]) if len(ids) == 1 else None


def _harvest(examples: tuple[Any, ...]) -> dict[tuple[str | None, str], list[Any]]:
    """Every value in the document's response examples, under (enclosing key, key) and under (None, key).

    The enclosing key is the nearest property name above the value's object (``production_countries`` for
    ``production_countries[0].name``), so a country's ``name`` is not taken from a genre's.
    """
    found: dict[tuple[str | None, str], list[Any]] = defaultdict(list)

    def walk(value: Any, parent: str | None) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                for where in ((parent or "", key), (None, key)):
                    if len(found[where]) < MAX_EXAMPLES_PER_KEY:
                        found[where].append(sub)
                walk(sub, key)
        elif isinstance(value, list):
            for sub in value[:MAX_EXAMPLES_PER_KEY]:
                walk(sub, parent)

    for example in examples:
        walk(example, None)
    return found


def _structured(schema: dict[str, Any]) -> bool:
    """Generated rather than copied from examples, so that ids and names inside stay consistent."""
    if isinstance(schema.get("properties"), dict) and schema["properties"]:
        return True
    items = schema.get("items")
    return isinstance(items, dict) and _structured(items)


def _generative(schema: Any) -> bool:
    """Whether the schema says enough to generate from (a bare ``{"type": "object"}`` does not)."""
    if not isinstance(schema, dict) or not schema:
        return False
    if json_type(schema, "any") not in ("object", "any"):
        return True
    return bool(schema.get("properties") or isinstance(schema.get("additionalProperties"), dict)
                or schema.get("oneOf") or schema.get("anyOf") or schema.get("enum") or "const" in schema)  # fmt: skip


def _entity_key(props: dict[str, Any], family: str) -> str | None:
    """The property that identifies an object of ``family``: ``id``, else ``<family>_id`` (``movie_id`` of a movie)."""

    def scalar(name: str) -> bool:
        return isinstance(props.get(name), dict) and json_type(props[name]) in ("integer", "number", "string")

    if scalar("id"):
        return "id"
    return next((n for n in props if is_id_key(n) and id_family(n, family) == family and scalar(n)), None)


def _is_null_schema(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or schema.get("enum") == [None]


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


class _Simulation:
    """One call's response. ``rng`` is the call's random stream; entity fields use their own (family, id) streams."""

    def __init__(self, api: ApiSpec, arguments: dict[str, Any], seed: int):
        self.api, self.args, self.seed = api, arguments, seed
        self.rng = rng_for("call", seed, api.id, arguments)
        self.examples = _harvest(api.response_examples)
        self.noun = api_noun(api)
        self.root_id = _root_id_argument(api, arguments)
        queries = [v for k, v in arguments.items() if k in QUERY_KEYS and isinstance(v, str) and v.strip()]
        self.query = queries[0] if queries else None
        self.nodes = 0
        self._validators: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}

    def response(self) -> Any:
        schema = self.api.response_schema
        if not _generative(schema):
            return self._without_schema(schema)
        if self.root_id is None:
            return self.value(schema, None, self.noun, self.rng, 0)
        name, value = self.root_id
        return self.value(schema, None, id_family(name, self.noun), self.rng, 0, forced_id=value)

    def _without_schema(self, schema: dict[str, Any] | None) -> Any:
        examples = [e for e in self.api.response_examples if not schema or self.valid(e, schema)]
        if examples:
            example = copy.deepcopy(self.rng.choice(examples))
            if isinstance(example, dict):
                example.update({k: v for k, v in self.args.items() if k in example})
            return example
        return {**self.args, "result": "success", "simulated": True}

    # ---- values

    def value(self, schema: Any, key: str | None, family: str, rng: Any, depth: int, *, parent: str | None = None,
              forced_id: Any = MISSING, from_examples: bool = True) -> Any:  # fmt: skip
        """A value for ``schema`` at property ``key`` of an object that itself sits under ``parent``."""
        self.nodes += 1
        if not isinstance(schema, dict):
            return None
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if from_examples and key is not None and not is_id_key(key) and not is_ids_key(key):
            found, example = self.example(key, parent, schema, rng)
            if found:
                return example
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            choices = [v for v in schema["enum"] if v is not None] or schema["enum"]
            return copy.deepcopy(rng.choice(choices))
        if isinstance(schema.get("oneOf") or schema.get("anyOf"), list):
            return self.branch(schema, key, family, rng, depth, forced_id)
        type_ = json_type(schema)
        if type_ == "object":
            return self.object(schema, key, family, rng, depth, forced_id)
        if type_ == "array":
            return self.array(schema, key, family, rng, depth)
        if is_id_key(key) and type_ in ("integer", "number", "string"):
            return rng.choice(id_pool(id_family(key or "id", family), schema, self.seed))
        return fake_scalar(key, type_, schema, rng)

    def example(self, key: str, parent: str | None, schema: dict[str, Any], rng: Any) -> tuple[bool, Any]:
        """A documented value for this field that fits its schema: the schema's own examples, then the document's
        (those found under the same enclosing key when there are any, else under the same key anywhere)."""
        if _structured(schema):
            return False, None
        own = list(schema.get("examples") or []) if isinstance(schema.get("examples"), list) else []
        own += [schema["example"]] if "example" in schema else []
        documented = self.examples.get((parent or "", key)) or self.examples.get((None, key), [])
        candidates = [c for c in own + documented if self.valid(c, schema)]
        useful = [c for c in candidates if not _empty(c)]
        if useful or (candidates and not _generative(schema) and json_type(schema, "any") in ("object", "any")):
            return True, copy.deepcopy(rng.choice(useful or candidates))
        return False, None

    def object(self, schema: dict[str, Any], key: str | None, family: str, rng: Any, depth: int,
               forced_id: Any) -> dict[str, Any]:  # fmt: skip
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        fam = self._family(key, family)
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        id_key = _entity_key(props, fam)
        entity_id = MISSING
        if id_key is not None:
            id_schema = props[id_key]
            if forced_id is not MISSING and self.valid(forced_id, id_schema):
                entity_id = forced_id
            elif depth == 0 and id_key in self.args and self.valid(self.args[id_key], id_schema):
                entity_id = self.args[id_key]
            else:
                entity_id = rng.choice(id_pool(fam, id_schema, self.seed))
        out: dict[str, Any] = {}
        for name, sub in props.items():
            if depth >= MAX_DEPTH and name not in required:
                continue
            sub = sub if isinstance(sub, dict) else {}
            echoed = MISSING if name == id_key else self.echo(name, sub, depth)
            if name == id_key:
                out[name] = entity_id
            elif echoed is not MISSING:
                out[name] = echoed
            elif entity_id is MISSING:
                out[name] = self.value(sub, name, fam, rng, depth + 1, parent=key)
            else:
                derived = entity_name(fam, entity_id, self.seed) if is_name_key(name) else MISSING
                if derived is not MISSING and self.valid(derived, sub):
                    out[name] = derived
                else:
                    field_rng = rng_for("field", self.seed, fam, entity_id, name)
                    out[name] = self.value(sub, name, fam, field_rng, depth + 1, parent=key)
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict) and depth < MAX_DEPTH:
            for _ in range(rng.randint(1, 3)):
                name = rng.choice(NOUNS).lower()
                out.setdefault(name, self.value(extra, name, fam, rng, depth + 1))
        for name in required:
            if name not in out:
                out[name] = self.value({}, name, fam, rng, depth + 1)
        return out

    def echo(self, name: str, schema: dict[str, Any], depth: int) -> Any:
        """The argument of the same name when it fits the field; ids and names only in the root object (deeper down
        they belong to other entities: the ``movie_id`` of each similar movie is not the ``movie_id`` asked about)."""
        if name not in self.args or (depth > 0 and (is_name_key(name) or is_id_key(name))):
            return MISSING
        value = self.args[name]
        return copy.deepcopy(value) if self.valid(value, schema) else MISSING

    def array(self, schema: dict[str, Any], key: str | None, family: str, rng: Any, depth: int) -> list[Any]:
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        low = schema.get("minItems") if isinstance(schema.get("minItems"), int) else 0
        high = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else MAX_ITEMS
        top = max(low, min(high, MAX_ITEMS))
        count = rng.randint(min(max(low, 1), top), top)
        if depth >= MAX_DEPTH or self.nodes > MAX_NODES or (depth > 1 and not _generative(items)):
            count = low  # deep, over budget, or items the schema says nothing about: as few as allowed
        fam = self._family(key, family)
        if is_ids_key(key) and json_type(items) in ("integer", "number", "string"):
            pool = id_pool(family_name("_".join(key_words(key)[:-1])), items, self.seed)
            return rng.sample(pool, min(count, len(pool)))
        props = items.get("properties") if json_type(items) == "object" else None
        id_key = _entity_key(props, fam) if isinstance(props, dict) else None
        if id_key is not None:
            ids = self.pick_ids(fam, props[id_key], count, rng, depth)
            return [self.value(items, key, family, rng, depth + 1, forced_id=i, from_examples=False) for i in ids]
        values = [self.value(items, key, family, rng, depth + 1, from_examples=False) for _ in range(count)]
        if schema.get("uniqueItems"):
            unique: dict[str, Any] = {}
            for v in values:
                unique.setdefault(repr(v), v)
            values = list(unique.values())
        return values

    def pick_ids(self, family: str, id_schema: dict[str, Any], count: int, rng: Any, depth: int) -> list[Any]:
        """Distinct pooled ids; in a search's top-level results, the entities whose names share the query's words."""
        pool = id_pool(family, id_schema, self.seed)
        count = min(count, len(pool))
        if self.query is None or depth > 1:
            return rng.sample(pool, count)
        wanted = set(key_words(self.query))

        def rank(entity_id: Any) -> tuple[int, int]:
            shared = wanted & set(key_words(entity_name(family, entity_id, self.seed)))
            return -len(shared), digest("rank", self.seed, self.query, entity_id)

        return sorted(pool, key=rank)[:count]

    def branch(self, schema: dict[str, Any], key: str | None, family: str, rng: Any, depth: int,
               forced_id: Any) -> Any:  # fmt: skip
        """A value of one ``oneOf``/``anyOf`` branch; for ``oneOf``, one that no other branch also accepts."""
        kind = "oneOf" if isinstance(schema.get("oneOf"), list) else "anyOf"
        rest = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
        branches = [b for b in schema[kind] if isinstance(b, dict)]
        candidates = [b for b in branches if not _is_null_schema(b)] or [{"type": "null"}]
        value: Any = None
        for chosen in rng.sample(candidates, len(candidates)):
            value = self.value({**rest, **chosen}, key, family, rng, depth, forced_id=forced_id, from_examples=False)
            if kind == "anyOf" or sum(self.valid(value, b) for b in branches) == 1:
                return value
        return value

    def _family(self, key: str | None, family: str) -> str:
        if key is None or key.lower() in GENERIC_CONTAINERS:
            return family
        return family_name(key)

    def valid(self, value: Any, schema: dict[str, Any]) -> bool:
        cached = self._validators.get(id(schema))
        if cached is None:
            cached = (schema, Draft202012Validator(schema, format_checker=_FORMAT_CHECKER))
            self._validators[id(schema)] = cached  # keeps the schema alive, so its id() is not reused
        try:
            return cached[1].is_valid(value)
        except Exception:
            return False
