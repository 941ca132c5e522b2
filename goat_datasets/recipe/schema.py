"""The recipe schema: the single source of truth for what a recipe file may say.

Every model forbids unknown fields, so a typo is an error with a "did you mean" rather than a silently ignored
setting. Names that other modules provide (source kinds, executors, LLM providers) are checked against the shared
registries in `goat_datasets.registry`; while a registry is still empty (its module not imported, or not written yet)
a small built-in set of names is accepted so that `goat validate` works on its own.

Cross-field checks raise `PydanticCustomError` with an ``at`` entry in the error context: the location below the
validated field where the problem really is (e.g. the second ``name`` of two equal source names). The loader appends
it to the error's location, so the message lands on the offending line.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

import goat_datasets.execution  # noqa: F401  (registers the built-in executors)
import goat_datasets.sources  # noqa: F401  (registers the built-in source kinds)
from goat_datasets import registry
from goat_datasets.registry import UnknownNameError
from goat_datasets.sampling.chains import Shape
from goat_datasets.sampling.subgraphs import DEFAULT_SHAPE_WEIGHTS, Orders

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
HUB_NAME_PART_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
ENV_VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HOSTNAME_RE = re.compile(r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$|^[0-9A-Fa-f:]+$")
MAX_HUB_NAME = 96
MAX_CALLS_LIMIT = 10

# Accepted while the matching registry has no entries yet (see the module docstring).
DEFAULT_SOURCE_KINDS = frozenset({"openapi"})
DEFAULT_EXECUTORS = frozenset({"http"})
DEFAULT_LLM_PROVIDERS = frozenset({"transformers", "openai"})


def known_names(reg: registry.Registry, defaults: frozenset[str]) -> list[str]:
    """The names a recipe may use for ``reg``: the registered ones, or ``defaults`` until someone registers."""
    names = reg.names()
    return names if names else sorted(defaults)


def _check_registered(value: str, reg: registry.Registry, defaults: frozenset[str]) -> str:
    known = known_names(reg, defaults)
    if value not in known:
        raise ValueError(str(UnknownNameError(reg.kind, value, known)))
    return value


def _check_name(value: str, kind: str, known: list[str]) -> str:
    if value not in known:
        raise ValueError(str(UnknownNameError(kind, value, known)))
    return value


def _check_slug(value: str, what: str) -> str:
    if not SLUG_RE.match(value):
        raise ValueError(
            f"{what} {value!r} must start with a lowercase letter or digit and contain only a-z, 0-9, '.', '_' and '-'"
        )
    return value


def _check_http_url(value: str, what: str = "") -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"{what or 'must be'} an http:// or https:// URL with a host, got {value!r}")
    return value


def is_url(spec: str) -> bool:
    """Whether a ``spec`` string names a remote document rather than a file next to the recipe."""
    return "://" in spec


def repeated_names(names: list[object]) -> list[tuple[int, int]]:
    """(index, index of the first use) for every name that repeats an earlier one."""
    first_index: dict[object, int] = {}
    repeats = []
    for i, name in enumerate(names):
        if name in first_index:
            repeats.append((i, first_index[name]))
        else:
            first_index[name] = i
    return repeats


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HubConfig(_Strict):
    """Where the dataset is published: the same code path for the real Hub and the local one."""

    repo_id: str = Field(description="Dataset repository on the Hub, as 'org/name'.")
    private: bool = Field(default=False, description="Create the repository as private.")

    @field_validator("repo_id")
    @classmethod
    def _repo_id_shape(cls, value: str) -> str:
        parts = value.split("/")
        if len(parts) != 2:
            raise ValueError(f"must look like 'org/name' (exactly one '/'), got {value!r}")
        for part in parts:
            if not HUB_NAME_PART_RE.match(part) or "--" in part or ".." in part or len(part) > MAX_HUB_NAME:
                raise ValueError(
                    f"repo_id part {part!r} is not a valid Hub name: use letters, digits, '-', '_', '.', start and "
                    f"end with a letter or digit, no '--' or '..', at most {MAX_HUB_NAME} characters"
                )
        return value


class SourceConfig(_Strict):
    """One API document, how to call its operations, and which of them to use."""

    name: str = Field(description="Short name of the source; prefixes every operation id ('<name>.<operation>').")
    kind: str = Field(
        default="openapi", validate_default=True, description="Document format; a name from the source-kind registry."
    )
    spec: str = Field(description="The API document: a path relative to the recipe file, or an http(s) URL.")
    base_url: str | None = Field(
        default=None, description="Where the API is served (http/https). None: take it from the document if any."
    )
    executor: str = Field(
        default="http", validate_default=True, description="How calls are executed; a name from the executor registry."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts the executor may call. Empty: only the host of base_url (no open-ended requests).",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=300, description="Per-call timeout in seconds.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra request headers. Put secrets in environment variables: 'Authorization: Bearer ${TOKEN}'.",
    )
    cache: str | None = Field(
        default=None,
        validate_default=True,
        description="Response cache (SQLite file, relative to the recipe) that `executor: replay` answers from.",
    )
    include: list[str] = Field(
        default_factory=list, description="Glob patterns over operation names to keep (empty: keep all)."
    )
    exclude: list[str] = Field(default_factory=list, description="Glob patterns over operation names to drop.")

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        return _check_slug(value, "source name")

    @field_validator("kind")
    @classmethod
    def _kind_is_registered(cls, value: str) -> str:
        return _check_registered(value, registry.source_kinds, DEFAULT_SOURCE_KINDS)

    @field_validator("executor")
    @classmethod
    def _executor_is_registered(cls, value: str) -> str:
        return _check_registered(value, registry.executors, DEFAULT_EXECUTORS)

    @field_validator("spec")
    @classmethod
    def _spec_is_path_or_url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("spec must name a file (relative to the recipe) or an http(s) URL")
        if is_url(value):
            _check_http_url(value, "a URL spec must be")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value)

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts_are_hostnames(cls, value: list[str]) -> list[str]:
        for i, host in enumerate(value):
            if not HOSTNAME_RE.match(host):
                raise PydanticCustomError(
                    "hostname",
                    "{host} is not a host name (write 'api.example.com' or '*.example.com', no scheme, path or port)",
                    {"host": repr(host), "at": (i,)},
                )
        return value

    @field_validator("include", "exclude")
    @classmethod
    def _patterns_not_empty(cls, value: list[str]) -> list[str]:
        for i, pattern in enumerate(value):
            if not pattern.strip():
                raise PydanticCustomError("empty_pattern", "an empty glob pattern matches nothing", {"at": (i,)})
        return value

    @field_validator("cache")
    @classmethod
    def _cache_needs_replay(cls, value: str | None, info: ValidationInfo) -> str | None:
        executor = info.data.get("executor")
        if value is not None and not value.strip():
            raise ValueError("cache must name a response-cache file")
        if value is None and executor == "replay":
            raise ValueError("`executor: replay` answers only from a response cache: set `cache:` to its SQLite file")
        if value is not None and executor not in (None, "replay"):
            raise ValueError(f"cache is only read by `executor: replay` (this source uses {executor!r})")
        return value

    def effective_allowed_hosts(self) -> list[str]:
        """The hosts an executor may call: ``allowed_hosts``, else the host of ``base_url``, else none."""
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        host = urlparse(self.base_url).hostname if self.base_url else None
        return [host] if host else []

    def selects(self, operation_name: str) -> bool:
        """Whether an operation survives ``include``/``exclude`` (include first; exclude wins)."""
        if self.include and not any(fnmatch.fnmatchcase(operation_name, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(operation_name, p) for p in self.exclude)


class LLMConfig(_Strict):
    """The model that writes arguments, queries and answers."""

    provider: str = Field(
        default="transformers",
        validate_default=True,
        description="'transformers' runs the embedded local model; 'openai' calls an OpenAI-compatible server.",
    )
    model: str = Field(default="default", description="Model id for the provider; 'default' is the embedded model.")
    base_url: str | None = Field(default=None, description="Server URL for remote providers (http/https).")
    api_key_env: str | None = Field(
        default=None, description="NAME of the environment variable holding the API key (never the key itself)."
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature; 0 is greedy.")
    max_new_tokens: int = Field(default=256, ge=1, le=8192, description="Token budget of one generation.")
    seed: int = Field(default=0, description="Seed passed to the generator for reproducible sampling.")
    concurrency: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Items each pipeline step works on at once: its LLM requests (and API calls) in flight. Raise it "
        "for a server that batches requests (vLLM, TGI). It changes speed, not data: a build keeps its directory "
        "when only this changes, so an interrupted build can resume faster.",
    )

    @field_validator("provider")
    @classmethod
    def _provider_is_registered(cls, value: str) -> str:
        return _check_registered(value, registry.llm_providers, DEFAULT_LLM_PROVIDERS)

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value)

    @field_validator("api_key_env")
    @classmethod
    def _api_key_env_is_a_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_VAR_NAME_RE.match(value):
            raise ValueError(
                "must be the NAME of an environment variable (like OPENAI_API_KEY), not the key itself; "
                "recipes are published with the dataset"
            )
        return value


class GraphConfig(_Strict):
    """How the API dependency graph is built: embedding candidates, then checks."""

    embedder: str = Field(default="default", description="Sentence embedder; 'default' is the packaged MiniLM-L6.")
    candidates: str = Field(
        default="default",
        description="Candidate rule: 'default' (field-level texts + name/structure evidence; recall 0.956 keeping "
        "15% of API pairs on RestBench TMDB), 'paper' (GOAT's released rule, cosine > 0.2), 'similarity'.",
    )
    threshold: float | None = Field(
        default=None, ge=-1.0, le=1.0, description="Score a candidate must pass (None: the rule's own, 0.5 / 0.2)."
    )
    top_k: int | None = Field(default=None, ge=1, description="Keep at most this many candidates per parameter.")
    no_cross_tool_id: bool = Field(
        default=False, description="GOATBench heuristic: no id-valued edge between two different tools."
    )
    verify_by_execution: bool = Field(
        default=True, description="Keep an edge only if calling A then B with A's output succeeds."
    )
    max_edges_per_param: int | None = Field(
        default=None, ge=1, description="Cap on verified edges into one parameter (None: no cap)."
    )
    descriptions: str = Field(
        default="document",
        description="Texts the candidate rule embeds: 'document' (the document's own; no LLM), 'fill' (the LLM writes "
        "the ones the document lacks), 'llm' (the LLM writes all, as GOAT does).",
    )
    llm_check: bool = Field(
        default=False,
        description="Ask the LLM whether each candidate's output field is a valid value of the parameter (GOAT's "
        "LLM check); edges it rejects are dropped before the execution check.",
    )
    llm_check_batch_size: int = Field(
        default=16, ge=1, description="Edges per LLM-check batch (progress is reported per batch)."
    )
    llm_attempts: int = Field(
        default=2, ge=1, le=10, description="Tries per description/check request while the answer is unreadable."
    )


    @field_validator("candidates")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        from goat_datasets.graph.candidates import PRESET_NAMES

        return _check_name(value, "candidate rule", list(PRESET_NAMES))

    @field_validator("descriptions")
    @classmethod
    def _known_description_mode(cls, value: str) -> str:
        from goat_datasets.graph.descriptions import DESCRIPTION_MODES

        return _check_name(value, "description mode", list(DESCRIPTION_MODES))


class SamplingConfig(_Strict):
    """How call chains are drawn from the graph."""

    seed: int = Field(default=0, description="Seed of the sampler; the same seed and graph give the same chains.")
    n: int = Field(default=10, ge=1, description="Number of samples to produce.")
    min_calls: int = Field(default=2, ge=1, le=MAX_CALLS_LIMIT, description="Fewest calls in a chain.")
    max_calls: int = Field(
        default=4, ge=1, le=MAX_CALLS_LIMIT, validate_default=True, description="Most calls in a chain."
    )
    max_per_api: int | None = Field(
        default=None, ge=1, description="Cap on samples that use one API, for coverage (None: no cap)."
    )
    max_attempts: int = Field(
        default=20, ge=1, description="Draws tried per requested sample before giving up on it."
    )
    shapes: dict[Shape, float] = Field(
        default_factory=lambda: dict(DEFAULT_SHAPE_WEIGHTS),
        validate_default=True,
        description="Allowed subgraph shapes and their weights (expected shares), e.g. {chain: 0.4, fan_out: 0.2, "
        "fan_in: 0.2, dag: 0.2}; a list like [chain, dag] weighs them equally. chain: a path; fan_out: one root "
        "feeding >= 2 independent children; fan_in: one sink whose parameters are fed by >= 2 independent parents; "
        "dag: any other connected acyclic subgraph.",
    )
    coverage_k: int = Field(
        default=1, ge=0, description="Samples wanted per API that is in a usable edge, filled first when possible."
    )
    orders: Orders = Field(
        default="one", description="Run each subgraph in one random topological order, or in all of them."
    )
    max_orders_per_subgraph: int = Field(
        default=6, ge=1, description="With orders: all, the most orders (samples) taken from one subgraph."
    )

    @field_validator("shapes", mode="before")
    @classmethod
    def _shape_list_means_equal_weights(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return {name: 1.0 for name in value}
        return value

    @field_validator("shapes")
    @classmethod
    def _some_shape_weighs(cls, value: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in value.values()):
            raise ValueError(f"shape weights must be >= 0, got {value}")
        if not any(w > 0 for w in value.values()):
            raise ValueError("at least one shape needs a positive weight")
        return value

    @field_validator("max_calls")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        min_calls = info.data.get("min_calls")
        if isinstance(min_calls, int) and value < min_calls:
            raise ValueError(f"max_calls ({value}) must be >= min_calls ({min_calls})")
        return value


class SftOutput(_Strict):
    """Chat-format traces (messages + tools) for supervised fine-tuning."""

    split: str = Field(default="train", description="Split name of the sft config on the Hub.")
    system_prompt: str | None = Field(default=None, description="System message of every trace (None: no system).")
    parallel_calls: bool = Field(
        default=True,
        description="Independent calls of a sample share one assistant turn (several tool_calls); false: one call "
        "per turn, what Llama 3.1's template takes.",
    )
    check_templates: list[str] = Field(
        default_factory=lambda: ["qwen2.5", "llama3.1"],
        description="Chat templates every sft row is rendered with at build time; rows a template rejects are "
        "listed in build_report.json and the card (the templates come from the installed trl).",
    )

    @field_validator("split")
    @classmethod
    def _split_is_name(cls, value: str) -> str:
        return _check_split(value)

    @field_validator("check_templates")
    @classmethod
    def _known_templates(cls, value: list[str]) -> list[str]:
        from goat_datasets.formats.chat_templates import chat_templates

        for name in value:
            _check_name(name, "chat template", chat_templates.names())
        return value


def _check_split(value: str) -> str:
    if not re.match(r"^\w+$", value):
        raise ValueError(f"split {value!r} must be a word of letters, digits and '_' (like 'train')")
    return value


class ThreeTaskOptions(_Strict):
    """How GOAT's three-task rows are made (the defaults are the paper's; `goat_datasets.formats.three_task`)."""

    max_candidates: int = Field(default=6, ge=1, description="API documents shown to the planner, gold included.")
    negatives: Literal["any", "same_tool_first"] = Field(
        default="any", description="Where negative candidates come from: any other API, or the gold tools' first."
    )
    response_chars: int = Field(
        default=1024, ge=1, description="Each earlier result is cut to this many characters (GOAT: 1024)."
    )


class GoatTasksOutput(ThreeTaskOptions):
    """GOAT's three supervised tasks per kept sample: planning, arguments per call, final answer (config goat_tasks)."""

    split: str = Field(default="train", description="Split name of the goat_tasks config on the Hub.")
    seed: int = Field(default=0, description="Seed of the planner's negative candidates (per item).")

    @field_validator("split")
    @classmethod
    def _split_is_name(cls, value: str) -> str:
        return _check_split(value)


