"""The ``rl`` and ``rl_cache`` outputs of a build (graduated-reward method, REFERENCE §2).

`goat_builders.build.run_build` calls `build_rl` after the sft part, inside the LLM endpoint, and `write_dataset`
adds what it returns (`RlBuild`): the ``rl`` rows, their rejections (``rejected``, stages ``rl_*``), the cache as the
``rl_cache`` config and a section of the card. Stages, each with its artifact in the build directory; a stage whose
artifact exists is not redone, so a rerun of a finished build repeats no API or LLM call (and an interrupted one
gets its LLM answers back from ``llm.sqlite`` and its API answers from the cache):

1. templates (``rl_templates.json``): the recipe's templates file, or the build's sampled chains (``chains.json``)
   turned into templates (`templates_from_chains`, ``from_graph: true``), which is how an API without hand-written
   templates gets RL data;
2. seed (``rl_seed.json``): the build's response cache ``rl_cache.sqlite`` receives the entries of the sources'
   replay caches and the recipe's ``cache_imports`` (`goat_datasets.cache.importers`);
3. grow (``rl_growth.json``; only with ``grow:``): live calls along the templates through the sources' executors,
   recorded in the cache (`goat_datasets.rl.grow_cache`); the LLM proposes the arguments (`make_argument_proposer`);
4. synthesis (``rl_result.json``): constrained sampling from the cache, validation by replay against
   ``rl_cache.sqlite`` (the file published as ``rl_cache``: every gold call of a row is a hit there), queries from
   the ``rl_query`` prompt, rows, rejections and counts (`goat_datasets.rl.synthesize`).

The fingerprint covers the templates file and the import files (`rl_input_digests`); problems with them are recipe
errors with file, line and field (`rl_file_issues`, and the function check in `build_rl`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from goat_datasets import jsonpath
from goat_datasets.cache.keys import canonical_key
from goat_datasets.cache.store import ResponseCache
from goat_datasets.recipe.errors import RecipeError, RecipeIssue
from goat_datasets.recipe.paths import Loc, did_you_mean, format_loc
from goat_datasets.recipe.schema import Recipe, RlOutput
from goat_datasets.rl.templates import TemplateError, WorkflowTemplate, load_templates
from goat_datasets.sources.models import ApiSpec
from goat_datasets.sources.openapi import sanitise_name

__all__ = [
    "RL_CACHE_FILE",
    "RlBuild",
    "build_rl",
    "rl_needs_llm",
    "rl_needs_chains",
    "rl_input_digests",
    "rl_file_issues",
    "templates_from_chains",
    "make_argument_proposer",
    "synthesis_settings",
]

RL_CACHE_FILE = "rl_cache.sqlite"
TEMPLATES_FILE = "rl_templates.json"
SEED_FILE = "rl_seed.json"
GROWTH_FILE = "rl_growth.json"
RESULT_FILE = "rl_result.json"
STAGE_PREFIX = "rl_"  # rejections of the rl output share the `rejected` config with the sft ones
SHOWN_PROBLEMS = 5

Log = Callable[[str], None]
RL_LOC: Loc = ("outputs", "rl")


# ------------------------------------------------------------------------------------------------ recipe checks


def _issue_maker(recipe: Recipe) -> Callable[[Loc, str], RecipeIssue]:
    """``issue(loc, message)`` placed on the recipe file's line of ``loc`` (or its nearest parent), like the loader's
    issues; a value set by ``--set`` points at the line it replaced."""
    from goat_datasets.recipe.yaml_tree import read_tree

    label = str(recipe.path) if recipe.path else "<recipe>"
    tree = None
    if recipe.path is not None:
        try:
            tree = read_tree(recipe.path.read_text(encoding="utf-8"))
        except Exception:  # noqa: BLE001 - positions are a courtesy; the message stands without them
            tree = None

    def issue(loc: Loc, message: str) -> RecipeIssue:
        position = tree.position_of(loc)[0] if tree is not None else None
        return RecipeIssue(file=label, line=position.line if position else None,
                           column=position.column if position else None, field_path=format_loc(loc),
                           message=message)  # fmt: skip

    return issue


def _import_paths(recipe: Recipe, index: int) -> list[Path]:
    """The files of ``cache_imports[index]`` (folders expanded to the kind's files); raises like `expand_paths`."""
    from goat_datasets.cache.importers import cache_importers
    from goat_datasets.cache.importers.base import expand_paths

    item = recipe.outputs.rl.cache_imports[index]
    return expand_paths([recipe.resolve_path(f) for f in item.files], cache_importers.get(item.kind).suffixes)


def rl_file_issues(recipe: Recipe) -> list[RecipeIssue]:
    """Problems with the files the rl output reads: a missing or invalid templates file, a missing import file. Each
    names the recipe file, line and field (``outputs.rl.templates``, ``outputs.rl.cache_imports[0].files[1]``)."""
    rl = recipe.outputs.rl
    if rl is None:
        return []
    issue = _issue_maker(recipe)
    issues: list[RecipeIssue] = []
    if rl.templates is not None:
        path = Path(recipe.resolve_path(rl.templates))
        if not path.is_file():
            message = (f"templates file {rl.templates!r} not found (looked at {path}); a relative path is relative "
                       "to the recipe file")
            issues.append(issue((*RL_LOC, "templates"), message))
        else:
            try:
                load_templates(path)
            except TemplateError as exc:
                shown = "; ".join(exc.problems[:SHOWN_PROBLEMS])
                more = f" (and {len(exc.problems) - SHOWN_PROBLEMS} more)" if len(exc.problems) > SHOWN_PROBLEMS else ""
                issues.append(issue((*RL_LOC, "templates"), f"invalid workflow templates: {shown}{more}"))
    for i, item in enumerate(rl.cache_imports):
        for j, name in enumerate(item.files):
            target = Path(recipe.resolve_path(name))
            if not target.exists():
                issues.append(issue((*RL_LOC, "cache_imports", i, "files", j), f"{name!r} not found (looked at "
                                                                                f"{target})"))  # fmt: skip
        try:
            _import_paths(recipe, i)
        except ValueError as exc:  # a folder without files of the kind
            issues.append(issue((*RL_LOC, "cache_imports", i, "files"), str(exc)))
        except FileNotFoundError:
            pass  # reported per file above
    return issues


def rl_input_digests(recipe: Recipe) -> dict[str, str]:
    """sha256 of the files the rl output reads, for the fingerprint: ``{"outputs:rl.templates": ...,
    "outputs:rl.cache_imports[i]": ...}`` (keys no source name can take: source names have no ``:``). Pass them
    with the replay caches' digests (``fingerprint(..., caches=...)``). Raises `RecipeError` when a file is missing
    or the templates file is invalid, so a build stops before anything else."""
    from goat_datasets.recipe.fingerprint import hash_files

    rl = recipe.outputs.rl
    if rl is None:
        return {}
    issues = rl_file_issues(recipe)
    if issues:
        raise RecipeError(issues)
    digests: dict[str, str] = {}
    if rl.templates is not None:
        path = Path(recipe.resolve_path(rl.templates))
        digests["outputs:rl.templates"] = hash_files([(path.name, path)])
    for i in range(len(rl.cache_imports)):
        files = _import_paths(recipe, i)
        digests[f"outputs:rl.cache_imports[{i}]"] = hash_files([(f.name, f) for f in files])
    return digests


def rl_needs_llm(recipe: Recipe, build_dir: Path) -> bool:
    """Whether `build_rl` will ask the LLM (anything left to do: its final artifact is missing)."""
    return recipe.outputs.rl is not None and not (Path(build_dir) / RESULT_FILE).is_file()


def rl_needs_chains(recipe: Recipe) -> bool:
    """Whether the rl output needs the graph and the sampled chains (its templates come from them)."""
    return recipe.outputs.rl is not None and recipe.outputs.rl.from_graph


def _unknown_functions_issue(recipe: Recipe, templates: Sequence[WorkflowTemplate], apis: Sequence[ApiSpec]):
    """A recipe issue naming every template function no single API of the sources answers to, or None."""
    from goat_datasets.rl.synthesis import resolve_functions

    api_for, _ = resolve_functions(templates, apis)
    where: dict[str, list[str]] = {}
    for template in templates:
        for function in template.pattern:
            if function not in api_for:
                where.setdefault(function, []).append(template.id)
    if not where:
        return None
    names = sorted({a.name for a in apis})
    parts = []
    for function, ids in list(where.items())[:SHOWN_PROBLEMS]:
        matches = [a.id for a in apis if a.name in (function, sanitise_name(function))]
        used = f"in {', '.join(dict.fromkeys(ids[:3]))}{' ...' if len(set(ids)) > 3 else ''}"
        if len(matches) > 1:
            parts.append(f"{function!r} ({used}) is ambiguous: {', '.join(matches)}")
        else:
            parts.append(f"{function!r} ({used}){did_you_mean(function, names).replace(' (allowed:', ' (APIs:')}")
    more = f"; and {len(where) - SHOWN_PROBLEMS} more" if len(where) > SHOWN_PROBLEMS else ""
    message = (f"the templates call {len(where)} function(s) the sources do not have ({len(apis)} APIs): "
               f"{'; '.join(parts)}{more}")  # fmt: skip
    return _issue_maker(recipe)((*RL_LOC, "templates"), message)


# ------------------------------------------------------------------------------------------------ templates


def templates_from_chains(
    chains: Sequence[Mapping[str, Any]], apis_by_id: Mapping[str, ApiSpec]
) -> tuple[list[WorkflowTemplate], list[str]]:
    """Workflow templates from the build's sampled chains (``chains.json``), one per chain with the chain's id, and
    the problems of the chains that could not be converted.

    A step's function is its API's name (what templates and ``gold_steps`` call it); each binding ``{param,
    from_step, source_path}`` becomes ``dependency_args[param] = {from_step, from_field}``, with ``[*]`` read as the
    first element (the sampler's paths name a field of every element; a template names one concrete value, as the
    trace builder does when it executes a chain); ``depends_on`` is the steps the bindings read from.
    """
    templates: list[WorkflowTemplate] = []
    problems: list[str] = []
    for number, chain in enumerate(chains):
        label = chain.get("id") or f"chains[{number}]"
        try:
            steps = []
            for i, step in enumerate(chain["steps"]):
                api = apis_by_id.get(step["api_id"])
                if api is None:
                    raise ValueError(f"step {i}: API {step['api_id']!r} is not among the sources' APIs")
                bindings = step.get("bindings") or []
                steps.append({
                    "function": api.name,
                    "depends_on": sorted({b["from_step"] for b in bindings}),
                    "dependency_args": {b["param"]: {"from_step": b["from_step"],
                                                     "from_field": jsonpath.concretize(b["source_path"])}
                                        for b in bindings},
                })  # fmt: skip
            templates.append(WorkflowTemplate.model_validate({"id": str(label), "steps": steps}))
        except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            problems.append(f"{label}: {type(exc).__name__}: {exc}")
    return templates, problems


def _load_rl_templates(recipe: Recipe, chains: Sequence[Mapping[str, Any]], apis: Sequence[ApiSpec],
                       log: Log) -> tuple[list[WorkflowTemplate], dict[str, Any]]:  # fmt: skip
    rl = recipe.outputs.rl
    if rl.templates is not None:
        path = Path(recipe.resolve_path(rl.templates))
        try:
            templates = load_templates(path)
        except TemplateError:
            raise RecipeError(rl_file_issues(recipe)) from None
        issue = _unknown_functions_issue(recipe, templates, apis)
        if issue is not None:
            raise RecipeError([issue])
        log(f"rl: {len(templates)} workflow templates from {rl.templates}")
        return templates, {"from": rl.templates, "total": len(templates), "not_converted": []}
    templates, problems = templates_from_chains(chains, {a.id: a for a in apis})
    for problem in problems:
        log(f"  [yellow]rl: chain not usable as a template[/]: {problem}")
    if not templates:
        raise RuntimeError(f"rl: none of the {len(chains)} sampled chains gives a workflow template: "
                           + "; ".join(problems[:SHOWN_PROBLEMS]))  # fmt: skip
    log(f"rl: {len(templates)} workflow templates from the build's sampled chains")
    return templates, {"from": "graph", "total": len(templates), "not_converted": problems}


# ------------------------------------------------------------------------------------------------ the cache


def _copy_replay_caches(recipe: Recipe, apis: Sequence[ApiSpec], cache: ResponseCache) -> dict[str, int]:
    """Each replay source's entries for its APIs, copied into the build's cache (provenance, times and fingerprints
    kept): chains are sampled from, validated against and published with that one file."""
    copied: dict[str, int] = {}
    for source in recipe.sources:
        if not source.cache:
            continue
        ids = {a.id for a in apis if a.source == source.name}
        groups: dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]] = {}
        with ResponseCache(recipe.resolve_path(source.cache), create=False) as replay:
            for e in replay:
                if e.api_id in ids:
                    result = {"response": e.response, "status_code": e.status_code, "ok": e.ok,
                              "provenance": e.provenance, "error": e.error, "created_at": e.created_at}  # fmt: skip
                    groups.setdefault(e.recipe_fingerprint, []).append((e.api_id, e.arguments, result))
        copied[source.name] = sum(cache.put_many(items, fp) for fp, items in groups.items())
    return copied