class CacheImport(_Strict):
    """Recorded calls that seed the rl output's response cache (what `goat cache import` does, inside the build)."""

    kind: str = Field(description="Importer kind, a name from the cache-importer registry (e.g. booking).")
    files: list[str] = Field(min_length=1, description="Files or folders of the kind's files, relative to the recipe.")
    source: str | None = Field(
        default=None,
        description="The recipe source the calls belong to (cache ids are '<source>.<function>'); default: the "
        "kind's own source name (booking for Booking.com data).",
    )

    @field_validator("kind")
    @classmethod
    def _kind_is_registered(cls, value: str) -> str:
        from goat_datasets.cache.importers import cache_importers

        return _check_name(value, "cache importer kind", cache_importers.names())

    @field_validator("files")
    @classmethod
    def _files_named(cls, value: list[str]) -> list[str]:
        for i, name in enumerate(value):
            if not name.strip():
                raise PydanticCustomError("empty_path", "an empty file name", {"at": (i,)})
        return value

    def effective_source(self) -> str:
        from goat_datasets.cache.importers import cache_importers

        return self.source or cache_importers.get(self.kind).default_source


class RlGrowth(_Strict):
    """Growing the response cache by live calls along the templates (REFERENCE §2a), before chains are sampled."""

    independent_sets: int = Field(default=3, ge=1, description="Argument sets the LLM proposes per independent step.")
    max_combinations: int = Field(default=10, ge=1, description="Parent-result combinations tried per dependent step.")
    call_budget: int = Field(default=100, ge=1, description="Live calls at most (answers already cached are free).")


class RlSynthesisKnobs(_Strict):
    """The knobs of constrained synthesis (REFERENCE §2b), shared by the recipe's rl output and
    `goat_datasets.rl.RLSynthesisSettings` (which adds the system prompt's text)."""

    seed: int = Field(default=0, description="Seed of template draws, chain sampling, distractors and growth.")
    template_choice: Literal["uniform", "frequency"] = Field(
        default="uniform", description="uniform: every template equally often; frequency: weighted by its frequency."
    )
    draws: int | None = Field(default=None, ge=1, description="Templates drawn (None: as many as there are).")
    queries_per_template: int = Field(default=1, ge=1, description="Chains (and queries) sampled per drawn template.")
    max_retries: int = Field(default=50, ge=1, description="Sampling passes per chain before it is rejected.")
    distractors: int = Field(default=2, ge=0, description="Tools offered besides the gold ones.")
    min_float_decimals: int = Field(default=3, ge=0, description="Coordinates match when equal at this many decimals.")
    query_attempts: int = Field(default=1, ge=1, description="LLM calls per chain to get a query stating every value.")


class RlOutput(RlSynthesisKnobs):
    """Prompts with gold call chains for GRPO, sampled from a response cache along workflow templates (REFERENCE §2b).
    The synthesis knobs are `RlSynthesisKnobs`."""

    templates: str | None = Field(
        default=None,
        description="Workflow templates file, relative to the recipe: the paper's workflow_templates.json or a list "
        "of {id, steps: [{function, depends_on, dependency_args}]}.",
    )
    from_graph: bool = Field(
        default=False, description="Derive the templates from the build's sampled chains (graph + sampling settings)."
    )
    cache_imports: list[CacheImport] = Field(default_factory=list, description="Recorded calls that seed the cache.")
    grow: RlGrowth | None = Field(default=None, description="Grow the cache by live calls first (null: do not).")
    split: str = Field(default="train", description="Split name of the rl config (and of rl_cache).")
    system_prompt: str | None = Field(
        default="default", description="System message of every prompt: 'default' (the built-in one), null, or text."
    )

    @field_validator("templates")
    @classmethod
    def _templates_named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("templates must name a workflow-templates file (relative to the recipe)")
        return value

    @field_validator("split")
    @classmethod
    def _split_is_name(cls, value: str) -> str:
        return _check_split(value)

    @model_validator(mode="after")
    def _one_template_source(self) -> "RlOutput":
        if self.templates is not None and self.from_graph:
            raise PydanticCustomError(
                "two_template_sources", "give either `templates` (a file) or `from_graph: true`, not both",
                {"at": ("from_graph",)},
            )  # fmt: skip
        if self.templates is None and not self.from_graph:
            raise ValueError("the rl output needs workflow templates: `templates: <file>` or `from_graph: true`")
        return self