def _import_report(report: Any) -> dict[str, Any]:
    return {"kind": report.kind, "source": report.source, "files": report.files, "read": report.read,
            "imported": report.imported, "duplicates": report.duplicates, "conflicting": report.conflicting,
            "already_cached": report.already_cached, "failures": report.failures,
            "skipped": report.skipped_count,
            "skipped_examples": [str(s) for s in report.skipped[:SHOWN_PROBLEMS]]}  # fmt: skip


def _seed(recipe: Recipe, apis: Sequence[ApiSpec], cache: ResponseCache, fp: str, log: Log) -> dict[str, Any]:
    from goat_datasets.cache.importers import import_files

    copied = _copy_replay_caches(recipe, apis, cache)
    for name, n in copied.items():
        log(f"rl: {n} entries from the replay cache of source {name!r}")
    imports = []
    for i, item in enumerate(recipe.outputs.rl.cache_imports):
        report = import_files(item.kind, _import_paths(recipe, i), cache, source=item.effective_source(),
                              fingerprint=fp)  # fmt: skip
        log(f"rl: {report.summary()}")
        imports.append(_import_report(report))
    return {"replay_caches": copied, "imports": imports}


# ------------------------------------------------------------------------------------------------ LLM side


class _UsageLLM:
    """Counts every generation in ``usage`` under one kind (the card's "tokens per step")."""

    def __init__(self, llm: Any, usage: Any, kind: str):
        self.llm, self.usage, self.kind = llm, usage, kind

    def generate(self, messages: list[dict[str, Any]], max_new_tokens: int | None = None) -> Any:
        generation = self.llm.generate(messages, max_new_tokens)
        self.usage.add(generation, self.kind)
        return generation


def make_argument_proposer(llm: Any, usage: Any, *, max_requests_per_set: int = 2):
    """``propose(api, fixed, n)`` for `goat_datasets.rl.grow_cache`: up to ``n`` distinct sets of the required
    parameters that ``fixed`` leaves open, from the trace builder's ``fill_arguments`` prompt (same parsing and
    schema checks). Each further request tells the model the sets it already gave, so that it varies them; a rejected
    answer is asked again with the reason; an answer that repeats a set ends the proposals (the same prompt would get
    the same answer back from the generation cache). An API with nothing open gets one empty set, without an LLM
    call. ``usage`` (`goat_builders.traces.LLMUsage`) counts the calls as ``rl_arguments``."""
    from goat_builders.prompting import render
    from goat_builders.traces import _arguments_schema, _param_view, read_llm_arguments

    def propose(api: ApiSpec, fixed: Mapping[str, Any], n: int) -> list[dict[str, Any]]:
        params = [p for p in api.params if p.required and p.name not in fixed]
        if not params:
            return [{}]
        wanted = {p.name for p in params}
        schema, views = _arguments_schema(params), [_param_view(p) for p in params]
        found: list[dict[str, Any]] = []
        note = ""
        for _ in range(max_requests_per_set * n):
            if len(found) >= n:
                break
            prompt = render("fill_arguments", api=api, params=views, fixed_arguments=dict(fixed), previous_calls=[],
                            error=note)  # fmt: skip
            generation = llm.generate([{"role": "user", "content": prompt}])
            usage.add(generation, "rl_arguments")
            if getattr(generation, "error", None):
                continue
            arguments, reason = read_llm_arguments(api, generation.text, schema, dict(fixed), wanted)
            if arguments is None:
                note = reason
                continue
            if canonical_key(arguments) in {canonical_key(f) for f in found}:
                break
            found.append(arguments)
            note = (f"another argument set is needed, with values different from the sets already used: "
                    f"{json.dumps(found, ensure_ascii=False)}")  # fmt: skip
        return found

    return propose