class RlCacheOutput(_Strict):
    """The rl output's response cache as a table: what a GRPO environment replays gold and model calls from."""

    split: str = Field(default="train", description="Split name of the rl_cache config.")

    @field_validator("split")
    @classmethod
    def _split_is_name(cls, value: str) -> str:
        return _check_split(value)


class OutputsConfig(_Strict):
    """Which dataset configs are written; each becomes one config of the Hub repository."""

    sft: SftOutput | None = Field(default_factory=SftOutput, description="SFT traces; null to skip.")
    goat_tasks: GoatTasksOutput | None = Field(
        default=None, description="GOAT's three-task rows (planning, arguments, final answer) of the kept samples."
    )
    rl: RlOutput | None = Field(default=None, description="RL prompts with gold chains (configs rl, rejected).")
    rl_cache: RlCacheOutput | None = Field(default=None, description="Publish the rl output's response cache too.")

    @model_validator(mode="after")
    def _goat_tasks_need_sft(self) -> "OutputsConfig":
        if self.goat_tasks is not None and self.sft is None:
            raise PydanticCustomError(
                "goat_tasks_needs_sft", "goat_tasks are made from the sft samples: set outputs.sft too",
                {"at": ("goat_tasks",)},
            )  # fmt: skip
        return self

    @model_validator(mode="after")
    def _rl_cache_needs_rl(self) -> "OutputsConfig":
        if self.rl_cache is not None and self.rl is None:
            raise PydanticCustomError(
                "rl_cache_needs_rl", "rl_cache publishes the response cache the rl output builds: set outputs.rl too",
                {"at": ("rl_cache",)},
            )  # fmt: skip
        return self