def synthesis_settings(rl: RlOutput) -> Any:
    """`goat_datasets.rl.RLSynthesisSettings` from the recipe's rl output (``system_prompt: default`` = its default)."""
    from goat_datasets.rl.synthesis import RLSynthesisSettings

    values = {k: v for k, v in rl.model_dump().items() if k in RLSynthesisSettings.model_fields}
    if values.get("system_prompt") == "default":
        values.pop("system_prompt")
    return RLSynthesisSettings(**values)


# ------------------------------------------------------------------------------------------------ the result


@dataclass
class RlBuild:
    """What the rl output adds to the dataset folder and the build report: rows per `RL_FEATURES`, rejections as
    `goat_datasets.rl.synthesize` records them, ``report`` (build_report.json's ``rl``) and the LLM usage."""

    rows: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    report: dict[str, Any]
    usage: dict[str, Any]
    cache_path: Path
    split: str = "train"
    cache_split: str | None = None  # None: the rl_cache config is not published

    @classmethod
    def load(cls, path: Path, cache_path: Path, split: str, cache_split: str | None) -> "RlBuild":
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["rows"], data["rejected"], data["report"], data["usage"], cache_path, split, cache_split)

    def save(self, path: Path) -> None:
        data = {"rows": self.rows, "rejected": self.rejected, "report": self.report, "usage": self.usage}
        _write_json(path, data)

    def funnel(self) -> dict[str, int]:
        """Chains left after each stage, in order (the card's stage table)."""
        return dict(self.report["funnel"])

    def tables(self) -> dict[tuple[str, str], tuple[Any, list[dict[str, Any]]]]:
        """``(config, split) -> (Features, rows)`` for `write_dataset`: ``rl`` and, if published, ``rl_cache``."""
        from goat_datasets.formats.rl import RL_FEATURES
        from goat_datasets.formats.rl_cache import RL_CACHE_FEATURES

        out: dict[tuple[str, str], tuple[Any, list[dict[str, Any]]]] = {("rl", self.split): (RL_FEATURES, self.rows)}
        if self.cache_split is not None:
            with ResponseCache(self.cache_path, create=False) as cache:
                out[("rl_cache", self.cache_split)] = (RL_CACHE_FEATURES, list(cache.export_rows()))
        return out

    def rejected_rows(self) -> list[dict[str, Any]]:
        """The rejections as rows of the build's ``rejected`` config (stage ``rl_<stage>``; no query yet)."""
        return [{**r, "id": STAGE_PREFIX + r["id"], "stage": STAGE_PREFIX + r["stage"], "query": ""}
                for r in self.rejected]  # fmt: skip

    def with_usage(self, usage: dict[str, Any]) -> dict[str, Any]:
        """The build's LLM usage plus this output's (per kind of call under ``by_step``)."""
        from goat_builders.traces import merge_usage

        return merge_usage(usage, self.usage)

    def card_section(self, with_funnel: bool = True) -> str:
        r = self.report
        t, c, y = r["templates"], r["cache"], r["yield"]
        source = "the build's sampled chains" if t["from"] == "graph" else f"`{t['from']}`"
        lines = ["## RL prompts (`rl`)" + (" and their response cache (`rl_cache`)" if self.cache_split else ""), "",
                 f"Workflow templates: {t['total']} from {source}; {t['usable']} usable (every function resolves "
                 "to an API and has a usable cache entry)."]  # fmt: skip
        if with_funnel:
            lines += ["", "| stage | chains left | removed |", "|---|---|---|"]
            previous = None
            for k, v in self.funnel().items():
                lines.append(f"| {k.replace('_', ' ')} | {v} | {'' if previous is None else previous - v} |")
                previous = v
        lines += ["", f"Yield: {y['rows']} rows from {y['requested']} requested chains ({y['per_request']:.2f}); "
                      f"{y['per_sampling_pass']:.2f} per sampling pass; {y['per_query_llm_call']:.2f} per query LLM "
                      "call."]  # fmt: skip
        p = c["by_provenance"]
        grown = c.get("growth")
        lines.append(f"Response cache: {c['entries']} entries (real {p['real']}, simulated {p['simulated']}, error "
                     f"{p['error']}), {c['usable']} usable for chains; imported {c['imported']} recorded calls"
                     + (f"; grown by {grown['live']} live calls ({grown['llm_calls']} argument proposals)"
                        if grown else "") + ".")  # fmt: skip
        if r["rejected_by_stage"]:
            by_stage = ", ".join(f"{k} {v}" for k, v in r["rejected_by_stage"].items())
            lines.append(f"Rejected chains (config `rejected`): {by_stage}.")
        return "\n".join(lines) + "\n"

    def add_to_card(self, card: str, with_funnel: bool = True) -> str:
        """The card with this output's section before its list of sources (or at the end)."""
        section = self.card_section(with_funnel)
        marker = "\n### Sources\n"
        if marker in card:
            return card.replace(marker, f"\n{section}{marker}", 1)
        return card.rstrip("\n") + "\n\n" + section


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _growth_report(report: Any, settings: Any) -> dict[str, Any]:
    return {"calls": report.calls, "live": report.live, "ok": report.ok, "llm_calls": report.llm_calls,
            "budget_exhausted": report.budget_exhausted, "call_budget": settings.call_budget,
            "templates": report.templates, "stopped": report.stopped, "failures": dict(report.failures)}  # fmt: skip


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def _cache_summary(cache: ResponseCache, index: Any, seed: dict[str, Any]) -> dict[str, Any]:
    stats = cache.stats()
    return {"file": RL_CACHE_FILE, "entries": stats["entries"], "usable": len(index),
            "by_provenance": stats["by_provenance"], "apis": stats["apis"],
            "imported": sum(i["imported"] for i in seed["imports"]),
            "from_replay_caches": sum(seed["replay_caches"].values()), "imports": seed["imports"]}  # fmt: skip


# ------------------------------------------------------------------------------------------------ the stages


def build_rl(recipe: Recipe, setup: Any, chains: Sequence[Mapping[str, Any]], llm_config: dict[str, Any] | None,
             log: Log = print) -> RlBuild:  # fmt: skip
    """The rl output of ``recipe`` in ``setup.build_dir`` (`goat_builders.build.BuildSetup`), resuming from the
    stage artifacts of the module docstring. ``chains``: the build's sampled chains (used with ``from_graph``);
    ``llm_config``: the running endpoint's config (`goat_builders.build.llm_endpoint`), needed unless the result is
    already there."""
    rl = recipe.outputs.rl
    if rl is None:
        raise ValueError("the recipe has no rl output")
    bdir = Path(setup.build_dir)
    cache_path = bdir / RL_CACHE_FILE
    cache_split = recipe.outputs.rl_cache.split if recipe.outputs.rl_cache else None
    result_path = bdir / RESULT_FILE
    if result_path.is_file():
        built = RlBuild.load(result_path, cache_path, rl.split, cache_split)
        log(f"rl: reusing {len(built.rows)} rows from {result_path}")
        return built
    if llm_config is None:
        raise RuntimeError("the rl output needs the LLM (queries, argument proposals), but no endpoint was started")
    return _build(recipe, setup, chains, llm_config, log, cache_path, cache_split)