class BenchmarkRef(_Strict):
    """A benchmark split whose texts generated queries must not overlap (word n-grams)."""

    path: str | None = Field(
        default=None, description="A local .json (list of objects), .jsonl or .parquet file, relative to the recipe."
    )
    dataset: str | None = Field(
        default=None, description="A Hub dataset 'org/name', loaded with datasets.load_dataset through HF_ENDPOINT."
    )
    config: str | None = Field(default=None, description="Config of the Hub dataset (None: its default).")
    split: str = Field(default="test", description="Split of the Hub dataset.")
    column: str = Field(default="query", description="Column holding the text to compare.")
    id_column: str | None = Field(
        default=None, description="Column naming each item in rejection reasons (None: 'id' if present, else row)."
    )

    @field_validator("dataset")
    @classmethod
    def _dataset_is_hub_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("path") is not None:
            raise ValueError("give either `path` (a local file) or `dataset` (a Hub id), not both")
        return None if value is None else HubConfig._repo_id_shape(value)

    @field_validator("column")
    @classmethod
    def _column_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("column must name the benchmark's text column")
        return value

    def model_post_init(self, context: Any) -> None:
        if self.path is None and self.dataset is None:
            raise ValueError("a benchmark needs `path` (a local file) or `dataset` (a Hub id)")

    def label(self) -> str:
        """How rejection reasons and the card name this benchmark."""
        if self.path is not None:
            return self.path
        return f"{self.dataset}" + (f"/{self.config}" if self.config else "") + f" [{self.split}]"