def _build(recipe: Recipe, setup: Any, chains: Sequence[Mapping[str, Any]], llm_config: dict[str, Any], log: Log,
           cache_path: Path, cache_split: str | None) -> RlBuild:  # fmt: skip
    from goat_builders.build import calls_summary
    from goat_builders.prompting import render
    from goat_builders.steps.context import append_build_log, make_cached_llm, read_build_log
    from goat_builders.traces import LLMUsage, clean_text
    from goat_datasets.execution.replay import ReplayExecutor
    from goat_datasets.rl import ReverseIndex, make_query_writer, synthesize
    from goat_datasets.rl.synthesis import resolve_functions

    rl = recipe.outputs.rl
    bdir, fp, apis = Path(setup.build_dir), setup.fingerprint, list(setup.apis)
    apis_by_id = {a.id: a for a in apis}
    t0 = time.monotonic()
    log_lines_before = len(read_build_log(bdir))

    templates, template_report = _load_rl_templates(recipe, chains, apis, log)
    _write_json(bdir / TEMPLATES_FILE, [t.model_dump(mode="json", by_alias=True) for t in templates])

    usage = LLMUsage()
    llm = make_cached_llm(llm_config, bdir)
    try:
        with ResponseCache(cache_path) as cache:
            seed_path = bdir / SEED_FILE
            if seed_path.is_file():
                seed = _read_json(seed_path)
            else:
                seed = _seed(recipe, apis, cache, fp, log)
                _write_json(seed_path, seed)

            growth = None
            if rl.grow is not None:
                growth = _grow(recipe, setup, templates, cache, llm, usage, log)

            index = ReverseIndex.from_cache(cache, api_ids=apis_by_id, min_float_decimals=rl.min_float_decimals)
            llm_before = llm.snapshot()
            writer = make_query_writer(_UsageLLM(llm, usage, "rl_query"), lambda c: render("rl_query", **c),
                                       apis_by_id, attempts=rl.query_attempts, clean=clean_text)  # fmt: skip
            with ReplayExecutor(cache_path=cache_path) as replay:
                result = synthesize(templates, index, apis, replay, writer, synthesis_settings(rl), fingerprint=fp,
                                    generator_model=setup.models.get("llm", ""))  # fmt: skip
            llm_after = llm.snapshot()
            append_build_log(bdir, {"step": "rl_synthesis", "rows": len(result.rows), "api_live": 0,
                                    "api_cached": 0,  # replays from the cache are not API calls
                                    "llm_live": llm_after["live"] - llm_before["live"],
                                    "llm_cached": llm_after["hits"] - llm_before["hits"]})  # fmt: skip
            cache_report = _cache_summary(cache, index, seed)
    finally:
        llm.close()
    if growth is not None:
        cache_report["growth"] = growth

    api_for, unresolved = resolve_functions(templates, apis)
    usable = [t for t in templates if t.id not in unresolved
              and all(index.entries(api_for[f].id) for f in t.pattern)]  # fmt: skip
    counts = {k: int(v) for k, v in sorted(result.counts.items())}
    rejected_by_stage: dict[str, int] = {}
    for r in result.rejected:
        rejected_by_stage[STAGE_PREFIX + r["stage"]] = rejected_by_stage.get(STAGE_PREFIX + r["stage"], 0) + 1
    n = counts.get
    funnel = {
        "chains_requested": n("attempts", 0),
        "chains_sampled": n("sampled", 0),
        "unique": n("sampled", 0) - n("duplicates", 0),
        "validated_by_replay": n("validated", 0),
        "query_written": n("rows", 0),
    }
    report = {
        "templates": {**template_report, "usable": len(usable),
                      "unusable": dict(list(unresolved.items())[:20])},  # fmt: skip
        "counts": counts,
        "funnel": funnel,
        "yield": {"rows": n("rows", 0), "requested": n("attempts", 0),
                  "per_request": _ratio(n("rows", 0), n("attempts", 0)),
                  "per_sampling_pass": _ratio(n("rows", 0), n("sampling_tries", 0)),
                  "per_query_llm_call": _ratio(n("rows", 0), n("llm_calls", 0))},  # fmt: skip
        "rejected_by_stage": rejected_by_stage,
        "cache": cache_report,
        "settings": synthesis_settings(rl).model_dump(mode="json"),
        "seconds": round(time.monotonic() - t0, 1),
    }
    usage_dict = usage.as_dict()
    usage_dict.pop("seconds", None)  # summed request latencies; the build reports its own wall time
    built = RlBuild(result.rows, result.rejected, report, usage_dict, cache_path, rl.split, cache_split)
    built.save(bdir / RESULT_FILE)
    log(f"rl: {len(result.rows)} rows from {funnel['chains_requested']} requested chains "
        f"({len(usable)}/{len(templates)} templates usable; {funnel['chains_sampled']} sampled, "
        f"{funnel['validated_by_replay']} validated by replay) in {report['seconds']}s")  # fmt: skip
    for stage, count in rejected_by_stage.items():
        reasons = [r["reason"] for r in result.rejected if STAGE_PREFIX + r["stage"] == stage][:2]
        log(f"  rejected at {stage}: {count} (e.g. {'; '.join(reasons)})")
    log("rl " + calls_summary(read_build_log(bdir)[log_lines_before:]))
    return built


def _grow(recipe: Recipe, setup: Any, templates: Sequence[WorkflowTemplate], cache: ResponseCache, llm: Any,
          usage: Any, log: Log) -> dict[str, Any]:  # fmt: skip
    """Stage 3 (see the module docstring); its report, from ``rl_growth.json`` when the stage was done before."""
    from goat_builders.steps.context import append_build_log
    from goat_datasets.execution.replay import CachingExecutor
    from goat_datasets.execution.router import make_router
    from goat_datasets.rl import GrowthSettings, grow_cache

    bdir = Path(setup.build_dir)
    path = bdir / GROWTH_FILE
    if path.is_file():
        return _read_json(path)
    rl = recipe.outputs.rl
    settings = GrowthSettings(seed=rl.seed, **rl.grow.model_dump())
    before = llm.snapshot()
    with CachingExecutor(make_router(setup.exec_configs), cache, setup.fingerprint) as executor:
        report = grow_cache(templates, setup.apis, executor, make_argument_proposer(llm, usage), settings)
        api_cached = executor.counts["hits"]
    after = llm.snapshot()
    append_build_log(bdir, {"step": "rl_grow", "api_live": report.live, "api_cached": api_cached,
                            "llm_live": after["live"] - before["live"],
                            "llm_cached": after["hits"] - before["hits"]})  # fmt: skip
    data = _growth_report(report, settings)
    _write_json(path, data)
    stopped = f"; {len(report.stopped)} templates stopped early" if report.stopped else ""
    budget = " - call budget reached" if report.budget_exhausted else ""
    log(f"rl: grew the cache by {report.live} live calls ({report.ok} usable answers of {report.calls} calls, "
        f"{report.llm_calls} argument proposals){budget}{stopped}")
    return data