class FiltersConfig(_Strict):
    """What a generated item must pass after its calls succeeded: the LLM judge, near-duplicate removal, and
    decontamination against benchmarks. Each removed item goes to the `rejected` config with its reason."""

    judge: bool = Field(
        default=True,
        description="An LLM judge keeps an item only if every sub-instruction follows from the query and the answer "
        "fits the query (GOAT's filter).",
    )
    dedup_threshold: float | None = Field(
        default=0.8, gt=0.0, le=1.0,
        description="Drop a query whose word n-gram Jaccard with an earlier kept query (by chain id) reaches this "
        "(None: keep near-duplicates).",
    )  # fmt: skip
    dedup_ngram: int = Field(default=2, ge=1, le=8, description="Word n-gram size of the near-duplicate shingles.")
    decontaminate_against: list[BenchmarkRef] = Field(
        default_factory=list, description="Benchmark splits no query may share a word n-gram with."
    )
    contamination_ngram: int = Field(
        default=8, ge=3, le=50,
        description="Words in a shared n-gram that mark a query contaminated (GPT-3 used 13 for documents; queries "
        "are short, so 8).",
    )  # fmt: skip


class Recipe(_Strict):
    """A whole recipe file. ``path`` (where it was read from) is not a field: it is never dumped or fingerprinted."""

    name: str = Field(description="Recipe name, a slug; names the build directory.")
    version: str = Field(description="Semantic version X.Y.Z of the dataset; published as Hub tag vX.Y.Z.")
    description: str = Field(default="", description="One line for `goat recipes list` and the dataset card.")
    license: str = Field(default="other", description="Licence of the produced dataset (Hub licence id).")
    hub: HubConfig = Field(description="Where the dataset is published.")
    sources: list[SourceConfig] = Field(description="API documents to build from (at least one, unique names).")
    llm: LLMConfig = Field(default_factory=LLMConfig, description="The generating model.")
    graph: GraphConfig = Field(default_factory=GraphConfig, description="Dependency-graph construction.")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="Chain sampling.")
    outputs: OutputsConfig = Field(default_factory=OutputsConfig, description="Dataset configs to write.")
    filters: FiltersConfig = Field(default_factory=FiltersConfig, description="Judge, near-duplicates, benchmarks.")

    _path: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The file this recipe was loaded from (None when built in memory)."""
        return self._path

    @path.setter
    def path(self, value: str | Path | None) -> None:
        self._path = None if value is None else Path(value).resolve()

    @property
    def tag(self) -> str:
        """The Hub tag of this version."""
        return f"v{self.version}"

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        return _check_slug(value, "recipe name")

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_semver(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(f"must be a string 'X.Y.Z'; YAML read {value!r} as a number (write \"{value}.0\")")
        if isinstance(value, str) and not SEMVER_RE.match(value):
            raise ValueError(f"must be semantic 'X.Y.Z' (like 1.0.0), got {value!r}")
        return value

    @field_validator("sources")
    @classmethod
    def _sources_named_uniquely(cls, value: list[SourceConfig]) -> list[SourceConfig]:
        if not value:
            raise ValueError("a recipe needs at least one source")
        for i, first in repeated_names([s.name for s in value]):
            raise PydanticCustomError(
                "duplicate_source",
                "source name {name} is already used by sources[{first}]",
                {"name": repr(value[i].name), "first": first, "at": (i, "name")},
            )
        return value

    @field_validator("outputs")
    @classmethod
    def _imports_go_to_sources(cls, value: OutputsConfig, info: ValidationInfo) -> OutputsConfig:
        sources = info.data.get("sources")
        if value.rl is None or not sources:
            return value
        names = [s.name for s in sources]
        for i, item in enumerate(value.rl.cache_imports):
            source = item.effective_source()
            if source in names:
                continue
            at: tuple = ("rl", "cache_imports", i)
            if item.source is not None:
                message, at = str(UnknownNameError("source", source, names)), (*at, "source")
            else:
                message = (f"{item.kind} calls are imported as source {source!r} (the kind's default), which this "
                           f"recipe does not have: set `source:` to one of {', '.join(names)}")  # fmt: skip
            raise PydanticCustomError("unknown_import_source", "{message}", {"message": message, "at": at})
        return value

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources)
        raise KeyError(f"recipe {self.name!r} has no source {name!r} (sources: {known})")

    def resolve_path(self, path: str) -> str:
        """A file named in the recipe, relative to the recipe file (else the working directory); URLs unchanged."""
        if is_url(path):
            return path
        base = self.path.parent if self.path is not None else Path.cwd()
        return str((base / Path(path).expanduser()).resolve())

    def resolve_spec_path(self, source: SourceConfig | str) -> str:
        """Absolute path of a local spec (relative to the recipe file, else the working directory); URLs unchanged."""
        src = self.source(source) if isinstance(source, str) else source
        return self.resolve_path(src.spec)

    def to_yaml(self) -> str:
        """The normalised recipe (all defaults filled in) as YAML, e.g. to show what a build actually used."""
        import yaml

        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

